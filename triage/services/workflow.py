"""One service per officer transition of the tip workflow (the table is
:mod:`triage.workflow`; the reporter's objection is in :mod:`triage.services.reporter`, the
duplicate link in :mod:`triage.services.duplicates`).

Each service: load and lock the tip, check role and scope (:class:`Forbidden`), check the
table (:class:`InvalidTransition`) and its own guards, set the columns of the new state, then
:func:`~triage.services.common.transition` appends the history row and the audit record and
flushes. Nothing is committed here. Texts the reporter reads are encrypted under the tip's data
key, which is why those services take the officer's personal key.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import actor_of
from core.clock import Clock
from core.settings import Settings
from intake.models import CONCLUDED_STATES, NotAcceptedReason, TipState
from rewards.services.lifecycle import tip_concluded
from triage import errors
from triage.deadlines import end_of_day_after, last_day
from triage.services.common import (
    REGULATOR_MAX,
    clean_text,
    data_key,
    officer_tip,
    seal_tip_text,
    transition,
)
from triage.services.duplicates import assign_reward_right
from triage.workflow import Action, check


def accept(
    session: Session, clock: Clock, settings: Settings, actor: User, tip_id: uuid.UUID
) -> None:
    """submitted → accepted. The tip gets the reward right unless an earlier-accepted tip of
    the same matter holds it (see :mod:`triage.services.duplicates`)."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.ACCEPT, tip.state, TipState.ACCEPTED)
    tip.accepted_at = clock.now()
    transition(session, clock, actor_of(actor), tip, action=Action.ACCEPT, target=TipState.ACCEPTED)
    assign_reward_right(session, tip)


def not_accept(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    reason: NotAcceptedReason,
    text: str,
) -> None:
    """submitted → not_accepted, with a reason from the list and a text the reporter reads."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.NOT_ACCEPT, tip.state, TipState.NOT_ACCEPTED)
    reason = NotAcceptedReason(reason)
    body = clean_text(text)
    key = data_key(session, actor, personal_key, tip)
    tip.not_accepted_reason = reason
    tip.decided_at = clock.now()
    tip.decision_enc = seal_tip_text(key, tip.id, "decision", body)
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.NOT_ACCEPT,
        target=TipState.NOT_ACCEPTED,
        reason=reason.value,
    )


def transfer(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    regulator: str,
    note: str,
) -> None:
    """submitted → transferred to another regulator (named in the clear: a routing value),
    with a note the reporter reads (encrypted)."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.TRANSFER, tip.state, TipState.TRANSFERRED)
    name = clean_text(regulator, REGULATOR_MAX)
    body = clean_text(note)
    key = data_key(session, actor, personal_key, tip)
    tip.transferred_to = name
    tip.decided_at = clock.now()
    tip.decision_enc = seal_tip_text(key, tip.id, "decision", body)
    transition(
        session, clock, actor_of(actor), tip, action=Action.TRANSFER, target=TipState.TRANSFERRED
    )


