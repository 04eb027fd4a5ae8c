"""The message thread between officers and the reporter, and officers' internal notes.

Every body is a FIELD envelope under the tip's data key: a message with kind ``"message"``, a
note with kind ``"note"``, object the row's id, field ``"body"``; so a body moved to another
tip, row or kind does not open. A message's time is rounded down to the hour (the thread is
the reporter's too); ``seq`` orders it. An officer's question sets the tip's
``awaiting_reply_since`` (the queue's "unanswered" filter); the reporter's next message clears
it. Notes are never shown to the reporter.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock, hour_of
from core.settings import Settings
from crypto import envelope
from crypto.errors import CryptoError
from intake.errors import TipDamaged
from intake.models import MessageAuthor, Tip, TipMessage, TipState
from triage import errors
from triage.models import TipNote
from triage.services.common import (
    MESSAGE_KIND,
    NOTE_KIND,
    clean_text,
    data_key,
    officer_tip,
)


@dataclass(frozen=True)
class ThreadMessage:
    id: uuid.UUID
    seq: int
    author: MessageAuthor
    #: The officer's user name, for staff pages only; None for the reporter's messages.
    author_label: str | None
    created_at: dt.datetime  # rounded down to the hour
    body: str = field(repr=False)


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    author_label: str
    created_at: dt.datetime
    body: str = field(repr=False)


def _open_body(key: bytes, tip_id: uuid.UUID, kind: str, object_id: uuid.UUID, blob: bytes) -> str:
    try:
        return envelope.decrypt_text(
            key, blob, tip_id=tip_id, kind=kind, object_id=object_id, field_name="body"
        )
    except CryptoError:
        raise TipDamaged() from None


def thread(
    session: Session, tip_id: uuid.UUID, key: bytes, *, officer_names: bool = True
) -> list[ThreadMessage]:
    """The decrypted thread of a tip, in order. The caller has checked access.

    ``officer_names=False`` (the reporter's view) leaves ``author_label`` None and reads no
    staff account: on PostgreSQL the public site's role may not read ``users``.
    """
    rows: list[tuple[TipMessage, str | None]]
    if officer_names:
        rows = [
            (message, username)
            for message, username in session.execute(
                select(TipMessage, User.username)
                .outerjoin(User, User.id == TipMessage.author_id)
                .where(TipMessage.tip_id == tip_id)
                .order_by(TipMessage.seq)
            )
        ]
    else:
        rows = [
            (message, None)
            for message in session.scalars(
                select(TipMessage).where(TipMessage.tip_id == tip_id).order_by(TipMessage.seq)
            )
        ]
    return [
        ThreadMessage(
            id=message.id,
            seq=message.seq,
            author=message.author,
            author_label=username,
            created_at=message.created_at,
            body=_open_body(key, tip_id, MESSAGE_KIND, message.id, message.body_enc),
        )
        for message, username in rows
    ]


def notes(session: Session, tip_id: uuid.UUID, key: bytes) -> list[Note]:
    """The decrypted internal notes of a tip, oldest first. The caller has checked access."""
    rows = session.execute(
        select(TipNote, User.username)
        .join(User, User.id == TipNote.author_id)
        .where(TipNote.tip_id == tip_id)
        .order_by(TipNote.created_at, TipNote.id)
    ).all()
    return [
        Note(
            id=note.id,
            author_label=username,
            created_at=note.created_at,
            body=_open_body(key, tip_id, NOTE_KIND, note.id, note.body_enc),
        )
        for note, username in rows
    ]


def add_message(
    session: Session,
    tip: Tip,
    key: bytes,
    *,
    author: MessageAuthor,
    author_id: int | None,
    at: dt.datetime,
    body: str,
) -> TipMessage:
    """Append an encrypted message to ``tip``'s thread (the tip row is locked by the caller)."""
    seq = (
        session.scalar(select(func.max(TipMessage.seq)).where(TipMessage.tip_id == tip.id)) or 0
    ) + 1
    message_id = uuid.uuid4()
    message = TipMessage(
        id=message_id,
        tip_id=tip.id,
        seq=seq,
        author=author,
        author_id=author_id,
        created_at=hour_of(at),
        body_enc=envelope.encrypt_text(
            key, body, tip_id=tip.id, kind=MESSAGE_KIND, object_id=message_id, field_name="body"
        ),
    )
    session.add(message)
    return message


def ask_reporter(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    body: str,
    expects_reply: bool = True,
) -> uuid.UUID:
    """An officer's message to the reporter (a question, unless ``expects_reply`` is false);
    the new message's id. Not on a closed tip (:class:`ReplyNotPossible`)."""
    tip = officer_tip(session, actor, tip_id, lock=True)
    if tip.state is TipState.CLOSED:
        raise errors.ReplyNotPossible()
    text = clean_text(body)
    key = data_key(session, actor, personal_key, tip)
    now = clock.now()
    message = add_message(
        session,
        tip,
        key,
        author=MessageAuthor.OFFICER,
        author_id=actor.id,
        at=now,
        body=text,
    )
    if expects_reply and tip.awaiting_reply_since is None:
        tip.awaiting_reply_since = now
    audit.record(
        session,
        clock,
        actor_of(actor),
        "tip.message_sent",
        "tip",
        str(tip.id),
        {"message": str(message.id), "seq": message.seq, "question": expects_reply},
    )
    return message.id


def add_note(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    body: str,
) -> uuid.UUID:
    """An internal note on the tip (officers only, never shown to the reporter); its id."""
    tip = officer_tip(session, actor, tip_id)
    text = clean_text(body)
    key = data_key(session, actor, personal_key, tip)
    note_id = uuid.uuid4()
    session.add(
        TipNote(
            id=note_id,
            tip_id=tip.id,
            author_id=actor.id,
            created_at=clock.now(),
            body_enc=envelope.encrypt_text(
                key, text, tip_id=tip.id, kind=NOTE_KIND, object_id=note_id, field_name="body"
            ),
        )
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        "tip.note_added",
        "tip",
        str(tip.id),
        {"note": str(note_id)},
    )
    return note_id
