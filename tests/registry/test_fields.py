"""Reading spreadsheet cells into facility values and writing them back (registry.fields)."""

from __future__ import annotations

import datetime as dt

import pytest

from registry import fields
from registry.fields import BY_NAME, EquipmentItem, FieldError, FormulaCell, parse_cell
from registry.models import EquipmentKind, FacilityStatus, GasUse


def _error(name: str, raw: object) -> str:
    with pytest.raises(FieldError) as caught:
        parse_cell(BY_NAME[name], raw)
    return (
        caught.value.message % caught.value.params if caught.value.params else caught.value.message
    )


@pytest.mark.parametrize(
    ("text", "floors"),
    [
        ("1-3,5", "1,2,3,5"),
        ("1～3、5", "1,2,3,5"),
        ("3至1", "1,2,3"),
        ("B1，1F,2层", "-1,1,2"),
        ("-1 1 2 2", "-1,1,2"),
        ("２－３", "2,3"),  # full width
    ],
)
def test_floors(text: str, floors: str) -> None:
    assert parse_cell(BY_NAME["resident_floors"], text) == floors


@pytest.mark.parametrize("text", ["0", "1-2-3", "一楼", "1-999", "-21"])
def test_bad_floors(text: str) -> None:
    assert "floor" in _error("resident_floors", text).lower()


@pytest.mark.parametrize(
    ("raw", "date"),
    [
        ("2026-03-31", dt.date(2026, 3, 31)),
        ("2026/3/1", dt.date(2026, 3, 1)),
        ("2026.03.01", dt.date(2026, 3, 1)),
        ("2026年3月1日", dt.date(2026, 3, 1)),
        ("20260301", dt.date(2026, 3, 1)),
        (dt.datetime(2026, 3, 1, 0, 0), dt.date(2026, 3, 1)),  # noqa: DTZ001 - as Excel gives it
        (dt.date(2026, 3, 1), dt.date(2026, 3, 1)),
    ],
)
def test_dates(raw: object, date: dt.date) -> None:
    assert parse_cell(BY_NAME["filing_date"], raw) == date


def test_bad_dates() -> None:
    assert _error("filing_date", "2026-02-30") == "There is no such date."
    assert _error("filing_date", "next week") == "Write a date as 2026-03-31."
    assert _error("filing_date", "1850-01-01") == "The date is out of range."


def test_numbers() -> None:
    beds = BY_NAME["beds_total"]
    assert parse_cell(beds, "1,200") == 1200
    assert parse_cell(beds, 12.0) == 12
    assert parse_cell(beds, " ４５ ") == 45
    assert _error("beds_total", "12.5") == "Write a whole number."
    assert _error("beds_total", "-1") == "Must be from 0 to 100000."
    assert _error("beds_total", "1,20") == "Write a number."
    assert _error("beds_total", "nan") == "Write a number."
    assert parse_cell(BY_NAME["latitude"], "31.876543") == 31.876543
    assert _error("latitude", "91") == "Must be from -90 to 90."


def test_choices_in_chinese_english_and_stored_form() -> None:
    status = BY_NAME["status"]
    assert parse_cell(status, "停业整顿") is FacilityStatus.SUSPENDED
    assert parse_cell(status, "Suspended") is FacilityStatus.SUSPENDED
    assert parse_cell(status, "suspended") is FacilityStatus.SUSPENDED
    assert parse_cell(status, FacilityStatus.CLOSED) is FacilityStatus.CLOSED
    assert parse_cell(BY_NAME["gas_use"], "瓶装液化石油气") is GasUse.BOTTLED
    assert parse_cell(BY_NAME["has_sprinklers"], "√") is True
    assert parse_cell(BY_NAME["has_sprinklers"], False) is False
    assert parse_cell(BY_NAME["for_profit"], True) is True
    assert parse_cell(BY_NAME["for_profit"], "非营利") is False
    assert "是、否" in _error("has_sprinklers", "maybe")


def test_formulas_and_the_export_apostrophe() -> None:
    name = BY_NAME["name"]
    assert "formula" in _error("name", "=1+1")
    assert "formula" in _error("address", "-路")
    assert "formula" in _error("beds_total", "=SUM(A1:A2)")
    assert "holds a formula" in _error("beds_total", FormulaCell("=SUM(A1:A2)"))
    assert parse_cell(BY_NAME["contact_phone"], "+86 512 5800") == "+86 512 5800"
    assert parse_cell(BY_NAME["contact_phone"], "'+86 512 5800") == "+86 512 5800"
    assert parse_cell(name, "'阳光养老院") == "'阳光养老院"  # only a formula-like text loses it
    for text in ("=x", "+x", "-x", "@x", "\tx"):
        assert fields.neutralise(text) == "'" + text
        assert fields.unquote(fields.neutralise(text)) == text or text.startswith("\t")
    assert fields.neutralise("阳光") == "阳光"


def test_text_is_tidied_and_limited() -> None:
    assert parse_cell(BY_NAME["address"], " 杨舍镇\u3000长安路\r\n 1 号 ") == "杨舍镇 长安路 1 号"
    assert _error("name", "阳光\n养老院") == "Write this on one line."
    assert _error("contact_name", "张" * 51) == "At most 50 characters."
    assert _error("contact_phone", "call me") == (
        "Write a telephone number (digits, spaces, +, - and brackets)."
    )


def test_equipment_reads_and_writes_the_same() -> None:
    text = "电梯|2|梯A1|2027-03-31；锅炉\n压力容器|4||2026-12-01; 叉车|1|厂车-1"
    items = parse_cell(BY_NAME["equipment"], text)
    assert items == (
        EquipmentItem(EquipmentKind.ELEVATOR, 2, "梯A1", dt.date(2027, 3, 31)),
        EquipmentItem(EquipmentKind.BOILER),
        EquipmentItem(EquipmentKind.PRESSURE_VESSEL, 4, "", dt.date(2026, 12, 1)),
        EquipmentItem(EquipmentKind.FIELD_VEHICLE, 1, "厂车-1"),
    )
    written = fields.format_equipment(items)
    assert (
        written
        == "电梯|2|梯A1|2027-03-31; 锅炉; 压力容器|4||2026-12-01; 场（厂）内专用机动车辆|1|厂车-1"
    )
    assert parse_cell(BY_NAME["equipment"], written) == items
    assert "Unknown kind" in _error("equipment", "飞船|1")
    assert "1 to 999" in _error("equipment", "电梯|0")
    assert "kind|quantity" in _error("equipment", "电梯|1|a|2027-01-01|x")
    assert "registration number" in _error("equipment", "电梯|1|a*b")


def test_headers() -> None:
    assert fields.field_for_header(" 统一社会信用代码* ") == "credit_code"
    assert fields.field_for_header("Credit Code") == "credit_code"
    assert fields.field_for_header("beds_total") == "beds_total"
    assert fields.field_for_header("建筑面积（平方米）") == "floor_area_m2"
    assert fields.field_for_header("建筑面积(平方米)") == "floor_area_m2"
    assert fields.field_for_header("备注") is None
