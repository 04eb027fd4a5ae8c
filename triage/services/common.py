"""What every triage service shares: who may do what (DESIGN.md's role table, checked here in
the service layer), loading a tip, finding the officer's key for it, encrypting the texts that
belong to a tip, and recording a transition (history row + audit record).

The role table, for tips:

==================  ============  ================  ============
role                tip content   queue, metadata   tip actions
==================  ============  ================  ============
triage officer      scope         scope             scope
supervisor          —             all               —
every other role    —             —                 —
==================  ============  ================  ============

"Scope" is the officer's division, or every division for a city-scope officer (no division).
Reading content also needs a key: a grant of a key group the tip was sealed to (the city
triage group or the tip's division group). Role and scope are checked first, so a member who
lost the role reads nothing through the services.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.access import in_scope
from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.services import Actor
from core.clock import Clock
from core.errors import Forbidden
from core.keys import services as keys
from core.keys.models import GroupGrant, GroupKind, KeyGroup, PersonalKey
from crypto import envelope
from crypto.errors import CryptoError
from intake.errors import TipDamaged
from intake.models import Tip, TipKey, TipState
from triage import errors
from triage.models import TipTransition
from triage.workflow import Action, check

#: FIELD binding of the texts stored on the tip (decision, conclusions, objection, extension
#: reason): kind "tip", object the tip id, field the column name without ``_enc``.
TIP_KIND = "tip"
MESSAGE_KIND = "message"
NOTE_KIND = "note"

#: Longest text an officer or the reporter writes in one field or message.
TEXT_MAX = 10_000
#: Longest name of another regulator (stored in the clear, a routing value).
REGULATOR_MAX = 200


# ---------------------------------------------------------------- roles and scope


def is_triage_officer(user: User) -> bool:
    return user.active and user.has_role(Role.TRIAGE_OFFICER)


def may_act(user: User, division_id: int) -> bool:
    """Content and actions: an active triage officer whose scope covers the division."""
    return is_triage_officer(user) and in_scope(user, division_id)


def may_see_metadata(user: User, division_id: int) -> bool:
    """Queue and metadata: a triage officer in scope, or a supervisor (every division)."""
    if not user.active:
        return False
    return may_act(user, division_id) or user.has_role(Role.SUPERVISOR)


def require_queue_reader(user: User) -> None:
    if not (is_triage_officer(user) or (user.active and user.has_role(Role.SUPERVISOR))):
        raise Forbidden()


def metadata_scope(user: User) -> int | None:
    """The one division whose tips ``user`` may list, or None for every division.

    Supervisors see every division; a triage officer their scope. (A user holding both roles
    sees the wider of the two.)
    """
    if user.has_role(Role.SUPERVISOR):
        return None
    return user.division_id


# ---------------------------------------------------------------- loading


def load_tip(session: Session, tip_id: uuid.UUID, *, lock: bool = False) -> Tip:
    """The tip, or :class:`TipNotFound`. ``lock`` takes the row lock (PostgreSQL) that every
    state change holds, so two officers acting at once are serialised; SQLite transactions are
    serialised anyway (BEGIN IMMEDIATE)."""
    query = select(Tip).where(Tip.id == tip_id)
    if lock:
        query = query.with_for_update()
    tip = session.scalars(query).first()
    if tip is None:
        raise errors.TipNotFound()
    if lock:
        # A row loaded earlier in this session keeps its old values without this.
        session.refresh(tip, with_for_update=True)
    return tip


def officer_tip(session: Session, actor: User, tip_id: uuid.UUID, *, lock: bool = False) -> Tip:
    """The tip if ``actor`` may read its content and act on it; :class:`Forbidden` otherwise."""
    tip = load_tip(session, tip_id, lock=lock)
    if not may_act(actor, tip.division_id):
        raise Forbidden()
    return tip


# ---------------------------------------------------------------- keys


@dataclass(frozen=True)
class TipKeys:
    """The group key version the officer opened the tip with, its private key, and the tip's
    data key. Lives for one service call."""

    group_id: int
    group_version: int
    group_private_key: bytes = field(repr=False)
    data_key: bytes = field(repr=False)


def tip_keys(session: Session, actor: User, personal_key: bytes, tip: Tip) -> TipKeys:
    """Open ``tip``'s data key with a grant ``actor`` holds, of the city triage group or the
    tip's division group (whichever the tip was sealed to; the newest version first).

    The caller has checked role and scope. :class:`NoTipKey` when the officer holds no
    current grant of a group version the tip was sealed to.
    """
    row = session.execute(
        select(TipKey.group_id, TipKey.group_version, TipKey.envelope)
        .join(KeyGroup, KeyGroup.id == TipKey.group_id)
        .join(
            GroupGrant,
            (GroupGrant.group_id == TipKey.group_id)
            & (GroupGrant.group_version == TipKey.group_version),
        )
        .join(
            PersonalKey,
            (PersonalKey.user_id == GroupGrant.user_id)
            & (PersonalKey.version == GroupGrant.user_key_version),
        )
        .where(
            TipKey.tip_id == tip.id,
            GroupGrant.user_id == actor.id,
            KeyGroup.kind == GroupKind.TRIAGE,
            (KeyGroup.division_id.is_(None)) | (KeyGroup.division_id == tip.division_id),
        )
        .order_by(TipKey.group_version.desc(), TipKey.group_id)
        .limit(1)
    ).first()
    if row is None:
        raise errors.NoTipKey()
    group_key = keys.unlock_group(session, actor, personal_key, row.group_id, row.group_version)
    try:
        data_key = envelope.open_data_key(
            group_key,
            row.envelope,
            tip_id=tip.id,
            group_id=row.group_id,
            group_version=row.group_version,
        )
    except CryptoError:
        raise TipDamaged() from None
    return TipKeys(row.group_id, row.group_version, group_key, data_key)


def data_key(session: Session, actor: User, personal_key: bytes, tip: Tip) -> bytes:
    return tip_keys(session, actor, personal_key, tip).data_key


# ---------------------------------------------------------------- texts


def clean_text(value: str, maximum: int = TEXT_MAX) -> str:
    """A text as stored: surrounding space removed, not empty, not too long, no control
    characters other than line breaks and tabs, no lone surrogate (which the JSON API can
    carry and UTF-8 cannot encode)."""
    text = value.strip()
    if not text:
        raise errors.TextRequired()
    if len(text) > maximum:
        raise errors.TextTooLong(max=maximum)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise errors.TextHasControlCharacters()
    if any(unicodedata.category(c) == "Cs" for c in text):
        raise errors.TextUnreadable()
    return text


def seal_tip_text(key: bytes, tip_id: uuid.UUID, name: str, text: str) -> bytes:
    return envelope.encrypt_text(
        key, text, tip_id=tip_id, kind=TIP_KIND, object_id=tip_id, field_name=name
    )


def open_tip_text(key: bytes, tip_id: uuid.UUID, name: str, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    try:
        return envelope.decrypt_text(
            key, blob, tip_id=tip_id, kind=TIP_KIND, object_id=tip_id, field_name=name
        )
    except CryptoError:
        raise TipDamaged() from None


def check_reporter_key(tip: Tip, key: bytes) -> None:
    """The reporter's data key opens this tip (a short field of its own), before anything is
    encrypted under it: a wrong key would store what no officer can read."""
    try:
        envelope.decrypt_text(
            key,
            tip.relationship_enc,
            tip_id=tip.id,
            kind=TIP_KIND,
            object_id=tip.id,
            field_name="relationship",
        )
    except CryptoError:
        raise TipDamaged() from None


# ---------------------------------------------------------------- transitions


def transition(
    session: Session,
    clock: Clock,
    actor: Actor,
    tip: Tip,
    *,
    action: Action,
    target: TipState,
    reason: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Move ``tip`` to ``target``: check the table, set the state, append the history row and
    the audit record (``tip.<action>``, from, to, reason and ``details``, never a text).

    The caller has checked its own guards and set the state's columns; ``clock`` gives the time
    of the history row and the audit record (an hour clock for the reporter).
    """
    source = tip.state
    check(action, source, target)
    at = clock.now()
    # The state first: the query below autoflushes, and the columns the caller set belong to
    # the new state (the CHECK constraints would refuse them beside the old one).
    tip.state = target
    seq = (
        session.scalar(select(func.max(TipTransition.seq)).where(TipTransition.tip_id == tip.id))
        or 0
    ) + 1
    session.add(
        TipTransition(
            id=uuid.uuid4(),
            tip_id=tip.id,
            seq=seq,
            from_state=source,
            to_state=target,
            actor_id=actor.id,
            actor_label=actor.label[:100],
            at=at,
            reason=reason,
        )
    )
    audit.record(
        session,
        clock,
        actor,
        f"tip.{action.value}",
        "tip",
        str(tip.id),
        {"from": source.value, "to": target.value, "reason": reason, **(details or {})},
    )
    # Flushed (audit.record flushes too) so the CHECK constraints judge the new state now,
    # inside the service that made it, and the next transition numbers after this one.
    session.flush()
