"""Importing facilities from CSV and Excel: encodings, headers, matching, duplicates, formulas,
bad rows reported with their reasons, and re-importing the same file changing nothing."""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from registry.errors import ImportFileError, RegistryForbidden
from registry.models import Facility, FacilityRevision, FacilityStatus, RevisionKind
from registry.services.imports import ImportReport, describe, import_facilities
from tests.registry.conftest import credit_code, division_id, facility_named

MakeFacility = Any

HEADER = [
    "机构名称",
    "统一社会信用代码",
    "所属镇（街道、园区）",
    "机构类型",
    "床位数",
    "是否有彩钢板",
]
ROWS = [
    ["康宁养老院", credit_code(11), "杨舍镇", "养老机构", "50", "否"],
    ["福康敬老院", credit_code(12), "塘桥镇", "extreme_poverty_support", "30", "是"],
    ["锦丰日间照料中心", "", "锦丰镇", "居家社区养老服务机构", "", ""],
]


def csv_bytes(
    rows: Sequence[Sequence[object]],
    *,
    encoding: str = "utf-8",
    bom: bool = False,
    delimiter: str = ",",
) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    data = out.getvalue().encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom else data


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def run(
    dbs: Session, clock: FakeClock, data: bytes, editor: Any = SYSTEM_ACTOR, **kw: Any
) -> ImportReport:
    report = import_facilities(dbs, clock, editor, data, **kw)
    dbs.flush()
    return report


def reasons(report: ImportReport) -> dict[int, list[str]]:
    return {r.row: [describe(p) for p in r.problems] for r in report.rejected}


def count(dbs: Session) -> int:
    return dbs.scalar(select(func.count()).select_from(Facility)) or 0


# ---------------------------------------------------------------- encodings and formats


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter", "read_as"),
    [
        ("utf-8", False, ",", "utf-8"),
        ("utf-8", True, ",", "utf-8-sig"),
        ("gbk", False, ",", "gb18030"),
        ("gb18030", False, ";", "gb18030"),
        ("utf-16", False, "\t", "utf-16"),  # Excel's "Unicode text": a BOM and tabs
    ],
)
def test_csv_encodings(  # noqa: PLR0917 - fixtures and parameters
    dbs: Session,
    clock: FakeClock,
    types: None,
    encoding: str,
    bom: bool,
    delimiter: str,
    read_as: str,
) -> None:
    data = csv_bytes([HEADER, *ROWS], encoding=encoding, bom=bom, delimiter=delimiter)
    report = run(dbs, clock, data, filename="名册.csv")
    assert (report.format, report.encoding) == ("csv", read_as)
    assert (report.rows, report.created, report.rejected) == (3, 3, [])
    facility = facility_named(dbs, "福康敬老院")
    assert facility.beds_total == 30
    assert facility.has_colour_steel_panels is True
    assert facility.facility_type.code == "extreme_poverty_support"
    assert facility.credit_code == credit_code(12)


def test_xlsx(dbs: Session, clock: FakeClock, types: None) -> None:
    rows = [HEADER, *ROWS]
    rows[1] = [*rows[1][:4], 50, False]  # numbers and booleans as Excel stores them
    report = run(dbs, clock, xlsx_bytes(rows), filename="名册.xlsx")
    assert (report.format, report.rows, report.created, report.rejected) == ("xlsx", 3, 3, [])
    facility = facility_named(dbs, "康宁养老院")
    assert facility.beds_total == 50
    assert facility.has_colour_steel_panels is False


