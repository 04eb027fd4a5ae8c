"""The figures of the staff dashboard and of the public statistics, and the SVG charts that
draw them. No Flask: the sites translate the labels and lay the pages out.

Staff dashboard (:func:`dashboard`): hazard cases by division, category and state; the
overdue list (:func:`cases.models.overdue_clause`); cases opened and closed per month (the
last :data:`MONTHS` months, calendar months in Asia/Shanghai); the median number of days from
discovery to closure; the relapse rate; facilities with repeated hazards; and, for those who
may see the triage queue, how many tips are in each state (metadata only). Scope is decided
here, by :func:`cases.services.access.case_scope_clause`: supervisors and finance see the
city, case and triage officers of a division their division.

Definitions (what a reader of the dashboard is told, too):

- *opened*: a case's ``created_at`` falls in the month;
- *closed*: a closure (销号) falls in the month, counting closures that a relapse later undid
  (kept in ``case_relapses.closed_at``);
- *days to close*: from ``discovered_on`` to the date (Asia/Shanghai) of the current closure,
  over the cases closed now (closed or re-checked);
- *relapse rate*: cases with at least one relapse over cases ever closed (closed now, or
  relapsed, which means they were closed before);
- *repeated-hazard facility*: a facility with two or more cases, or with any relapse.

Public statistics (:func:`public_statistics`): counts per calendar month only (never a finer
date), by division and by category, of tips received, cases opened and cases closed, and the
cases an administrator marked as public examples. Small cells are suppressed: a count of 1 or
2 is published as "<3" (:data:`SMALL`), so that a facility cannot learn that exactly one person
reported in a month. No totals are published (a total beside suppressed cells gives them
away). The two breakdowns of the same month are two sums of the same number, which could
still pin a suppressed cell down (division cells 3 and "<3", category cells 4 and "<3": the
month has 5, so the "<3" division cell is 2); :func:`suppress` detects that case and then
withholds the category breakdown of that month altogether.
"""

from __future__ import annotations

import datetime as dt
import enum
import statistics
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import ColumnElement, FromClause, SQLColumnExpression, case, func, or_, select
from sqlalchemy.orm import Session

from cases.models import (
    ACTIVE_STATES,
    CaseRelapse,
    CaseState,
    HazardCase,
    overdue_clause,
)
from cases.services.access import READ_ALL_ROLES, can_read_cases, case_scope_clause
from core.accounts.models import User
from core.clock import SHANGHAI, Clock, local
from core.errors import Forbidden
from intake.models import Tip, TipCategory, TipState
from registry.models import Division, Facility
from registry.services import get_division

#: How many calendar months the trends cover (the current month included).
MONTHS = 12
#: How many overdue cases the dashboard lists (the count covers them all).
OVERDUE_LIMIT = 100
#: How many repeated-hazard facilities the dashboard lists.
REPEATED_LIMIT = 100
#: Public counts below this (and above 0) are shown as "<3".
SMALL = 3

_DONE = (CaseState.CLOSED, CaseState.RECHECKED)


# ---------------------------------------------------------------- months


def month_starts(today: dt.date, count: int = MONTHS) -> list[dt.date]:
    """The first days of the ``count`` calendar months ending with ``today``'s, oldest first."""
    year, month = today.year, today.month
    starts: list[dt.date] = []
    for _ in range(count):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)


def _boundaries(starts: Sequence[dt.date]) -> list[dt.datetime]:
    """The UTC instants of local midnight on each first day, and on the first day after."""
    days = [*starts, _next_month(starts[-1])]
    return [dt.datetime.combine(d, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.UTC) for d in days]


def _month_index(
    column: SQLColumnExpression[Any], bounds: Sequence[dt.datetime]
) -> ColumnElement[int]:
    """0 … len(bounds) − 2 for the month ``column`` falls in (the caller keeps it in range)."""
    return case(
        *((column < bound, index) for index, bound in enumerate(bounds[1:-1])),
        else_=len(bounds) - 2,
    )


def _today(clock: Clock) -> dt.date:
    return local(clock.now()).date()


# ---------------------------------------------------------------- scope


def scope_division(actor: User) -> int | None:
    """The one division whose cases ``actor`` may read, or None for the whole city.
    :class:`Forbidden` for an actor who may read no case."""
    if not can_read_cases(actor):
        raise Forbidden()
    if actor.has_role(*READ_ALL_ROLES):
        return None
    return actor.division_id


