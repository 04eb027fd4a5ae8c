"""Registry services: what the facility page shows besides the facility itself — how many tips
name it, its hazard cases (with relapses and overdue ones), and special equipment whose
inspection is overdue or due soon.

The tips are only counted: no tip's content, id, date or state is read here, so the number is
all a registry reader learns (every registry reader sees it; it says that reports were made,
never who made them). The cases are those the reader may read (``cases.services.access``):
an administrator, who reads no cases, sees none of them.

The cases package is imported inside the function: cases depend on the registry (a case names
its facility), and the registry's import must not pull the whole cases package in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock, local
from intake.models import Tip, TipCategory
from registry.models import FacilityEquipment
from registry.services.facilities import get_facility_for

#: Newest cases listed on a facility page (the counts cover all of them).
CASES_SHOWN = 50
#: Inspections due within this many days are flagged as due soon.
INSPECTION_SOON_DAYS = 30


@dataclass(frozen=True)
class CaseLine:
    id: uuid.UUID
    state: str  # a cases.models.CaseState value
    category: TipCategory
    discovered_on: dt.date
    deadline: dt.date | None
    recheck_due_on: dt.date | None
    relapse_count: int
    overdue: bool


@dataclass(frozen=True)
class FacilityOverview:
    tips: int
    cases_visible: bool  # False: the reader may not read cases (the lists below are empty)
    case_count: int
    open_cases: int  # not yet closed (open, rectifying, awaiting acceptance)
    relapses: int  # relapses found at re-checks, over all the facility's cases
    overdue_cases: int
    cases: list[CaseLine]
    overdue_inspections: list[FacilityEquipment]
    inspections_due_soon: list[FacilityEquipment]


def facility_overview(
    session: Session, clock: Clock, actor: User, facility_id: int
) -> FacilityOverview:
    """The tips count, cases and overdue items of a facility ``actor`` may read."""
    from cases.models import ACTIVE_STATES, HazardCase, is_overdue, overdue_clause
    from cases.services.access import can_read_cases, case_scope_clause

    facility = get_facility_for(session, actor, facility_id)
    today = local(clock.now()).date()
    tips = session.scalar(
        select(func.count()).select_from(Tip).where(Tip.facility_id == facility.id)
    )

    soon = today + dt.timedelta(days=INSPECTION_SOON_DAYS)
    dated = [e for e in facility.equipment if e.next_inspection_on is not None]
    overdue_inspections = [
        e for e in dated if e.next_inspection_on and e.next_inspection_on < today
    ]
    due_soon = [e for e in dated if e.next_inspection_on and today <= e.next_inspection_on <= soon]

    if not can_read_cases(actor):
        return FacilityOverview(
            tips=tips or 0,
            cases_visible=False,
            case_count=0,
            open_cases=0,
            relapses=0,
            overdue_cases=0,
            cases=[],
            overdue_inspections=overdue_inspections,
            inspections_due_soon=due_soon,
        )
    mine = (HazardCase.facility_id == facility.id) & case_scope_clause(actor)
    count, open_count, relapses, overdue = session.execute(
        select(
            func.count(),
            func.count().filter(HazardCase.state.in_(ACTIVE_STATES)),
            func.coalesce(func.sum(HazardCase.relapse_count), 0),
            func.count().filter(overdue_clause(today)),
        ).where(mine)
    ).one()
    rows = session.scalars(
        select(HazardCase)
        .where(mine)
        .order_by(HazardCase.discovered_on.desc(), HazardCase.created_at.desc())
        .limit(CASES_SHOWN)
    )
    cases = [
        CaseLine(
            id=c.id,
            state=c.state.value,
            category=c.category,
            discovered_on=c.discovered_on,
            deadline=c.deadline,
            recheck_due_on=c.recheck_due_on,
            relapse_count=c.relapse_count,
            overdue=is_overdue(c, today),
        )
        for c in rows
    ]
    return FacilityOverview(
        tips=tips or 0,
        cases_visible=True,
        case_count=count,
        open_cases=open_count,
        relapses=int(relapses),
        overdue_cases=overdue,
        cases=cases,
        overdue_inspections=overdue_inspections,
        inspections_due_soon=due_soon,
    )
