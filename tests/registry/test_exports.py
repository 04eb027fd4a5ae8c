"""Exporting facilities to CSV and Excel: read back, the file equals the data; formula-like
text is neutralised; the export is scoped and audited."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from registry import fields
from registry.errors import RegistryForbidden
from registry.fields import BY_NAME, FIELDS, Kind
from registry.models import Facility
from registry.services.editing import equipment_items
from registry.services.exports import UnknownExportFormat, export_facilities, header
from registry.services.facilities import FacilityFilters
from registry.services.imports import import_facilities
from registry.tables import read_table
from tests.registry.conftest import credit_code, division_id

MakeFacility = Any


@pytest.fixture
def full(dbs: Session, make_facility: MakeFacility) -> Facility:
    """A facility with every field filled in, some with text a spreadsheet would run (put in
    directly: the services refuse such text, but older data may hold it)."""
    facility = make_facility(
        "全字段养老院",
        credit_code=credit_code(90),
        legal_form="social_service",
        for_profit=True,
        ownership="public_private",
        legal_rep="王",
        principal="李",
        contact_name="赵六",
        contact_phone="+86 512 5800 1234",
        address="杨舍镇\t长安路 1 号",
        management_area="张家港经济技术开发区",
        latitude=31.876543,
        longitude=120.554321,
        filing_no="养老备 2024-001",
        filing_date=dt.date(2024, 5, 6),
        tenure="leased",
        lease_end=dt.date(2031, 12, 31),
        rating_level=3,
        beds_total=120,
        beds_nursing=80,
        residents_current=100,
        residents_disabled=60,
        staff_count=40,
        night_staff_count=6,
        floor_area_m2=5432.5,
        building_height_m=23.9,
        floors_above=6,
        floors_below=1,
        resident_floors="-1,1-3,6",
        structure_type="steel",
        has_colour_steel_panels=True,
        panel_core_class="B1",
        dangerous_building_rating="B",
        fire_acceptance="filed",
        has_sprinklers=True,
        has_auto_alarm=False,
        has_fire_control_room=True,
        control_room_operator_certified=False,
        medical_licence="PDY-0001",
        canteen_licence="JY3320582",
        equipment="电梯|2|梯A1|2027-03-31; 压力容器|4||2026-12-01; 锅炉",
        gas_use="both",
        status="suspended",
        key_supervision=True,
    )
    facility.name, facility.legal_rep, facility.principal = "=全字段养老院", "-王", "@李"
    dbs.flush()
    return facility


def _values(facility: Facility) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.kind is Kind.DIVISION:
            out[spec.name] = facility.division.name
        elif spec.kind is Kind.FACILITY_TYPE:
            out[spec.name] = facility.facility_type.name_zh
        elif spec.kind is Kind.EQUIPMENT:
            out[spec.name] = equipment_items(facility)
        else:
            out[spec.name] = getattr(facility, spec.name)
    return out


def _read_back(data: bytes, filename: str) -> list[dict[str, Any]]:
    table = read_table(data, filename)
    head = [fields.cell_text(c) for c in table.rows[0][1]]
    assert head == header()
    rows = []
    for _, cells in table.rows[1:]:
        row = {}
        for spec, cell in zip(FIELDS, cells, strict=False):
            value = fields.parse_cell(spec, cell)
            if spec.kind in {Kind.TEXT, Kind.PHONE, Kind.FLOORS} and value is None:
                value = ""
            if spec.kind is Kind.EQUIPMENT and value is None:
                value = ()
            row[spec.name] = value
        rows.append(row)
    return rows


def _parse_text_cells_leniently(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test facility has names starting with = - @ on purpose; reading them back is about
    the apostrophe coming off, not about the import refusing such names."""
    monkeypatch.setattr(fields, "_refuse_formula", lambda text: None)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_reads_back_equal_to_the_data(  # noqa: PLR0917 - fixtures and a parameter
    dbs: Session,
    clock: FakeClock,
    full: Facility,
    make_facility: MakeFacility,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    sparse = make_facility("少字段敬老院", "塘桥镇", kind="extreme_poverty_support")
    exported = export_facilities(dbs, clock, SYSTEM_ACTOR, fmt)
    assert exported.count == 2
    assert exported.filename == f"facilities-20261101-1000.{fmt}"
    _parse_text_cells_leniently(monkeypatch)
    rows = _read_back(exported.data, exported.filename)
    assert rows == [_values(full), _values(sparse)]


def test_csv_is_utf8_with_bom_and_neutralised(
    dbs: Session, clock: FakeClock, full: Facility
) -> None:
    data = export_facilities(dbs, clock, SYSTEM_ACTOR, "csv").data
    assert data.startswith(codecs.BOM_UTF8)
    text = data[len(codecs.BOM_UTF8) :].decode("utf-8")
    assert text.splitlines()[0].startswith("机构名称,统一社会信用代码,机构类型")
    assert "'=全字段养老院" in text
    assert "'-王" in text
    assert "'@李" in text
    assert "'+86 512 5800 1234" in text
    assert "\r\n" in text
    # No cell starts with a character a spreadsheet would run.
    for line in text.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_xlsx_holds_no_formula_and_types_numbers_and_dates(
    dbs: Session, clock: FakeClock, full: Facility
) -> None:
    data = export_facilities(dbs, clock, SYSTEM_ACTOR, "xlsx").data
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    cells = {
        sheet.cell(row=1, column=i + 1).value: sheet.cell(row=2, column=i + 1)
        for i in range(len(FIELDS))
    }
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert cells["机构名称"].value == "'=全字段养老院"
    assert cells["床位数"].value == 120
    assert cells["建筑面积（平方米）"].value == 5432.5
    assert cells["备案日期"].value.date() == dt.date(2024, 5, 6)  # Excel stores a datetime
    assert cells["统一社会信用代码"].data_type == "s"
    assert sheet.freeze_panes == "A2"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imported_again_changes_nothing(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, fmt: str
) -> None:
    make_facility(
        "往返养老院",
        credit_code=credit_code(91),
        contact_phone="+86 0512 1",
        beds_total=10,
        latitude=31.1,
        longitude=120.2,
        equipment="电梯|1|梯9|2027-01-01",
        has_sprinklers=False,
    )
    make_facility("往返敬老院", "乐余镇", kind="extreme_poverty_support", resident_floors="1")
    exported = export_facilities(dbs, clock, SYSTEM_ACTOR, fmt)
    report = import_facilities(dbs, clock, SYSTEM_ACTOR, exported.data, filename=exported.filename)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 2, [])