def _scope(actor: User, division_id: int | None) -> tuple[int | None, list[ColumnElement[bool]]]:
    """The division the figures are for (None: the city) and the WHERE clauses on
    ``hazard_cases``. A division outside the actor's scope is :class:`Forbidden`."""
    own = scope_division(actor)
    if division_id is not None and own is not None and division_id != own:
        raise Forbidden()
    shown = own if own is not None else division_id
    conds = [case_scope_clause(actor)]
    if shown is not None:
        conds.append(HazardCase.division_id == shown)
    return shown, conds


# ---------------------------------------------------------------- the staff dashboard


@dataclass(frozen=True)
class DivisionRow:
    division_id: int
    name: str
    name_en: str
    by_state: dict[CaseState, int]
    total: int
    overdue: int

    @property
    def open_total(self) -> int:
        return sum(self.by_state[s] for s in ACTIVE_STATES)

    @property
    def closed_total(self) -> int:
        return sum(self.by_state[s] for s in _DONE)


@dataclass(frozen=True)
class OverdueCase:
    id: uuid.UUID
    facility_id: int | None
    facility_name: str  # "" without a registered facility
    division_id: int
    category: TipCategory
    state: CaseState
    due_on: dt.date  # the rectification deadline, or the re-check date of a closed case
    recheck: bool  # True: the re-check is overdue; False: the rectification
    days_overdue: int


@dataclass(frozen=True)
class MonthCount:
    month: dt.date  # its first day
    opened: int
    closed: int


@dataclass(frozen=True)
class RepeatedFacility:
    facility_id: int
    name: str
    division_id: int
    cases: int
    relapses: int


@dataclass(frozen=True)
class Dashboard:
    today: dt.date
    division_id: int | None  # the division shown, None for the whole city
    city_wide: bool  # the actor may choose any division
    total: int
    by_state: dict[CaseState, int]
    by_category: dict[TipCategory, int]
    by_division: list[DivisionRow]
    overdue: list[OverdueCase]  # at most OVERDUE_LIMIT, most overdue first
    overdue_total: int
    months: list[MonthCount]
    median_days_to_close: float | None
    closed_count: int  # cases the median is taken over
    relapsed: int
    ever_closed: int
    repeated: list[RepeatedFacility]
    tips_by_state: dict[TipState, int] | None  # None: the actor may not see the triage queue

    @property
    def relapse_rate(self) -> float | None:
        return None if self.ever_closed == 0 else self.relapsed / self.ever_closed

    @property
    def open_total(self) -> int:
        return sum(self.by_state[s] for s in ACTIVE_STATES)


