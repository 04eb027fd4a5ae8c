"""What the reporter sees and does, for the public site, the JSON API and WeChat.

Each service takes a :class:`intake.access.ReporterAccess` (the tip id and its data key, opened
once from the tracking token), never the token. Times the reporter sees are dates (Asia/
Shanghai); the reporter's own actions are stored and audited to the hour (actor ``reporter``),
like the submission. Looking at the status is not audited: a record of when a reporter looks
would itself be metadata about them (docs/crypto.md). Audit records carry ids and sequence
numbers, never a text. A step that writes presents the reporter proof first
(``intake.access.present_reporter_proof``): on PostgreSQL the public site's role may not write
for a tip without it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.audit import services as audit
from core.audit.services import REPORTER_ACTOR
from core.clock import Clock, HourClock, hour_of
from core.errors import N_
from core.settings import Settings
from intake.access import ReporterAccess, present_reporter_proof
from intake.models import CONCLUDED_STATES, MessageAuthor, NotAcceptedReason, Tip, TipState
from rewards.services.claims import ReporterReward, reporter_offer
from triage import errors
from triage.deadlines import end_of_day_after, last_day, local_date
from triage.services.common import (
    check_reporter_key,
    clean_text,
    load_tip,
    open_tip_text,
    seal_tip_text,
    transition,
)
from triage.services.messages import add_message, thread
from triage.workflow import Action

REPLIED = "tip.reporter_replied"


class ReporterState(enum.StrEnum):
    """The tip's state in the reporter's terms (the sites map each to a plain sentence)."""

    RECEIVED = "received"  # submitted, not yet looked at
    ACCEPTED = "accepted"
    NOT_ACCEPTED = "not_accepted"
    TRANSFERRED = "transferred"
    VERIFYING = "verifying"
    CONCLUDED = "concluded"  # see ``outcome``
    RECHECKING = "rechecking"  # after the reporter's objection
    RECHECKED = "rechecked"  # see ``recheck_outcome``
    ALREADY_HANDLED = "already_handled"  # a duplicate: the matter is handled under another report
    CLOSED = "closed"


#: A tip state in the reporter's words.
PLAIN_STATES: Mapping[TipState, ReporterState] = {
    TipState.SUBMITTED: ReporterState.RECEIVED,
    TipState.ACCEPTED: ReporterState.ACCEPTED,
    TipState.NOT_ACCEPTED: ReporterState.NOT_ACCEPTED,
    TipState.TRANSFERRED: ReporterState.TRANSFERRED,
    TipState.VERIFYING: ReporterState.VERIFYING,
    TipState.SUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.PARTLY_SUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.UNSUBSTANTIATED: ReporterState.CONCLUDED,
    TipState.RECHECKING: ReporterState.RECHECKING,
    TipState.RECHECKED: ReporterState.RECHECKED,
    TipState.DUPLICATE: ReporterState.ALREADY_HANDLED,
    TipState.CLOSED: ReporterState.CLOSED,
}

# What the reporter is told, on the web and in WeChat: English msgids, translated where shown.
STATE_LABELS: Mapping[ReporterState, str] = {
    ReporterState.RECEIVED: N_("Received"),
    ReporterState.ACCEPTED: N_("Accepted"),
    ReporterState.NOT_ACCEPTED: N_("Not accepted"),
    ReporterState.TRANSFERRED: N_("Passed to another authority"),
    ReporterState.VERIFYING: N_("Being verified"),
    ReporterState.CONCLUDED: N_("Verification concluded"),
    ReporterState.RECHECKING: N_("Being checked again after your objection"),
    ReporterState.RECHECKED: N_("Checked again"),
    ReporterState.ALREADY_HANDLED: N_("Already being handled"),
    ReporterState.CLOSED: N_("Closed"),
}
STATE_EXPLANATIONS: Mapping[ReporterState, str] = {
    ReporterState.RECEIVED: N_(
        "Your report has arrived and is waiting for a triage officer to decide whether it is "
        "accepted for verification."
    ),
    ReporterState.ACCEPTED: N_("Your report was accepted; verification will start."),
    ReporterState.NOT_ACCEPTED: N_(
        "Your report was not accepted. The reason is given below when there is one."
    ),
    ReporterState.TRANSFERRED: N_(
        "Your report concerns another authority and was passed on to it."
    ),
    ReporterState.VERIFYING: N_(
        "Officers are verifying your report against the official judgment standards."
    ),
    ReporterState.CONCLUDED: N_("The verification has ended; its conclusion is below."),
    ReporterState.RECHECKING: N_(
        "You objected to the conclusion; the report is being checked again."
    ),
    ReporterState.RECHECKED: N_("The report was checked again after your objection."),
    ReporterState.ALREADY_HANDLED: N_(
        "The matter you reported is already being handled under an earlier report. You do "
        "not need to do anything."
    ),
    ReporterState.CLOSED: N_("The handling of your report has ended."),
}
#: The conclusion of a verification or re-check (``intake.models.CONCLUDED_STATES``).
OUTCOME_LABELS: Mapping[TipState, str] = {
    TipState.SUBSTANTIATED: N_("Confirmed"),
    TipState.PARTLY_SUBSTANTIATED: N_("Partly confirmed"),
    TipState.UNSUBSTANTIATED: N_("Not confirmed"),
}
NOT_ACCEPTED_REASON_LABELS: Mapping[NotAcceptedReason, str] = {
    NotAcceptedReason.OUTSIDE_REMIT: N_("It is outside this bureau's remit."),
    NotAcceptedReason.NO_CLEAR_TARGET_OR_FACTS: N_(
        "It names no clear place or facts that could be verified."
    ),
    NotAcceptedReason.ALREADY_ACCEPTED: N_("The same matter has already been accepted."),
    NotAcceptedReason.OTHER_PROCEDURE: N_("It must be dealt with through another legal procedure."),
}


@dataclass(frozen=True)
class ReporterMessage:
    seq: int
    author: MessageAuthor  # the reporter sees "officer", never which one
    on: dt.date
    body: str = field(repr=False)


@dataclass(frozen=True)
class ReporterStatus:
    state: ReporterState
    submitted_on: dt.date
    #: The last day of the current step (verification or re-check), if one is running.
    deadline: dt.date | None
    #: The verification deadline was extended by this many days, for this reason.
    extension_days: int | None
    extension_reason: str | None = field(repr=False)
    #: Not accepted or transferred: when, why (a code the site words), to whom, and the text.
    decided_on: dt.date | None
    not_accepted_reason: NotAcceptedReason | None
    transferred_to: str | None
    decision_text: str | None = field(repr=False)
    #: The conclusion of the verification.
    outcome: TipState | None
    concluded_on: dt.date | None
    conclusion_text: str | None = field(repr=False)
    #: The last day to object, and whether an objection is possible now.
    objection_deadline: dt.date | None
    can_object: bool
    objected_on: dt.date | None
    #: The re-check's conclusion, after an objection.
    recheck_outcome: TipState | None
    rechecked_on: dt.date | None
    recheck_conclusion_text: str | None = field(repr=False)
    closed_on: dt.date | None
    messages: tuple[ReporterMessage, ...] = field(repr=False)
    #: An officer's question waits for the reporter's answer.
    awaiting_reply: bool
    #: Linked to an earlier report of the same matter, which is being handled.
    already_handled: bool
    #: The reward of the report, as the reporter may see it (None: it has none).
    reward: ReporterReward | None = None


def _date(value: dt.datetime | None) -> dt.date | None:
    return None if value is None else local_date(value)


def _can_object(tip: Tip, now: dt.datetime) -> bool:
    return (
        tip.state in CONCLUDED_STATES
        and tip.objected_at is None
        and tip.objection_due_at is not None
        and now < tip.objection_due_at
    )


def reporter_status(
    session: Session, clock: Clock, settings: Settings, access: ReporterAccess
) -> ReporterStatus:
    """The reporter's view of their tip: plain state, dates, texts, the thread."""
    tip = load_tip(session, access.tip_id)
    key = access.data_key
    check_reporter_key(tip, key)
    now = clock.now()
    deadline = tip.due_at
    return ReporterStatus(
        state=PLAIN_STATES[tip.state],
        submitted_on=local_date(tip.submitted_at),
        deadline=None if deadline is None else last_day(deadline),
        extension_days=tip.extension_days,
        extension_reason=open_tip_text(key, tip.id, "extension_reason", tip.extension_reason_enc),
        decided_on=_date(tip.decided_at),
        not_accepted_reason=tip.not_accepted_reason,
        transferred_to=tip.transferred_to,
        decision_text=open_tip_text(key, tip.id, "decision", tip.decision_enc),
        outcome=tip.conclusion,
        concluded_on=_date(tip.concluded_at),
        conclusion_text=open_tip_text(key, tip.id, "conclusion", tip.conclusion_enc),
        objection_deadline=(
            None if tip.objection_due_at is None else last_day(tip.objection_due_at)
        ),
        can_object=_can_object(tip, now),
        objected_on=_date(tip.objected_at),
        recheck_outcome=tip.recheck_outcome,
        rechecked_on=_date(tip.recheck_concluded_at),
        recheck_conclusion_text=open_tip_text(
            key, tip.id, "recheck_conclusion", tip.recheck_conclusion_enc
        ),
        closed_on=_date(tip.closed_at),
        messages=tuple(
            ReporterMessage(m.seq, m.author, local_date(m.created_at), m.body)
            for m in thread(session, tip.id, key, officer_names=False)
        ),
        awaiting_reply=tip.awaiting_reply_since is not None,
        already_handled=tip.duplicate_of_id is not None,
        reward=reporter_offer(session, clock, tip.id, reminder_days=settings.reward_reminder_days),
    )


