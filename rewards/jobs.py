"""Timed reward work, run by ``qingling jobs run-due`` (cron or a systemd timer).

* Expires offers nobody claimed: an offer whose claim deadline (the end of its last day) has
  passed goes to ``expired`` (``reward.expire``, actor ``system``). On PostgreSQL the rows are
  taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so several nodes may run the job at once, and a
  claim in flight on the same row is waited for by nobody: whichever commits first wins, and the
  other finds the state moved on. Running it again expires nothing new.
* Lists the offers whose deadline is ``reward_reminder_days`` away or less, soonest first, for
  finance to remind the reporter through the channels it has (the status page shows the
  deadline prominently by then as well). Ids and dates only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.services import SYSTEM_ACTOR
from core.clock import Clock
from core.settings import Settings
from rewards.models import Reward, RewardAction, RewardState
from rewards.services.common import transition
from triage.deadlines import last_day, local_date

#: Offers listed as near their deadline (the count is complete).
LIST_MAX = 50


def expire_offers(session: Session, clock: Clock) -> list[uuid.UUID]:
    """Move every offer past its claim deadline to ``expired``; the ids, oldest deadline first."""
    now = clock.now()
    rows = session.scalars(
        select(Reward)
        .where(Reward.state == RewardState.OFFERED, Reward.claim_deadline <= now)
        .order_by(Reward.claim_deadline, Reward.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    expired = []
    for reward in rows:
        if reward.state is not RewardState.OFFERED:  # pragma: no cover - locked and filtered
            continue
        reward.expired_at = now
        transition(
            session,
            clock,
            SYSTEM_ACTOR,
            reward,
            action=RewardAction.EXPIRE,
            target=RewardState.EXPIRED,
            details={
                "claim_deadline": None
                if reward.claim_deadline is None
                else last_day(reward.claim_deadline).isoformat()
            },
        )
        expired.append(reward.id)
    return expired


def offers_near_deadline(
    session: Session, clock: Clock, settings: Settings
) -> list[tuple[uuid.UUID, dt.date, int]]:
    """Open offers whose last day is at most ``reward_reminder_days`` away: (id, last day,
    days left), soonest first."""
    now = clock.now()
    horizon = now + dt.timedelta(days=settings.reward_reminder_days + 1)
    rows = session.execute(
        select(Reward.id, Reward.claim_deadline)
        .where(
            Reward.state == RewardState.OFFERED,
            Reward.claim_deadline > now,
            Reward.claim_deadline <= horizon,
        )
        .order_by(Reward.claim_deadline, Reward.id)
    ).all()
    today = local_date(now)
    out = []
    for row in rows:
        day = last_day(row.claim_deadline)
        left = (day - today).days
        if left <= settings.reward_reminder_days:
            out.append((row.id, day, left))
    return out


def run_due(session: Session, clock: Clock, settings: Settings) -> list[str]:
    """Do what is due and return the lines ``qingling jobs run-due`` prints (ids, never
    content)."""
    expired = expire_offers(session, clock)
    near = offers_near_deadline(session, clock, settings)
    lines = [f"reward offers expired: {len(expired)}"]
    lines += [f"  {reward_id}" for reward_id in expired]
    lines.append(f"reward offers to claim within {settings.reward_reminder_days} days: {len(near)}")
    lines += [
        f"  {reward_id}: last day {day.isoformat()} ({left} days left)"
        for reward_id, day, left in near[:LIST_MAX]
    ]
    return lines
