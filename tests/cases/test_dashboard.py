"""The dashboard's figures against counts worked out by hand from a fixed ledger of cases, its
scope by role and division, the SVG charts (well-formed, escaped) and the page itself.

The ledger (:func:`build_ledger`) is shared with the export and public-statistics tests. The
clock stands at 2026-11-01 10:00 in Shanghai (02:00 UTC), so the twelve months run from
2025-12 to 2026-11. Cases are built directly with the models, respecting the CHECK
constraints of each state.
"""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import dashboard as figures
from cases.dashboard import Bar, bar_chart, month_chart, month_starts, shown, suppress
from cases.models import (
    CaseRelapse,
    CaseSource,
    CaseState,
    CaseUpdate,
    HazardCase,
    RectificationPlan,
    UpdateKind,
)
from core.accounts.models import Role, User
from core.clock import FakeClock
from core.errors import Forbidden
from intake.models import Channel, Tip, TipCategory, TipState
from registry.errors import DivisionNotFound
from registry.models import Division, Facility, FacilityStatus, FacilityTypeRecord
from tests.conftest import build_user

UTC = dt.UTC
SVG = "{http://www.w3.org/2000/svg}"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Ledger:
    dbs: Session
    clock: FakeClock
    d1: int
    d2: int
    facilities: dict[str, int]
    users: dict[str, User]
    cases: dict[str, uuid.UUID] = field(default_factory=dict)

    def user(self, name: str) -> User:
        return self.users[name]


def _division(dbs: Session, name: str) -> int:
    found = dbs.scalar(select(Division.id).where(Division.name == name))
    assert found is not None
    return found


def add_case(
    ledger: Ledger,
    name: str,
    *,
    division: int,
    facility: str | None,
    category: TipCategory,
    state: CaseState,
    discovered_on: dt.date,
    created_at: dt.datetime,
    deadline: dt.date | None = None,
    closed_at: dt.datetime | None = None,
    recheck_due_on: dt.date | None = None,
    rechecked_at: dt.datetime | None = None,
    relapse_count: int = 0,
    items: tuple[str, ...] = ("GB 35181-2017/7.3.1",),
    description: str = "二楼东侧消防通道被杂物堵塞。",
    public_summary: str = "",
) -> HazardCase:
    """A case in ``state`` with the columns its CHECK constraints ask for: the officer runs the
    rectification, the colleague accepts it."""
    officer, colleague = ledger.user("officer"), ledger.user("colleague")
    working = state in (CaseState.RECTIFYING, CaseState.AWAITING_ACCEPTANCE)
    done = state in (CaseState.CLOSED, CaseState.RECHECKED)
    case = HazardCase(
        id=uuid.uuid4(),
        tip_id=None,
        source=CaseSource.INSPECTION,
        facility_id=None if facility is None else ledger.facilities[facility],
        division_id=division,
        category=category,
        standard_items=list(items),
        description=description,
        state=state,
        discovered_on=discovered_on,
        deadline=deadline,
        created_at=created_at,
        created_by_id=officer.id,
        plan_by_id=officer.id if working or done else None,
        submitted_by_id=officer.id if state is CaseState.AWAITING_ACCEPTANCE or done else None,
        submitted_at=created_at if state is CaseState.AWAITING_ACCEPTANCE or done else None,
        accepted_by_id=colleague.id if done else None,
        closed_at=closed_at,
        recheck_due_on=recheck_due_on,
        rechecked_at=rechecked_at,
        relapse_count=relapse_count,
        public_example=bool(public_summary),
        public_summary=public_summary,
    )
    ledger.dbs.add(case)
    ledger.dbs.flush()
    ledger.cases[name] = case.id
    return case


def add_plan(
    ledger: Ledger,
    case: HazardCase,
    *,
    measures: str,
    responsibility: str,
    deadline: dt.date,
    at: dt.datetime,
) -> None:
    ledger.dbs.add(
        RectificationPlan(
            case_id=case.id,
            responsibility=responsibility,
            measures=measures,
            funds_fen=120_000,
            deadline=deadline,
            contingency_plan="疏散预案已更新。",
            created_at=at,
            created_by_id=ledger.user("officer").id,
        )
    )
    ledger.dbs.flush()