def dashboard(
    session: Session, clock: Clock, actor: User, *, division_id: int | None = None
) -> Dashboard:
    """Every figure of the dashboard for the actor's scope (optionally one division of it).

    :class:`Forbidden` for an actor who may read no case, or for a division outside the
    actor's scope; :class:`registry.errors.DivisionNotFound` for a division that does not
    exist.
    """
    shown, conds = _scope(actor, division_id)
    if division_id is not None:
        get_division(session, division_id)
    today = _today(clock)
    overdue = overdue_clause(today)

    by_state = dict.fromkeys(CaseState, 0)
    by_category = dict.fromkeys(TipCategory, 0)
    per_division: dict[int, dict[CaseState, int]] = {}
    overdue_per_division: dict[int, int] = {}
    rows = session.execute(
        select(
            HazardCase.division_id,
            HazardCase.category,
            HazardCase.state,
            func.count(),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(*conds)
        .group_by(HazardCase.division_id, HazardCase.category, HazardCase.state)
    )
    for div, category, state_value, count, late in rows:
        state = CaseState(state_value)
        by_state[state] += int(count)
        by_category[TipCategory(category)] += int(count)
        per_division.setdefault(div, dict.fromkeys(CaseState, 0))[state] += int(count)
        overdue_per_division[div] = overdue_per_division.get(div, 0) + int(late or 0)

    divisions = _divisions(session, shown, per_division)
    by_division = [
        DivisionRow(
            division_id=d.id,
            name=d.name,
            name_en=d.name_en,
            by_state=per_division.get(d.id, dict.fromkeys(CaseState, 0)),
            total=sum(per_division.get(d.id, {}).values()),
            overdue=overdue_per_division.get(d.id, 0),
        )
        for d in divisions
    ]

    relapsed, ever_closed = session.execute(
        select(
            func.sum(case((HazardCase.relapse_count > 0, 1), else_=0)),
            func.sum(
                case(
                    (or_(HazardCase.closed_at.is_not(None), HazardCase.relapse_count > 0), 1),
                    else_=0,
                )
            ),
        ).where(*conds)
    ).one()
    closed_days = _days_to_close(session, conds)

    return Dashboard(
        today=today,
        division_id=shown,
        city_wide=scope_division(actor) is None,
        total=sum(by_state.values()),
        by_state=by_state,
        by_category=by_category,
        by_division=by_division,
        overdue=_overdue_cases(session, conds, overdue, today),
        overdue_total=sum(overdue_per_division.values()),
        months=_months(session, conds, today),
        median_days_to_close=statistics.median(closed_days) if closed_days else None,
        closed_count=len(closed_days),
        relapsed=int(relapsed or 0),
        ever_closed=int(ever_closed or 0),
        repeated=_repeated(session, conds),
        tips_by_state=_tips_by_state(session, clock, actor, shown),
    )


def _divisions(session: Session, shown: int | None, with_cases: Iterable[int]) -> list[Division]:
    """The divisions a table lists: the one shown, or every active division and every
    division that has cases in scope."""
    query = select(Division).order_by(Division.sort_order, Division.id)
    if shown is not None:
        query = query.where(Division.id == shown)
    else:
        query = query.where(or_(Division.active.is_(True), Division.id.in_(list(with_cases))))
    return list(session.scalars(query))


def _overdue_cases(
    session: Session,
    conds: Sequence[ColumnElement[bool]],
    overdue: ColumnElement[bool],
    today: dt.date,
) -> list[OverdueCase]:
    due = case(
        (HazardCase.state == CaseState.CLOSED, HazardCase.recheck_due_on), else_=HazardCase.deadline
    )
    rows = session.execute(
        select(
            HazardCase.id,
            HazardCase.facility_id,
            Facility.name,
            HazardCase.division_id,
            HazardCase.category,
            HazardCase.state,
            HazardCase.deadline,
            HazardCase.recheck_due_on,
        )
        .outerjoin(Facility, Facility.id == HazardCase.facility_id)
        .where(*conds, overdue)
        .order_by(due, HazardCase.id)
        .limit(OVERDUE_LIMIT)
    )
    items: list[OverdueCase] = []
    for row in rows:
        state = CaseState(row.state)
        recheck = state is CaseState.CLOSED
        due_on = row.recheck_due_on if recheck else row.deadline
        items.append(
            OverdueCase(
                id=row.id,
                facility_id=row.facility_id,
                facility_name=row.name or "",
                division_id=row.division_id,
                category=TipCategory(row.category),
                state=state,
                due_on=due_on,
                recheck=recheck,
                days_overdue=(today - due_on).days,
            )
        )
    return items


def _closures() -> FromClause:
    """Closures undone by a relapse, with their case (for its scope, division and category)."""
    return CaseRelapse.__table__.join(HazardCase.__table__, HazardCase.id == CaseRelapse.case_id)


def _monthly(
    session: Session,
    bounds: Sequence[dt.datetime],
    column: SQLColumnExpression[Any],
    source: FromClause,
    conds: Sequence[ColumnElement[bool]],
    *groups: SQLColumnExpression[Any],
) -> list[tuple[Any, ...]]:
    """Rows (month index, *groups, count) of ``source`` whose ``column`` falls in the months
    that ``bounds`` delimit."""
    index = _month_index(column, bounds)
    inner = (
        select(index.label("month"), *groups)
        .select_from(source)
        .where(*conds, column >= bounds[0], column < bounds[-1])
        .subquery()
    )
    # Grouped in an outer query: PostgreSQL does not see that two renderings of the CASE
    # with their own bound parameters are the same expression.
    outer = list(inner.c)
    query = select(*outer, func.count()).group_by(*outer)
    return [tuple(row) for row in session.execute(query)]


def _months(
    session: Session, conds: Sequence[ColumnElement[bool]], today: dt.date
) -> list[MonthCount]:
    starts = month_starts(today)
    bounds = _boundaries(starts)
    opened = [0] * len(starts)
    closed = [0] * len(starts)
    cases_table = HazardCase.__table__
    for target, column, source in (
        (opened, HazardCase.created_at, cases_table),
        (closed, HazardCase.closed_at, cases_table),
        (closed, CaseRelapse.closed_at, _closures()),
    ):
        for month, count in _monthly(session, bounds, column, source, conds):
            target[int(month)] += int(count)
    return [MonthCount(s, o, c) for s, o, c in zip(starts, opened, closed, strict=True)]


def _days_to_close(session: Session, conds: Sequence[ColumnElement[bool]]) -> list[int]:
    """Days from discovery to the current closure (its Asia/Shanghai date), per closed case."""
    rows = session.execute(
        select(HazardCase.discovered_on, HazardCase.closed_at).where(
            *conds, HazardCase.closed_at.is_not(None)
        )
    )
    return [
        (local(closed_at).date() - discovered_on).days
        for discovered_on, closed_at in rows
        if closed_at is not None
    ]


def _repeated(session: Session, conds: Sequence[ColumnElement[bool]]) -> list[RepeatedFacility]:
    cases_count = func.count(HazardCase.id)
    relapses = func.coalesce(func.sum(HazardCase.relapse_count), 0)
    rows = session.execute(
        select(Facility.id, Facility.name, Facility.division_id, cases_count, relapses)
        .join(HazardCase, HazardCase.facility_id == Facility.id)
        .where(*conds)
        .group_by(Facility.id, Facility.name, Facility.division_id)
        .having(or_(cases_count >= 2, relapses > 0))
        .order_by(cases_count.desc(), relapses.desc(), Facility.name, Facility.id)
        .limit(REPEATED_LIMIT)
    )
    return [
        RepeatedFacility(int(fid), name, int(div), int(n), int(r)) for fid, name, div, n, r in rows
    ]


def _tips_by_state(
    session: Session, clock: Clock, actor: User, division_id: int | None
) -> dict[TipState, int] | None:
    """Tips per state for those who may see the triage queue (its scope and the division
    shown); metadata only."""
    from triage import services as triage

    try:
        return triage.queue_counts(
            session, clock, actor, triage.QueueFilters(division_id=division_id)
        )
    except Forbidden:
        return None


# ---------------------------------------------------------------- public statistics


class Series(enum.StrEnum):
    TIPS = "tips"  # tips received (submitted_at)
    OPENED = "opened"  # cases opened (created_at)
    CLOSED = "closed"  # closures (closed_at, and closures undone by a relapse)


@dataclass(frozen=True)
class Cell:
    """One published count: ``value`` is the true count, ``shown`` what may be published
    ("0", "<3", "17", or "" where the whole breakdown of the month is withheld)."""

    value: int = field(repr=False)
    shown: str


@dataclass(frozen=True)
class MonthRow:
    month: dt.date
    by_division: dict[int, Cell]
    by_category: dict[TipCategory, Cell]
    category_withheld: bool


@dataclass(frozen=True)
class PublicExample:
    facility_name: str
    division_id: int
    category: TipCategory
    state: CaseState
    discovered_month: dt.date  # the first day of the month: never a finer date
    closed_month: dt.date | None
    summary: str


@dataclass(frozen=True)
class PublicStatistics:
    months: list[dt.date]  # first days, oldest first
    divisions: list[Division]
    series: dict[Series, list[MonthRow]]  # one row per month, oldest first
    examples: list[PublicExample]


def shown(count: int) -> str:
    """A count as published: 0 stays 0, 1 and 2 become "<3"."""
    return "<3" if 0 < count < SMALL else str(count)


def _disclosed(*parts: Sequence[int]) -> bool:
    """Whether breakdowns of the same total, published with :func:`shown`, pin a suppressed
    cell down. Each suppressed cell lies in [1, SMALL − 1]; a breakdown with known sum K and d
    suppressed cells says the total is in [K + d, K + (SMALL − 1)·d]. Intersecting these, a
    breakdown's suppressed cells are forced when its possible sums collapse to the lowest or
    highest value (every cell 1, or every cell SMALL − 1)."""
    ranges = []
    for cells in parts:
        known = sum(c for c in cells if not 0 < c < SMALL)
        hidden = sum(1 for c in cells if 0 < c < SMALL)
        ranges.append((known, hidden))
    low = max(k + d for k, d in ranges)
    high = min(k + (SMALL - 1) * d for k, d in ranges)
    for known, hidden in ranges:
        if not hidden:
            continue
        if high - known == hidden or low - known == (SMALL - 1) * hidden:
            return True  # every hidden cell is 1, or every one is SMALL - 1
        if hidden == 1 and low == high:
            return True
    return False


def suppress(
    by_division: Mapping[int, int], by_category: Mapping[TipCategory, int]
) -> tuple[dict[int, Cell], dict[TipCategory, Cell], bool]:
    """The two breakdowns of one month as published; the category breakdown is withheld
    (its cells shown as "") when publishing both would disclose a suppressed cell."""
    divisions = {k: Cell(v, shown(v)) for k, v in by_division.items()}
    withheld = _disclosed(list(by_division.values()), list(by_category.values()))
    categories = {k: Cell(v, "" if withheld else shown(v)) for k, v in by_category.items()}
    return divisions, categories, withheld


def public_statistics(session: Session, clock: Clock) -> PublicStatistics:
    """The public statistics page: no actor (anyone may read it), nothing about a reporter."""
    starts = month_starts(_today(clock))
    bounds = _boundaries(starts)
    counts: dict[Series, dict[tuple[int, int, TipCategory], int]] = {s: {} for s in Series}
    sources: tuple[
        tuple[
            Series,
            SQLColumnExpression[Any],
            FromClause,
            SQLColumnExpression[Any],
            SQLColumnExpression[Any],
        ],
        ...,
    ] = (
        (Series.TIPS, Tip.submitted_at, Tip.__table__, Tip.division_id, Tip.category),
        (
            Series.OPENED,
            HazardCase.created_at,
            HazardCase.__table__,
            HazardCase.division_id,
            HazardCase.category,
        ),
        (
            Series.CLOSED,
            HazardCase.closed_at,
            HazardCase.__table__,
            HazardCase.division_id,
            HazardCase.category,
        ),
        (
            Series.CLOSED,
            CaseRelapse.closed_at,
            _closures(),
            HazardCase.division_id,
            HazardCase.category,
        ),
    )
    seen: set[int] = set()
    for series, column, source, division, category in sources:
        target = counts[series]
        for month, div, cat, count in _monthly(
            session, bounds, column, source, (), division, category
        ):
            key = (int(month), int(div), TipCategory(cat))
            target[key] = target.get(key, 0) + int(count)
            seen.add(key[1])
    # Every active division, and any other that has counts (so every count is published in
    # a column and the two breakdowns of a month add up to the same number).
    divisions = list(
        session.scalars(
            select(Division)
            .where(or_(Division.active.is_(True), Division.id.in_(sorted(seen))))
            .order_by(Division.sort_order, Division.id)
        )
    )
    table: dict[Series, list[MonthRow]] = {}
    for series in Series:
        rows: list[MonthRow] = []
        for month, start in enumerate(starts):
            per_division = {d.id: 0 for d in divisions}
            per_category = dict.fromkeys(TipCategory, 0)
            for (m, div, cat), count in counts[series].items():
                if m == month:
                    per_division[div] += count
                    per_category[cat] += count
            cells_d, cells_c, withheld = suppress(per_division, per_category)
            rows.append(MonthRow(start, cells_d, cells_c, withheld))
        table[series] = rows
    return PublicStatistics(
        months=starts,
        divisions=divisions,
        series=table,
        examples=public_examples(session),
    )


def public_examples(session: Session) -> list[PublicExample]:
    """Cases an administrator marked as public examples, newest discovery first: the
    administrator's summary, the facility's name, the division, the category, the state and
    months (never a finer date). Nothing from the tip."""
    rows = session.execute(
        select(
            Facility.name,
            HazardCase.division_id,
            HazardCase.category,
            HazardCase.state,
            HazardCase.discovered_on,
            HazardCase.closed_at,
            HazardCase.public_summary,
        )
        .outerjoin(Facility, Facility.id == HazardCase.facility_id)
        .where(HazardCase.public_example.is_(True))
        .order_by(HazardCase.discovered_on.desc(), HazardCase.id)
    )
    return [
        PublicExample(
            facility_name=name or "",
            division_id=div,
            category=TipCategory(category),
            state=CaseState(state),
            discovered_month=discovered.replace(day=1),
            closed_month=None if closed_at is None else local(closed_at).date().replace(day=1),
            summary=summary,
        )
        for name, div, category, state, discovered, closed_at, summary in rows
    ]


# ---------------------------------------------------------------- SVG charts
#
# Drawn on the server so that the pages need no JavaScript. Every text is escaped here (the
# result is safe to insert into a page as markup); no style attribute or element is used (the
# CSP forbids inline styles), only presentation attributes. The numbers are in a table next
# to each chart as well: the chart is a picture of the table (role="img" with its title).

_INK = "#1d2430"
_MUTED = "#5b6576"
_LINE = "#d8dde6"
_COLOURS = ("#a3281e", "#1a55a8", "#1f7a3a", "#9a5b00")
_FONT = "system-ui, sans-serif"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def _text(
    x: float, y: float, text: str, *, size: int = 13, anchor: str = "start", fill: str = _INK
) -> str:
    return (
        f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}">{escape(text)}</text>'
    )