def test_export_follows_the_reader_scope_and_filters(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    make_facility("杨舍导出养老院")
    make_facility("塘桥导出养老院", "塘桥镇")

    def names(user: str, **filters: Any) -> list[str]:
        exported = export_facilities(dbs, clock, users[user], "csv", FacilityFilters(**filters))
        return [r["name"] for r in _read_back(exported.data, "x.csv")]

    assert names("case_officer@yangshe") == ["杨舍导出养老院"]
    assert names("supervisor") == ["杨舍导出养老院", "塘桥导出养老院"]
    assert names("finance_officer", division_id=division_id(dbs, "塘桥镇")) == ["塘桥导出养老院"]
    with pytest.raises(RegistryForbidden):
        export_facilities(dbs, clock, users["auditor"], "csv")
    with pytest.raises(UnknownExportFormat):
        export_facilities(dbs, clock, users["supervisor"], "pdf")


def test_each_export_is_audited_with_its_count(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> None:
    make_facility("审计导出养老院")
    export_facilities(dbs, clock, users["supervisor"], "xlsx")
    record = dbs.scalars(select(AuditRecord).where(AuditRecord.action == "facility.exported")).one()
    assert json.loads(record.details) == {"format": "xlsx", "count": 1}
    assert record.actor_id == users["supervisor"].id


def test_the_header_names_every_field_once() -> None:
    assert len(set(header())) == len(FIELDS)
    for spec in FIELDS:
        assert fields.field_for_header(spec.header_zh) == spec.name
        assert fields.field_for_header(spec.name) == spec.name
        assert fields.field_for_header(spec.label) == spec.name
    assert BY_NAME["credit_code"].header_zh == "统一社会信用代码"