def add_relapse(
    ledger: Ledger, case: HazardCase, *, closed_at: dt.datetime, at: dt.datetime
) -> None:
    """A relapse found at the re-check of a closure (``closed_at``) that it undid."""
    update = CaseUpdate(
        case_id=case.id,
        kind=UpdateKind.RELAPSE,
        note="回头看发现隐患反弹。",
        created_at=at,
        created_by_id=ledger.user("colleague").id,
    )
    ledger.dbs.add(update)
    ledger.dbs.flush()
    ledger.dbs.add(
        CaseRelapse(
            case_id=case.id,
            facility_id=case.facility_id,
            update_id=update.id,
            closed_at=closed_at,
            new_deadline=case.deadline or at.date(),
            created_at=at,
            created_by_id=ledger.user("colleague").id,
        )
    )
    ledger.dbs.flush()


def add_tip(
    dbs: Session, division: int, category: TipCategory, submitted_at: dt.datetime
) -> uuid.UUID:
    """A tip row with placeholder envelopes: the statistics read only its metadata."""
    tip_id = uuid.uuid4()
    blob = bytes(95)
    dbs.add(
        Tip(
            id=tip_id,
            state=TipState.SUBMITTED,
            division_id=division,
            category=category,
            channel=Channel.WEB,
            submitted_at=submitted_at,
            description_enc=blob,
            location_enc=blob,
            facility_name_enc=blob,
            observed_when_enc=blob,
            relationship_enc=blob,
            contact_enc=blob,
            real_name_enc=blob,
        )
    )
    dbs.flush()
    return tip_id


