"""Reading a tip: its metadata and history (triage officers in scope, supervisors), and its
decrypted content (triage officers in scope who hold a key), each decrypted read audited.

Decrypt-on-read: the officer's personal private key (from the staff session) opens their grant
of a key group the tip was sealed to, the group key opens the tip's data key, and
``intake.services`` decrypts the fields and attachments. Every call of :func:`open_tip` writes
``tip.read`` and every attachment read ``tip.attachment_read``: group and version, never
content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock
from core.errors import Forbidden
from core.settings import Settings
from intake import services as intake_services
from intake.models import NotAcceptedReason, Tip, TipState
from triage.models import TipTransition
from triage.services.common import (
    load_tip,
    may_see_metadata,
    officer_tip,
    open_tip_text,
    tip_keys,
)
from triage.services.messages import Note, ThreadMessage, notes, thread
from triage.services.queue import QueueItem, item_of
from triage.workflow import Action, actions_from

READ = "tip.read"
ATTACHMENT_READ = "tip.attachment_read"


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    from_state: TipState
    to_state: TipState
    actor_id: int | None
    actor_label: str  # a user name, "system" or "reporter"
    at: dt.datetime  # exact for staff, the hour for the reporter
    reason: str | None  # a code: not-accepted reason, outcome, "objection", "extension", …


@dataclass(frozen=True)
class TipOverview:
    """A tip's metadata and history: what supervisors see, and the frame of the tip page."""

    item: QueueItem
    accepted_at: dt.datetime | None
    not_accepted_reason: NotAcceptedReason | None
    transferred_to: str | None
    decided_at: dt.datetime | None
    verification_started_at: dt.datetime | None
    verification_due_at: dt.datetime | None
    extension_days: int | None
    conclusion: TipState | None
    concluded_at: dt.datetime | None
    objection_due_at: dt.datetime | None
    objected_at: dt.datetime | None
    recheck_due_at: dt.datetime | None
    recheck_outcome: TipState | None
    recheck_concluded_at: dt.datetime | None
    closed_at: dt.datetime | None
    overdue_since: dt.datetime | None
    awaiting_reply_since: dt.datetime | None
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class TriageTip:
    """A tip as a triage officer reads it: metadata, the reporter's words and files, the texts
    of the workflow, the thread, the internal notes and the actions the table allows now."""

    overview: TipOverview
    tip: intake_services.OfficerTip
    decision_text: str | None = field(repr=False)  # not accepted: the text; transferred: note
    extension_reason: str | None = field(repr=False)
    conclusion_text: str | None = field(repr=False)
    objection_text: str | None = field(repr=False)
    recheck_conclusion_text: str | None = field(repr=False)
    messages: tuple[ThreadMessage, ...] = field(repr=False)
    notes: tuple[Note, ...] = field(repr=False)
    actions: tuple[Action, ...]


def _history(session: Session, tip_id: uuid.UUID) -> tuple[HistoryEntry, ...]:
    rows = session.scalars(
        select(TipTransition).where(TipTransition.tip_id == tip_id).order_by(TipTransition.seq)
    )
    return tuple(
        HistoryEntry(
            seq=row.seq,
            from_state=row.from_state,
            to_state=row.to_state,
            actor_id=row.actor_id,
            actor_label=row.actor_label,
            at=row.at,
            reason=row.reason,
        )
        for row in rows
    )


def _overview(session: Session, tip: Tip, now: dt.datetime) -> TipOverview:
    return TipOverview(
        item=item_of(tip, now),
        accepted_at=tip.accepted_at,
        not_accepted_reason=tip.not_accepted_reason,
        transferred_to=tip.transferred_to,
        decided_at=tip.decided_at,
        verification_started_at=tip.verification_started_at,
        verification_due_at=tip.verification_due_at,
        extension_days=tip.extension_days,
        conclusion=tip.conclusion,
        concluded_at=tip.concluded_at,
        objection_due_at=tip.objection_due_at,
        objected_at=tip.objected_at,
        recheck_due_at=tip.recheck_due_at,
        recheck_outcome=tip.recheck_outcome,
        recheck_concluded_at=tip.recheck_concluded_at,
        closed_at=tip.closed_at,
        overdue_since=tip.overdue_since,
        awaiting_reply_since=tip.awaiting_reply_since,
        history=_history(session, tip.id),
    )


def tip_overview(session: Session, clock: Clock, actor: User, tip_id: uuid.UUID) -> TipOverview:
    """Metadata and history, no content: triage officers in scope and supervisors
    (:class:`Forbidden` for anyone else). Not a decrypted read, so not audited."""
    tip = load_tip(session, tip_id)
    if not may_see_metadata(actor, tip.division_id):
        raise Forbidden()
    return _overview(session, tip, clock.now())


def open_tip(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
) -> TriageTip:
    """The tip decrypted for a triage officer in scope who holds a key for it.

    :class:`Forbidden` for another role or division, :class:`NoTipKey` without a grant,
    :class:`TipDamaged` if something does not open. Writes ``tip.read``.
    """
    tip = officer_tip(session, actor, tip_id)
    keys = tip_keys(session, actor, personal_key, tip)
    opened = intake_services.open_with_group_key(
        session, tip.id, keys.group_id, keys.group_version, keys.group_private_key
    )
    key = keys.data_key
    result = TriageTip(
        overview=_overview(session, tip, clock.now()),
        tip=opened,
        decision_text=open_tip_text(key, tip.id, "decision", tip.decision_enc),
        extension_reason=open_tip_text(key, tip.id, "extension_reason", tip.extension_reason_enc),
        conclusion_text=open_tip_text(key, tip.id, "conclusion", tip.conclusion_enc),
        objection_text=open_tip_text(key, tip.id, "objection", tip.objection_enc),
        recheck_conclusion_text=open_tip_text(
            key, tip.id, "recheck_conclusion", tip.recheck_conclusion_enc
        ),
        messages=tuple(thread(session, tip.id, key)),
        notes=tuple(notes(session, tip.id, key)),
        actions=tuple(actions_from(tip.state)),
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        READ,
        "tip",
        str(tip.id),
        {"group_id": keys.group_id, "group_version": keys.group_version},
    )
    return result


def read_attachment(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    attachment_id: uuid.UUID,
    personal_key: bytes,
) -> Iterator[bytes]:
    """An attachment's plaintext, chunk by chunk (the name and type are in
    :attr:`TriageTip.tip`'s ``attachments``). Access as :func:`open_tip`;
    :class:`AttachmentNotFound` for an attachment of another tip; writes
    ``tip.attachment_read`` once the attachment is found. A damaged chunk raises
    :class:`AttachmentDamaged` while iterating: a view streaming it must abort the response."""
    tip = officer_tip(session, actor, tip_id)
    keys = tip_keys(session, actor, personal_key, tip)
    chunks = intake_services.iter_attachment(
        session, tip.id, attachment_id, keys.group_id, keys.group_version, keys.group_private_key
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        ATTACHMENT_READ,
        "tip",
        str(tip.id),
        {
            "attachment": str(attachment_id),
            "group_id": keys.group_id,
            "group_version": keys.group_version,
        },
    )
    return chunks
