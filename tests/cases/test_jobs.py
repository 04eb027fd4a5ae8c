"""``qingling jobs run-due`` for cases: overdue cases noted once (audited), re-checks due listed,
ids only."""

from __future__ import annotations

import json

from sqlalchemy import select

from cases import jobs
from cases.models import CaseState
from core.audit.models import AuditRecord
from tests.cases.conftest import CaseWorld


def _overdue_records(cw: CaseWorld) -> list[AuditRecord]:
    return list(
        cw.dbs.scalars(
            select(AuditRecord).where(AuditRecord.action == jobs.OVERDUE).order_by(AuditRecord.seq)
        )
    )


def test_run_due(case_world: CaseWorld) -> None:
    cw = case_world
    late = cw.open()
    cw.plan(late, days=2)
    closed = cw.open()
    cw.drive(closed, CaseState.CLOSED)
    calm = cw.open()
    cw.plan(calm, days=300)

    lines = jobs.run_due(cw.dbs, cw.clock, cw.settings)
    assert lines == [
        "cases newly overdue: 0",
        "cases overdue: 0",
        "cases re-check due: 0",
    ]
    cw.clock.advance(days=3)
    lines = jobs.run_due(cw.dbs, cw.clock, cw.settings)
    assert lines == [
        "cases newly overdue: 1",
        f"  {late}",
        "cases overdue: 1",
        f"  overdue: {late}",
        "cases re-check due: 0",
    ]
    [record] = _overdue_records(cw)
    assert record.object_id == str(late)
    assert json.loads(record.details) == {
        "state": "rectifying",
        "due": cw.case(late).deadline.isoformat(),  # type: ignore[union-attr]
        "division_id": cw.w.own,
    }
    assert cw.case(late).overdue_noted_at == cw.clock.now()
    # Run again: nothing newly overdue, nothing audited twice.
    assert jobs.run_due(cw.dbs, cw.clock, cw.settings)[0] == "cases newly overdue: 0"
    assert len(_overdue_records(cw)) == 1

    # The re-check comes due on its day and is overdue the day after.
    cw.clock.advance(days=cw.settings.case_recheck_days - 3)
    lines = jobs.run_due(cw.dbs, cw.clock, cw.settings)
    assert f"  re-check due: {closed}" in lines
    assert f"  overdue: {closed}" not in lines
    cw.clock.advance(days=1)
    lines = jobs.run_due(cw.dbs, cw.clock, cw.settings)
    assert lines[:2] == ["cases newly overdue: 1", f"  {closed}"]
    assert f"  overdue: {closed}" in lines
    assert len(_overdue_records(cw)) == 2

    # A new plan clears the mark: the case can become newly overdue again.
    cw.plan(late, days=1)
    assert cw.case(late).overdue_noted_at is None
    cw.clock.advance(days=2)
    assert f"  {late}" in jobs.run_due(cw.dbs, cw.clock, cw.settings)
    assert len(_overdue_records(cw)) == 3
    assert all("description" not in r.details for r in _overdue_records(cw))