def build_ledger(dbs: Session, clock: FakeClock) -> Ledger:
    """Nine cases in two divisions (杨舍镇 = d1, 塘桥镇 = d2) at four facilities; the figures
    each test expects are worked out in the comments."""
    d1, d2 = _division(dbs, "杨舍镇"), _division(dbs, "塘桥镇")
    kind = FacilityTypeRecord(
        code="dashboard_test_home", name_zh="测试养老机构", name_en="Test home"
    )
    dbs.add(kind)
    dbs.flush()
    facilities: dict[str, int] = {}
    for key, name, division, code in (
        ("A", "阳光颐养院", d1, "52320582MJ5834109J"),
        ("B", '=HYPERLINK("http://x")敬老院', d1, None),
        ("C", "塘桥镇中心敬老院", d2, None),
        ("D", "塘桥日间照料中心", d2, None),
    ):
        facility = Facility(
            name=name,
            credit_code=code,
            facility_type_id=kind.id,
            division_id=division,
            status=FacilityStatus.OPERATING,
        )
        dbs.add(facility)
        dbs.flush()
        facilities[key] = facility.id
    users = {
        "officer": build_user(dbs, clock, "officer-d1", Role.CASE_OFFICER, division_id=d1),
        "colleague": build_user(dbs, clock, "colleague-d1", Role.CASE_OFFICER, division_id=d1),
        "supervisor": build_user(dbs, clock, "supervisor", Role.SUPERVISOR),
        "supervisor_d2": build_user(dbs, clock, "supervisor-d2", Role.SUPERVISOR, division_id=d2),
        "triage_d2": build_user(dbs, clock, "triage-d2", Role.TRIAGE_OFFICER, division_id=d2),
        "triage_city": build_user(dbs, clock, "triage-city", Role.TRIAGE_OFFICER),
        "finance": build_user(dbs, clock, "finance", Role.FINANCE_OFFICER),
        "approver": build_user(dbs, clock, "approver", Role.FINANCE_APPROVER, division_id=d1),
        "administrator": build_user(dbs, clock, "administrator", Role.ADMINISTRATOR),
        "auditor": build_user(dbs, clock, "auditor", Role.AUDITOR),
        "inactive": build_user(
            dbs, clock, "inactive", Role.SUPERVISOR, division_id=None, active=False
        ),
    }
    ledger = Ledger(dbs, clock, d1, d2, facilities, users)
    F, G, B, X, E, S = (  # noqa: N806 - short names keep the table below readable
        TipCategory.FIRE,
        TipCategory.GAS,
        TipCategory.BUILDINGS,
        TipCategory.OTHER,
        TipCategory.ELDERLY_CARE_SAFETY,
        TipCategory.SPECIAL_EQUIPMENT,
    )
    # c1: open, deadline passed two days ago → overdue (rectification, 2 days).
    add_case(ledger, "c1", division=d1, facility="A", category=F, state=CaseState.OPEN,
             discovered_on=dt.date(2026, 10, 20), created_at=utc(2026, 10, 20, 2),
             deadline=dt.date(2026, 10, 30))  # fmt: skip
    # c2: rectifying, deadline ahead; two plans, the newer one is current.
    c2 = add_case(ledger, "c2", division=d1, facility="A", category=G,
                  state=CaseState.RECTIFYING, discovered_on=dt.date(2026, 9, 1),
                  created_at=utc(2026, 9, 2, 1), deadline=dt.date(2026, 12, 1),
                  items=("MZ-2023/4.2", "GB 35181-2017/7.3.1"),
                  description="-燃气管道穿越卧室")  # fmt: skip
    add_plan(ledger, c2, measures="更换燃气软管", responsibility="院长 张某",
             deadline=dt.date(2026, 10, 1), at=utc(2026, 9, 3))  # fmt: skip
    add_plan(ledger, c2, measures="=1+1 改管并加装报警器", responsibility="@后勤主管",
             deadline=dt.date(2026, 12, 1), at=utc(2026, 9, 20))  # fmt: skip
    # c3: closed 2026-08-31 17:00 UTC = 2026-09-01 01:00 in Shanghai (a September closure,
    # 31 days after discovery); its re-check was due 2026-10-15 → overdue (re-check, 17 days).
    add_case(ledger, "c3", division=d1, facility="B", category=F, state=CaseState.CLOSED,
             discovered_on=dt.date(2026, 8, 1), created_at=utc(2026, 8, 1, 3),
             deadline=dt.date(2026, 8, 30), closed_at=utc(2026, 8, 31, 17),
             recheck_due_on=dt.date(2026, 10, 15))  # fmt: skip
    # c4: closed in June after 30 days, re-checked in September (cleared).
    add_case(ledger, "c4", division=d1, facility="B", category=B, state=CaseState.RECHECKED,
             discovered_on=dt.date(2026, 5, 10), created_at=utc(2026, 5, 10, 4),
             deadline=dt.date(2026, 6, 10), closed_at=utc(2026, 6, 9, 4),
             recheck_due_on=dt.date(2026, 9, 1), rechecked_at=utc(2026, 9, 1, 5),
             public_summary="该院二楼疏散通道被占用，已清理并加装监控。")  # fmt: skip
    # c5: opened in March, closed in April, relapsed in July: rectifying again.
    c5 = add_case(ledger, "c5", division=d1, facility="A", category=F,
                  state=CaseState.RECTIFYING, discovered_on=dt.date(2026, 3, 1),
                  created_at=utc(2026, 3, 2, 1), deadline=dt.date(2026, 11, 20),
                  relapse_count=1)  # fmt: skip
    add_relapse(ledger, c5, closed_at=utc(2026, 4, 15, 6), at=utc(2026, 7, 1, 3))
    # c6: no registered facility, opened before the twelve months (2025-10), awaiting
    # acceptance, deadline 2025-12-31 → overdue (rectification, 305 days).
    add_case(ledger, "c6", division=d1, facility=None, category=X,
             state=CaseState.AWAITING_ACCEPTANCE, discovered_on=dt.date(2025, 10, 1),
             created_at=utc(2025, 10, 1, 2), deadline=dt.date(2025, 12, 31))  # fmt: skip
    # c7: opened 2026-10-01 16:30 UTC = 10-02 in Shanghai (October); closed 2026-10-31 16:30
    # UTC = 11-01 00:30 in Shanghai (a November closure, 31 days); re-check due in January.
    add_case(ledger, "c7", division=d2, facility="C", category=E, state=CaseState.CLOSED,
             discovered_on=dt.date(2026, 10, 1), created_at=utc(2026, 10, 1, 16, 30),
             deadline=dt.date(2026, 10, 30), closed_at=utc(2026, 10, 31, 16, 30),
             recheck_due_on=dt.date(2027, 1, 31), public_summary="燃气报警器失效，已更换。")  # fmt: skip
    # c8: opened 2026-10-31 15:59 UTC = 23:59 in Shanghai (October), no deadline yet.
    add_case(ledger, "c8", division=d2, facility="C", category=F, state=CaseState.OPEN,
             discovered_on=dt.date(2026, 10, 31), created_at=utc(2026, 10, 31, 15, 59))  # fmt: skip
    # c9: the only case of facility D: opened in January, closed in February, relapsed.
    c9 = add_case(ledger, "c9", division=d2, facility="D", category=S,
                  state=CaseState.RECTIFYING, discovered_on=dt.date(2026, 1, 10),
                  created_at=utc(2026, 1, 10, 1), deadline=dt.date(2026, 12, 15),
                  relapse_count=1)  # fmt: skip
    add_relapse(ledger, c9, closed_at=utc(2026, 2, 20, 2), at=utc(2026, 5, 1, 2))
    return ledger


