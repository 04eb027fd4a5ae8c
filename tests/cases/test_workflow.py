"""The closed loop: the transition table for every (action, state) pair, acceptance by another
officer (service and database), closure and the re-check date, relapse, overdue, the CHECK
constraints tying state to columns, and the audit records."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cases import errors
from cases import services as cases
from cases.models import (
    CaseRelapse,
    CaseSource,
    CaseState,
    CaseUpdate,
    EnforcementKind,
    EnforcementMeasure,
    HazardCase,
    RectificationPlan,
    UpdateKind,
    is_overdue,
    overdue_clause,
)
from cases.workflow import STATE_CHANGES, TABLE, Action, actions_from, check
from core.audit.models import AuditRecord
from core.errors import Forbidden
from tests.cases.conftest import CaseWorld, upload


def _audit(cw: CaseWorld, case_id: uuid.UUID) -> list[AuditRecord]:
    return list(
        cw.dbs.scalars(
            select(AuditRecord)
            .where(AuditRecord.object_id == str(case_id))
            .order_by(AuditRecord.seq)
        )
    )


def _measure(cw: CaseWorld, case_id: uuid.UUID) -> int:
    return cases.add_enforcement(
        *cw.args(),
        case_id,
        data=cases.EnforcementData(
            kind=EnforcementKind.SEAL,
            target="二楼东侧厨房",
            start_on=cw.today,
        ),
    )


def _runner(cw: CaseWorld, case_id: uuid.UUID, measure: int) -> dict[Action, Callable[[], object]]:
    """A valid call of each action's service, by someone allowed to make it."""
    later = cw.today + dt.timedelta(days=20)
    return {
        Action.PLAN: lambda: cw.plan(case_id, days=40),
        Action.SUBMIT: lambda: cases.submit_for_acceptance(
            *cw.args(), case_id, note="已完成。", files=[upload()]
        ),
        Action.REFUSE: lambda: cases.refuse_acceptance(
            *cw.args("officer2"), case_id, note="闭门器仍未更换。"
        ),
        Action.ACCEPT: lambda: cases.accept(
            *cw.args("officer2"), case_id, note="验收合格。", files=[upload()]
        ),
        Action.RECHECK_OK: lambda: cases.recheck_ok(*cw.args(), case_id, note="未反弹。"),
        Action.RELAPSE: lambda: cases.relapse(
            *cw.args(), case_id, note="通道再次堆放杂物。", deadline=later
        ),
        Action.PROGRESS: lambda: cases.add_progress(*cw.args(), case_id, note="杂物已清一半。"),
        Action.ENFORCE: lambda: _measure(cw, case_id),
        Action.LIFT: lambda: cases.end_enforcement(
            *cw.args(), case_id, measure_id=measure, end_on=cw.today
        ),
        Action.PUBLISH: lambda: cases.set_public_example(
            *cw.args("administrator"), case_id, public=True, summary="某养老机构疏散通道整改。"
        ),
    }


def test_the_table_covers_every_action() -> None:
    assert {action for action, _ in TABLE} == set(Action)
    assert {
        Action.PLAN,
        Action.SUBMIT,
        Action.REFUSE,
        Action.ACCEPT,
        Action.RECHECK_OK,
        Action.RELAPSE,
    } == STATE_CHANGES
    assert actions_from(CaseState.RECHECKED) == {Action.LIFT, Action.PUBLISH}
    with pytest.raises(errors.InvalidCaseTransition):
        check(Action.ACCEPT, CaseState.RECTIFYING)


@pytest.mark.parametrize("state", list(CaseState))
@pytest.mark.parametrize("action", list(Action))
def test_every_action_in_every_state(
    case_world: CaseWorld, action: Action, state: CaseState
) -> None:
    cw = case_world
    case_id = cw.open()
    measure = _measure(cw, case_id)
    cw.drive(case_id, state)
    before = cw.case(case_id)
    snapshot = (before.state, before.deadline, before.closed_at, before.relapse_count)
    audits = len(_audit(cw, case_id))
    run = _runner(cw, case_id, measure)[action]
    target = TABLE.get((action, state))
    if target is None:
        with pytest.raises(errors.InvalidCaseTransition):
            run()
        after = cw.case(case_id)
        assert (after.state, after.deadline, after.closed_at, after.relapse_count) == snapshot
        assert len(_audit(cw, case_id)) == audits
    else:
        run()
        assert cw.case(case_id).state is target
        records = _audit(cw, case_id)[audits:]
        assert len(records) == 1
        name = "public_example" if action is Action.PUBLISH else action.value
        assert records[0].action == f"case.{name}"
        if action in STATE_CHANGES:
            details = json.loads(records[0].details)
            assert (details["from"], details["to"]) == (state.value, target.value)


