"""What every reward service shares: who may do what (DESIGN.md's role table, checked here in
the service layer), loading a reward under its row lock, and recording a transition (history
row + audit record).

The role table, for rewards:

====================  ===============  ==========================================  ==========
role                  rewards          actions                                     payment
                                                                                   details
====================  ===============  ==========================================  ==========
finance officer       scope            penalty decision, calculate, offer,         yes (key)
                                       record payment
finance approver      scope            approve (never their own calculation),      yes (key)
                                       send back, offer
triage officer        scope (read)     —                                           —
supervisor            all (read)       —                                           —
every other role      —                —                                           —
====================  ===============  ==========================================  ==========

"Scope" is the user's division, or every division for a city-scope user. Opening payment
details also needs a key: the user's grant of the finance key group's version the claim was
sealed to. No reward service ever opens a tip's content: finance sees routing values only.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from core.accounts.access import in_scope
from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.services import Actor
from core.clock import Clock
from core.errors import Forbidden
from rewards import errors
from rewards.models import Reward, RewardAction, RewardState, RewardTransition
from rewards.services.workflow import check

FINANCE_ROLES = (Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
READ_ROLES = (Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.TRIAGE_OFFICER, Role.SUPERVISOR)
#: The audit object type of a reward.
KIND = "reward"


# ---------------------------------------------------------------- roles and scope


def can_read_rewards(user: User) -> bool:
    """Whether ``user`` may list rewards at all (their scope decides which)."""
    return user.active and user.has_role(*READ_ROLES)


def may_read(user: User, division_id: int) -> bool:
    if not user.active:
        return False
    if user.has_role(Role.SUPERVISOR):
        return True
    return user.has_role(Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.TRIAGE_OFFICER) and (
        in_scope(user, division_id)
    )


def scope_clause(user: User) -> ColumnElement[bool]:
    """The rewards ``user`` may list (call :func:`require_reader` first)."""
    if user.has_role(Role.SUPERVISOR) or user.division_id is None:
        return true()
    return Reward.division_id == user.division_id


def require_reader(user: User) -> None:
    if not can_read_rewards(user):
        raise Forbidden()


def may_act(user: User, division_id: int, *roles: Role) -> bool:
    return user.active and user.has_role(*roles) and in_scope(user, division_id)


def require_act(user: User, reward: Reward, *roles: Role) -> None:
    """``user`` is active, holds one of ``roles`` and the reward is in their scope."""
    if not may_act(user, reward.division_id, *roles):
        raise Forbidden()


def is_finance(user: User) -> bool:
    return user.active and user.has_role(*FINANCE_ROLES)


# ---------------------------------------------------------------- loading


def load_reward(session: Session, reward_id: uuid.UUID, *, lock: bool = False) -> Reward:
    """The reward, or :class:`RewardNotFound`. ``lock`` takes the row lock (``SELECT … FOR
    UPDATE`` on PostgreSQL; SQLite transactions are serialised anyway) and reloads the row, so
    a second caller waiting for the lock sees what the first committed."""
    query = select(Reward).where(Reward.id == reward_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    reward = session.scalars(query).first()
    if reward is None:
        raise errors.RewardNotFound()
    return reward


def reward_of_tip(session: Session, tip_id: uuid.UUID, *, lock: bool = False) -> Reward | None:
    query = select(Reward).where(Reward.tip_id == tip_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


# ---------------------------------------------------------------- transitions


def transition(
    session: Session,
    clock: Clock,
    actor: Actor,
    reward: Reward,
    *,
    action: RewardAction,
    target: RewardState,
    details: dict[str, Any] | None = None,
) -> None:
    """Move ``reward`` to ``target``: check the table, set the state, append the history row
    and the audit record (``reward.<action>``: tip, from, to and ``details``: ids, codes and
    amounts, never payment details or a claim code).

    The caller holds the row lock, has checked its own guards and set the new state's columns;
    ``clock`` times the history row and the audit record (an hour clock for the reporter).
    """
    source: RewardState | None = reward.state
    check(action, source, target)
    at = clock.now()
    # The state first: the query below autoflushes, and the columns the caller set belong to
    # the new state (the CHECK constraints would refuse them beside the old one).
    reward.state = target
    seq = (
        session.scalar(
            select(func.max(RewardTransition.seq)).where(RewardTransition.reward_id == reward.id)
        )
        or 0
    ) + 1
    session.add(
        RewardTransition(
            id=uuid.uuid4(),
            reward_id=reward.id,
            seq=seq,
            action=action,
            from_state=source,
            to_state=target,
            actor_id=actor.id,
            actor_label=actor.label[:100],
            at=at,
        )
    )
    audit.record(
        session,
        clock,
        actor,
        f"reward.{action.value}",
        KIND,
        str(reward.id),
        {
            "tip": str(reward.tip_id),
            "from": None if source is None else source.value,
            "to": target.value,
            **(details or {}),
        },
    )
    # Flushed (audit.record flushes too) so the CHECK constraints judge the new state now,
    # inside the service that made it.
    session.flush()