@pytest.fixture
def ledger(dbs: Session, clock: FakeClock) -> Ledger:
    return build_ledger(dbs, clock)


def months(data: figures.Dashboard) -> dict[str, tuple[int, int]]:
    return {m.month.strftime("%Y-%m"): (m.opened, m.closed) for m in data.months}


# ---------------------------------------------------------------- the city


def test_city_figures_equal_the_hand_count(ledger: Ledger) -> None:
    data = figures.dashboard(ledger.dbs, ledger.clock, ledger.user("supervisor"))
    assert data.today == dt.date(2026, 11, 1)
    assert (data.division_id, data.city_wide, data.total) == (None, True, 9)
    assert data.by_state == {
        CaseState.OPEN: 2,  # c1, c8
        CaseState.RECTIFYING: 3,  # c2, c5, c9
        CaseState.AWAITING_ACCEPTANCE: 1,  # c6
        CaseState.CLOSED: 2,  # c3, c7
        CaseState.RECHECKED: 1,  # c4
    }
    assert data.open_total == 6
    assert data.by_category == {
        TipCategory.FIRE: 4,  # c1, c3, c5, c8
        TipCategory.GAS: 1,
        TipCategory.BUILDINGS: 1,
        TipCategory.OTHER: 1,
        TipCategory.ELDERLY_CARE_SAFETY: 1,
        TipCategory.SPECIAL_EQUIPMENT: 1,
    }
    rows = {r.division_id: r for r in data.by_division}
    assert (rows[ledger.d1].total, rows[ledger.d1].overdue) == (6, 3)
    assert (rows[ledger.d2].total, rows[ledger.d2].overdue) == (3, 0)
    assert rows[ledger.d2].by_state[CaseState.CLOSED] == 1
    # Every active division is listed, with zeros where there is no case.
    assert len(rows) == len(ledger.dbs.scalars(select(Division).where(Division.active)).all())
    assert sum(r.total for r in data.by_division) == 9

    assert [(c.id, c.recheck, c.due_on, c.days_overdue) for c in data.overdue] == [
        (ledger.cases["c6"], False, dt.date(2025, 12, 31), 305),
        (ledger.cases["c3"], True, dt.date(2026, 10, 15), 17),
        (ledger.cases["c1"], False, dt.date(2026, 10, 30), 2),
    ]
    assert data.overdue_total == 3
    assert data.overdue[1].facility_name == '=HYPERLINK("http://x")敬老院'
    assert data.overdue[0].facility_name == ""

    by_month = months(data)
    assert list(by_month) == [
        f"{y}-{m:02d}" for y, m in [(2025, 12)] + [(2026, i) for i in range(1, 12)]
    ]
    expected = dict.fromkeys(by_month, (0, 0))
    expected.update({
        "2026-01": (1, 0),  # c9 opened
        "2026-02": (0, 1),  # c9's closure, undone by its relapse
        "2026-03": (1, 0),  # c5 opened
        "2026-04": (0, 1),  # c5's closure, undone by its relapse
        "2026-05": (1, 0),  # c4
        "2026-06": (0, 1),  # c4 closed
        "2026-08": (1, 0),  # c3
        "2026-09": (1, 1),  # c2 opened, c3 closed (01:00 on 09-01 in Shanghai)
        "2026-10": (3, 0),  # c1, c7, c8 (23:59 on 10-31 in Shanghai)
        "2026-11": (0, 1),  # c7 closed (00:30 on 11-01 in Shanghai)
    })  # fmt: skip
    assert by_month == expected

    # Closed now: c3 (31 days), c4 (30), c7 (31).
    assert (data.median_days_to_close, data.closed_count) == (31, 3)
    # Relapsed: c5, c9; ever closed: c3, c4, c7 and the two relapsed.
    assert (data.relapsed, data.ever_closed, data.relapse_rate) == (2, 5, 0.4)
    assert [(r.name, r.cases, r.relapses) for r in data.repeated] == [
        ("阳光颐养院", 3, 1),
        ('=HYPERLINK("http://x")敬老院', 2, 0),
        ("塘桥镇中心敬老院", 2, 0),
        ("塘桥日间照料中心", 1, 1),
    ]
    # A supervisor sees the queue's metadata (no tips in this ledger).
    assert data.tips_by_state == dict.fromkeys(TipState, 0)