def test_opening_by_an_officer(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open(source=CaseSource.SELF_REPORT, place_class="crowded", deadline=cw.today)
    case = cw.case(case_id)
    assert (case.state, case.source, case.tip_id) == (CaseState.OPEN, CaseSource.SELF_REPORT, None)
    assert (case.facility_id, case.division_id) == (cw.facility_own, cw.w.own)
    assert (case.place_class, case.deadline) == ("crowded", cw.today)
    assert case.relapse_count == 0
    assert not case.public_example
    [record] = _audit(cw, case_id)
    assert record.action == "case.opened"
    assert json.loads(record.details) == {
        "source": "self_report",
        "items": 1,
        "division_id": cw.w.own,
        "facility_id": cw.facility_own,
    }


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"source": CaseSource.TIP}, errors.BadSource),
        ({"facility_id": 999_999}, errors.FacilityNotFound),
        ({"division_id": 999_999}, errors.DivisionNotFound),
        ({"place_class": "castle"}, errors.BadPlaceClass),
        ({"standard_items": []}, errors.StandardItemsRequired),
        ({"description": "  "}, errors.TextRequired),
        ({"description": "x" * 10_001}, errors.TextTooLong),
        ({"description": "bell\x07"}, errors.TextHasControlCharacters),
    ],
)
def test_opening_refuses_bad_input(
    case_world: CaseWorld, changes: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        case_world.open(**changes)
    assert case_world.dbs.scalar(select(HazardCase.id)) is None


def test_opening_checks_dates_and_the_facilitys_division(case_world: CaseWorld) -> None:
    cw = case_world
    with pytest.raises(errors.DiscoveredInFuture):
        cw.open(discovered_on=cw.today + dt.timedelta(days=1))
    with pytest.raises(errors.DeadlineInPast):
        cw.open(discovered_on=cw.today - dt.timedelta(days=9), deadline=cw.today - dt.timedelta(1))
    with pytest.raises(errors.FacilityOutsideDivision):
        cw.open(facility_id=cw.facility_other)
    # A case without a registered facility is possible.
    assert cw.case(cw.open(facility_id=None)).facility_id is None


def test_plan_with_the_five_in_place_and_replacement(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    first = cw.plan(case_id, days=30)
    case = cw.case(case_id)
    assert case.state is CaseState.RECTIFYING
    assert case.deadline == cw.today + dt.timedelta(days=30)
    assert case.plan_by_id == cw.user("officer").id
    second = cw.plan(case_id, by="officer2", days=45)
    case = cw.case(case_id)
    assert case.deadline == cw.today + dt.timedelta(days=45)
    assert case.plan_by_id == cw.user("officer2").id
    plans = cw.dbs.scalars(
        select(RectificationPlan.id).where(RectificationPlan.case_id == case_id)
    ).all()
    assert sorted(plans) == sorted([first, second])
    view = cases.case_view(cw.dbs, cw.clock, cw.user("officer"), case_id)
    assert view.plan is not None
    assert view.plan.id == second
    assert [p.id for p in view.plans] == [second, first]
    details = json.loads(_audit(cw, case_id)[-1].details)
    assert details == {
        "from": "rectifying",
        "to": "rectifying",
        "plan": second,
        "deadline": (cw.today + dt.timedelta(days=45)).isoformat(),
        "replaces": True,
    }


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("responsibility", " ", errors.TextRequired),
        ("measures", "", errors.TextRequired),
        ("contingency_plan", "\n", errors.TextRequired),
        ("funds_fen", -1, errors.BadFunds),
        ("funds_fen", 10_000_000_001, errors.BadFunds),
        ("deadline", "yesterday", errors.DeadlineInPast),
        ("deadline", "before discovery", errors.DeadlineBeforeDiscovery),
    ],
)
def test_every_one_of_the_five_is_required(
    case_world: CaseWorld, field: str, value: object, error: type[Exception]
) -> None:
    cw = case_world
    case_id = cw.open()
    values: dict[str, object] = {
        "responsibility": "院长张某",
        "measures": "清理通道",
        "funds_fen": 0,
        "deadline": cw.today,
        "contingency_plan": "专人值守",
    }
    if value == "yesterday":
        value = cw.today - dt.timedelta(days=1)
    elif value == "before discovery":
        cw.case(case_id).discovered_on = cw.today + dt.timedelta(days=5)
        value = cw.today + dt.timedelta(days=1)
    values[field] = value
    with pytest.raises(error):
        cases.submit_plan(*cw.args(), case_id, plan=cases.PlanData(**values))  # type: ignore[arg-type]
    assert cw.case(case_id).state is CaseState.OPEN
    assert cw.dbs.scalar(select(RectificationPlan.id)) is None


