"""Facilities: creating, editing with history, the rules a facility must satisfy, special
equipment, and who may read and write which facility."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from registry import services as registry
from registry.errors import (
    CreditCodeTaken,
    EquipmentNotFound,
    FacilityNameTaken,
    FacilityNotFound,
    InvalidFacility,
    RegistryForbidden,
)
from registry.fields import EquipmentItem
from registry.models import (
    EquipmentKind,
    Facility,
    FacilityRevision,
    FacilityStatus,
    FireAcceptance,
    PanelCoreClass,
    RevisionKind,
    Tenure,
)
from registry.services import editing
from registry.services.facilities import FacilityFilters, list_facilities
from tests.registry.conftest import credit_code, division_id, type_id

MakeFacility = Any


def _problems(exc: InvalidFacility) -> dict[str, str]:
    return {p.field: p.message for p in exc.problems}


def _last(dbs: Session, action: str) -> AuditRecord:
    return dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq.desc())
    ).first()  # type: ignore[return-value]


# ---------------------------------------------------------------- creating


def test_create_with_every_group_of_fields(
    dbs: Session, clock: FakeClock, users: dict[str, User], types: None
) -> None:
    officer = users["case_officer@yangshe"]
    facility = editing.create_facility(
        dbs,
        clock,
        officer,
        {
            "name": "  阳光  养老院 ",
            "credit_code": credit_code(1).lower(),
            "facility_type": type_id(dbs, "elderly_care_home"),
            "division": division_id(dbs, "杨舍镇"),
            "legal_form": "social_service",
            "for_profit": False,
            "contact_phone": "+86 512 5800 0000",
            "latitude": 31.87,
            "longitude": 120.55,
            "tenure": Tenure.LEASED,
            "lease_end": dt.date(2030, 6, 30),
            "beds_total": 120,
            "beds_nursing": 80,
            "floors_above": 5,
            "resident_floors": "1～3、5",
            "has_colour_steel_panels": True,
            "panel_core_class": PanelCoreClass.B1,
            "fire_acceptance": "验收合格",
            "has_sprinklers": "否",
            "equipment": "电梯|2|梯001|2027-01-31; 锅炉",
            "key_supervision": True,
        },
    )
    dbs.flush()
    assert facility.name == "阳光 养老院"
    assert facility.credit_code == credit_code(1)
    assert facility.resident_floors == "1,2,3,5"
    assert facility.fire_acceptance is FireAcceptance.ACCEPTED
    assert facility.has_sprinklers is False
    assert facility.for_profit is False
    assert facility.status is FacilityStatus.OPERATING
    assert facility.key_supervision is True
    assert [(e.kind, e.quantity, e.registration_no) for e in facility.equipment] == [
        (EquipmentKind.ELEVATOR, 2, "梯001"),
        (EquipmentKind.BOILER, 1, ""),
    ]
    assert facility.equipment[0].next_inspection_on == dt.date(2027, 1, 31)
    revision = dbs.scalars(select(FacilityRevision)).one()
    assert revision.kind is RevisionKind.CREATED
    assert revision.actor_id == officer.id
    changed = {c["field"]: c for c in revision.changes}
    assert changed["name"] == {"field": "name", "from": None, "to": "阳光 养老院"}
    assert changed["division"]["to"] == "杨舍镇"
    assert changed["facility_type"]["to"] == "养老机构"
    assert changed["status"]["to"] == "operating"
    assert changed["equipment"]["to"] == "电梯|2|梯001|2027-01-31; 锅炉"
    record = _last(dbs, "facility.created")
    assert record.object_id == str(facility.id)
    assert audit.verify(dbs).ok


def test_required_fields_and_bad_values_are_all_reported(
    dbs: Session, clock: FakeClock, users: dict[str, User], types: None
) -> None:
    with pytest.raises(InvalidFacility) as caught:
        editing.create_facility(
            dbs,
            clock,
            users["administrator"],
            {
                "name": "x",
                "credit_code": "91350100M000100Y44",
                "beds_total": -1,
                "filing_date": "2026-02-30",
                "has_sprinklers": "maybe",
                "contact_phone": "=HYPERLINK(1)",
                "address": "@SUM(A1)",
            },
        )
    problems = _problems(caught.value)
    assert set(problems) == {
        "name",
        "credit_code",
        "beds_total",
        "filing_date",
        "has_sprinklers",
        "contact_phone",
        "address",
    }
    assert "formula" in problems["address"]
    assert dbs.scalar(select(Facility.id)) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"beds_total": 10, "beds_nursing": 11}, "beds_nursing"),
        ({"residents_current": 5, "residents_disabled": 6}, "residents_disabled"),
        ({"staff_count": 2, "night_staff_count": 3}, "night_staff_count"),
        ({"latitude": 31.8}, "longitude"),
        ({"lease_end": dt.date(2030, 1, 1), "tenure": "自有"}, "lease_end"),
        ({"panel_core_class": "B2"}, "panel_core_class"),
        ({"has_colour_steel_panels": False, "panel_core_class": "A"}, "panel_core_class"),
        ({"control_room_operator_certified": True}, "control_room_operator_certified"),
        ({"floors_above": 3, "resident_floors": "1-4"}, "resident_floors"),
        ({"floors_below": 0, "resident_floors": "-1,1"}, "resident_floors"),
    ],
)
def test_the_facility_must_be_consistent(
    dbs: Session, clock: FakeClock, types: None, values: dict[str, Any], field: str
) -> None:
    base = {"name": "一致性养老院", "division": "杨舍镇", "facility_type": "elderly_care_home"}
    with pytest.raises(InvalidFacility) as caught:
        editing.create_facility(dbs, clock, SYSTEM_ACTOR, {**base, **values})
    assert field in _problems(caught.value)


def test_credit_code_and_name_in_division_are_unique(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility
) -> None:
    make_facility("甲养老院", credit_code=credit_code(5))
    with pytest.raises(CreditCodeTaken):
        make_facility("乙养老院", credit_code=credit_code(5))
    with pytest.raises(FacilityNameTaken):
        make_facility("甲养老院")
    # The same name in another division is another facility.
    assert make_facility("甲养老院", "塘桥镇").division_id == division_id(dbs, "塘桥镇")


def test_inactive_type_and_division_are_refused_for_new_facilities(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("旧类型养老院", kind="other")
    kind = registry.get_facility_type(dbs, type_id(dbs, "other"))
    kind.active = False
    dbs.flush()
    with pytest.raises(InvalidFacility) as caught:
        make_facility("新类型养老院", kind="other")
    assert "facility_type" in _problems(caught.value)
    # The facility that has the retired type keeps it through an edit.
    editing.update_facility(dbs, clock, users["administrator"], facility.id, {"beds_total": 12})
    assert facility.facility_type_id == kind.id


# ---------------------------------------------------------------- editing and history


def test_edit_records_old_and_new_values(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("历史养老院", beds_total=30, has_sprinklers=False)
    clock.advance(hours=2)
    admin = users["administrator"]
    editing.update_facility(
        dbs,
        clock,
        admin,
        facility.id,
        {"beds_total": 40, "has_sprinklers": True, "division": "塘桥镇", "address": "新地址"},
    )
    dbs.flush()
    revisions = editing.facility_history(dbs, admin, facility.id)
    assert [r.kind for r in revisions] == [RevisionKind.UPDATED, RevisionKind.CREATED]
    newest = revisions[0]
    assert newest.at == clock.now()
    assert newest.actor_label == admin.username
    assert {c["field"]: (c["from"], c["to"]) for c in newest.changes} == {
        "beds_total": (30, 40),
        "has_sprinklers": (False, True),
        "division": ("杨舍镇", "塘桥镇"),
        "address": (None, "新地址"),
    }
    record = _last(dbs, "facility.updated")
    assert json.loads(record.details)["fields"] == [
        "address",
        "division",
        "beds_total",
        "has_sprinklers",
    ]
    assert "新地址" not in record.details  # the audit trail names fields, not values
    assert facility.updated_at == clock.now()


def test_an_edit_that_changes_nothing_records_nothing(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("不变养老院", beds_total=30, latitude=31.5, longitude=120.5)
    before = audit.count_records(dbs)
    changes = editing.change_facility(
        dbs,
        clock,
        users["administrator"],
        facility,
        {"beds_total": "30", "latitude": "31.50", "longitude": 120.5, "name": "不变养老院"},
    )
    assert changes == []
    assert audit.count_records(dbs) == before
    assert len(dbs.scalars(select(FacilityRevision)).all()) == 1


def test_clearing_a_value(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("清空养老院", beds_total=30, contact_name="张三")
    changes = editing.change_facility(
        dbs, clock, users["administrator"], facility, {"beds_total": None, "contact_name": ""}
    )
    assert facility.beds_total is None
    assert facility.contact_name == ""
    assert {c["field"] for c in changes} == {"beds_total", "contact_name"}
    with pytest.raises(InvalidFacility):
        editing.change_facility(dbs, clock, users["administrator"], facility, {"name": ""})


def test_equipment_add_update_remove(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("设备养老院")
    officer = users["case_officer@yangshe"]
    editing.add_equipment(
        dbs, clock, officer, facility.id, EquipmentItem(EquipmentKind.ELEVATOR, 1, "梯1")
    )
    dbs.flush()
    piece = facility.equipment[0]
    editing.update_equipment(
        dbs,
        clock,
        officer,
        facility.id,
        piece.id,
        item=EquipmentItem(EquipmentKind.ELEVATOR, 1, "梯1", dt.date(2027, 5, 1)),
    )
    dbs.flush()
    assert facility.equipment[0].next_inspection_on == dt.date(2027, 5, 1)
    with pytest.raises(InvalidFacility):
        editing.add_equipment(
            dbs, clock, officer, facility.id, EquipmentItem(EquipmentKind.BOILER, 0, "=1")
        )
    with pytest.raises(EquipmentNotFound):
        editing.remove_equipment(dbs, clock, officer, facility.id, 999_999)
    editing.remove_equipment(dbs, clock, officer, facility.id, facility.equipment[0].id)
    dbs.flush()
    assert facility.equipment == []
    history = [
        (c["from"], c["to"])
        for r in editing.facility_history(dbs, officer, facility.id)
        for c in r.changes
        if c["field"] == "equipment"
    ]
    assert history == [
        ("电梯|1|梯1|2027-05-01", None),
        ("电梯|1|梯1", "电梯|1|梯1|2027-05-01"),
        (None, "电梯|1|梯1"),
    ]


# ---------------------------------------------------------------- who may read and write

READERS_ALL = (
    "triage_officer",
    "finance_officer",
    "finance_approver",
    "supervisor",
    "administrator",
)


@pytest.mark.parametrize(
    ("user", "reads_yangshe", "reads_tangqiao", "writes_yangshe", "writes_tangqiao"),
    [
        ("case_officer", True, True, True, True),
        ("case_officer@yangshe", True, False, True, False),
        ("administrator", True, True, True, True),
        ("administrator@yangshe", True, True, True, False),
        ("triage_officer", True, True, False, False),
        ("triage_officer@yangshe", True, True, False, False),
        ("finance_officer", True, True, False, False),
        ("finance_approver@yangshe", True, True, False, False),
        ("supervisor", True, True, False, False),
        ("auditor", False, False, False, False),
        ("auditor@yangshe", False, False, False, False),
        ("inactive_admin", False, False, False, False),
    ],
)
def test_access_matrix(  # noqa: PLR0917 - the matrix's columns
    dbs: Session,
    clock: FakeClock,
    make_facility: MakeFacility,
    users: dict[str, User],
    user: str,
    reads_yangshe: bool,
    reads_tangqiao: bool,
    writes_yangshe: bool,
    writes_tangqiao: bool,
) -> None:
    actor = users[user]
    yangshe = make_facility("杨舍测试养老院")
    tangqiao = make_facility("塘桥测试养老院", "塘桥镇")
    for facility, reads, writes in (
        (yangshe, reads_yangshe, writes_yangshe),
        (tangqiao, reads_tangqiao, writes_tangqiao),
    ):
        if reads:
            assert registry.get_facility_for(dbs, actor, facility.id) is facility
            assert editing.facility_history(dbs, actor, facility.id)
        else:
            with pytest.raises(RegistryForbidden):
                registry.get_facility_for(dbs, actor, facility.id)
        if writes:
            editing.update_facility(dbs, clock, actor, facility.id, {"staff_count": 7})
            assert facility.staff_count == 7
        else:
            with pytest.raises(RegistryForbidden):
                editing.update_facility(dbs, clock, actor, facility.id, {"staff_count": 7})
    # Listing shows exactly what may be read.
    if reads_yangshe or reads_tangqiao:
        names = {f.name for f in list_facilities(dbs, actor, FacilityFilters()).items}
        assert ("杨舍测试养老院" in names) is reads_yangshe
        assert ("塘桥测试养老院" in names) is reads_tangqiao
    else:
        with pytest.raises(RegistryForbidden):
            list_facilities(dbs, actor, FacilityFilters())
    # Creating follows the write scope.
    create = {"name": f"新建{user}", "division": "塘桥镇", "facility_type": "other"}
    if writes_tangqiao:
        editing.create_facility(dbs, clock, actor, create)
    else:
        with pytest.raises(RegistryForbidden):
            editing.create_facility(dbs, clock, actor, create)


def test_moving_a_facility_out_of_scope_is_refused(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    facility = make_facility("搬迁养老院")
    with pytest.raises(RegistryForbidden):
        editing.update_facility(
            dbs, clock, users["case_officer@yangshe"], facility.id, {"division": "塘桥镇"}
        )
    assert facility.division_id == division_id(dbs, "杨舍镇")


def test_missing_facility(dbs: Session, users: dict[str, User], types: None) -> None:
    with pytest.raises(FacilityNotFound):
        registry.get_facility_for(dbs, users["supervisor"], 123_456)


# ---------------------------------------------------------------- the list


def test_list_filters_and_pages(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    for i in range(7):
        make_facility(f"分页养老院{i:02d}", key_supervision=i % 2 == 0, address=f"长安路{i}号")
    make_facility("塘桥儿童福利院", "塘桥镇", kind="child_welfare", status="停业")
    make_facility("编码养老院", credit_code=credit_code(77))
    supervisor = users["supervisor"]

    def names(**filters: Any) -> list[str]:
        page = list_facilities(dbs, supervisor, FacilityFilters(**filters), page_size=100)
        return [f.name for f in page.items]

    assert len(names(text="分页")) == 7
    assert names(text="长安路3") == ["分页养老院03"]
    assert names(text=credit_code(77)[-6:].lower()) == ["编码养老院"]
    assert names(division_id=division_id(dbs, "塘桥镇")) == ["塘桥儿童福利院"]
    assert names(facility_type_id=type_id(dbs, "child_welfare")) == ["塘桥儿童福利院"]
    assert names(status=FacilityStatus.SUSPENDED) == ["塘桥儿童福利院"]
    assert len(names(key_supervision=True)) == 4
    assert names(text="100%_") == []
    page = list_facilities(dbs, supervisor, FacilityFilters(text="分页"), page=3, page_size=3)
    assert (page.total, page.pages, page.page) == (7, 3, 3)
    assert [f.name for f in page.items] == ["分页养老院06"]
    beyond = list_facilities(dbs, supervisor, FacilityFilters(text="分页"), page=9, page_size=3)
    assert beyond.page == 3


def test_demo_facilities_load_with_their_types(dbs: Session, clock: FakeClock) -> None:
    added = registry.load_demo_facilities(dbs, clock, SYSTEM_ACTOR)
    assert added == len(registry.demo_facilities())
    assert registry.load_demo_facilities(dbs, clock, SYSTEM_ACTOR) == 0
    hits = registry.search_facilities(dbs, "夕阳红")
    assert hits[0].facility_type == "elderly_care_home"
    assert hits[0].facility_type_name == "养老机构"
    assert audit.verify(dbs).ok