def test_median_of_an_even_number_of_closures(ledger: Ledger) -> None:
    add_case(ledger, "c10", division=ledger.d2, facility="D", category=TipCategory.GAS,
             state=CaseState.CLOSED, discovered_on=dt.date(2026, 10, 1),
             created_at=utc(2026, 10, 1, 1), deadline=dt.date(2026, 10, 5),
             closed_at=utc(2026, 10, 5, 1), recheck_due_on=dt.date(2027, 1, 5))  # fmt: skip
    data = figures.dashboard(ledger.dbs, ledger.clock, ledger.user("finance"))
    # 4, 30, 31, 31 → (30 + 31) / 2.
    assert (data.median_days_to_close, data.closed_count) == (30.5, 4)
    assert data.tips_by_state is None  # finance does not see the triage queue


def test_a_division_of_the_city(ledger: Ledger) -> None:
    data = figures.dashboard(
        ledger.dbs, ledger.clock, ledger.user("supervisor"), division_id=ledger.d2
    )
    assert (data.division_id, data.city_wide, data.total) == (ledger.d2, True, 3)
    assert [r.division_id for r in data.by_division] == [ledger.d2]
    assert data.overdue == []
    assert (data.relapsed, data.ever_closed) == (1, 2)
    assert months(data)["2026-11"] == (0, 1)
    assert [r.name for r in data.repeated] == ["塘桥镇中心敬老院", "塘桥日间照料中心"]
    with pytest.raises(DivisionNotFound):
        figures.dashboard(ledger.dbs, ledger.clock, ledger.user("supervisor"), division_id=9999)


def test_empty_dashboard(dbs: Session, clock: FakeClock) -> None:
    supervisor = build_user(dbs, clock, "supervisor", Role.SUPERVISOR)
    data = figures.dashboard(dbs, clock, supervisor)
    assert data.total == 0
    assert data.median_days_to_close is None
    assert data.relapse_rate is None
    assert data.overdue == []
    assert data.repeated == []
    assert all(m.opened == m.closed == 0 for m in data.months)


# ---------------------------------------------------------------- scope


def test_a_division_officer_sees_only_their_division(ledger: Ledger) -> None:
    data = figures.dashboard(ledger.dbs, ledger.clock, ledger.user("officer"))
    assert (data.division_id, data.city_wide, data.total) == (ledger.d1, False, 6)
    assert [r.division_id for r in data.by_division] == [ledger.d1]
    assert data.by_category[TipCategory.ELDERLY_CARE_SAFETY] == 0  # c7 is in d2
    assert {c.id for c in data.overdue} == {ledger.cases[n] for n in ("c1", "c3", "c6")}
    assert (data.relapsed, data.ever_closed) == (1, 3)
    assert months(data)["2026-11"] == (0, 0)
    assert [r.name for r in data.repeated] == ["阳光颐养院", '=HYPERLINK("http://x")敬老院']
    assert data.tips_by_state is None  # a case officer does not see the triage queue
    # Their own division may be named; another is refused.
    same = figures.dashboard(
        ledger.dbs, ledger.clock, ledger.user("officer"), division_id=ledger.d1
    )
    assert same.total == 6
    with pytest.raises(Forbidden):
        figures.dashboard(ledger.dbs, ledger.clock, ledger.user("officer"), division_id=ledger.d2)


