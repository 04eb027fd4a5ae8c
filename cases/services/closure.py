"""Acceptance and closure (验收销号), the re-check (回头看) and its relapse, and marking a
closed case as a public example.

**Acceptance by another officer.** The officer who accepts (or refuses) a rectification is
neither the one who submitted it for acceptance nor the author of the current plan. The
service refuses it (:class:`AcceptanceBySameOfficer`), and the database would too: both ids
and the acceptor's are columns of ``hazard_cases`` with a CHECK that they differ
(``ck_hazard_cases_acceptance_by_another``), so no other code path can close a case its own
rectifier accepted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from cases import errors
from cases.models import CaseRelapse, HazardCase, UpdateKind
from cases.services import evidence
from cases.services.access import may_mark_public, writable_case
from cases.services.common import clean_text, record_step, today
from cases.services.rectification import _add_update, _files_details, check_deadline
from cases.workflow import Action, check
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock
from core.errors import Forbidden
from core.settings import Settings

SUMMARY_MAX = 2000


def _require_other_officer(actor: User, case: HazardCase) -> None:
    if actor.id in {case.submitted_by_id, case.plan_by_id}:
        raise errors.AcceptanceBySameOfficer()


def refuse_acceptance(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    files: Sequence[evidence.Upload] = (),
) -> int:
    """awaiting_acceptance → rectifying: the acceptance did not pass (what remains to be done
    in ``note``); the update's id. Decided by another officer, as the acceptance."""
    case = writable_case(session, actor, case_id)
    target = check(Action.REFUSE, case.state)
    _require_other_officer(actor, case)
    text = clean_text(note)
    prepared = evidence.prepare(files)
    evidence.check_room(session, case.id, prepared)
    update = _add_update(session, clock, actor, case, kind=UpdateKind.REFUSAL, note=text)
    case.submitted_by_id = None
    case.submitted_at = None
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.REFUSE,
        target=target,
        details=_files_details(prepared),
    )
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    session.flush()
    return update.id


def accept(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    files: Sequence[evidence.Upload],
) -> int:
    """awaiting_acceptance → closed: the rectification is accepted, with the acceptance
    opinion and at least one evidence file, and the case is closed (销号): ``closed_at`` is
    now and the re-check is due ``settings.case_recheck_days`` after today. The update's id."""
    case = writable_case(session, actor, case_id)
    target = check(Action.ACCEPT, case.state)
    _require_other_officer(actor, case)
    text = clean_text(note)
    prepared = evidence.prepare(files, required=True)
    evidence.check_room(session, case.id, prepared)
    update = _add_update(session, clock, actor, case, kind=UpdateKind.ACCEPTANCE, note=text)
    due = today(clock) + dt.timedelta(days=settings.case_recheck_days)
    case.accepted_by_id = actor.id
    case.closed_at = clock.now()
    case.recheck_due_on = due
    case.overdue_noted_at = None
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.ACCEPT,
        target=target,
        details={"recheck_due": due.isoformat(), **_files_details(prepared)},
    )
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    session.flush()
    return update.id


def recheck_ok(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    files: Sequence[evidence.Upload] = (),
) -> int:
    """closed → rechecked: the re-check found the hazard still cleared; the update's id.
    ``recheck_due_on`` is the date by which it is due (after it the case is overdue), not an
    earliest date."""
    case = writable_case(session, actor, case_id)
    target = check(Action.RECHECK_OK, case.state)
    text = clean_text(note)
    prepared = evidence.prepare(files)
    evidence.check_room(session, case.id, prepared)
    update = _add_update(session, clock, actor, case, kind=UpdateKind.RECHECK, note=text)
    case.rechecked_at = clock.now()
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.RECHECK_OK,
        target=target,
        details=_files_details(prepared),
    )
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    session.flush()
    return update.id


def relapse(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    note: str,
    deadline: dt.date,
    files: Sequence[evidence.Upload] = (),
) -> int:
    """closed → rectifying: the re-check found the hazard back. The case is rectified again
    by ``deadline`` (a new plan may replace the current one), ``relapse_count`` goes up by
    one and a relapse record counts against the facility; the closure, acceptance and public
    example are undone (the relapse record keeps the closure's time). The relapse's id."""
    case = writable_case(session, actor, case_id)
    target = check(Action.RELAPSE, case.state)
    text = clean_text(note)
    check_deadline(clock, case, deadline)
    prepared = evidence.prepare(files)
    evidence.check_room(session, case.id, prepared)
    closed_at = case.closed_at
    if closed_at is None:  # a closed case has one (CHECK done_iff_closed)
        raise errors.InvalidCaseTransition()
    update = _add_update(session, clock, actor, case, kind=UpdateKind.RELAPSE, note=text)
    case.closed_at = None
    case.recheck_due_on = None
    case.accepted_by_id = None
    case.submitted_by_id = None
    case.submitted_at = None
    case.deadline = deadline
    case.relapse_count += 1
    case.overdue_noted_at = None
    case.public_example = False
    record_step(
        session,
        clock,
        actor,
        case,
        action=Action.RELAPSE,
        target=target,
        details={
            "deadline": deadline.isoformat(),
            "relapses": case.relapse_count,
            "facility_id": case.facility_id,
            **_files_details(prepared),
        },
    )
    row = CaseRelapse(
        case_id=case.id,
        facility_id=case.facility_id,
        update_id=update.id,
        closed_at=closed_at,
        new_deadline=deadline,
        created_at=clock.now(),
        created_by_id=actor.id,
    )
    session.add(row)
    evidence.attach(session, clock, actor, case, update=update, files=prepared)
    # Flushed for the relapse's id.
    session.flush()
    return row.id


def set_public_example(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    case_id: uuid.UUID,
    *,
    public: bool,
    summary: str,
) -> None:
    """Mark (or unmark) a closed or re-checked case as a public example, with the
    administrator's own summary, the only text of it the public site shows. Administrators
    only; they see the case's routing facts, never its description."""
    if not may_mark_public(actor):
        raise Forbidden()
    case = session.get(HazardCase, case_id, with_for_update=True)
    if case is None:
        raise errors.CaseNotFound()
    check(Action.PUBLISH, case.state)
    if public and not summary.strip():
        raise errors.PublicSummaryRequired()
    text = clean_text(summary, SUMMARY_MAX, required=False)
    case.public_example = public
    case.public_summary = text
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.public_example",
        "hazard_case",
        str(case.id),
        {"public": public},
    )