def start_verification(
    session: Session, clock: Clock, settings: Settings, actor: User, tip_id: uuid.UUID
) -> None:
    """accepted → verifying; the deadline is the end of the day ``verification_days`` later."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.START_VERIFICATION, tip.state, TipState.VERIFYING)
    now = clock.now()
    due = end_of_day_after(now, settings.verification_days)
    tip.verification_started_at = now
    tip.verification_due_at = due
    tip.due_at = due
    tip.overdue_since = None
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.START_VERIFICATION,
        target=TipState.VERIFYING,
        details={"due": last_day(due).isoformat(), "days": settings.verification_days},
    )


def extend_verification(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    days: int,
    reason: str,
) -> None:
    """verifying → verifying with the deadline moved ``days`` later: once per tip, at most
    ``extension_max_days``, before the deadline has passed, with a reason the reporter reads
    (the rules say the reporter is told why)."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.EXTEND_VERIFICATION, tip.state, TipState.VERIFYING)
    if tip.extension_days is not None:
        raise errors.AlreadyExtended()
    if not 1 <= days <= settings.extension_max_days:
        raise errors.ExtensionTooLong(max=settings.extension_max_days)
    old_due = tip.verification_due_at
    if old_due is None or clock.now() >= old_due:
        raise errors.DeadlinePassed()
    body = clean_text(reason)
    key = data_key(session, actor, personal_key, tip)
    # The old deadline is a local midnight; whole days later is one too (no DST in Shanghai).
    due = old_due + dt.timedelta(days=days)
    tip.extension_days = days
    tip.extension_reason_enc = seal_tip_text(key, tip.id, "extension_reason", body)
    tip.verification_due_at = due
    tip.due_at = due
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.EXTEND_VERIFICATION,
        target=TipState.VERIFYING,
        reason="extension",
        details={"due": last_day(due).isoformat(), "days": days},
    )


def conclude(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    outcome: TipState,
    text: str,
) -> None:
    """verifying → substantiated | partly_substantiated | unsubstantiated, with the conclusion
    text the reporter reads. The reporter may object until the end of the day
    ``objection_days`` later."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    outcome = TipState(outcome)
    check(Action.CONCLUDE, tip.state, outcome)
    body = clean_text(text)
    key = data_key(session, actor, personal_key, tip)
    now = clock.now()
    tip.conclusion = outcome
    tip.concluded_at = now
    tip.conclusion_enc = seal_tip_text(key, tip.id, "conclusion", body)
    tip.objection_due_at = end_of_day_after(now, settings.objection_days)
    tip.due_at = None
    tip.overdue_since = None
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.CONCLUDE,
        target=outcome,
        reason=outcome.value,
    )
    # A substantiated conclusion gives the reward record (rewards issue).
    tip_concluded(session, clock, actor, tip)


def conclude_recheck(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    outcome: TipState,
    text: str,
) -> None:
    """rechecking → rechecked, with the re-check's outcome (one of the three conclusions, the
    same or another) and its text for the reporter. No further objection."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.CONCLUDE_RECHECK, tip.state, TipState.RECHECKED)
    outcome = TipState(outcome)
    if outcome not in CONCLUDED_STATES:
        raise errors.InvalidTransition()
    body = clean_text(text)
    key = data_key(session, actor, personal_key, tip)
    tip.recheck_outcome = outcome
    tip.recheck_concluded_at = clock.now()
    tip.recheck_conclusion_enc = seal_tip_text(key, tip.id, "recheck_conclusion", body)
    tip.due_at = None
    tip.overdue_since = None
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.CONCLUDE_RECHECK,
        target=TipState.RECHECKED,
        reason=outcome.value,
    )
    # The re-check's outcome creates or withdraws the reward record (rewards issue).
    tip_concluded(session, clock, actor, tip)


def close(
    session: Session, clock: Clock, settings: Settings, actor: User, tip_id: uuid.UUID
) -> None:
    """not_accepted | transferred | a conclusion | rechecked | duplicate → closed.

    A conclusion can be closed only once the reporter's objection window has ended; a refusal
    or a transfer likewise ``objection_days`` after it was decided.
    """
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.CLOSE, tip.state, TipState.CLOSED)
    now = clock.now()
    window_end = None
    if tip.state in CONCLUDED_STATES:
        window_end = tip.objection_due_at
    elif tip.state in {TipState.NOT_ACCEPTED, TipState.TRANSFERRED}:
        decided = tip.decided_at or now  # never None in these states (CHECK constraint)
        window_end = end_of_day_after(decided, settings.objection_days)
    if window_end is not None and now < window_end:
        raise errors.ObjectionWindowOpen(date=last_day(window_end).isoformat())
    source = tip.state
    tip.closed_at = now
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.CLOSE,
        target=TipState.CLOSED,
        reason=source.value,
    )