def _svg(chart_id: str, title: str, width: int, height: int, body: list[str]) -> str:
    title_id = f"{chart_id}-title"
    return "".join(
        [
            (
                f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id={quoteattr(chart_id)} '
                f'role="img" aria-labelledby={quoteattr(title_id)} width="{width}" '
                f'height="{height}" viewBox="0 0 {width} {height}" font-family="{_FONT}">'
            ),
            f"<title id={quoteattr(title_id)}>{escape(title)}</title>",
            *body,
            "</svg>",
        ]
    )


def bar_chart(chart_id: str, title: str, bars: Sequence[Bar], *, width: int = 320) -> str:
    """Horizontal bars, each with its label on the line above (readable on a phone at its
    natural size) and its value at the end of the bar."""
    row = 40
    top = 8
    height = top + row * max(len(bars), 1) + 4
    peak = max((b.value for b in bars), default=0)
    room = width - 48
    body: list[str] = []
    for i, item in enumerate(bars):
        y = top + i * row
        length = 0.0 if peak == 0 else room * item.value / peak
        body.append(_text(0, y + 13, item.label))
        body.append(
            f'<rect x="0" y="{y + 18:g}" width="{max(length, 1 if item.value else 0):g}" '
            f'height="14" fill="{_COLOURS[0]}"/>'
        )
        body.append(_text(length + 6, y + 30, str(item.value), size=12))
    if not bars:
        body.append(_text(0, top + 13, "—", fill=_MUTED))
    return _svg(chart_id, title, width, height, body)


