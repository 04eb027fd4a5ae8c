"""Rectification (整改): the plan with the five in place, progress updates with evidence,
enforcement measures, and the submission for acceptance. One service per action of
:mod:`cases.workflow`; each: load and lock the case and check role and scope
(:func:`~cases.services.access.writable_case`), check the table, its own guards and the
input, then change the case and write the audit record (never a text).

Queries (guards, evidence room) come before the case is changed: a query flushes, and the
CHECK constraints judge the state together with its columns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cases import errors
from cases.models import (
    CaseUpdate,
    EnforcementKind,
    EnforcementMeasure,
    HazardCase,
    RectificationPlan,
    UpdateKind,
)
from cases.services import evidence
from cases.services.access import writable_case
from cases.services.common import (
    FUNDS_MAX_FEN,
    LINE_MAX,
    clean_text,
    record_step,
    today,
)
from cases.workflow import Action, check
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock
from core.settings import Settings


@dataclass(frozen=True)
class PlanData:
    """A rectification plan with the five in place (五落实)."""

    responsibility: str  # who is responsible: the unit's person in charge, the team
    measures: str
    funds_fen: int
    deadline: dt.date
    contingency_plan: str  # safety and emergency measures while the hazard remains


def check_deadline(clock: Clock, case: HazardCase, deadline: dt.date) -> None:
    if deadline < case.discovered_on:
        raise errors.DeadlineBeforeDiscovery()
    if deadline < today(clock):
        raise errors.DeadlineInPast()


def submit_plan(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    plan: PlanData,
) -> int:
    """Record a rectification plan; the plan's id. The first plan takes an open case to
    ``rectifying``; a later one (while rectifying) replaces the current plan, which stays in
    the history. All five are required; the case's deadline becomes the plan's, and the
    officer becomes the plan's author (who may not accept the rectification)."""
    case = writable_case(session, actor, case_id)
    target = check(Action.PLAN, case.state)
    responsibility = clean_text(plan.responsibility, 2000)
    measures = clean_text(plan.measures)
    contingency = clean_text(plan.contingency_plan)
    if not 0 <= plan.funds_fen <= FUNDS_MAX_FEN:
        raise errors.BadFunds(max=FUNDS_MAX_FEN // 100)
    check_deadline(clock, case, plan.deadline)
    replaced = case.plan_by_id is not None
    row = RectificationPlan(
        case_id=case.id,
        responsibility=responsibility,
        measures=measures,
        funds_fen=plan.funds_fen,
        deadline=plan.deadline,
        contingency_plan=contingency,
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(row)
    # Flushed for the plan's id (named in the audit record), before the case changes.
    session.flush()
    if case.deadline != plan.deadline:
        case.overdue_noted_at = None
    case.deadline = plan.deadline
    case.plan_by_id = actor.id
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.PLAN,
        target=target,
        details={"plan": row.id, "deadline": plan.deadline.isoformat(), "replaces": replaced},
    )
    return row.id


def _add_update(
    session: Session, clock: Clock, actor: User, case: HazardCase, *, kind: UpdateKind, note: str
) -> CaseUpdate:
    update = CaseUpdate(
        case_id=case.id, kind=kind, note=note, created_at=clock.now(), created_by_id=actor.id
    )
    session.add(update)
    return update


def _files_details(files: Sequence[evidence.PreparedFile]) -> dict[str, int]:
    return {"files": len(files), "bytes": sum(f.size for f in files)}


def add_progress(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    files: Sequence[evidence.Upload] = (),
) -> int:
    """A progress update (text, and evidence files) while the case is open, rectifying or
    awaiting acceptance; the update's id."""
    case = writable_case(session, actor, case_id)
    check(Action.PROGRESS, case.state)
    text = clean_text(note)
    prepared = evidence.prepare(files)
    evidence.check_room(session, case.id, prepared)
    update = _add_update(session, clock, actor, case, kind=UpdateKind.PROGRESS, note=text)
    # Flushed for the update's id, which the files and the audit record name.
    session.flush()
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.progress",
        "hazard_case",
        str(case.id),
        {"update": update.id, **_files_details(prepared)},
    )
    return update.id


@dataclass(frozen=True)
class EnforcementData:
    kind: EnforcementKind
    target: str  # the building, equipment or premises concerned
    start_on: dt.date
    end_on: dt.date | None = None
    note: str = ""


def add_enforcement(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    data: EnforcementData,
) -> int:
    """Record an enforcement measure (suspension of use of a building or equipment, sealing,
    stopping production) with its start and, if known, its end; the measure's id."""
    case = writable_case(session, actor, case_id)
    check(Action.ENFORCE, case.state)
    kind = EnforcementKind(data.kind)
    target = clean_text(data.target, LINE_MAX)
    note = clean_text(data.note, required=False)
    if data.end_on is not None and data.end_on < data.start_on:
        raise errors.BadEnforcementDates()
    measure = EnforcementMeasure(
        case_id=case.id,
        kind=kind,
        target=target,
        start_on=data.start_on,
        end_on=data.end_on,
        note=note,
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(measure)
    # Flushed for the measure's id (named in the audit record).
    session.flush()
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.enforce",
        "hazard_case",
        str(case.id),
        {
            "measure": measure.id,
            "kind": kind.value,
            "start": data.start_on.isoformat(),
            "end": data.end_on.isoformat() if data.end_on else None,
        },
    )
    return measure.id


def end_enforcement(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    measure_id: int,
    end_on: dt.date,
) -> None:
    """Set the end date of a measure that had none (lifting a seal, resuming use), in any
    state of the case (measures are often lifted at acceptance)."""
    case = writable_case(session, actor, case_id)
    check(Action.LIFT, case.state)
    measure = session.get(EnforcementMeasure, measure_id, with_for_update=True)
    if measure is None or measure.case_id != case.id:
        raise errors.EnforcementNotFound()
    if measure.end_on is not None:
        raise errors.EnforcementAlreadyEnded()
    if end_on < measure.start_on:
        raise errors.BadEnforcementDates()
    measure.end_on = end_on
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.lift",
        "hazard_case",
        str(case.id),
        {"measure": measure.id, "end": end_on.isoformat()},
    )


def submit_for_acceptance(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    files: Sequence[evidence.Upload] = (),
) -> int:
    """rectifying → awaiting_acceptance: the rectification is done, with the officer's
    account of it and evidence files; the update's id. The officer who submits may not accept
    it."""
    case = writable_case(session, actor, case_id)
    target = check(Action.SUBMIT, case.state)
    text = clean_text(note)
    prepared = evidence.prepare(files)
    evidence.check_room(session, case.id, prepared)
    update = _add_update(session, clock, actor, case, kind=UpdateKind.SUBMISSION, note=text)
    case.submitted_by_id = actor.id
    case.submitted_at = clock.now()
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.SUBMIT,
        target=target,
        details=_files_details(prepared),
    )
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    session.flush()
    return update.id