def reporter_reply(
    session: Session, clock: Clock, settings: Settings, access: ReporterAccess, body: str
) -> None:
    """The reporter's message (an answer, or more information); closes an open question.
    Not on a closed tip (:class:`ReplyNotPossible`)."""
    tip = load_tip(session, access.tip_id, lock=True)
    if tip.state is TipState.CLOSED:
        raise errors.ReplyNotPossible()
    text = clean_text(body)
    check_reporter_key(tip, access.data_key)
    present_reporter_proof(session, access)
    message = add_message(
        session,
        tip,
        access.data_key,
        author=MessageAuthor.REPORTER,
        author_id=None,
        at=clock.now(),
        body=text,
    )
    tip.awaiting_reply_since = None
    audit.record(
        session,
        HourClock(clock),
        REPORTER_ACTOR,
        REPLIED,
        "tip",
        str(tip.id),
        {"message": str(message.id), "seq": message.seq},
    )


def reporter_object(
    session: Session, clock: Clock, settings: Settings, access: ReporterAccess, reason_text: str
) -> None:
    """The reporter objects to the conclusion: once, before the end of the objection window's
    last day; the tip goes to ``rechecking`` with a deadline ``recheck_days`` later.

    :class:`AlreadyObjected` the second time, :class:`ObjectionWindowClosed` after the window,
    :class:`ObjectionNotPossible` in any other state.
    """
    tip = load_tip(session, access.tip_id, lock=True)
    now = clock.now()
    if tip.objected_at is not None:
        raise errors.AlreadyObjected()
    if tip.state not in CONCLUDED_STATES or tip.objection_due_at is None:
        raise errors.ObjectionNotPossible()
    if now >= tip.objection_due_at:
        raise errors.ObjectionWindowClosed()
    text = clean_text(reason_text)
    check_reporter_key(tip, access.data_key)
    present_reporter_proof(session, access)
    due = end_of_day_after(now, settings.recheck_days)
    tip.objected_at = hour_of(now)
    tip.objection_enc = seal_tip_text(access.data_key, tip.id, "objection", text)
    tip.recheck_due_at = due
    tip.due_at = due
    tip.overdue_since = None
    transition(
        session,
        HourClock(clock),
        REPORTER_ACTOR,
        tip,
        action=Action.OBJECT,
        target=TipState.RECHECKING,
        reason="objection",
        details={"due": last_day(due).isoformat()},
    )