@pytest.mark.parametrize(
    ("data", "filename", "fragment"),
    [
        (b"", "a.csv", "empty"),
        (b"\xef\xbb\xbf\r\n \r\n", "a.csv", "empty"),
        ("名称,地址\n".encode("utf-16-le"), "a.csv", "not a text file"),  # UTF-16 without BOM
        (b"name,\x80\xff\n", "a.csv", "neither UTF-8 nor GBK"),
        (b"\xef\xbb\xbf\xff\xfe,x\n", "a.csv", "says it is UTF-8"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "not a valid Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old.xls", "Old Excel files"),
        ("这里,没有,表头\n1,2,3\n".encode(), "a.csv", "No column headers"),
        ("地址,床位数\n某路,3\n".encode(), "a.csv", "needs a column"),
        ("机构名称,名称\n甲,乙\n".encode(), "a.csv", "Two columns mean the same thing"),
        ('机构名称,地址\n"甲,乙\n'.encode(), "a.csv", "malformed"),
    ],
)
def test_files_that_cannot_be_imported_change_nothing(  # noqa: PLR0917 - fixtures and parameters
    dbs: Session, clock: FakeClock, types: None, data: bytes, filename: str, fragment: str
) -> None:
    before = count(dbs)
    with pytest.raises(ImportFileError) as caught:
        run(dbs, clock, data, filename=filename)
    message = (
        caught.value.message % caught.value.params if caught.value.params else caught.value.message
    )
    assert fragment in message
    assert count(dbs) == before


def test_zip_bomb_is_refused(dbs: Session, clock: FakeClock, types: None) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (101 * 1024 * 1024))
    with pytest.raises(ImportFileError) as caught:
        run(dbs, clock, out.getvalue(), filename="bomb.xlsx")
    assert "too much data" in caught.value.message


# ---------------------------------------------------------------- headers and columns


def test_english_headers_title_row_empty_and_extra_columns(
    dbs: Session, clock: FakeClock, types: None
) -> None:
    rows = [
        ["张家港市民政服务机构名册（2026年）", "", "", ""],
        [],
        ["Name", "备注", "Division", "", "facility_type", "Beds*", "Unified social credit code"],
        ["英文表头养老院", "随便写", "杨舍镇", "", "elderly_care_home", "12", ""],
        ["", "", "", "", "", "", ""],
        ["英文表头敬老院", "", "Tangqiao Town", "", "特困人员供养服务机构", "", credit_code(21)],
    ]
    report = run(dbs, clock, csv_bytes(rows))
    assert report.header_row == 3
    assert report.ignored_columns == ["备注"]
    assert report.columns == [
        "Name",
        "Division",
        "facility_type",
        "Beds*",
        "Unified social credit code",
    ]
    assert (report.rows, report.created, report.rejected) == (2, 2, [])
    assert facility_named(dbs, "英文表头敬老院").division_id == division_id(dbs, "塘桥镇")


def test_rows_shorter_than_the_header_and_only_a_header(
    dbs: Session, clock: FakeClock, types: None
) -> None:
    report = run(dbs, clock, csv_bytes([HEADER, ["短行养老院", "", "杨舍镇", "养老机构"]]))
    assert report.created == 1
    empty = run(dbs, clock, csv_bytes([HEADER]))
    assert (empty.rows, empty.created, empty.rejected) == (0, 0, [])


# ---------------------------------------------------------------- bad rows


def test_bad_rows_come_back_with_every_reason_and_good_rows_go_in(
    dbs: Session, clock: FakeClock, types: None
) -> None:
    wrong_check = credit_code(31)[:-1] + ("0" if credit_code(31)[-1] != "0" else "1")
    rows = [
        [*HEADER, "联系电话", "护理型床位数"],
        ["好养老院", credit_code(30), "杨舍镇", "养老机构", "10", "", "0512-1234", ""],
        ["校验错养老院", wrong_check, "杨舍镇", "养老机构", "十", "也许", "", ""],
        ["无类型养老院", "", "杨舍镇", "", "", "", "", ""],
        ["无镇养老院", "", "", "养老机构", "", "", "", ""],
        ["不存在的镇养老院", "", "火星镇", "养老机构", "", "", "", ""],
        ["护理床多养老院", "", "杨舍镇", "养老机构", "5", "", "", "6"],
        ["电话公式养老院", "", "杨舍镇", "养老机构", "", "", "=cmd|' /C calc'!A0", ""],
        ["+加号养老院", "", "杨舍镇", "养老机构", "", "", "", ""],
        ["x", "", "杨舍镇", "养老机构", "", "", "", ""],
    ]
    report = run(dbs, clock, csv_bytes(rows))
    assert (report.rows, report.created, len(report.rejected)) == (9, 1, 8)
    got = reasons(report)
    assert got[3] == [
        (
            "统一社会信用代码: The check character of this unified social credit code is wrong: "
            "check it against the certificate."
        ),
        "床位数: Write a number.",
        "是否有彩钢板: Not one of the values allowed here: 是、否.",
    ]
    assert got[4] == ["机构类型: Needed for a new facility: 机构类型."]
    assert "division" in got[5][0]
    assert got[6] == ["所属镇（街道、园区）: There is no such division."]
    assert got[7] == ["护理型床位数: More nursing beds than beds."]
    assert "formula" in got[8][0]
    assert "formula" in got[9][0]
    assert got[10] == ["机构名称: At least 2 characters."]
    assert [r.name for r in report.rejected][:2] == ["校验错养老院", "无类型养老院"]
    assert count(dbs) == 1


