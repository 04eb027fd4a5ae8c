"""Reading cases: the list with filters and pages, the case page (facts, plans, enforcement,
timeline with evidence, escalation records, what the reader may do), a facility's relapse
count, and the administrator's list of closed cases for public examples.

Every function checks role and scope (:mod:`cases.services.access`) before it reads."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from cases.models import (
    CaseCircular,
    CaseEvidence,
    CaseInterview,
    CaseRelapse,
    CaseSource,
    CaseState,
    CaseUpdate,
    EnforcementMeasure,
    HazardCase,
    RectificationPlan,
    UpdateKind,
    is_overdue,
    overdue_clause,
)
from cases.services.access import (
    can_read_cases,
    case_scope_clause,
    may_escalate,
    may_mark_public,
    may_write,
    readable_case,
)
from cases.services.common import today
from cases.workflow import Action, actions_from
from core.accounts.models import User
from core.clock import Clock
from core.errors import Forbidden
from intake.models import TipCategory
from registry.models import Division, Facility

PER_PAGE = 25


@dataclass(frozen=True)
class CaseFilters:
    state: CaseState | None = None
    division_id: int | None = None
    overdue: bool = False
    facility_id: int | None = None


@dataclass(frozen=True)
class CaseRow:
    id: uuid.UUID
    state: CaseState
    source: CaseSource
    division_id: int
    category: TipCategory
    facility_id: int | None
    facility_name: str | None
    discovered_on: dt.date
    deadline: dt.date | None
    recheck_due_on: dt.date | None
    relapse_count: int
    overdue: bool


@dataclass(frozen=True)
class CasePage:
    items: list[CaseRow]
    total: int
    page: int
    pages: int


def _filter_clauses(filters: CaseFilters, on: dt.date) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.state is not None:
        where.append(HazardCase.state == filters.state)
    if filters.division_id is not None:
        where.append(HazardCase.division_id == filters.division_id)
    if filters.facility_id is not None:
        where.append(HazardCase.facility_id == filters.facility_id)
    if filters.overdue:
        where.append(overdue_clause(on))
    return where


def list_cases(
    session: Session,
    clock: Clock,
    actor: User,
    filters: CaseFilters,
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> CasePage:
    """The cases the actor may read that match ``filters``, newest first, one page of them
    (``page`` from 1; past the end: the last page)."""
    if not can_read_cases(actor):
        raise Forbidden()
    on = today(clock)
    where = [case_scope_clause(actor), *_filter_clauses(filters, on)]
    total = int(session.scalar(select(func.count()).select_from(HazardCase).where(*where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(
        select(HazardCase, Facility.name)
        .outerjoin(Facility, Facility.id == HazardCase.facility_id)
        .where(*where)
        .order_by(HazardCase.created_at.desc(), HazardCase.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    items = [
        CaseRow(
            id=case.id,
            state=case.state,
            source=case.source,
            division_id=case.division_id,
            category=case.category,
            facility_id=case.facility_id,
            facility_name=name,
            discovered_on=case.discovered_on,
            deadline=case.deadline,
            recheck_due_on=case.recheck_due_on,
            relapse_count=case.relapse_count,
            overdue=is_overdue(case, on),
        )
        for case, name in rows
    ]
    return CasePage(items, total, page, pages)


# ---------------------------------------------------------------- the case page


@dataclass(frozen=True)
class EvidenceItem:
    id: uuid.UUID
    filename: str
    media_type: str
    size: int
    inline: bool


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the case's history. ``kind``: ``opened``, ``plan``, ``enforcement``, an
    :class:`UpdateKind` value, ``interview`` or ``circular``."""

    at: dt.datetime
    kind: str
    by: str
    text: str = field(repr=False, default="")
    evidence: tuple[EvidenceItem, ...] = ()
    ref: int | None = None


@dataclass(frozen=True)
class Permissions:
    """What the reader may do on the page (the services check again)."""

    write: bool
    accept: bool  # a case officer in scope who did not run the rectification
    escalate: bool
    publish: bool
    actions: frozenset[Action]


@dataclass(frozen=True)
class CaseView:
    case: HazardCase
    division_name: str
    facility_name: str | None
    facility_address: str | None
    facility_relapses: int
    plans: list[RectificationPlan]  # newest first: plans[0] is the current one
    enforcement: list[EnforcementMeasure]
    timeline: list[TimelineEntry]
    interviews: list[CaseInterview]
    circulars: list[CaseCircular]
    relapses: list[CaseRelapse]
    names: dict[int, str]
    overdue: bool
    today: dt.date
    may: Permissions

    @property
    def plan(self) -> RectificationPlan | None:
        return self.plans[0] if self.plans else None


