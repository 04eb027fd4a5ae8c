"""The catalogue of judgment standards: the shipped data, the loader, item codes, and the
administrator's changes (upload, superseded marking)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.standards import schema
from cases.standards import services as standards
from cases.standards.errors import (
    BadSuccessor,
    InvalidStandardFile,
    StandardAlreadySuperseded,
    StandardNotFound,
    TooManyItems,
    UnknownStandardItem,
)
from cases.standards.models import ItemKind, Origin, Standard, StandardItem, StandardStatus
from core.accounts.models import Role, User
from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import Forbidden
from tests.conftest import build_user

FIRE_2017 = "GB 35181-2017"
FIRE_2025 = "GB 35181-2025"
ON = dt.date(2026, 12, 1)


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(standards.shipped_catalogue_text())
    return data


def _standard(dbs: Session, code: str) -> Standard:
    return dbs.scalars(select(Standard).where(Standard.code == code)).one()


def _actions(dbs: Session, prefix: str) -> list[AuditRecord]:
    return list(
        dbs.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.startswith(prefix))
            .order_by(AuditRecord.seq)
        )
    )


@pytest.fixture
def loaded(dbs: Session, clock: FakeClock) -> Session:
    standards.load_shipped_standards(dbs, clock)
    dbs.flush()
    return dbs


@pytest.fixture
def admin(dbs: Session, clock: FakeClock) -> User:
    return build_user(dbs, clock, "stdadmin", Role.ADMINISTRATOR)


def _upload(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _one_standard(**changes: Any) -> dict[str, Any]:
    standard: dict[str, Any] = {
        "code": "TEST 1-2026",
        "title": "测试标准",
        "domain": "other",
        "status": "current",
        "verification": "verified",
        "items": [
            {
                "code": "TEST 1-2026/1",
                "kind": "direct",
                "clause": "1",
                "text": "第一项",
                "verification": "verified",
            }
        ],
    }
    standard.update(changes)
    return {"format": schema.FORMAT, "version": "test-1", "standards": [standard]}


def _problems(exc: pytest.ExceptionInfo[InvalidStandardFile]) -> list[tuple[str, str]]:
    return [(where, msgid % params) for where, msgid, params in exc.value.problems]


# ---------------------------------------------------------------- the shipped data


def test_shipped_file_is_valid() -> None:
    data = schema.parse(standards.shipped_catalogue_text())
    codes = {s.code for s in data.standards}
    assert {
        FIRE_2025,
        FIRE_2017,
        "GB 45067-2024",
        "建质规〔2024〕5号",
        "建城规〔2023〕4号",
    } <= codes
    items = [i for s in data.standards for i in s.items]
    assert len({i.code.casefold() for i in items}) == len(items)
    for standard in data.standards:
        for item in standard.items:
            assert item.code.startswith(standard.code + "/")
            assert item.code == schema.normalise_code(item.code)
    # The placeholders of the research ("not retrieved") are gaps of the standard, not items.
    assert not [i for i in items if "未检索到" in i.text]


def test_shipped_file_round_trips_through_the_writer() -> None:
    data = schema.parse(standards.shipped_catalogue_text())
    assert schema.parse(schema.dump(data)) == data


def test_superseded_standards_are_marked() -> None:
    by_code = {s["code"]: s for s in _shipped()["standards"]}
    fire = by_code[FIRE_2017]
    assert (fire["status"], fire["superseded_by"], fire["superseded_on"]) == (
        "superseded",
        FIRE_2025,
        "2025-11-01",
    )
    construction = by_code["建质规〔2022〕2号"]
    assert (construction["status"], construction["superseded_by"]) == (
        "superseded",
        "建质规〔2024〕5号",
    )
    assert by_code[FIRE_2025]["status"] == "current"


def test_gb_35181_2025_has_no_item_list_and_says_so() -> None:
    fire = next(s for s in _shipped()["standards"] if s["code"] == FIRE_2025)
    assert fire["composite_rules"] == []
    assert [i["kind"] for i in fire["items"]] == ["other"]  # one quoted element, clause unknown
    assert fire["items"][0]["verification"] == "partial"
    assert "30" in fire["gaps"]
    assert "not obtained" in fire["gaps"]


def test_the_addendum_wins_where_both_references_cover_a_standard() -> None:
    by_code = {s["code"]: s for s in _shipped()["standards"]}
    assert len(by_code["建质规〔2024〕5号"]["items"]) == 53
    assert len(by_code["建城规〔2023〕4号"]["items"]) == 22
    assert len(by_code["GB 45067-2024"]["items"]) == 47
    elderly = by_code["民政部办公厅 2023-11-27"]
    # The addendum's verbatim wording, not the first compilation's paraphrase.
    assert elderly["items"][0]["text"].startswith("建筑设施经鉴定属于C级、D级危房或者")
    assert elderly["items"][0]["source"].startswith("https://parkershouse.org")


def test_items_keep_their_verification_marks() -> None:
    fire = next(s for s in _shipped()["standards"] if s["code"] == FIRE_2017)
    marks = {i["clause"]: i["verification"] for i in fire["items"]}
    assert marks["7.3.7"] == "verified"
    assert marks["7.3.8"] == "unverified"
    assert marks["6.1"] == "verified"
    construction_2022 = next(s for s in _shipped()["standards"] if s["code"] == "建质规〔2022〕2号")
    assert {i["verification"] for i in construction_2022["items"]} == {
        "verified",
        "partial",
        "unverified",
    }


def test_the_composite_rule_of_2017_is_encoded_as_the_reference_gives_it() -> None:
    fire = next(s for s in _shipped()["standards"] if s["code"] == FIRE_2017)
    rules = [
        (tuple(r["place_classes"]), r["min_count"], r["verification"])
        for r in fire["composite_rules"]
    ]
    assert rules == [
        (("crowded",), 3, "partial"),
        (("flammable",), 3, "partial"),
        (("crowded", "flammable", "important"), 4, "unverified"),
        (("other",), 6, "unverified"),
    ]
    crowded = fire["composite_rules"][0]
    assert [c.rsplit("/", 1)[1] for c in crowded["counted"]] == [
        *(f"7.3.{n}" for n in range(1, 10)),
        "7.5",
        "7.9.3",
    ]
    assert crowded["doubtful"] == [f"{FIRE_2017}/7.5", f"{FIRE_2017}/7.9.3"]
    flammable = fire["composite_rules"][1]
    assert [c.rsplit("/", 1)[1] for c in flammable["counted"]] == [
        "7.1.1",
        "7.1.2",
        "7.1.3",
        "7.4.5",
        "7.4.6",
    ]


# ---------------------------------------------------------------- the loader


def test_loader_is_idempotent(dbs: Session, clock: FakeClock) -> None:
    first = standards.load_shipped_standards(dbs, clock)
    dbs.flush()
    items = dbs.scalar(select(func.count()).select_from(StandardItem))
    audits = len(_actions(dbs, "standard."))
    assert len(first.created) == len(_shipped()["standards"])
    assert items == sum(len(s["items"]) for s in _shipped()["standards"])
    assert audits == len(first.created)

    second = standards.load_shipped_standards(dbs, clock)
    dbs.flush()
    assert (second.created, second.updated, second.changed) == ([], [], False)
    assert dbs.scalar(select(func.count()).select_from(StandardItem)) == items
    assert len(_actions(dbs, "standard.")) == audits


def test_loader_brings_older_shipped_rows_up_to_date(loaded: Session, clock: FakeClock) -> None:
    row = _standard(loaded, FIRE_2017)
    row.data_version = "older"
    item = row.items[0]
    item.text = "changed"
    loaded.flush()
    report = standards.load_shipped_standards(loaded, clock)
    assert report.updated == [FIRE_2017]
    assert report.items_changed == 1
    assert item.text != "changed"
    assert row.data_version == _shipped()["version"]


def test_loader_leaves_administrator_changes_alone(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    row = _standard(loaded, "GB 45067-2024")
    standards.mark_superseded(
        loaded, clock, admin, row.id, superseded_on=ON, superseded_by="GB 45067-2030"
    )
    row.data_version = "older"
    report = standards.load_shipped_standards(loaded, clock)
    assert "GB 45067-2024" in report.skipped
    assert row.status is StandardStatus.SUPERSEDED


# ---------------------------------------------------------------- reading


def test_list_items_hides_superseded_standards_unless_asked(loaded: Session) -> None:
    current = standards.list_items(loaded)
    every = standards.list_items(loaded, include_superseded=True)
    assert not any(i.superseded for i in current)
    assert {i.standard_code for i in every} - {i.standard_code for i in current} == {
        FIRE_2017,
        "建质规〔2022〕2号",
    }
    superseded = next(i for i in every if i.code == f"{FIRE_2017}/7.3.1")
    assert superseded.superseded
    assert superseded.kind == "composite"
    assert superseded.verification == "verified"
    # Current standards come first, each in its own order.
    first_superseded = next(n for n, i in enumerate(every) if i.superseded)
    assert all(i.superseded for i in every[first_superseded:])


def test_list_items_by_category(loaded: Session) -> None:
    gas = standards.list_items(loaded, category="gas")
    assert {i.standard_code for i in gas} == {"建城规〔2023〕4号", "安全生产法 (2021)"}
    fire = standards.list_items(loaded, category="fire", include_superseded=True)
    assert {i.standard_code for i in fire} == {FIRE_2017, FIRE_2025}
    assert len(standards.list_items(loaded, category="other")) == len(standards.list_items(loaded))


def test_check_item_codes_normalises_and_deduplicates(loaded: Session) -> None:
    codes = standards.check_item_codes(
        loaded,
        [
            " gb 35181-2017/7.3.1 ",
            "GB  35181-2017/7.3.1",
            "建质规〔2024〕5号/4（1）",  # full-width brackets from a Chinese input method
            "",
            "GB 45067-2024/4.6A",
        ],
    )
    assert codes == [f"{FIRE_2017}/7.3.1", "建质规〔2024〕5号/4(1)", "GB 45067-2024/4.6a"]
    assert standards.check_item_codes(loaded, []) == []


def test_check_item_codes_names_the_unknown_code(loaded: Session) -> None:
    with pytest.raises(UnknownStandardItem) as exc:
        standards.check_item_codes(loaded, [f"{FIRE_2017}/7.3.1", "GB 35181-2017/9.9"])
    assert exc.value.params == {"code": "GB 35181-2017/9.9"}
    assert exc.value.status == 400


def test_check_item_codes_limits_the_number(loaded: Session) -> None:
    codes = [i.code for i in standards.list_items(loaded, include_superseded=True)]
    assert len(standards.check_item_codes(loaded, codes[: standards.CODES_MAX])) == 50
    with pytest.raises(TooManyItems):
        standards.check_item_codes(loaded, codes[: standards.CODES_MAX + 1])


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        ((Role.TRIAGE_OFFICER,), True),
        ((Role.CASE_OFFICER,), True),
        ((Role.SUPERVISOR,), True),
        ((Role.ADMINISTRATOR,), True),
        ((Role.AUDITOR,), False),
        ((Role.FINANCE_OFFICER, Role.FINANCE_APPROVER), False),
    ],
)
def test_browsing_is_for_the_roles_that_work_with_cases(
    loaded: Session, clock: FakeClock, roles: tuple[Role, ...], allowed: bool
) -> None:
    user = build_user(loaded, clock, "reader", *roles)
    standard_id = _standard(loaded, FIRE_2017).id
    if allowed:
        assert len(standards.browse_standards(loaded, user)) == len(_shipped()["standards"])
        assert standards.standard_detail(loaded, user, standard_id).standard.code == FIRE_2017
    else:
        with pytest.raises(Forbidden):
            standards.browse_standards(loaded, user)
        with pytest.raises(Forbidden):
            standards.standard_detail(loaded, user, standard_id)


def test_browse_counts_unverified_items(loaded: Session, clock: FakeClock, admin: User) -> None:
    summaries = {s.code: s for s in standards.browse_standards(loaded, admin)}
    fire = summaries[FIRE_2017]
    assert fire.items == 52
    assert fire.unverified_items == 25  # 7.3.8 to 7.9.5
    assert fire.has_composite_rule
    assert summaries["GB/T 35796-2017"].items == 0
    with pytest.raises(StandardNotFound):
        standards.standard_detail(loaded, admin, 999_999)


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "The file is not valid JSON (line 1, column 2)."),
        (b"\xff\xfe\x00", "The file is not UTF-8 text."),
        (b"[]", "The file must hold one JSON object."),
    ],
)
def test_upload_of_a_file_that_is_not_a_catalogue(
    loaded: Session, clock: FakeClock, admin: User, raw: bytes, expected: str
) -> None:
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, raw)
    assert _problems(exc) == [("file", expected)]


def test_upload_with_the_wrong_format_or_no_standards(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, b'{"format": "x", "version": "1"}')
    messages = [m for _, m in _problems(exc)]
    assert messages == [
        f"“format” must be “{schema.FORMAT}”.",
        "“standards” must be a list with at least one standard.",
    ]


def test_upload_reports_each_bad_item_by_name(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    data = _one_standard()
    items = data["standards"][0]["items"]
    items.append({**items[0], "code": "TEST 1-2026/2", "kind": "situation"})
    items.append({**items[0], "code": "TEST 1-2026/3", "verification": "checked", "text": ""})
    items.append({**items[0], "code": "OTHER/4"})
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, _upload(data))
    problems = _problems(exc)
    assert (
        "standards[1] TEST 1-2026 / items[2] TEST 1-2026/2",
        "“kind” is “situation”; use one of: direct, composite, exclusion, other.",
    ) in problems
    assert (
        "standards[1] TEST 1-2026 / items[3] TEST 1-2026/3",
        "“verification” is “checked”; use one of: verified, partial, unverified.",
    ) in problems
    assert (
        "standards[1] TEST 1-2026 / items[3] TEST 1-2026/3",
        "“text” must not be empty.",
    ) in problems
    assert (
        "standards[1] TEST 1-2026 / items[4] OTHER/4",
        "The item code must begin with the standard's code and a slash (“TEST 1-2026/”).",
    ) in problems
    assert len(problems) == 4
    assert loaded.scalar(select(Standard).where(Standard.code == "TEST 1-2026")) is None


def test_upload_refuses_duplicate_codes(loaded: Session, clock: FakeClock, admin: User) -> None:
    data = _one_standard()
    items = data["standards"][0]["items"]
    items.append({**items[0], "code": "TEST 1-2026/1"})
    data["standards"].append(copy.deepcopy(data["standards"][0]))
    data["standards"][1]["items"] = []
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, _upload(data))
    assert sorted(m for _, m in _problems(exc)) == [
        "The item code “TEST 1-2026/1” appears more than once.",
        "The standard code “TEST 1-2026” appears more than once.",
    ]


def test_upload_refuses_an_item_code_of_another_standard(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    # "GB" and "GB/T 1-2026" are different standards, and "GB/T 1-2026/1" begins with either.
    first = _one_standard(code="GB/T 1-2026")
    first["standards"][0]["items"][0]["code"] = "GB/T 1-2026/1"
    standards.import_catalogue(loaded, clock, admin, _upload(first))
    second = _one_standard(code="GB")
    second["standards"][0]["items"][0]["code"] = "GB/T 1-2026/1"
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, _upload(second))
    assert _problems(exc) == [
        ("GB / GB/T 1-2026/1", "The item code “GB/T 1-2026/1” already belongs to GB/T 1-2026.")
    ]


def test_upload_validates_composite_rules(loaded: Session, clock: FakeClock, admin: User) -> None:
    data = _one_standard(
        composite_rules=[
            {
                "clause": "5",
                "place_classes": ["crowded", "harbour"],
                "counted": ["TEST 1-2026/1"],
                "min_count": 0,
                "verification": "verified",
            }
        ]
    )
    with pytest.raises(InvalidStandardFile) as exc:
        standards.import_catalogue(loaded, clock, admin, _upload(data))
    assert [m for _, m in _problems(exc)] == [
        "Unknown class of place “harbour”; use one of: crowded, flammable, important, other.",
        "“TEST 1-2026/1” is counted but is not a composite item of this standard.",
        "“min_count” must be a whole number from 1 to 100.",
    ]


def test_upload_adds_a_standard_and_is_audited(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    report = standards.import_catalogue(loaded, clock, admin, _upload(_one_standard()))
    assert (report.created, report.items_added) == (["TEST 1-2026"], 1)
    row = _standard(loaded, "TEST 1-2026")
    assert row.origin is Origin.ADMINISTRATOR
    assert [i.kind for i in row.items] == [ItemKind.DIRECT]
    created, uploaded = _actions(loaded, "standard.created")[-1], _actions(loaded, "standards.")[-1]
    assert created.actor_id == admin.id
    assert created.object_id == str(row.id)
    assert json.loads(uploaded.details)["created"] == ["TEST 1-2026"]
    # The same file again changes nothing.
    again = standards.import_catalogue(loaded, clock, admin, _upload(_one_standard()))
    assert (again.created, again.updated, again.unchanged) == ([], [], ["TEST 1-2026"])


def test_upload_completes_an_existing_standard_and_keeps_omitted_items(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    exported = json.loads(schema.dump(standards.export_catalogue(loaded, admin)))
    fire = next(s for s in exported["standards"] if s["code"] == FIRE_2025)
    fire["verification"] = "verified"
    fire["items"] = [
        {
            "code": f"{FIRE_2025}/5.1",
            "kind": "direct",
            "clause": "5.1",
            "text": "直接判定要素（官方全文）",
            "verification": "verified",
            "source": "openstd.samr.gov.cn",
        }
    ]
    report = standards.import_catalogue(
        loaded, clock, admin, _upload({**exported, "version": "2027-01", "standards": [fire]})
    )
    assert report.updated == [FIRE_2025]
    assert (report.items_added, report.items_kept) == (1, 1)
    row = _standard(loaded, FIRE_2025)
    loaded.refresh(row)
    assert [i.code for i in row.items] == [f"{FIRE_2025}/5.1", f"{FIRE_2025}/unnumbered-1"]
    assert row.data_version == "2027-01"
    assert standards.check_item_codes(loaded, [f"{FIRE_2025}/unnumbered-1"])


def test_only_administrators_upload(loaded: Session, clock: FakeClock) -> None:
    officer = build_user(loaded, clock, "officer", Role.CASE_OFFICER, Role.SUPERVISOR)
    with pytest.raises(Forbidden):
        standards.import_catalogue(loaded, clock, officer, _upload(_one_standard()))


# ---------------------------------------------------------------- superseded marking


def test_mark_superseded(loaded: Session, clock: FakeClock, admin: User) -> None:
    row = _standard(loaded, "建城规〔2023〕4号")
    on = ON
    standards.mark_superseded(loaded, clock, admin, row.id, superseded_on=on, superseded_by=None)
    assert (row.status, row.superseded_on, row.superseded_by) == (
        StandardStatus.SUPERSEDED,
        on,
        None,
    )
    record = _actions(loaded, "standard.superseded")[-1]
    assert json.loads(record.details) == {
        "standard": "建城规〔2023〕4号",
        "superseded_by": None,
        "superseded_on": on.isoformat(),
    }
    assert all(
        i.superseded
        for i in standards.list_items(loaded, include_superseded=True)
        if i.standard_code == "建城规〔2023〕4号"
    )
    with pytest.raises(StandardAlreadySuperseded):
        standards.mark_superseded(
            loaded, clock, admin, row.id, superseded_on=on, superseded_by=None
        )


def test_mark_superseded_uses_the_catalogues_spelling_of_the_successor(
    loaded: Session, clock: FakeClock, admin: User
) -> None:
    row = _standard(loaded, "GB 38600-2019")
    with pytest.raises(BadSuccessor):
        standards.mark_superseded(
            loaded, clock, admin, row.id, superseded_on=ON, superseded_by="gb 38600-2019"
        )
    standards.mark_superseded(
        loaded, clock, admin, row.id, superseded_on=ON, superseded_by=" gb  45067-2024 "
    )
    assert row.superseded_by == "GB 45067-2024"


def test_only_administrators_mark_superseded(loaded: Session, clock: FakeClock) -> None:
    officer = build_user(loaded, clock, "officer", Role.TRIAGE_OFFICER)
    row = _standard(loaded, "GB 38600-2019")
    with pytest.raises(Forbidden):
        standards.mark_superseded(
            loaded, clock, officer, row.id, superseded_on=ON, superseded_by=None
        )
    with pytest.raises(StandardNotFound):
        standards.mark_superseded(
            loaded,
            clock,
            build_user(loaded, clock, "admin2", Role.ADMINISTRATOR),
            999_999,
            superseded_on=ON,
            superseded_by=None,
        )
