"""Public statistics: monthly counts by division and category (Asia/Shanghai months), small
counts shown as "<3", a category breakdown withheld where it would give a hidden count away,
public examples with the administrator's summary only, and nothing of a reporter or a tip."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cases.dashboard import Series, public_statistics
from cases.models import CaseState
from core.clock import FakeClock
from intake.models import TipCategory
from registry.models import Division
from tests.cases.test_dashboard import Ledger, add_tip, build_ledger, utc

FIRE, GAS = TipCategory.FIRE, TipCategory.GAS


@pytest.fixture
def ledger(dbs: Session, clock: FakeClock) -> Ledger:
    """The dashboard tests' cases, and tips:

    - 2026-10: 杨舍镇 3 fire, 塘桥镇 2 gas → divisions 3 / <3, categories 3 / <3 (nothing can
      be worked out: the month has 4 or 5 tips);
    - 2026-09: 杨舍镇 3 fire, 塘桥镇 1 fire + 1 gas → divisions 3 / <3, categories 4 / <3:
      both sides would have to add up to 5, so the category breakdown is withheld;
    - 2026-08: one tip (<3 on both sides);
    - one tip at 2025-12-01 00:00 in Shanghai (counted in 2025-12) and one an hour earlier
      (2025-11, before the twelve months).
    """
    ledger = build_ledger(dbs, clock)
    for _ in range(3):
        add_tip(dbs, ledger.d1, FIRE, utc(2026, 10, 5, 2))
        add_tip(dbs, ledger.d1, FIRE, utc(2026, 9, 5, 2))
    for _ in range(2):
        add_tip(dbs, ledger.d2, GAS, utc(2026, 10, 9, 2))
    add_tip(dbs, ledger.d2, FIRE, utc(2026, 9, 7, 2))
    add_tip(dbs, ledger.d2, GAS, utc(2026, 9, 8, 2))
    add_tip(dbs, ledger.d1, TipCategory.ELDERLY_CARE_SAFETY, utc(2026, 8, 8, 2))
    add_tip(dbs, ledger.d2, TipCategory.OTHER, utc(2025, 11, 30, 16))
    add_tip(dbs, ledger.d2, TipCategory.OTHER, utc(2025, 11, 30, 15))
    return ledger


def row(
    ledger: Ledger, series: Series, month: str
) -> tuple[dict[int, str], dict[TipCategory, str], bool]:
    data = public_statistics(ledger.dbs, ledger.clock)
    [found] = [r for r in data.series[series] if r.month.strftime("%Y-%m") == month]
    divisions = {k: c.shown for k, c in found.by_division.items() if k in (ledger.d1, ledger.d2)}
    categories = {k: c.shown for k, c in found.by_category.items() if c.value or c.shown == ""}
    return divisions, categories, found.category_withheld


def test_tips_per_month(ledger: Ledger) -> None:
    data = public_statistics(ledger.dbs, ledger.clock)
    assert [m.strftime("%Y-%m") for m in data.months][-2:] == ["2026-10", "2026-11"]
    assert data.months[0] == dt.date(2025, 12, 1)
    assert [r.month for r in data.series[Series.TIPS]] == data.months
    assert row(ledger, Series.TIPS, "2026-10") == (
        {ledger.d1: "3", ledger.d2: "<3"},
        {FIRE: "3", GAS: "<3"},
        False,
    )
    divisions, categories, withheld = row(ledger, Series.TIPS, "2026-09")
    assert divisions == {ledger.d1: "3", ledger.d2: "<3"}
    assert withheld
    assert set(categories.values()) == {""}
    assert row(ledger, Series.TIPS, "2026-08") == (
        {ledger.d1: "<3", ledger.d2: "0"},
        {TipCategory.ELDERLY_CARE_SAFETY: "<3"},
        False,
    )
    # 2025-12-01 00:00 in Shanghai is December; an hour earlier is outside the months.
    assert row(ledger, Series.TIPS, "2025-12") == (
        {ledger.d1: "0", ledger.d2: "<3"},
        {TipCategory.OTHER: "<3"},
        False,
    )
    assert row(ledger, Series.TIPS, "2026-11") == ({ledger.d1: "0", ledger.d2: "0"}, {}, False)


def test_cases_opened_and_closed_per_month(ledger: Ledger) -> None:
    # Opened in October: c1 (杨舍镇, fire), c7 (塘桥镇, elderly care), c8 (塘桥镇, fire).
    assert row(ledger, Series.OPENED, "2026-10") == (
        {ledger.d1: "<3", ledger.d2: "<3"},
        {FIRE: "<3", TipCategory.ELDERLY_CARE_SAFETY: "<3"},
        False,
    )
    # Closures: c7 on 11-01 in Shanghai, c3 on 09-01, and the closures undone by relapses.
    assert row(ledger, Series.CLOSED, "2026-11")[0] == {ledger.d1: "0", ledger.d2: "<3"}
    assert row(ledger, Series.CLOSED, "2026-09")[0] == {ledger.d1: "<3", ledger.d2: "0"}
    assert row(ledger, Series.CLOSED, "2026-04")[0] == {ledger.d1: "<3", ledger.d2: "0"}
    assert row(ledger, Series.CLOSED, "2026-02")[0] == {ledger.d1: "0", ledger.d2: "<3"}
    assert row(ledger, Series.CLOSED, "2026-08")[0] == {ledger.d1: "0", ledger.d2: "0"}


def test_no_published_count_is_one_or_two(ledger: Ledger) -> None:
    data = public_statistics(ledger.dbs, ledger.clock)
    for rows in data.series.values():
        for r in rows:
            for cell in [*r.by_division.values(), *r.by_category.values()]:
                assert cell.shown not in {"1", "2"}
                if 0 < cell.value < 3:
                    assert cell.shown in {"<3", ""}


def test_an_inactive_division_with_counts_keeps_its_column(ledger: Ledger) -> None:
    division = ledger.dbs.get(Division, ledger.d2)
    assert division is not None
    division.active = False
    ledger.dbs.flush()
    data = public_statistics(ledger.dbs, ledger.clock)
    assert ledger.d2 in {d.id for d in data.divisions}


def test_public_examples(ledger: Ledger) -> None:
    examples = public_statistics(ledger.dbs, ledger.clock).examples
    assert [(e.facility_name, e.state, e.discovered_month, e.closed_month) for e in examples] == [
        ("塘桥镇中心敬老院", CaseState.CLOSED, dt.date(2026, 10, 1), dt.date(2026, 11, 1)),
        (
            '=HYPERLINK("http://x")敬老院',
            CaseState.RECHECKED,
            dt.date(2026, 5, 1),
            dt.date(2026, 6, 1),
        ),
    ]
    assert examples[0].summary == "燃气报警器失效，已更换。"


class Cells(HTMLParser):
    """Every <td> of the page: (table id, row's division or category, month, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str, str, str]] = []
        self._table = self._row = ""
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or ""
        elif tag == "tr":
            self._row = found.get("data-division") or found.get("data-category") or ""
        elif tag == "td" and found.get("data-month"):
            self._in = True
            self.cells.append((self._table, self._row, found["data-month"] or "", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            table, row, month, text = self.cells[-1]
            self.cells[-1] = (table, row, month, text + data.strip())

    def table(self, table_id: str) -> dict[tuple[str, str], str]:
        return {(r, m): t for t_id, r, m, t in self.cells if t_id == table_id}


def test_the_page(public_client: FlaskClient, ledger: Ledger) -> None:
    response = public_client.get("/statistics/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for table in ("tips-division", "tips-category", "opened-division", "closed-category"):
        assert f'id="{table}"' in page
    assert 'class="withheld"' in page
    parser = Cells()
    parser.feed(page)
    counts = {text for _, _, _, text in parser.cells}
    assert "<3" in counts
    assert not {"1", "2"} & counts
    tips = parser.table("tips-division")
    assert len(tips) == 12 * len(public_statistics(ledger.dbs, ledger.clock).divisions)
    assert tips[(str(ledger.d1), "2026-10")] == "3"
    assert tips[(str(ledger.d2), "2026-10")] == "<3"
    categories = parser.table("tips-category")
    assert {t for (_, m), t in categories.items() if m == "2026-09"} == {"…"}
    assert categories[("fire", "2026-10")] == "3"
    assert categories[("gas", "2026-10")] == "<3"
    # No date finer than a month; no word of a case description or a tip; examples escaped.
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page)
    assert "二楼东侧消防通道被杂物堵塞" not in page
    assert "燃气管道穿越卧室" not in page
    assert "燃气报警器失效，已更换。" in page
    assert "=HYPERLINK(&#34;http://x&#34;)敬老院" in page
    assert "<script" not in page


def test_the_page_with_nothing_yet(public_client: FlaskClient) -> None:
    response = public_client.get("/statistics/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="tips-division"' in page
    parser = Cells()
    parser.feed(page)
    assert parser.cells
    assert {text for _, _, _, text in parser.cells} == {"0"}
