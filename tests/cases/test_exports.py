"""Exports of hazard cases: each format read back (openpyxl, csv, json) equals the data, cells
that a spreadsheet would take for a formula are neutralised, filters and scope apply, and every
export is audited with its filters and row count only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import exports
from cases.exports import COLUMNS, ExportFilters, ExportFormat, ExportRow, RecheckOutcome
from cases.models import CaseSource, CaseState
from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import Forbidden, InvalidInput
from intake.models import TipCategory
from tests.cases.test_dashboard import Ledger, build_ledger


@pytest.fixture
def ledger(dbs: Session, clock: FakeClock) -> Ledger:
    return build_ledger(dbs, clock)


def audits(dbs: Session) -> list[AuditRecord]:
    return list(
        dbs.scalars(
            select(AuditRecord).where(AuditRecord.action == "case.export").order_by(AuditRecord.seq)
        )
    )


def rows_for(ledger: Ledger, user: str = "supervisor", **filters: Any) -> list[ExportRow]:
    return exports.export_rows(ledger.dbs, ledger.user(user), ExportFilters(**filters))


# ---------------------------------------------------------------- the rows


def test_rows_hold_the_ledger(ledger: Ledger) -> None:
    rows = {r.id: r for r in rows_for(ledger)}
    assert set(rows) == set(ledger.cases.values())
    c2 = rows[ledger.cases["c2"]]
    assert (c2.facility, c2.facility_credit_code, c2.division) == (
        "阳光颐养院",
        "52320582MJ5834109J",
        "杨舍镇",
    )
    assert (c2.category, c2.source, c2.state) == (
        TipCategory.GAS,
        CaseSource.INSPECTION,
        CaseState.RECTIFYING,
    )
    assert c2.standard_items == ("MZ-2023/4.2", "GB 35181-2017/7.3.1")
    # The newer of its two plans is the current one.
    assert (c2.plan_measures, c2.plan_responsibility, c2.plan_deadline) == (
        "=1+1 改管并加装报警器",
        "@后勤主管",
        dt.date(2026, 12, 1),
    )
    assert c2.deadline == dt.date(2026, 12, 1)
    assert (c2.closed_on, c2.rechecked_on, c2.recheck_outcome) == (None, None, None)
    # Closed 2026-08-31 17:00 UTC: 2026-09-01 in Shanghai.
    c3 = rows[ledger.cases["c3"]]
    assert (c3.closed_on, c3.plan_measures, c3.plan_deadline) == (dt.date(2026, 9, 1), "", None)
    c4 = rows[ledger.cases["c4"]]
    assert (c4.closed_on, c4.rechecked_on, c4.recheck_outcome) == (
        dt.date(2026, 6, 9),
        dt.date(2026, 9, 1),
        RecheckOutcome.CLEARED,
    )
    c5 = rows[ledger.cases["c5"]]
    assert (c5.relapse_count, c5.closed_on, c5.rechecked_on, c5.recheck_outcome) == (
        1,
        None,
        dt.date(2026, 7, 1),
        RecheckOutcome.RELAPSED,
    )
    c6 = rows[ledger.cases["c6"]]
    assert (c6.facility, c6.facility_credit_code) == ("", "")
    # Ordered by division, then discovery date.
    order = [r.id for r in rows_for(ledger)]
    names = ["c6", "c5", "c4", "c3", "c2", "c1", "c9", "c7", "c8"]
    assert order == [ledger.cases[n] for n in names]


def test_filters(ledger: Ledger) -> None:
    def names(rows: list[ExportRow]) -> set[str]:
        back = {v: k for k, v in ledger.cases.items()}
        return {back[r.id] for r in rows}

    assert names(rows_for(ledger, division_id=ledger.d2)) == {"c7", "c8", "c9"}
    assert names(rows_for(ledger, states=frozenset({CaseState.CLOSED, CaseState.RECHECKED}))) == {
        "c3",
        "c4",
        "c7",
    }
    assert names(
        rows_for(ledger, discovered_from=dt.date(2026, 10, 1), discovered_to=dt.date(2026, 10, 31))
    ) == {"c1", "c7", "c8"}
    assert names(rows_for(ledger, discovered_from=dt.date(2026, 10, 20))) == {"c1", "c8"}
    assert names(rows_for(ledger, discovered_to=dt.date(2025, 12, 31))) == {"c6"}
    assert names(rows_for(ledger, division_id=ledger.d1, states=frozenset({CaseState.OPEN}))) == {
        "c1"
    }
    with pytest.raises(InvalidInput):
        rows_for(ledger, discovered_from=dt.date(2026, 10, 2), discovered_to=dt.date(2026, 10, 1))


def test_scope(ledger: Ledger) -> None:
    own = rows_for(ledger, "officer")
    assert {r.division for r in own} == {"杨舍镇"}
    assert len(own) == 6
    assert len(rows_for(ledger, "officer", division_id=ledger.d1)) == 6
    with pytest.raises(Forbidden):
        rows_for(ledger, "officer", division_id=ledger.d2)
    assert len(rows_for(ledger, "triage_d2")) == 3
    assert len(rows_for(ledger, "finance")) == 9
    for name in ("administrator", "auditor", "inactive"):
        with pytest.raises(Forbidden):
            rows_for(ledger, name)


# ---------------------------------------------------------------- the files read back


def plain_row(row: ExportRow) -> list[object]:
    """What a spreadsheet row should hold for ``row`` (English labels, neutralised texts)."""
    outcome = {None: "", RecheckOutcome.CLEARED: "Cleared", RecheckOutcome.RELAPSED: "Relapsed"}
    return [
        str(row.id),
        exports.neutralise(row.facility),
        row.facility_credit_code,
        row.division,
        exports.CATEGORY_NAMES[row.category],
        exports.SOURCE_NAMES[row.source],
        "; ".join(row.standard_items),
        exports.neutralise(row.description),
        row.discovered_on,
        exports.neutralise(row.plan_measures),
        exports.neutralise(row.plan_responsibility),
        row.plan_deadline,
        row.deadline,
        row.closed_on,
        row.rechecked_on,
        outcome[row.recheck_outcome],
        exports.STATE_NAMES[row.state],
        row.relapse_count,
    ]


def test_xlsx_read_back_equals_the_data(ledger: Ledger) -> None:
    rows = rows_for(ledger)
    result = exports.export_cases(
        ledger.dbs, ledger.clock, ledger.user("supervisor"), ExportFilters(), ExportFormat.XLSX
    )
    assert result.filename == "hazard-cases-20261101-1000.xlsx"
    assert result.rows == 9
    book = load_workbook(io.BytesIO(result.content))
    sheet = book.active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [label for _, label in COLUMNS]
    for line, row in zip(values[1:], rows, strict=True):
        # Dates come back as datetimes at midnight; empty cells as None.
        got = [v.date() if isinstance(v, dt.datetime) else v for v in line]
        want = [None if v == "" else v for v in plain_row(row)]
        assert got == want
    # No cell is a formula, even the one whose text started with "=".
    for cells in sheet.iter_rows():
        for cell in cells:
            assert cell.data_type != "f"
    c2 = next(v for v in values if v[0] == str(ledger.cases["c2"]))
    assert c2[9] == "'=1+1 改管并加装报警器"
    assert c2[10] == "'@后勤主管"
    assert c2[7] == "'-燃气管道穿越卧室"


def test_csv_read_back_equals_the_data(ledger: Ledger) -> None:
    rows = rows_for(ledger)
    result = exports.export_cases(
        ledger.dbs, ledger.clock, ledger.user("supervisor"), ExportFilters(), ExportFormat.CSV
    )
    assert result.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    assert result.media_type.startswith("text/csv")
    text = result.content.decode("utf-8-sig")
    assert "\r\n" in text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == [label for _, label in COLUMNS]
    for got, row in zip(lines[1:], rows, strict=True):
        want = [
            "" if v is None else v.isoformat() if isinstance(v, dt.date) else str(v)
            for v in plain_row(row)
        ]
        assert got == want
    facility_b = next(line for line in lines if line[0] == str(ledger.cases["c3"]))
    assert facility_b[1] == '\'=HYPERLINK("http://x")敬老院'


def test_json_read_back_equals_the_data(ledger: Ledger) -> None:
    rows = rows_for(ledger, division_id=ledger.d1)
    filters = ExportFilters(division_id=ledger.d1)
    result = exports.export_cases(
        ledger.dbs, ledger.clock, ledger.user("officer"), filters, ExportFormat.JSON
    )
    document = json.loads(result.content)
    assert document["count"] == 6
    assert document["exported_at"] == "2026-11-01T02:00:00+00:00"
    assert document["filters"] == {
        "division_id": ledger.d1,
        "states": [],
        "discovered_from": None,
        "discovered_to": None,
    }
    assert [c["id"] for c in document["cases"]] == [str(r.id) for r in rows]
    for got, row in zip(document["cases"], rows, strict=True):
        assert list(got) == [key for key, _ in COLUMNS]
        assert got["facility"] == row.facility
        assert got["standard_items"] == list(row.standard_items)
        assert got["discovered_on"] == row.discovered_on.isoformat()
        assert got["closed_on"] == (None if row.closed_on is None else row.closed_on.isoformat())
        assert got["state"] == row.state.value
        assert got["category"] == row.category.value
        assert got["recheck_outcome"] == (
            None if row.recheck_outcome is None else row.recheck_outcome.value
        )
        assert got["relapse_count"] == row.relapse_count
        assert got["plan_measures"] == row.plan_measures  # JSON keeps the text as it is


def test_each_export_is_audited_with_filters_and_count_only(ledger: Ledger) -> None:
    filters = ExportFilters(
        division_id=ledger.d1,
        states=frozenset({CaseState.OPEN, CaseState.RECTIFYING}),
        discovered_from=dt.date(2026, 1, 1),
    )
    exports.export_cases(
        ledger.dbs, ledger.clock, ledger.user("officer"), filters, ExportFormat.CSV
    )
    [record] = audits(ledger.dbs)
    assert (record.actor_id, record.object_type, record.object_id) == (
        ledger.user("officer").id,
        "hazard_case",
        None,
    )
    assert json.loads(record.details) == {
        "format": "csv",
        "rows": 3,  # c1, c2, c5
        "filters": {
            "division_id": ledger.d1,
            "states": ["open", "rectifying"],
            "discovered_from": "2026-01-01",
            "discovered_to": None,
        },
    }
    assert "阳光颐养院" not in record.details


def test_neutralise() -> None:
    for text in ("=1+1", "+86 512", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert exports.neutralise(text) == "'" + text
    for text in ("", "消防通道", "1=1", "a-b", "'quoted"):
        assert exports.neutralise(text) == text


def test_translated_headings() -> None:
    assert exports.headings(lambda s: f"<{s}>")[0] == "<Case reference>"
    assert exports.headings(lambda s: "=" + s)[0] == "'=Case reference"


# ---------------------------------------------------------------- the pages


@pytest.fixture
def page_ledger(dbs: Session, clock: FakeClock) -> Ledger:
    return build_ledger(dbs, clock)


def test_download_each_format(staff_client: FlaskClient, page_ledger: Ledger, login: Any) -> None:
    login(staff_client, page_ledger.user("supervisor"))
    response = staff_client.get(
        f"/dashboard/export.xlsx?division={page_ledger.d2}&state=open&state=closed"
    )
    assert response.status_code == 200
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="hazard-cases-20261101-1000.xlsx"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [
        str(page_ledger.cases["c7"]),
        str(page_ledger.cases["c8"]),
    ]

    response = staff_client.get(
        "/dashboard/export.csv?discovered_from=2026-10-01&discovered_to=2026-10-31"
    )
    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))) == 4

    response = staff_client.get("/dashboard/export.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.data)["count"] == 9
    assert [json.loads(a.details)["format"] for a in audits(page_ledger.dbs)] == [
        "xlsx",
        "csv",
        "json",
    ]


def test_bad_export_filters(staff_client: FlaskClient, page_ledger: Ledger, login: Any) -> None:
    login(staff_client, page_ledger.user("officer"))
    for query in (
        "discovered_from=2026-10-02&discovered_to=2026-10-01",
        "discovered_from=yesterday",
        "state=lost",
        f"division={page_ledger.d2}",  # not in the officer's scope: not even a choice
    ):
        response = staff_client.get(f"/dashboard/export.csv?{query}")
        assert response.status_code == 400, query
        assert 'id="export-form"' in response.get_data(as_text=True)
    assert audits(page_ledger.dbs) == []
    assert staff_client.get("/dashboard/export.pdf").status_code == 404
    assert staff_client.get("/dashboard/export").status_code == 200
