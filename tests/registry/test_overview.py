"""The facility page's overview: the tips count (a number, nothing else), the hazard cases the
reader may read with relapses and overdue ones, and overdue equipment inspections."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cases.models import CaseSource, CaseState, HazardCase
from core.accounts.models import Role, User
from core.clock import FakeClock
from intake.models import Channel, Tip, TipCategory, TipState
from registry.errors import RegistryForbidden
from registry.models import Facility
from registry.services.overview import facility_overview
from tests.registry.conftest import division_id

MakeFacility = Any
# The fake clock starts at 2026-11-01 10:00 in Shanghai.
TODAY = dt.date(2026, 11, 1)


def _tip(dbs: Session, clock: FakeClock, facility: Facility) -> None:
    """A tip row naming the facility (its encrypted fields are random bytes: never read)."""
    sealed = {
        name: secrets.token_bytes(96)
        for name in (
            "description_enc",
            "location_enc",
            "facility_name_enc",
            "observed_when_enc",
            "relationship_enc",
            "contact_enc",
            "real_name_enc",
        )
    }
    dbs.add(
        Tip(
            id=uuid.uuid4(),
            state=TipState.SUBMITTED,
            division_id=facility.division_id,
            category=TipCategory.FIRE,
            channel=Channel.WEB,
            facility_id=facility.id,
            submitted_at=clock.now(),
            **sealed,
        )
    )


def _case(
    dbs: Session,
    clock: FakeClock,
    facility: Facility,
    author: User,
    *,
    state: CaseState = CaseState.OPEN,
    deadline: dt.date | None = None,
    relapses: int = 0,
    discovered: dt.date = dt.date(2026, 9, 1),
) -> HazardCase:
    case = HazardCase(
        id=uuid.uuid4(),
        source=CaseSource.INSPECTION,
        facility_id=facility.id,
        division_id=facility.division_id,
        category=TipCategory.FIRE,
        standard_items=[],
        description="消防通道堵塞",
        state=state,
        discovered_on=discovered,
        deadline=deadline,
        created_at=clock.now(),
        created_by_id=author.id,
        relapse_count=relapses,
    )
    if state is CaseState.RECTIFYING:
        case.plan_by_id = author.id
    dbs.add(case)
    dbs.flush()
    return case


@pytest.fixture
def scene(
    dbs: Session, clock: FakeClock, make_facility: MakeFacility, users: dict[str, User]
) -> dict[str, Any]:
    home = make_facility(
        "概览养老院",
        equipment="电梯|1|梯1|2026-10-31; 锅炉|1|锅1|2026-11-20; 压力容器|2|容1|2027-06-01",
    )
    elsewhere = make_facility("别处养老院", "塘桥镇")
    for _ in range(3):
        _tip(dbs, clock, home)
    _tip(dbs, clock, elsewhere)
    author = users["case_officer@yangshe"]
    overdue = _case(dbs, clock, home, author, deadline=dt.date(2026, 10, 15))
    relapsed = _case(
        dbs,
        clock,
        home,
        author,
        state=CaseState.RECTIFYING,
        deadline=dt.date(2026, 12, 1),
        relapses=2,
        discovered=dt.date(2026, 10, 1),
    )
    _case(dbs, clock, elsewhere, author, deadline=dt.date(2026, 1, 1))
    dbs.flush()
    return {"home": home, "overdue": overdue, "relapsed": relapsed}


def test_counts_cases_relapses_and_overdue_items(
    dbs: Session, clock: FakeClock, users: dict[str, User], scene: dict[str, Any]
) -> None:
    seen = facility_overview(dbs, clock, users["supervisor"], scene["home"].id)
    assert seen.tips == 3
    assert seen.cases_visible
    assert (seen.case_count, seen.open_cases, seen.relapses, seen.overdue_cases) == (2, 2, 2, 1)
    assert [c.id for c in seen.cases] == [scene["relapsed"].id, scene["overdue"].id]
    assert [c.overdue for c in seen.cases] == [False, True]
    assert [e.registration_no for e in seen.overdue_inspections] == ["梯1"]
    assert [e.registration_no for e in seen.inspections_due_soon] == ["锅1"]


def test_what_each_reader_sees(
    dbs: Session, clock: FakeClock, users: dict[str, User], scene: dict[str, Any]
) -> None:
    home = scene["home"].id
    # The administrator reads the registry but no cases.
    admin = facility_overview(dbs, clock, users["administrator"], home)
    assert admin.tips == 3
    assert not admin.cases_visible
    assert (admin.case_count, admin.cases) == (0, [])
    # A case officer of another division reads neither the facility nor its cases.
    other = users["case_officer"]
    other.division_id = division_id(dbs, "塘桥镇")
    dbs.flush()
    with pytest.raises(RegistryForbidden):
        facility_overview(dbs, clock, other, home)
    # A triage officer of another division reads the facility (the registry is shared) but
    # not that division's cases.
    triage = users["triage_officer"]
    triage.division_id = division_id(dbs, "塘桥镇")
    dbs.flush()
    seen = facility_overview(dbs, clock, triage, home)
    assert seen.cases_visible
    assert seen.case_count == 0
    with pytest.raises(RegistryForbidden):
        facility_overview(dbs, clock, users["auditor"], home)


def test_the_page_shows_the_overview(
    staff_client: FlaskClient, make_user: Any, login: Any, scene: dict[str, Any]
) -> None:
    client = login(staff_client, make_user("overseer", Role.SUPERVISOR))
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    page = client.get(f"/registry/{scene['home'].id}").get_data(as_text=True)
    assert 'id="tips-count">3' in page
    assert 'id="case-count">2' in page
    assert 'id="relapses"><span class="badge danger">2' in page
    assert 'id="overdue-cases"><span class="badge danger">1' in page
    assert f"/cases/{scene['overdue'].id}" in page
    assert "2 relapses" in page
    assert "消防通道堵塞" not in page  # the list shows no case text


def test_the_administrator_page_has_no_cases(
    staff_client: FlaskClient, make_user: Any, login: Any, scene: dict[str, Any]
) -> None:
    client = login(staff_client, make_user("registrar", Role.ADMINISTRATOR))
    page = client.get(f"/registry/{scene['home'].id}").get_data(as_text=True)
    assert 'id="tips-count">3' in page
    assert 'id="cases"' not in page
    assert 'id="case-count"' not in page