def test_formulas_in_excel_cells_are_refused(dbs: Session, clock: FakeClock, types: None) -> None:
    rows: list[list[object]] = [
        HEADER,
        ["公式床位养老院", "", "杨舍镇", "养老机构", "=20+30", ""],
        ['=HYPERLINK("http://x","点我")', "", "杨舍镇", "养老机构", "", ""],
        ["正常养老院", "", "杨舍镇", "养老机构", 20, ""],
    ]
    report = run(dbs, clock, xlsx_bytes(rows), filename="f.xlsx")
    assert report.created == 1
    got = reasons(report)
    assert got[2] == ["床位数: The cell holds a formula; it was not taken. Enter the value itself."]
    assert "formula" in got[3][0]
    assert facility_named(dbs, "正常养老院").beds_total == 20


# ---------------------------------------------------------------- duplicates and matching


def test_duplicates_within_the_file(dbs: Session, clock: FakeClock, types: None) -> None:
    rows = [
        HEADER,
        ["甲养老院", credit_code(40), "杨舍镇", "养老机构", "", ""],
        ["乙养老院", credit_code(40), "杨舍镇", "养老机构", "", ""],  # same code
        ["甲养老院", "", "杨舍镇", "养老机构", "", ""],  # same name and division
        ["甲养老院", "", "塘桥镇", "养老机构", "", ""],  # another division: another facility
    ]
    report = run(dbs, clock, csv_bytes(rows))
    assert report.created == 2
    assert reasons(report) == {
        3: ["Same facility as row 2 of this file."],
        4: ["Same facility as row 2 of this file."],
    }


def test_rows_match_existing_facilities(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility
) -> None:
    by_code = make_facility(
        "旧名养老院", credit_code=credit_code(50), beds_total=10, contact_name="王"
    )
    by_name = make_facility("按名匹配养老院", "塘桥镇")
    other_code = make_facility("另码养老院", credit_code=credit_code(52))
    rows = [
        ["机构名称", "统一社会信用代码", "所属镇（街道、园区）", "床位数", "联系人"],
        ["新名养老院", credit_code(50), "", "20", ""],  # matched by code: renamed, beds changed
        ["按名匹配养老院", credit_code(51), "塘桥镇", "", "李"],  # matched by name: code set
        ["另码养老院", credit_code(53), "杨舍镇", "", ""],  # same name, another code
    ]
    report = run(dbs, clock, csv_bytes(rows))
    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    assert by_code.name == "新名养老院"
    assert by_code.beds_total == 20
    assert by_code.contact_name == "王"  # an empty cell never erases
    assert by_name.credit_code == credit_code(51)
    assert by_name.contact_name == "李"
    assert "another credit code" in reasons(report)[4][0]
    assert other_code.credit_code == credit_code(52)
    revision = dbs.scalars(
        select(FacilityRevision)
        .where(FacilityRevision.facility_id == by_code.id)
        .order_by(FacilityRevision.id.desc())
    ).first()
    assert revision is not None
    assert revision.kind is RevisionKind.IMPORTED
    assert {c["field"] for c in revision.changes} == {"name", "beds_total"}


