"""Timed case work, run by ``qingling jobs run-due`` (cron or a systemd timer).

* Overdue is derived (:func:`cases.models.overdue_clause`): the rectification deadline passed
  while the case is open, rectifying or awaiting acceptance, or the re-check date passed while
  it is closed. The job records the moment it first sees a case overdue
  (``overdue_noted_at``, cleared by any step that changes the date measured against) with one
  ``case.overdue`` audit record, for the supervisors' escalation. On PostgreSQL the rows are
  taken with ``SELECT … FOR UPDATE SKIP LOCKED``, so several nodes may run it at once; running
  it again records nothing new.
* Lists the overdue cases and the re-checks due today or earlier (ids only, never text).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.models import CaseState, HazardCase, overdue_clause
from cases.services.common import today
from core.audit import services as audit
from core.clock import Clock
from core.settings import Settings

OVERDUE = "case.overdue"
#: Case ids listed per kind (the counts are complete).
LIST_MAX = 200


def mark_overdue(session: Session, clock: Clock) -> list[HazardCase]:
    """Note every overdue case not noted yet; the cases noted now."""
    on = today(clock)
    now = clock.now()
    cases = list(
        session.scalars(
            select(HazardCase)
            .where(overdue_clause(on), HazardCase.overdue_noted_at.is_(None))
            .order_by(HazardCase.created_at, HazardCase.id)
            .with_for_update(skip_locked=True)
        )
    )
    for case in cases:
        case.overdue_noted_at = now
        due = case.recheck_due_on if case.state is CaseState.CLOSED else case.deadline
        audit.record(
            session,
            clock,
            audit.SYSTEM_ACTOR,
            OVERDUE,
            "hazard_case",
            str(case.id),
            {
                "state": case.state.value,
                "due": due.isoformat() if due else None,
                "division_id": case.division_id,
            },
        )
    return cases


def run_due(session: Session, clock: Clock, settings: Settings) -> list[str]:
    """Do what is due and return the lines ``qingling jobs run-due`` prints (ids, never
    content)."""
    newly = mark_overdue(session, clock)
    on = today(clock)
    lines = [f"cases newly overdue: {len(newly)}"]
    lines += [f"  {case.id}" for case in newly]
    for label, where, order in (
        ("overdue", overdue_clause(on), HazardCase.created_at),
        (
            "re-check due",
            (HazardCase.state == CaseState.CLOSED) & (HazardCase.recheck_due_on <= on),
            HazardCase.recheck_due_on,
        ),
    ):
        count = session.scalar(select(func.count()).select_from(HazardCase).where(where)) or 0
        ids = session.scalars(
            select(HazardCase.id).where(where).order_by(order, HazardCase.id).limit(LIST_MAX)
        )
        lines.append(f"cases {label}: {count}")
        lines += [f"  {label}: {case_id}" for case_id in ids]
    return lines