def test_acceptance_by_the_same_officer_is_refused(case_world: CaseWorld) -> None:
    cw = case_world
    # The submitter and the plan author are the same officer here.
    case_id = cw.open()
    cw.drive(case_id, CaseState.AWAITING_ACCEPTANCE)
    with pytest.raises(errors.AcceptanceBySameOfficer):
        cases.accept(*cw.args("officer"), case_id, note="自己验收。", files=[upload()])
    with pytest.raises(errors.AcceptanceBySameOfficer):
        cases.refuse_acceptance(*cw.args("officer"), case_id, note="自己退回。")
    assert cw.case(case_id).state is CaseState.AWAITING_ACCEPTANCE


def test_the_plan_author_may_not_accept_either(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.plan(case_id, by="officer2")
    cases.submit_for_acceptance(*cw.args("officer"), case_id, note="已完成。")
    with pytest.raises(errors.AcceptanceBySameOfficer):
        cases.accept(*cw.args("officer2"), case_id, note="验收。", files=[upload()])
    # A third officer (city scope) may.
    cases.accept(*cw.args("officer_city"), case_id, note="验收合格。", files=[upload()])
    assert cw.case(case_id).accepted_by_id == cw.user("officer_city").id


@pytest.mark.parametrize("column", ["submitted_by_id", "plan_by_id"])
def test_the_database_refuses_acceptance_by_the_rectifier(
    case_world: CaseWorld, column: str
) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    case = cw.case(case_id)
    rectifier = getattr(case, column)
    assert rectifier == cw.user("officer").id
    with pytest.raises(IntegrityError), cw.dbs.begin_nested():
        cw.dbs.execute(
            update(HazardCase).where(HazardCase.id == case_id).values(accepted_by_id=rectifier)
        )


def test_acceptance_needs_evidence(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.AWAITING_ACCEPTANCE)
    with pytest.raises(errors.EvidenceRequired):
        cases.accept(*cw.args("officer2"), case_id, note="验收合格。", files=[])
    assert cw.case(case_id).state is CaseState.AWAITING_ACCEPTANCE


def test_refusal_returns_to_rectification(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.AWAITING_ACCEPTANCE)
    cases.refuse_acceptance(*cw.args("officer2"), case_id, note="闭门器未更换。")
    case = cw.case(case_id)
    assert case.state is CaseState.RECTIFYING
    assert (case.submitted_by_id, case.submitted_at) == (None, None)


def test_closure_sets_the_recheck_date(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    case = cw.case(case_id)
    assert case.closed_at == cw.clock.now()
    assert case.recheck_due_on == cw.today + dt.timedelta(days=cw.settings.case_recheck_days)
    assert case.accepted_by_id == cw.user("officer2").id
    record = _audit(cw, case_id)[-1]
    assert record.action == "case.accept"
    details = json.loads(record.details)
    assert details.pop("bytes") > 0
    assert details == {
        "from": "awaiting_acceptance",
        "to": "closed",
        "recheck_due": case.recheck_due_on.isoformat(),
        "files": 1,
    }
    kinds = cw.dbs.scalars(
        select(CaseUpdate.kind).where(CaseUpdate.case_id == case_id).order_by(CaseUpdate.id)
    ).all()
    assert kinds == [UpdateKind.SUBMISSION, UpdateKind.ACCEPTANCE]


def test_closure_uses_the_configured_interval(case_world: CaseWorld) -> None:
    cw = case_world
    cw.w.settings = cw.settings.with_changes(case_recheck_days=7)
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    assert cw.case(case_id).recheck_due_on == cw.today + dt.timedelta(days=7)


def test_recheck_ok(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    cw.clock.advance(days=90)
    cases.recheck_ok(*cw.args(), case_id, note="回头看：通道畅通。")
    case = cw.case(case_id)
    assert case.state is CaseState.RECHECKED
    assert case.rechecked_at == cw.clock.now()
    assert case.closed_at is not None


def test_relapse_reopens_and_counts_against_the_facility(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    cases.set_public_example(
        *cw.args("administrator"), case_id, public=True, summary="疏散通道整改案例。"
    )
    closed_at = cw.case(case_id).closed_at
    cw.clock.advance(days=60)
    deadline = cw.today + dt.timedelta(days=15)
    relapse_id = cases.relapse(
        *cw.args(), case_id, note="通道再次被占用。", deadline=deadline, files=[upload()]
    )
    case = cw.case(case_id)
    assert case.state is CaseState.RECTIFYING
    assert case.relapse_count == 1
    assert case.deadline == deadline
    assert (case.closed_at, case.recheck_due_on, case.accepted_by_id) == (None, None, None)
    assert not case.public_example
    relapse = cw.dbs.get(CaseRelapse, relapse_id)
    assert relapse is not None
    assert (relapse.case_id, relapse.facility_id, relapse.closed_at) == (
        case_id,
        cw.facility_own,
        closed_at,
    )
    assert cases.facility_relapse_count(cw.dbs, cw.facility_own) == 1
    assert cases.facility_relapse_count(cw.dbs, cw.facility_other) == 0
    # The loop runs again: a second closure and a second relapse.
    cases.submit_for_acceptance(*cw.args(), case_id, note="再次整改完成。")
    cases.accept(*cw.args("officer2"), case_id, note="验收合格。", files=[upload()])
    cases.relapse(*cw.args(), case_id, note="又反弹。", deadline=deadline)
    assert cw.case(case_id).relapse_count == 2
    assert cases.facility_relapse_count(cw.dbs, cw.facility_own) == 2
    view = cases.case_view(cw.dbs, cw.clock, cw.user("supervisor"), case_id)
    assert view.facility_relapses == 2
    assert [e.kind for e in view.timeline].count("relapse") == 2


def test_relapse_needs_a_deadline_from_today(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    with pytest.raises(errors.DeadlineInPast):
        cases.relapse(*cw.args(), case_id, note="反弹。", deadline=cw.today - dt.timedelta(days=1))
    assert cw.case(case_id).state is CaseState.CLOSED


def test_enforcement_measures(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    measure_id = cases.add_enforcement(
        *cw.args(),
        case_id,
        data=cases.EnforcementData(
            kind=EnforcementKind.SUSPEND_EQUIPMENT,
            target="1号电梯",
            start_on=cw.today,
            note="待检验合格后恢复。",
        ),
    )
    with pytest.raises(errors.BadEnforcementDates):
        cases.end_enforcement(
            *cw.args(), case_id, measure_id=measure_id, end_on=cw.today - dt.timedelta(days=1)
        )
    cases.end_enforcement(*cw.args(), case_id, measure_id=measure_id, end_on=cw.today)
    measure = cw.dbs.get(EnforcementMeasure, measure_id)
    assert measure is not None
    assert measure.end_on == cw.today
    with pytest.raises(errors.EnforcementAlreadyEnded):
        cases.end_enforcement(*cw.args(), case_id, measure_id=measure_id, end_on=cw.today)
    with pytest.raises(errors.BadEnforcementDates):
        cases.add_enforcement(
            *cw.args(),
            case_id,
            data=cases.EnforcementData(
                kind=EnforcementKind.STOP_PRODUCTION,
                target="厨房",
                start_on=cw.today,
                end_on=cw.today - dt.timedelta(days=1),
            ),
        )
    other_case = cw.open()
    with pytest.raises(errors.EnforcementNotFound):
        cases.end_enforcement(*cw.args(), other_case, measure_id=measure_id, end_on=cw.today)


def test_overdue_is_derived(case_world: CaseWorld) -> None:
    cw = case_world
    open_late = cw.open(deadline=cw.today + dt.timedelta(days=1))
    open_no_deadline = cw.open()
    rectifying = cw.open()
    cw.plan(rectifying, days=10)
    awaiting = cw.open()
    cw.plan(awaiting, days=10)
    cw.drive(awaiting, CaseState.AWAITING_ACCEPTANCE)
    closed = cw.open()
    cw.drive(closed, CaseState.CLOSED)
    rechecked = cw.open()
    cw.drive(rechecked, CaseState.RECHECKED)

    def overdue_ids() -> set[uuid.UUID]:
        found = set(cw.dbs.scalars(select(HazardCase.id).where(overdue_clause(cw.today))))
        loaded = {c.id for c in cw.dbs.scalars(select(HazardCase)) if is_overdue(c, cw.today)}
        assert found == loaded
        return found

    assert overdue_ids() == set()
    cw.clock.advance(days=1)  # the last day itself is not overdue
    assert overdue_ids() == set()
    cw.clock.advance(days=1)
    assert overdue_ids() == {open_late}
    cw.clock.advance(days=9)
    assert overdue_ids() == {open_late, rectifying, awaiting}
    cw.clock.advance(days=cw.settings.case_recheck_days)
    assert overdue_ids() == {open_late, rectifying, awaiting, closed}
    assert open_no_deadline not in overdue_ids()
    assert rechecked not in overdue_ids()
    # A new plan with a later deadline ends the overdue.
    cw.plan(rectifying, days=5)
    assert rectifying not in overdue_ids()


@pytest.mark.parametrize(
    ("state", "values"),
    [
        (CaseState.CLOSED, {"closed_at": None}),
        (CaseState.CLOSED, {"recheck_due_on": None}),
        (CaseState.RECHECKED, {"rechecked_at": None}),
        (CaseState.RECTIFYING, {"deadline": None}),
        (CaseState.RECTIFYING, {"plan_by_id": None}),
        (CaseState.AWAITING_ACCEPTANCE, {"submitted_by_id": None}),
        (CaseState.RECTIFYING, {"state": CaseState.CLOSED}),
        (CaseState.CLOSED, {"state": CaseState.RECTIFYING}),
        (CaseState.OPEN, {"state": CaseState.RECHECKED}),
        (CaseState.OPEN, {"relapse_count": -1}),
        (CaseState.OPEN, {"public_example": True, "public_summary": ""}),
        (CaseState.OPEN, {"source": CaseSource.TIP}),
    ],
)
def test_check_constraints_tie_state_to_columns(
    case_world: CaseWorld, state: CaseState, values: dict[str, object]
) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, state)
    with pytest.raises(IntegrityError), cw.dbs.begin_nested():
        cw.dbs.execute(update(HazardCase).where(HazardCase.id == case_id).values(**values))


def test_only_a_case_officer_in_scope_writes(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    for name in ("officer_other", "triage_own", "supervisor", "finance_officer", "administrator"):
        with pytest.raises(Forbidden):
            cw.plan(case_id, by=name)
    with pytest.raises(Forbidden):
        cw.open(by="officer_other")
    cw.plan(case_id, by="officer_city")
    assert cw.case(case_id).state is CaseState.RECTIFYING


def test_public_example_by_an_administrator_only(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    for name in ("officer", "supervisor"):
        with pytest.raises(Forbidden):
            cases.set_public_example(*cw.args(name), case_id, public=True, summary="案例。")
    with pytest.raises(errors.PublicSummaryRequired):
        cases.set_public_example(*cw.args("administrator"), case_id, public=True, summary=" ")
    cases.set_public_example(
        *cw.args("administrator"), case_id, public=True, summary="通道整改案例。"
    )
    case = cw.case(case_id)
    assert (case.public_example, case.public_summary) == (True, "通道整改案例。")
    items, _, _ = cases.public_candidates(cw.dbs, cw.user("administrator"))
    assert [(i.id, i.public_example) for i in items] == [(case_id, True)]
    with pytest.raises(Forbidden):
        cases.public_candidates(cw.dbs, cw.user("supervisor"))
    cases.set_public_example(*cw.args("administrator"), case_id, public=False, summary="")
    assert not cw.case(case_id).public_example
