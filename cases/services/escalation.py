"""Escalation of overdue cases by a supervisor: an interview (约谈) with the facility's (or
the division's) people in charge, and a circular (通报). Each is a record with its own
printable page; recording one does not change the case's state.

Only an overdue case (:func:`cases.models.is_overdue`: rectification or re-check past its
date) is escalated; the record stays when the case later moves on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cases import errors
from cases.models import CaseCircular, CaseInterview, HazardCase, is_overdue
from cases.services.access import may_escalate, readable_case
from cases.services.common import LINE_MAX, clean_text, today
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock
from core.errors import Forbidden
from core.settings import Settings

SCOPE_MAX = 300
NUMBER_MAX = 100


@dataclass(frozen=True)
class InterviewData:
    held_on: dt.date
    conducted_by: str  # 约谈人: who held it (name, position)
    interviewee: str  # 被约谈人: the person or unit interviewed
    attendees: str = field(repr=False)
    content: str = field(repr=False)
    commitments: str = field(repr=False)


@dataclass(frozen=True)
class CircularData:
    number: str  # 文号
    issued_on: dt.date
    scope: str  # to whom it is circulated
    text: str = field(repr=False)


def _overdue_case(session: Session, clock: Clock, actor: User, case_id: uuid.UUID) -> HazardCase:
    if not may_escalate(actor):
        raise Forbidden()
    case = readable_case(session, actor, case_id, lock=True)
    if not is_overdue(case, today(clock)):
        raise errors.NotOverdue()
    return case


def record_interview(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    data: InterviewData,
) -> int:
    """Record an interview held about an overdue case; its id. A supervisor only."""
    case = _overdue_case(session, clock, actor, case_id)
    if data.held_on > today(clock):
        raise errors.HeldInFuture()
    row = CaseInterview(
        case_id=case.id,
        held_on=data.held_on,
        conducted_by=clean_text(data.conducted_by, LINE_MAX),
        interviewee=clean_text(data.interviewee, LINE_MAX),
        attendees=clean_text(data.attendees, required=False),
        content=clean_text(data.content),
        commitments=clean_text(data.commitments, required=False),
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(row)
    # Flushed for the record's id (named in the audit record).
    session.flush()
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.interview",
        "hazard_case",
        str(case.id),
        {"interview": row.id, "held_on": data.held_on.isoformat()},
    )
    return row.id


def record_circular(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    data: CircularData,
) -> int:
    """Record a circular issued about an overdue case; its id. A supervisor only. The
    document number is unique (:class:`CircularNumberTaken`)."""
    case = _overdue_case(session, clock, actor, case_id)
    if data.issued_on > today(clock):
        raise errors.HeldInFuture()
    number = clean_text(data.number, NUMBER_MAX)
    if session.scalar(select(CaseCircular.id).where(CaseCircular.number == number)) is not None:
        raise errors.CircularNumberTaken()
    row = CaseCircular(
        case_id=case.id,
        number=number,
        issued_on=data.issued_on,
        scope=clean_text(data.scope, SCOPE_MAX),
        text=clean_text(data.text),
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    try:
        # A savepoint: another supervisor may have taken the number since the check above.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise errors.CircularNumberTaken() from None
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.circular",
        "hazard_case",
        str(case.id),
        {"circular": row.id, "issued_on": data.issued_on.isoformat()},
    )
    return row.id


def interview_for(
    session: Session, actor: User, case_id: uuid.UUID, interview_id: int
) -> tuple[HazardCase, CaseInterview]:
    """An interview record of a case the actor may read (for its printable page)."""
    case = readable_case(session, actor, case_id)
    row = session.get(CaseInterview, interview_id)
    if row is None or row.case_id != case.id:
        raise errors.EscalationRecordNotFound()
    return case, row


def circular_for(
    session: Session, actor: User, case_id: uuid.UUID, circular_id: int
) -> tuple[HazardCase, CaseCircular]:
    """A circular record of a case the actor may read (for its printable page)."""
    case = readable_case(session, actor, case_id)
    row = session.get(CaseCircular, circular_id)
    if row is None or row.case_id != case.id:
        raise errors.EscalationRecordNotFound()
    return case, row
