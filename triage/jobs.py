"""Timed triage work, run by ``qingling jobs run-due`` (cron or a systemd timer).

* Marks overdue steps: a tip whose current deadline (``due_at``: verification or re-check) has
  passed gets ``overdue_since`` and a ``tip.overdue`` audit record, once. Overdue itself is
  derived from ``due_at`` everywhere (the queue filters on it); the mark records when the job
  first saw it, for escalation. On PostgreSQL the rows are taken with ``SELECT … FOR UPDATE
  SKIP LOCKED``, so several nodes may run the job at once without waiting for each other or
  marking a tip twice; running it again marks nothing new (idempotent).
* Lists, per active triage officer, what is due within ``due_soon_days`` and what is overdue
  in their scope: counts and tip ids, never content.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from core.accounts.models import Role, User, UserRole
from core.audit import services as audit
from core.clock import Clock
from core.settings import Settings
from intake.models import Tip
from triage.deadlines import last_day

OVERDUE = "tip.overdue"
#: Tip ids listed per officer and kind (the counts are complete).
LIST_MAX = 50


@dataclass(frozen=True)
class OfficerDue:
    username: str
    division_id: int | None  # None: city scope
    due_soon_count: int
    overdue_count: int
    due_soon: tuple[uuid.UUID, ...]  # soonest first, at most LIST_MAX
    overdue: tuple[uuid.UUID, ...]  # longest overdue first, at most LIST_MAX


@dataclass(frozen=True)
class DueReport:
    marked_overdue: tuple[uuid.UUID, ...]
    officers: tuple[OfficerDue, ...]


def mark_overdue(session: Session, clock: Clock) -> list[uuid.UUID]:
    """Set ``overdue_since`` on every tip whose deadline has passed and is not marked yet."""
    now = clock.now()
    rows = session.execute(
        select(Tip.id, Tip.due_at)
        .where(Tip.due_at <= now, Tip.overdue_since.is_(None))
        .order_by(Tip.due_at, Tip.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    session.execute(
        update(Tip)
        .where(Tip.id.in_(ids), Tip.overdue_since.is_(None))
        .values(overdue_since=now)
        .execution_options(synchronize_session="fetch")
    )
    for row in rows:
        audit.record(
            session,
            clock,
            audit.SYSTEM_ACTOR,
            OVERDUE,
            "tip",
            str(row.id),
            {"due": last_day(row.due_at).isoformat()},
        )
    return ids


def _officers(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.active.is_(True), UserRole.role == Role.TRIAGE_OFFICER)
            .order_by(User.username)
        )
    )


def _due_for(session: Session, officer: User, now: dt.datetime, horizon: dt.datetime) -> OfficerDue:
    scope: list[ColumnElement[bool]] = []
    if officer.division_id is not None:
        scope.append(Tip.division_id == officer.division_id)

    def listed(*conds: ColumnElement[bool]) -> tuple[int, tuple[uuid.UUID, ...]]:
        where = [*scope, *conds]
        count = session.scalar(select(func.count()).select_from(Tip).where(*where)) or 0
        ids = session.scalars(
            select(Tip.id).where(*where).order_by(Tip.due_at, Tip.id).limit(LIST_MAX)
        )
        return int(count), tuple(ids)

    overdue_count, overdue = listed(Tip.due_at <= now)
    soon_count, soon = listed(Tip.due_at > now, Tip.due_at <= horizon)
    return OfficerDue(
        username=officer.username,
        division_id=officer.division_id,
        due_soon_count=soon_count,
        overdue_count=overdue_count,
        due_soon=soon,
        overdue=overdue,
    )


def run_due(session: Session, clock: Clock, settings: Settings) -> DueReport:
    """Mark what became overdue, then list what is due soon and overdue per triage officer."""
    marked = mark_overdue(session, clock)
    now = clock.now()
    horizon = now + dt.timedelta(days=settings.due_soon_days)
    officers = tuple(_due_for(session, officer, now, horizon) for officer in _officers(session))
    return DueReport(tuple(marked), officers)
