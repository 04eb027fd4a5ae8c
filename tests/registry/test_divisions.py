"""Divisions: the shipped data, the loader, and the rules for adding and changing one."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import Forbidden
from registry import services as registry
from registry.errors import (
    DivisionCodeTaken,
    DivisionEditForbidden,
    DivisionNameTaken,
    DivisionNotFound,
    InvalidDivision,
)
from registry.models import Division, DivisionKind
from tests.conftest import build_user

MANAGEMENT_AREAS = {
    "杨舍镇": "张家港经济技术开发区",
    "塘桥镇": "张家港高新技术产业开发区",
    "锦丰镇": "江苏扬子江国际冶金工业园",
    "金港街道": "张家港保税区",
}


_user = build_user


def _by_name(dbs: Session, name: str) -> Division:
    return dbs.scalars(select(Division).where(Division.name == name)).one()


def _last_record(dbs: Session) -> AuditRecord:
    return dbs.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()


@pytest.fixture
def admin(dbs: Session, clock: FakeClock) -> User:
    return _user(dbs, clock, "cityadmin", Role.ADMINISTRATOR)


# ---------------------------------------------------------------- shipped data


def test_default_data_is_zhangjiagang(dbs: Session) -> None:
    divisions = registry.list_divisions(dbs)
    assert len(divisions) == 11
    assert Counter(d.kind for d in divisions) == {
        DivisionKind.TOWN: 7,
        DivisionKind.STREET: 3,
        DivisionKind.PARK: 1,
    }
    areas = {d.name: d.management_area for d in divisions if d.management_area}
    assert areas == MANAGEMENT_AREAS
    assert [d.sort_order for d in divisions] == sorted(d.sort_order for d in divisions)
    assert divisions[0].name == "杨舍镇"
    assert _by_name(dbs, "德积街道").code == "320582003"
    assert all(d.active for d in divisions)


def test_each_loaded_division_is_audited(dbs: Session) -> None:
    created = dbs.scalars(select(AuditRecord).where(AuditRecord.action == "division.created"))
    names = sorted(json.loads(r.details)["name"] for r in created)
    assert names == sorted(d.name for d in registry.list_divisions(dbs))
    assert audit.verify(dbs).ok


def test_loader_is_idempotent_and_keeps_edits(dbs: Session, clock: FakeClock, admin: User) -> None:
    before = audit.count_records(dbs)
    assert registry.load_default_divisions(dbs, clock, audit.SYSTEM_ACTOR) == 0
    assert audit.count_records(dbs) == before
    yangshe = _by_name(dbs, "杨舍镇")
    registry.update_division(
        dbs, clock, admin, yangshe.id, _data(yangshe, management_area="", sort_order=5)
    )
    assert registry.load_default_divisions(dbs, clock, audit.SYSTEM_ACTOR) == 0
    assert _by_name(dbs, "杨舍镇").management_area == ""
    assert len(registry.list_divisions(dbs)) == 11


# ---------------------------------------------------------------- create


def _data(division: Division | None = None, **changes: Any) -> registry.DivisionData:
    base: dict[str, Any] = {
        "name": "双山香山旅游度假区",
        "name_en": "Shuangshan-Xiangshan Tourist Resort",
        "kind": DivisionKind.OTHER,
        "code": None,
        "management_area": "",
        "sort_order": 120,
        "active": True,
    }
    if division is not None:
        base = {
            k: getattr(division, k)
            for k in ("name", "name_en", "kind", "code", "management_area", "sort_order", "active")
        }
    base.update(changes)
    return registry.DivisionData(**base)


def test_city_administrator_creates_a_division(dbs: Session, clock: FakeClock, admin: User) -> None:
    division = registry.create_division(
        dbs, clock, admin, _data(name="  双山香山旅游度假区 ", code="３２０５８２４０１")
    )
    assert division.id is not None
    assert division.name == "双山香山旅游度假区"
    assert division.code == "320582401"  # full-width digits from a Chinese IME accepted
    assert division in registry.list_divisions(dbs)
    rec = _last_record(dbs)
    assert (rec.action, rec.object_type, rec.object_id) == (
        "division.created",
        "division",
        str(division.id),
    )
    assert (rec.actor_id, rec.actor_label) == (admin.id, "cityadmin")
    details = json.loads(rec.details)
    assert {"field": "code", "to": "320582401"} in details["changes"]
    assert {"field": "kind", "to": "other"} in details["changes"]
    assert audit.verify(dbs).ok


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "双"}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "名" * 61}, "name"),
        ({"name_en": "x" * 101}, "name_en"),
        ({"kind": "county"}, "kind"),
        ({"code": "32058200"}, "code"),
        ({"code": "3205820031"}, "code"),
        ({"code": "32058200a"}, "code"),
        ({"management_area": "区" * 61}, "management_area"),
        ({"sort_order": -1}, "sort_order"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(
    dbs: Session, clock: FakeClock, admin: User, changes: dict[str, Any], field: str
) -> None:
    before = audit.count_records(dbs)
    with pytest.raises(InvalidDivision) as caught:
        registry.create_division(dbs, clock, admin, _data(**changes))
    assert caught.value.field == field
    assert caught.value.status == 400
    assert audit.count_records(dbs) == before
    assert len(registry.list_divisions(dbs, include_inactive=True)) == 11


def test_duplicate_name_and_code_are_refused(dbs: Session, clock: FakeClock, admin: User) -> None:
    with pytest.raises(DivisionNameTaken) as name_taken:
        registry.create_division(dbs, clock, admin, _data(name="杨舍镇"))
    assert name_taken.value.status == 409
    with pytest.raises(DivisionCodeTaken):
        registry.create_division(dbs, clock, admin, _data(code="320582003"))
    assert len(registry.list_divisions(dbs, include_inactive=True)) == 11


# ---------------------------------------------------------------- update


def test_update_records_changed_fields_only(dbs: Session, clock: FakeClock, admin: User) -> None:
    leyu = _by_name(dbs, "乐余镇")
    registry.update_division(
        dbs, clock, admin, leyu.id, _data(leyu, management_area="某某园区", code="320582106")
    )
    assert (leyu.management_area, leyu.code) == ("某某园区", "320582106")
    rec = _last_record(dbs)
    assert rec.action == "division.updated"
    assert rec.object_id == str(leyu.id)
    assert json.loads(rec.details) == {
        "name": "乐余镇",
        "changes": [
            {"field": "code", "from": None, "to": "320582106"},
            {"field": "management_area", "from": "", "to": "某某园区"},
        ],
    }
    before = audit.count_records(dbs)
    registry.update_division(dbs, clock, admin, leyu.id, _data(leyu))
    assert audit.count_records(dbs) == before  # nothing changed, nothing recorded


def test_update_keeps_its_own_name_and_code_but_not_anothers(
    dbs: Session, clock: FakeClock, admin: User
) -> None:
    deji = _by_name(dbs, "德积街道")
    registry.update_division(dbs, clock, admin, deji.id, _data(deji, name_en="Deji"))
    houcheng = _by_name(dbs, "后塍街道")
    with pytest.raises(DivisionNameTaken):
        registry.update_division(dbs, clock, admin, houcheng.id, _data(houcheng, name="德积街道"))
    with pytest.raises(DivisionCodeTaken):
        registry.update_division(dbs, clock, admin, houcheng.id, _data(houcheng, code="320582003"))
    assert _by_name(dbs, "后塍街道").code is None


def test_deactivation_instead_of_delete(dbs: Session, clock: FakeClock, admin: User) -> None:
    daxin = _by_name(dbs, "大新镇")
    registry.update_division(dbs, clock, admin, daxin.id, _data(daxin, active=False))
    assert daxin not in registry.list_divisions(dbs)
    assert daxin in registry.list_divisions(dbs, include_inactive=True)
    assert json.loads(_last_record(dbs).details)["changes"] == [
        {"field": "active", "from": True, "to": False}
    ]
    assert not hasattr(registry, "delete_division")


def test_unknown_division(dbs: Session, clock: FakeClock, admin: User) -> None:
    with pytest.raises(DivisionNotFound):
        registry.update_division(dbs, clock, admin, 999_999, _data())


# ---------------------------------------------------------------- who may


def test_only_city_administrators_edit_divisions(dbs: Session, clock: FakeClock) -> None:
    tangqiao = _by_name(dbs, "塘桥镇")
    local_admin = _user(dbs, clock, "localadmin", Role.ADMINISTRATOR, division_id=tangqiao.id)
    auditor = _user(dbs, clock, "auditor", Role.AUDITOR, Role.SUPERVISOR)
    retired = _user(dbs, clock, "retired", Role.ADMINISTRATOR, active=False)
    before = audit.count_records(dbs)
    for actor in (local_admin, auditor, retired):
        assert not registry.can_edit_divisions(actor)
        with pytest.raises(Forbidden):
            registry.create_division(dbs, clock, actor, _data())
        with pytest.raises(Forbidden):
            registry.update_division(
                dbs, clock, actor, tangqiao.id, _data(tangqiao, name_en="Changed")
            )
    with pytest.raises(DivisionEditForbidden):
        registry.update_division(dbs, clock, local_admin, tangqiao.id, _data(tangqiao))
    assert _by_name(dbs, "塘桥镇").name_en == "Tangqiao Town"
    assert audit.count_records(dbs) == before
    assert registry.can_edit_divisions(_user(dbs, clock, "cityadmin", Role.ADMINISTRATOR))
