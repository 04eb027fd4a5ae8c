"""Escalation of overdue cases by supervisors: interview and circular records."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from cases import errors
from cases import services as cases
from cases.models import CaseCircular, CaseInterview, CaseState
from core.audit.models import AuditRecord
from core.errors import Forbidden
from tests.cases.conftest import CaseWorld


def interview(cw: CaseWorld, on: dt.date | None = None) -> cases.InterviewData:
    return cases.InterviewData(
        held_on=on or cw.today,
        conducted_by="市民政局 李科长",
        interviewee="夕阳红托老所 院长张某",
        attendees="杨舍镇民政办 王某",
        content="通报逾期未整改情况，要求立即整改。",
        commitments="十日内完成整改。",
    )


def circular(cw: CaseWorld, number: str = "张民通〔2026〕3号") -> cases.CircularData:
    return cases.CircularData(
        number=number,
        issued_on=cw.today,
        scope="各区镇民政办、各养老机构",
        text="夕阳红托老所疏散通道隐患逾期未整改，予以通报。",
    )


@pytest.fixture
def overdue_case(case_world: CaseWorld) -> uuid.UUID:
    cw = case_world
    case_id = cw.open()
    cw.plan(case_id, days=3)
    cw.clock.advance(days=4)
    return case_id


def test_not_before_the_case_is_overdue(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.plan(case_id, days=3)
    with pytest.raises(errors.NotOverdue):
        cases.record_interview(*cw.args("supervisor"), case_id, data=interview(cw))
    with pytest.raises(errors.NotOverdue):
        cases.record_circular(*cw.args("supervisor"), case_id, data=circular(cw))


@pytest.mark.parametrize("name", ["officer", "officer_city", "triage_city", "finance_officer"])
def test_supervisors_only(case_world: CaseWorld, overdue_case: uuid.UUID, name: str) -> None:
    cw = case_world
    with pytest.raises(Forbidden):
        cases.record_interview(*cw.args(name), overdue_case, data=interview(cw))
    with pytest.raises(Forbidden):
        cases.record_circular(*cw.args(name), overdue_case, data=circular(cw))


def test_interview_and_circular_records(case_world: CaseWorld, overdue_case: uuid.UUID) -> None:
    cw = case_world
    interview_id = cases.record_interview(*cw.args("supervisor"), overdue_case, data=interview(cw))
    circular_id = cases.record_circular(*cw.args("supervisor"), overdue_case, data=circular(cw))
    row = cw.dbs.get(CaseInterview, interview_id)
    assert row is not None
    assert (row.interviewee, row.commitments) == ("夕阳红托老所 院长张某", "十日内完成整改。")
    notice = cw.dbs.get(CaseCircular, circular_id)
    assert notice is not None
    assert notice.number == "张民通〔2026〕3号"
    # The state does not change; both records are on the case page for every reader.
    assert cw.case(overdue_case).state is CaseState.RECTIFYING
    view = cases.case_view(cw.dbs, cw.clock, cw.user("officer"), overdue_case)
    assert [i.id for i in view.interviews] == [interview_id]
    assert [c.id for c in view.circulars] == [circular_id]
    assert {e.kind for e in view.timeline} >= {"interview", "circular"}
    _, found = cases.interview_for(cw.dbs, cw.user("triage_own"), overdue_case, interview_id)
    assert found.id == interview_id
    with pytest.raises(Forbidden):
        cases.circular_for(cw.dbs, cw.user("officer_other"), overdue_case, circular_id)
    with pytest.raises(errors.EscalationRecordNotFound):
        cases.circular_for(cw.dbs, cw.user("supervisor"), overdue_case, circular_id + 1)
    records = cw.dbs.scalars(
        select(AuditRecord)
        .where(AuditRecord.action.in_(("case.interview", "case.circular")))
        .order_by(AuditRecord.seq)
    ).all()
    assert [(r.action, json.loads(r.details)) for r in records] == [
        ("case.interview", {"interview": interview_id, "held_on": cw.today.isoformat()}),
        ("case.circular", {"circular": circular_id, "issued_on": cw.today.isoformat()}),
    ]


def test_circular_numbers_are_unique(case_world: CaseWorld, overdue_case: uuid.UUID) -> None:
    cw = case_world
    cases.record_circular(*cw.args("supervisor"), overdue_case, data=circular(cw))
    with pytest.raises(errors.CircularNumberTaken):
        cases.record_circular(*cw.args("supervisor"), overdue_case, data=circular(cw))
    cases.record_circular(
        *cw.args("supervisor"), overdue_case, data=circular(cw, "张民通〔2026〕4号")
    )


def test_dates_and_texts_are_checked(case_world: CaseWorld, overdue_case: uuid.UUID) -> None:
    cw = case_world
    tomorrow = cw.today + dt.timedelta(days=1)
    with pytest.raises(errors.HeldInFuture):
        cases.record_interview(*cw.args("supervisor"), overdue_case, data=interview(cw, tomorrow))
    bad = cases.InterviewData(
        held_on=cw.today,
        conducted_by="李科长\n王科长",
        interviewee="院长",
        attendees="",
        content="内容",
        commitments="",
    )
    with pytest.raises(errors.TextHasControlCharacters):
        cases.record_interview(*cw.args("supervisor"), overdue_case, data=bad)
    assert cw.dbs.scalar(select(CaseInterview.id)) is None


def test_an_overdue_recheck_is_escalated_too(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    cw.clock.advance(days=cw.settings.case_recheck_days + 1)
    assert cases.record_interview(*cw.args("supervisor"), case_id, data=interview(cw))