def facility_relapse_count(session: Session, facility_id: int) -> int:
    """Relapses found at re-checks of the facility's cases (counted against the facility)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(CaseRelapse)
            .where(CaseRelapse.facility_id == facility_id)
        )
        or 0
    )


def _permissions(actor: User, case: HazardCase) -> Permissions:
    write = may_write(actor, case.division_id)
    return Permissions(
        write=write,
        accept=write and actor.id not in {case.submitted_by_id, case.plan_by_id},
        escalate=may_escalate(actor),
        publish=may_mark_public(actor),
        actions=actions_from(case.state) if write else frozenset(),
    )


def case_view(session: Session, clock: Clock, actor: User, case_id: uuid.UUID) -> CaseView:
    """Everything the case page shows, for a reader of the case."""
    case = readable_case(session, actor, case_id)
    on = today(clock)
    facility = session.get(Facility, case.facility_id) if case.facility_id else None
    division = session.get(Division, case.division_id)
    plans = list(
        session.scalars(
            select(RectificationPlan)
            .where(RectificationPlan.case_id == case.id)
            .order_by(RectificationPlan.created_at.desc(), RectificationPlan.id.desc())
        )
    )
    enforcement = list(
        session.scalars(
            select(EnforcementMeasure)
            .where(EnforcementMeasure.case_id == case.id)
            .order_by(EnforcementMeasure.start_on, EnforcementMeasure.id)
        )
    )
    updates = list(
        session.scalars(
            select(CaseUpdate)
            .where(CaseUpdate.case_id == case.id)
            .order_by(CaseUpdate.created_at, CaseUpdate.id)
        )
    )
    files: dict[int, list[EvidenceItem]] = defaultdict(list)
    for row in session.execute(
        select(
            CaseEvidence.id,
            CaseEvidence.update_id,
            CaseEvidence.filename,
            CaseEvidence.media_type,
            CaseEvidence.size,
        )
        .where(CaseEvidence.case_id == case.id)
        .order_by(CaseEvidence.created_at, CaseEvidence.filename)
    ):
        files[row.update_id].append(
            EvidenceItem(
                row.id,
                row.filename,
                row.media_type,
                row.size,
                row.media_type in {"image/jpeg", "image/png", "image/webp"},
            )
        )
    interviews = list(
        session.scalars(
            select(CaseInterview)
            .where(CaseInterview.case_id == case.id)
            .order_by(CaseInterview.held_on, CaseInterview.id)
        )
    )
    circulars = list(
        session.scalars(
            select(CaseCircular)
            .where(CaseCircular.case_id == case.id)
            .order_by(CaseCircular.issued_on, CaseCircular.id)
        )
    )
    relapses = list(
        session.scalars(
            select(CaseRelapse)
            .where(CaseRelapse.case_id == case.id)
            .order_by(CaseRelapse.created_at, CaseRelapse.id)
        )
    )
    user_ids = {
        case.created_by_id,
        *(p.created_by_id for p in plans),
        *(m.created_by_id for m in enforcement),
        *(u.created_by_id for u in updates),
        *(i.created_by_id for i in interviews),
        *(c.created_by_id for c in circulars),
        *(x for x in (case.plan_by_id, case.submitted_by_id, case.accepted_by_id) if x),
    }
    names: dict[int, str] = {
        row.id: row.display_name
        for row in session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    }

    def by(uid: int) -> str:
        return names.get(uid, "?")

    timeline = [TimelineEntry(case.created_at, "opened", by(case.created_by_id))]
    timeline += [TimelineEntry(p.created_at, "plan", by(p.created_by_id), ref=p.id) for p in plans]
    timeline += [
        TimelineEntry(m.created_at, "enforcement", by(m.created_by_id), ref=m.id)
        for m in enforcement
    ]
    timeline += [
        TimelineEntry(
            u.created_at,
            UpdateKind(u.kind).value,
            by(u.created_by_id),
            u.note,
            tuple(files.get(u.id, ())),
            u.id,
        )
        for u in updates
    ]
    timeline += [
        TimelineEntry(i.created_at, "interview", by(i.created_by_id), ref=i.id) for i in interviews
    ]
    timeline += [
        TimelineEntry(c.created_at, "circular", by(c.created_by_id), ref=c.id) for c in circulars
    ]
    timeline.sort(key=lambda e: e.at)
    return CaseView(
        case=case,
        division_name=division.name if division else "?",
        facility_name=facility.name if facility else None,
        facility_address=facility.address if facility else None,
        facility_relapses=facility_relapse_count(session, case.facility_id)
        if case.facility_id
        else 0,
        plans=plans,
        enforcement=enforcement,
        timeline=timeline,
        interviews=interviews,
        circulars=circulars,
        relapses=relapses,
        names=names,
        overdue=is_overdue(case, on),
        today=on,
        may=_permissions(actor, case),
    )


# ---------------------------------------------------------------- public examples


@dataclass(frozen=True)
class PublicCandidate:
    """A closed or re-checked case as the administrator sees it: routing facts only."""

    id: uuid.UUID
    state: CaseState
    division_id: int
    category: TipCategory
    standard_items: list[str]
    closed_at: dt.datetime | None
    public_example: bool
    public_summary: str


def public_candidates(
    session: Session, actor: User, *, page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[PublicCandidate], int, int]:
    """Closed and re-checked cases for the administrator to mark as public examples (marked
    ones first); with the page number and the number of pages."""
    if not may_mark_public(actor):
        raise Forbidden()
    where = HazardCase.state.in_((CaseState.CLOSED, CaseState.RECHECKED))
    total = int(session.scalar(select(func.count()).select_from(HazardCase).where(where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.scalars(
        select(HazardCase)
        .where(where)
        .order_by(HazardCase.public_example.desc(), HazardCase.closed_at.desc(), HazardCase.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [
        PublicCandidate(
            c.id,
            c.state,
            c.division_id,
            c.category,
            list(c.standard_items),
            c.closed_at,
            c.public_example,
            c.public_summary,
        )
        for c in rows
    ]
    return items, page, pages