def month_chart(
    chart_id: str,
    title: str,
    months: Sequence[dt.date],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 320,
) -> str:
    """Grouped vertical bars, one group per month (month number below, the year under
    January and under the first month), one colour per series with a legend on top."""
    legend = 22
    left, bottom, plot = 30, 34, 150
    height = legend + plot + bottom
    slot = (width - left) / max(len(months), 1)
    bar = max((slot - 6) / max(len(series), 1), 2)
    peak = max((v for _, values in series for v in values), default=0)
    scale = 0 if peak == 0 else plot / peak
    body: list[str] = []
    x = 0.0
    for i, (name, _values) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        body.append(f'<rect x="{x:g}" y="4" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, 15, name, size=12))
        x += 16 + 13 * max(len(name), 2) * 0.75 + 16
    base = legend + plot
    body.append(_text(left - 4, legend + 10, str(peak), size=11, anchor="end", fill=_MUTED))
    body.append(_text(left - 4, base, "0", size=11, anchor="end", fill=_MUTED))
    body.append(
        f'<line x1="{left}" y1="{base}" x2="{width}" y2="{base}" stroke="{_LINE}" stroke-width="1"/>'
    )
    for m, month in enumerate(months):
        x0 = left + m * slot + 3
        for s, (_name, values) in enumerate(series):
            value = values[m]
            h = value * scale
            body.append(
                f'<rect x="{x0 + s * bar:g}" y="{base - h:g}" width="{bar - 1:g}" '
                f'height="{h:g}" fill="{_COLOURS[s % len(_COLOURS)]}"/>'
            )
        centre = left + m * slot + slot / 2
        body.append(_text(centre, base + 14, f"{month.month:02d}", size=11, anchor="middle"))
        # The year under January, and under the first month unless January is too near.
        if month.month == 1 or (m == 0 and month.month <= 10):
            body.append(
                _text(centre, base + 28, str(month.year), size=10, anchor="middle", fill=_MUTED)
            )
    return _svg(chart_id, title, width, height, body)


def month_date_range(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the month that starts on ``month``."""
    return month, _next_month(month) - dt.timedelta(days=1)


__all__ = [
    "MONTHS",
    "SMALL",
    "Bar",
    "Cell",
    "Dashboard",
    "DivisionRow",
    "MonthCount",
    "MonthRow",
    "OverdueCase",
    "PublicExample",
    "PublicStatistics",
    "RepeatedFacility",
    "Series",
    "bar_chart",
    "dashboard",
    "month_chart",
    "month_starts",
    "public_examples",
    "public_statistics",
    "scope_division",
    "shown",
    "suppress",
]
