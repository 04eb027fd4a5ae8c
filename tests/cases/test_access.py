"""The access matrix for cases by role and division (DESIGN.md's role table): case officers
read and write their scope, triage officers read their scope, finance reads all, supervisors
read all and escalate, administrators and auditors read none; the list's filters and pages."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from cases import services as cases
from cases.models import CaseState, HazardCase
from cases.services.access import can_read_cases, case_scope_clause
from core.errors import Forbidden
from tests.cases.conftest import CaseWorld

#: name → (sees the own division's case, sees the other division's case, writes own)
MATRIX: dict[str, tuple[bool, bool, bool]] = {
    "officer": (True, False, True),
    "officer_other": (False, True, False),
    "officer_city": (True, True, True),
    "triage_own": (True, False, False),
    "triage_other": (False, True, False),
    "triage_city": (True, True, False),
    "supervisor": (True, True, False),
    "supervisor_div": (True, True, False),  # supervisors see every division
    "finance_officer": (True, True, False),
    "finance_approver": (True, True, False),  # finance reads all, whatever its division
    "administrator": (False, False, False),
    "auditor": (False, False, False),
}


@pytest.fixture
def two_cases(case_world: CaseWorld) -> tuple[uuid.UUID, uuid.UUID]:
    cw = case_world
    own = cw.open()
    other = cw.open(by="officer_other", division_id=cw.w.other, facility_id=cw.facility_other)
    return own, other


@pytest.mark.parametrize("name", list(MATRIX))
def test_access_matrix(
    case_world: CaseWorld, two_cases: tuple[uuid.UUID, uuid.UUID], name: str
) -> None:
    cw = case_world
    own, other = two_cases
    sees_own, sees_other, writes = MATRIX[name]
    user = cw.user(name)
    assert can_read_cases(user) is (sees_own or sees_other)
    in_scope = set(cw.dbs.scalars(select(HazardCase.id).where(case_scope_clause(user))))
    assert in_scope == {c for c, seen in ((own, sees_own), (other, sees_other)) if seen}
    if can_read_cases(user):
        listed = {
            row.id for row in cases.list_cases(cw.dbs, cw.clock, user, cases.CaseFilters()).items
        }
        assert listed == in_scope
    else:
        with pytest.raises(Forbidden):
            cases.list_cases(cw.dbs, cw.clock, user, cases.CaseFilters())
    for case_id, seen in ((own, sees_own), (other, sees_other)):
        if seen:
            view = cases.case_view(cw.dbs, cw.clock, user, case_id)
            assert view.case.id == case_id
        else:
            with pytest.raises(Forbidden):
                cases.case_view(cw.dbs, cw.clock, user, case_id)
    if writes:
        cw.plan(own, by=name)
        assert cw.case(own).state is CaseState.RECTIFYING
    else:
        with pytest.raises(Forbidden):
            cw.plan(own, by=name)
        assert cw.case(own).state is CaseState.OPEN
    view_permissions = cases.case_view(cw.dbs, cw.clock, user, own).may if sees_own else None
    if view_permissions is not None:
        assert view_permissions.write is writes
        assert view_permissions.escalate is name.startswith("supervisor")


def test_an_inactive_officer_reads_nothing(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    officer = cw.user("officer")
    officer.active = False
    assert not can_read_cases(officer)
    with pytest.raises(Forbidden):
        cases.case_view(cw.dbs, cw.clock, officer, case_id)


def test_list_filters_and_pages(case_world: CaseWorld) -> None:
    cw = case_world
    ids = [cw.open() for _ in range(5)]
    cw.plan(ids[0], days=1)
    cw.plan(ids[1], days=30)
    other = cw.open(by="officer_other", division_id=cw.w.other, facility_id=cw.facility_other)
    supervisor = cw.user("supervisor")

    def listed(**filters: object) -> set[uuid.UUID]:
        page = cases.list_cases(cw.dbs, cw.clock, supervisor, cases.CaseFilters(**filters))  # type: ignore[arg-type]
        return {row.id for row in page.items}

    assert listed() == {*ids, other}
    assert listed(state=CaseState.RECTIFYING) == {ids[0], ids[1]}
    assert listed(division_id=cw.w.other) == {other}
    assert listed(facility_id=cw.facility_own) == set(ids)
    assert listed(overdue=True) == set()
    cw.clock.advance(days=2)
    assert listed(overdue=True) == {ids[0]}
    page = cases.list_cases(cw.dbs, cw.clock, supervisor, cases.CaseFilters(), per_page=4)
    assert (page.total, page.pages, page.page, len(page.items)) == (6, 2, 1, 4)
    second = cases.list_cases(cw.dbs, cw.clock, supervisor, cases.CaseFilters(), page=9, per_page=4)
    assert (second.page, len(second.items)) == (2, 2)
    assert {r.id for r in page.items} | {r.id for r in second.items} == {*ids, other}
    row = next(r for r in page.items + second.items if r.id == ids[0])
    assert row.overdue
    assert row.facility_name == "夕阳红托老所"
    assert row.deadline == cw.today - dt.timedelta(days=1)
