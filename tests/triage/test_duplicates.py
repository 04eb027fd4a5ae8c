"""Duplicates: suggestions, the guards of the link, the reward right and what the reporter of a
duplicate is told."""

from __future__ import annotations

import uuid

import pytest

from intake.models import TipCategory, TipState
from tests.triage.conftest import World
from triage import errors
from triage import services as triage


def test_suggestions_same_facility_or_same_division_and_category_in_window(world: World) -> None:
    first = world.submit(facility_id=7, facility_name="")
    world.clock.advance(days=10)
    same_matter = world.submit()  # same division and category, 10 days later
    other_category = world.submit(category=TipCategory.GAS)
    other_division = world.submit(world.other)
    world.clock.advance(days=25)
    too_late = world.submit()  # 25 days after same_matter, 35 after first
    same_facility_far = world.submit(world.other, facility_id=7, facility_name="")
    names = {
        first: "first",
        same_matter: "same_matter",
        other_category: "other_category",
        other_division: "other_division",
        too_late: "too_late",
        same_facility_far: "same_facility_far",
    }

    def suggested(tip_id: object, who: str = "triage_city") -> list[str]:
        items = triage.duplicate_suggestions(*world.args(world.staff(who)), tip_id)  # type: ignore[arg-type]
        return [names[i.id] for i in items]

    assert suggested(same_matter) == ["first", "too_late"]
    assert suggested(first) == ["same_matter", "same_facility_far"]
    assert suggested(too_late) == ["same_matter"]
    # A division officer is not shown tips of another division, facility or not.
    assert suggested(first, "triage_own") == ["same_matter"]
    world.settings = world.settings.with_changes(duplicate_window_days=5)
    assert suggested(same_matter) == []


def test_link_guards(world: World) -> None:
    a = world.submit()
    world.clock.advance(hours=2)
    b = world.submit()
    args = world.args()
    with pytest.raises(errors.DuplicateOfItself):
        triage.mark_duplicate(*args, b, original_id=b)
    with pytest.raises(errors.DuplicateOriginalNotHandled):  # a is not accepted
        triage.mark_duplicate(*args, b, original_id=a)
    triage.accept(*args, b)
    with pytest.raises(errors.DuplicateNotEarlier):  # b came later than a
        triage.mark_duplicate(*args, a, original_id=b)
    with pytest.raises(errors.TipNotFound):
        triage.mark_duplicate(*args, a, original_id=uuid.uuid4())
    assert world.tip(a).state is TipState.SUBMITTED
    assert world.tip(a).duplicate_of_id is None


def test_no_cycles(world: World) -> None:
    a = world.submit()
    b = world.submit()  # same hour: either may be "earlier"
    c = world.submit()
    args = world.args()
    triage.accept(*args, a)
    triage.accept(*args, b)
    triage.mark_duplicate(*args, b, original_id=a)
    # a → b would close the loop b → a.
    with pytest.raises(errors.DuplicateCycle):
        triage.mark_duplicate(*args, a, original_id=b)
    # Linking to a duplicate follows the chain to its accepted root.
    triage.mark_duplicate(*args, c, original_id=b)
    assert world.tip(c).duplicate_of_id == b


def test_the_earliest_accepted_tip_keeps_the_reward_right(world: World) -> None:
    args = world.args()
    first = world.submit()
    world.clock.advance(hours=1)
    second = world.submit()
    world.clock.advance(hours=1)
    third = world.submit()
    # The second is accepted first; the first is accepted later.
    triage.accept(*args, second)
    assert world.tip(second).reward_right
    world.clock.advance(minutes=5)
    triage.accept(*args, first)
    # The second, accepted earlier but submitted later, is found to repeat the first: it
    # keeps the reward right anyway (the rules: the reporter first accepted).
    triage.mark_duplicate(*args, second, original_id=first)
    assert world.tip(second).reward_right
    assert not world.tip(first).reward_right
    # A third report, never accepted, of the same matter gets nothing.
    triage.mark_duplicate(*args, third, original_id=second)
    assert not world.tip(third).reward_right
    assert world.tip(second).reward_right
    status = triage.reporter_status(world.dbs, world.clock, world.settings, world.access(third))
    assert status.already_handled
    assert status.state is triage.ReporterState.ALREADY_HANDLED
    [*_, link] = world.history(third)
    assert (link.to_state, link.actor_label) == (TipState.DUPLICATE, "triage-city")


def test_plain_acceptance_gives_the_reward_right(world: World) -> None:
    tip_id = world.submit()
    assert not world.tip(tip_id).reward_right
    triage.accept(*world.args(), tip_id)
    assert world.tip(tip_id).reward_right
