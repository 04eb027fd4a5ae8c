"""Duplicates: suggestions, the duplicate link, and who keeps the reward right.

A tip is marked a duplicate of an *earlier* tip on the same matter (submitted no later, never
itself, never in a cycle) whose matter has been accepted (following the links to the first tip
of the matter, its *root*). The reporter of a duplicate is told the matter is already being
handled (:func:`triage.services.reporter.reporter_status`).

**Reward right.** The rules reward the reporter first accepted ("one-off reward to the
reporter first accepted"), so among a root and every tip linked to it, directly or through
another duplicate, the tip with the earliest ``accepted_at`` keeps ``reward_right`` (ties by
submission hour, then id); the flag is recomputed whenever a tip is accepted or linked. It can
be a duplicate itself: a tip accepted first and only later found to repeat an earlier report
keeps it. The rewards issue reads the flag; it is not a promise of a reward.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import actor_of
from core.clock import Clock
from core.errors import Forbidden
from core.settings import Settings
from intake.models import Tip, TipState
from triage import errors
from triage.services.common import load_tip, may_act, officer_tip, transition
from triage.services.queue import QueueItem, item_of
from triage.workflow import Action, check

#: Longest chain of links followed (a cycle is refused when linking; this only bounds a walk
#: over data written some other way).
_MAX_CHAIN = 1000
SUGGESTIONS_MAX = 50


def root_of(session: Session, tip: Tip) -> Tip:
    """The first tip of ``tip``'s matter: follow ``duplicate_of`` to its end."""
    current = tip
    for _ in range(_MAX_CHAIN):
        if current.duplicate_of_id is None:
            return current
        current = load_tip(session, current.duplicate_of_id)
    raise errors.DuplicateCycle()


def _matter(session: Session, root: Tip) -> list[Tip]:
    """``root`` and every tip linked to it, directly or through other duplicates."""
    found = [root]
    frontier = [root.id]
    while frontier and len(found) < _MAX_CHAIN:
        children = list(session.scalars(select(Tip).where(Tip.duplicate_of_id.in_(frontier))))
        found.extend(children)
        frontier = [child.id for child in children]
    return found


def assign_reward_right(session: Session, tip: Tip) -> None:
    """Give the reward right of ``tip``'s matter to its earliest accepted tip, and take it from
    every other tip of the matter."""
    matter = _matter(session, root_of(session, tip))
    accepted = [t for t in matter if t.accepted_at is not None]
    holder = min(
        accepted,
        key=lambda t: (t.accepted_at, t.submitted_at, str(t.id)),
        default=None,
    )
    for member in matter:
        member.reward_right = member is holder
    # Flushed so the CHECK (reward right ⇒ accepted) is judged inside this service.
    session.flush()


def mark_duplicate(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    original_id: uuid.UUID,
) -> None:
    """submitted | accepted → duplicate of ``original_id``.

    Guards: not itself; the original in the officer's scope too; submitted no later than this
    tip; not already linked (through any chain) to this tip; its matter accepted.
    """
    tip = officer_tip(session, actor, tip_id, lock=True)
    check(Action.MARK_DUPLICATE, tip.state, TipState.DUPLICATE)
    if original_id == tip.id:
        raise errors.DuplicateOfItself()
    original = load_tip(session, original_id, lock=True)
    if not may_act(actor, original.division_id):
        raise Forbidden()
    if original.submitted_at > tip.submitted_at:
        raise errors.DuplicateNotEarlier()
    current: Tip | None = original
    for _ in range(_MAX_CHAIN):
        if current is None:
            break
        if current.id == tip.id:
            raise errors.DuplicateCycle()
        current = (
            None if current.duplicate_of_id is None else load_tip(session, current.duplicate_of_id)
        )
    root = root_of(session, original)
    if root.accepted_at is None:
        raise errors.DuplicateOriginalNotHandled()
    tip.duplicate_of_id = original.id
    transition(
        session,
        clock,
        actor_of(actor),
        tip,
        action=Action.MARK_DUPLICATE,
        target=TipState.DUPLICATE,
        details={"original": str(original.id)},
    )
    assign_reward_right(session, root)


def duplicate_suggestions(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    limit: int = 20,
) -> list[QueueItem]:
    """Tips that may be on the same matter as ``tip_id``: the same registered facility, or the
    same division and category submitted within ``duplicate_window_days`` either side. Only
    tips in the officer's scope; earliest first (the one to link to comes first)."""
    tip = officer_tip(session, actor, tip_id)
    window = dt.timedelta(days=settings.duplicate_window_days)
    same_matter = and_(
        Tip.division_id == tip.division_id,
        Tip.category == tip.category,
        Tip.submitted_at >= tip.submitted_at - window,
        Tip.submitted_at <= tip.submitted_at + window,
    )
    match = same_matter
    if tip.facility_id is not None:
        match = or_(Tip.facility_id == tip.facility_id, same_matter)
    query = select(Tip).where(match, Tip.id != tip.id)
    if actor.division_id is not None:
        query = query.where(Tip.division_id == actor.division_id)
    rows = session.scalars(
        query.order_by(Tip.submitted_at, Tip.id).limit(max(1, min(limit, SUGGESTIONS_MAX)))
    )
    now = clock.now()
    return [item_of(row, now) for row in rows]