def test_a_triage_officer_of_a_division_sees_its_cases_and_tips(ledger: Ledger) -> None:
    add_tip(ledger.dbs, ledger.d2, TipCategory.FIRE, utc(2026, 10, 3, 4))
    add_tip(ledger.dbs, ledger.d1, TipCategory.FIRE, utc(2026, 10, 3, 4))
    data = figures.dashboard(ledger.dbs, ledger.clock, ledger.user("triage_d2"))
    assert (data.division_id, data.total) == (ledger.d2, 3)
    assert data.tips_by_state is not None
    assert data.tips_by_state[TipState.SUBMITTED] == 1  # not d1's tip
    city = figures.dashboard(ledger.dbs, ledger.clock, ledger.user("triage_city"))
    assert city.total == 9
    assert city.city_wide
    assert city.tips_by_state is not None
    assert city.tips_by_state[TipState.SUBMITTED] == 2


@pytest.mark.parametrize("name", ["supervisor_d2", "approver"])
def test_city_roles_see_the_city_whatever_their_division(ledger: Ledger, name: str) -> None:
    data = figures.dashboard(ledger.dbs, ledger.clock, ledger.user(name))
    assert (data.division_id, data.city_wide, data.total) == (None, True, 9)


@pytest.mark.parametrize("name", ["administrator", "auditor", "inactive"])
def test_no_dashboard_without_a_case_reading_role(ledger: Ledger, name: str) -> None:
    with pytest.raises(Forbidden):
        figures.dashboard(ledger.dbs, ledger.clock, ledger.user(name))


# ---------------------------------------------------------------- months and charts


def test_month_starts_cross_the_year() -> None:
    assert month_starts(dt.date(2026, 2, 28), 3) == [
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]
    assert len(month_starts(dt.date(2026, 12, 31))) == 12


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    return [t.text or "" for t in root.iter(f"{SVG}text")] + [
        t.text or "" for t in root.iter(f"{SVG}title")
    ]