def test_renaming_onto_another_facility_is_refused(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility
) -> None:
    make_facility("占名养老院")
    make_facility("改名养老院", credit_code=credit_code(60))
    rows = [["机构名称", "统一社会信用代码"], ["占名养老院", credit_code(60)]]
    report = run(dbs, clock, csv_bytes(rows))
    assert reasons(report) == {
        2: ["机构名称: Another facility in this division already has this name."]
    }


def test_reimporting_the_same_file_changes_nothing(
    dbs: Session, clock: FakeClock, types: None
) -> None:
    rows = [
        [*HEADER, "特种设备", "运营状态", "纬度", "经度", "备案日期", "老年人（服务对象）居住楼层"],
        [*ROWS[0], "电梯|2|梯A1|2027-03-31; 锅炉", "运营", "31.87", "120.55", "2024/5/6", "1-3"],
        [*ROWS[1], "", "停业", "", "", "", ""],
        [*ROWS[2], "", "", "", "", "", ""],
    ]
    data = csv_bytes(rows, encoding="gbk")
    first = run(dbs, clock, data)
    assert (first.created, first.rejected) == (3, [])
    revisions = dbs.scalar(select(func.count()).select_from(FacilityRevision))
    clock.advance(days=1)
    again = run(dbs, clock, data)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, [])
    assert dbs.scalar(select(func.count()).select_from(FacilityRevision)) == revisions
    assert facility_named(dbs, "福康敬老院").status is FacilityStatus.SUSPENDED
    assert len(facility_named(dbs, "康宁养老院").equipment) == 2


def test_each_import_is_audited_with_counts_only(
    dbs: Session, clock: FakeClock, types: None
) -> None:
    run(dbs, clock, csv_bytes([HEADER, *ROWS, ["坏", "", "", "", "", ""]]))
    record = dbs.scalars(select(AuditRecord).where(AuditRecord.action == "facility.imported")).one()
    assert json.loads(record.details) == {
        "format": "csv",
        "rows": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
    }
    assert record.actor_label == "system"
    assert "康宁" not in record.details
    assert audit.verify(dbs).ok
    # No per-facility audit records: the revisions hold the details.
    assert not dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "facility.created")
    ).all()


# ---------------------------------------------------------------- who may import


def test_a_division_officer_imports_into_their_division_only(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    tangqiao = make_facility("塘桥别人的养老院", "塘桥镇")
    rows = [
        ["机构名称", "所属镇（街道、园区）", "机构类型", "床位数"],
        ["本镇新养老院", "", "养老机构", "8"],  # no division: the officer's own
        ["外镇新养老院", "塘桥镇", "养老机构", ""],
        ["塘桥别人的养老院", "塘桥镇", "", "99"],
    ]
    officer = users["case_officer@yangshe"]
    report = run(dbs, clock, csv_bytes(rows), editor=officer)
    assert report.created == 1
    assert facility_named(dbs, "本镇新养老院").division_id == division_id(dbs, "杨舍镇")
    assert set(reasons(report)) == {3, 4}
    assert all("outside the divisions" in r[0] for r in reasons(report).values())
    assert tangqiao.beds_total is None
    with pytest.raises(RegistryForbidden):
        run(dbs, clock, csv_bytes(rows), editor=officer, default_division="塘桥镇")


@pytest.mark.parametrize("role", ["supervisor", "triage_officer", "auditor", "finance_officer"])
def test_readers_may_not_import(
    dbs: Session, clock: FakeClock, users: dict[str, User], types: None, role: str
) -> None:
    with pytest.raises(RegistryForbidden):
        run(dbs, clock, csv_bytes([HEADER, *ROWS]), editor=users[role])


def test_default_division(dbs: Session, clock: FakeClock, types: None) -> None:
    rows = [["机构名称", "机构类型"], ["默认镇养老院", "养老机构"]]
    report = run(dbs, clock, csv_bytes(rows), default_division="凤凰镇")
    assert report.created == 1
    assert facility_named(dbs, "默认镇养老院").division_id == division_id(dbs, "凤凰镇")
    with pytest.raises(ImportFileError):
        run(dbs, clock, csv_bytes(rows), default_division="火星镇")
