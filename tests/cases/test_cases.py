"""Confirmation: a hazard case opened from a substantiated tip with the officer's own
description; redaction recorded by count; the reporter's identity refused in the case."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from cases import errors
from cases import services as cases
from cases.models import CaseSource, CaseState, HazardCase
from cases.standards.errors import UnknownStandardItem
from intake.models import TipCategory, TipState
from tests.cases.conftest import ITEM, OTHER_ITEM, CaseWorld
from tests.triage.conftest import World
from triage import services as triage


def open_case(
    world: World,
    tip_id: object,
    description: str = "二楼东侧消防通道被杂物堵塞。",
    items: list[str] | None = None,
) -> object:
    return cases.open_case_from_tip(
        *world.args(),
        tip_id,  # type: ignore[arg-type]
        personal_key=world.city.key,
        standard_items=[ITEM, OTHER_ITEM] if items is None else items,
        description=description,
    )


@pytest.mark.parametrize("state", [TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED])
def test_case_from_a_substantiated_tip(case_world: CaseWorld, state: TipState) -> None:
    world = case_world.w
    facility = case_world.facility_own
    tip_id = world.submit(facility_id=facility, facility_name="", category=TipCategory.FIRE)
    world.drive(tip_id, state)
    before = world.audit_count()
    case_id = open_case(world, tip_id, items=[ITEM, f" {OTHER_ITEM} ", ITEM])
    case = world.dbs.get(HazardCase, case_id)
    assert case is not None
    assert (case.tip_id, case.facility_id, case.division_id, case.category) == (
        tip_id,
        facility,
        world.own,
        TipCategory.FIRE,
    )
    assert case.source is CaseSource.TIP
    assert case.discovered_on == world.clock.now().date()
    assert case.deadline is None
    assert case.standard_items == [ITEM, OTHER_ITEM]
    assert case.description == "二楼东侧消防通道被杂物堵塞。"
    assert case.state is CaseState.OPEN
    assert case.created_by_id == world.city.user.id
    [record] = world.audit()[before:]
    assert record.action == "case.opened"
    assert json.loads(record.details) == {"tip": str(tip_id), "items": 2, "division_id": world.own}
    with pytest.raises(errors.CaseAlreadyOpened):
        open_case(world, tip_id)


@pytest.mark.parametrize(
    "state",
    [TipState.SUBMITTED, TipState.VERIFYING, TipState.UNSUBSTANTIATED, TipState.RECHECKING],
)
def test_no_case_without_a_positive_conclusion(case_world: CaseWorld, state: TipState) -> None:
    world = case_world.w
    tip_id = world.submit()
    world.drive(tip_id, state)
    with pytest.raises(errors.CaseNotPossible):
        open_case(world, tip_id)
    assert world.dbs.scalar(select(HazardCase.id)) is None


def test_the_recheck_outcome_decides(case_world: CaseWorld) -> None:
    world = case_world.w
    tip_id = world.submit()
    world.drive(tip_id, TipState.UNSUBSTANTIATED)
    triage.reporter_object(world.dbs, world.clock, world.settings, world.access(tip_id), "不服")
    triage.conclude_recheck(
        *world.args(),
        tip_id,
        personal_key=world.city.key,
        outcome=TipState.SUBSTANTIATED,
        text="复核属实。",
    )
    assert open_case(world, tip_id)


@pytest.mark.parametrize("leak", ["王小明", "王 小明", "微信ABC123", "微信 abc123"])
def test_the_reporters_name_or_contact_is_refused(case_world: CaseWorld, leak: str) -> None:
    world = case_world.w
    tip_id = world.submit()
    world.drive(tip_id, TipState.SUBSTANTIATED)
    with pytest.raises(errors.ReporterIdentityInCase):
        open_case(world, tip_id, description=f"据{leak}反映，消防通道被堵。")
    assert world.dbs.scalar(select(HazardCase.id)) is None


def test_standard_items_are_checked(case_world: CaseWorld) -> None:
    world = case_world.w
    tip_id = world.submit()
    world.drive(tip_id, TipState.SUBSTANTIATED)
    for empty in ([], [""], ["  "]):
        with pytest.raises(errors.StandardItemsRequired):
            open_case(world, tip_id, items=empty)
    with pytest.raises(UnknownStandardItem) as raised:
        open_case(world, tip_id, items=[ITEM, "MZ-2023-1"])
    assert raised.value.params == {"code": "MZ-2023-1"}
    assert world.dbs.scalar(select(HazardCase.id)) is None


def test_redaction_is_recorded_by_count_only(case_world: CaseWorld) -> None:
    world = case_world.w
    tip_id = world.submit()
    world.drive(tip_id, TipState.SUBSTANTIATED)
    passage = "我是夜班护工王小明，二楼东侧消防通道被堵，王小明拍了照片。"
    before = world.audit_count()
    redacted = cases.redact(
        world.dbs,
        world.clock,
        world.city.user,
        tip_id,
        text=passage,
        passages=["王小明", "夜班护工", " "],
    )
    assert redacted.count == 3
    assert "王小明" not in redacted.text
    assert "夜班" not in redacted.text
    assert cases.REDACTION_MARK in redacted.text
    assert "王小明" not in repr(redacted)
    [record] = world.audit()[before:]
    assert (record.action, record.object_id) == ("case.redaction", str(tip_id))
    assert json.loads(record.details) == {"count": 3}
    # The redacted text can become the case's description.
    assert open_case(world, tip_id, description=redacted.text)