def test_bar_chart_is_well_formed_and_escaped() -> None:
    hostile = "<script>alert(\"x\")</script> & 'q'"
    svg = bar_chart("c<1>", "标题 & <b>", [Bar(hostile, 5), Bar("燃气", 0), Bar("消防", 10)])
    texts = _texts(svg)
    assert hostile in texts
    assert "标题 & <b>" in texts
    assert "<script>" not in svg
    assert "<b>" not in svg
    root = ET.fromstring(svg)  # noqa: S314
    assert root.get("id") == "c<1>"
    widths = [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert widths[2] == 2 * widths[0]
    assert widths[1] == 0
    assert "style" not in svg  # the CSP forbids inline styles


def test_month_chart_is_well_formed_and_escaped() -> None:
    starts = month_starts(dt.date(2026, 9, 1))  # 2025-10 … 2026-09
    svg = month_chart(
        "m", "Opened & closed", starts, [("<opened>", list(range(12))), ("closed", [0] * 12)]
    )
    texts = _texts(svg)
    assert "<opened>" in texts
    assert "Opened & closed" in texts
    assert "&lt;opened&gt;" in svg
    # Month numbers, and the year under the first month and under January.
    root = ET.fromstring(svg)  # noqa: S314
    below = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert below[:5] == ["10", "2025", "11", "12", "01"]
    assert [t for t in texts if len(t) == 4 and t.isdigit()] == ["2025", "2026"]
    # From December the first year label would collide with January's: only January's.
    december = month_chart("d", "t", month_starts(dt.date(2026, 11, 1)), [("a", [0] * 12)])
    assert [t for t in _texts(december) if len(t) == 4 and t.isdigit()] == ["2026"]
    # The bars are proportional to the values (the tallest for 11).
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")][2:]
    assert heights[2 * 11] == pytest.approx(11 * heights[2 * 1], rel=1e-4)


# ---------------------------------------------------------------- public suppression rules


def test_small_counts_are_shown_as_less_than_three() -> None:
    assert [shown(n) for n in (0, 1, 2, 3, 10)] == ["0", "<3", "<3", "3", "10"]


def test_a_category_breakdown_that_would_disclose_is_withheld() -> None:
    fire, gas = TipCategory.FIRE, TipCategory.GAS
    # Divisions 3 and <3, categories 4 and <3: both sum to 5 → the hidden cells are 2 and 1.
    divisions, categories, withheld = suppress({1: 3, 2: 2}, {fire: 4, gas: 1})
    assert withheld
    assert [c.shown for c in categories.values()] == ["", ""]
    assert [c.shown for c in divisions.values()] == ["3", "<3"]
    # One breakdown with no hidden cell gives the other's hidden cell away.
    assert suppress({1: 4}, {fire: 3, gas: 1})[2]
    # Two hidden cells on each side with equal known sums: 1+1, 1+2, 2+1 and 2+2 all fit.
    assert not suppress({1: 1, 2: 2, 3: 5}, {fire: 1, gas: 2, TipCategory.OTHER: 5})[2]
    # Nothing hidden: nothing to give away.
    assert not suppress({1: 3, 2: 4}, {fire: 7})[2]
    # A single tip: "<3" on both sides, 1 or 2 still both possible.
    divisions, categories, withheld = suppress({1: 1, 2: 0}, {fire: 1, gas: 0})
    assert not withheld
    assert [c.shown for c in categories.values()] == ["<3", "0"]


# ---------------------------------------------------------------- the page


@pytest.fixture
def page_ledger(dbs: Session, clock: FakeClock) -> Ledger:
    return build_ledger(dbs, clock)


def _get(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def test_dashboard_page_for_a_supervisor(
    staff_client: FlaskClient, page_ledger: Ledger, login: Any
) -> None:
    login(staff_client, page_ledger.user("supervisor"))
    status, page = _get(staff_client, "/dashboard/")
    assert status == 200
    assert 'data-figure="total">9<' in page
    assert 'id="division-table"' in page
    assert 'id="tips-table"' in page
    assert page.count("<svg") == 4
    # The facility whose name looks like markup and a formula is escaped.
    assert "=HYPERLINK(&#34;http://x&#34;)敬老院" in page or "=HYPERLINK(&quot;" in page
    assert "<script" not in page
    for chart in ("chart-state", "chart-category", "chart-months", "chart-division"):
        start = page.index(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart}"')
        _texts(page[start : page.index("</svg>", start) + 6])
    status, page = _get(staff_client, f"/dashboard/?division={page_ledger.d2}")
    assert status == 200
    assert 'data-figure="total">3<' in page
    status, _ = _get(staff_client, "/dashboard/?division=abc")
    assert status == 400


def test_dashboard_page_for_a_division_officer(
    staff_client: FlaskClient, page_ledger: Ledger, login: Any
) -> None:
    login(staff_client, page_ledger.user("officer"))
    status, page = _get(staff_client, "/dashboard/")
    assert status == 200
    assert 'data-figure="total">6<' in page
    assert 'id="dashboard-filter"' not in page  # no division to choose
    assert 'id="division-table"' not in page
    assert 'id="tips-table"' not in page
    assert "塘桥镇中心敬老院" not in page
    # Asking for another division through the form's parameter is refused.
    status, _ = _get(staff_client, f"/dashboard/?division={page_ledger.d2}")
    assert status == 400


@pytest.mark.parametrize("name", ["administrator", "auditor"])
def test_dashboard_page_refused(
    staff_client: FlaskClient, page_ledger: Ledger, login: Any, name: str
) -> None:
    login(staff_client, page_ledger.user(name))
    assert staff_client.get("/dashboard/").status_code == 403
    assert staff_client.get("/dashboard/export.csv").status_code == 403


def test_dashboard_needs_a_login(staff_client: FlaskClient) -> None:
    response = staff_client.get("/dashboard/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
