"""The transition table, for every pair of states and every action from every state: an allowed
step succeeds through its service and is recorded (history row + audit record); any other
raises a typed error and changes nothing."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.exc import IntegrityError

from intake.models import NotAcceptedReason, TipState
from tests.triage.conftest import CONCLUSION, World
from triage import services as triage
from triage.errors import InvalidTransition, ObjectionNotPossible
from triage.workflow import STEPS, TRANSITIONS, Action, actions_from, allowed

S = TipState
OUTCOMES = (S.SUBSTANTIATED, S.PARTLY_SUBSTANTIATED, S.UNSUBSTANTIATED)

# Written out by hand (not derived from the table), so a change of the table fails here.
EXPECTED: set[tuple[TipState, TipState]] = {
    (S.SUBMITTED, S.ACCEPTED),
    (S.SUBMITTED, S.NOT_ACCEPTED),
    (S.SUBMITTED, S.TRANSFERRED),
    (S.SUBMITTED, S.DUPLICATE),
    (S.ACCEPTED, S.DUPLICATE),
    (S.ACCEPTED, S.VERIFYING),
    (S.VERIFYING, S.VERIFYING),  # the one extension
    (S.VERIFYING, S.SUBSTANTIATED),
    (S.VERIFYING, S.PARTLY_SUBSTANTIATED),
    (S.VERIFYING, S.UNSUBSTANTIATED),
    (S.SUBSTANTIATED, S.RECHECKING),
    (S.PARTLY_SUBSTANTIATED, S.RECHECKING),
    (S.UNSUBSTANTIATED, S.RECHECKING),
    (S.RECHECKING, S.RECHECKED),
    (S.NOT_ACCEPTED, S.CLOSED),
    (S.TRANSFERRED, S.CLOSED),
    (S.SUBSTANTIATED, S.CLOSED),
    (S.PARTLY_SUBSTANTIATED, S.CLOSED),
    (S.UNSUBSTANTIATED, S.CLOSED),
    (S.RECHECKED, S.CLOSED),
    (S.DUPLICATE, S.CLOSED),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(TipState, TipState)))
def test_every_pair_of_states(source: TipState, target: TipState) -> None:
    assert allowed(source, target) is ((source, target) in EXPECTED)


def test_table_has_no_other_pairs_and_reaches_every_state() -> None:
    assert set(TRANSITIONS) == EXPECTED
    reachable = {t for _, t in TRANSITIONS}
    assert reachable == set(TipState) - {S.SUBMITTED}
    assert actions_from(S.CLOSED) == []
    assert {step.action for step in STEPS} == set(Action)


# ---------------------------------------------------------------- every action × every state


def _call(world: World, action: str, tip_id: uuid.UUID) -> TipState:  # noqa: PLR0911
    """Perform ``action`` on the tip (as the city officer, or the reporter for ``object``);
    return the state it should lead to."""
    city = world.city
    a = world.args()
    if action == "accept":
        triage.accept(*a, tip_id)
        return S.ACCEPTED
    if action == "not_accept":
        triage.not_accept(
            *a,
            tip_id,
            personal_key=city.key,
            reason=NotAcceptedReason.NO_CLEAR_TARGET_OR_FACTS,
            text="没有明确的对象。",
        )
        return S.NOT_ACCEPTED
    if action == "transfer":
        triage.transfer(*a, tip_id, personal_key=city.key, regulator="住建局", note="已转住建局。")
        return S.TRANSFERRED
    if action == "mark_duplicate":
        original = world.submit()
        triage.accept(*a, original)
        triage.mark_duplicate(*a, tip_id, original_id=original)
        return S.DUPLICATE
    if action == "start_verification":
        triage.start_verification(*a, tip_id)
        return S.VERIFYING
    if action == "extend_verification":
        triage.extend_verification(*a, tip_id, personal_key=city.key, days=10, reason="情况复杂。")
        return S.VERIFYING
    if action.startswith("conclude:"):
        outcome = TipState(action.split(":")[1])
        triage.conclude(*a, tip_id, personal_key=city.key, outcome=outcome, text=CONCLUSION)
        return outcome
    if action == "object":
        triage.reporter_object(
            world.dbs, world.clock, world.settings, world.access(tip_id), "结论不对。"
        )
        return S.RECHECKING
    if action == "conclude_recheck":
        triage.conclude_recheck(
            *a, tip_id, personal_key=city.key, outcome=S.UNSUBSTANTIATED, text="复核：不属实。"
        )
        return S.RECHECKED
    if action == "close":
        world.clock.advance(days=11)  # past any objection window
        triage.close(*a, tip_id)
        return S.CLOSED
    raise AssertionError(action)


ACTIONS = [
    "accept",
    "not_accept",
    "transfer",
    "mark_duplicate",
    "start_verification",
    "extend_verification",
    *(f"conclude:{o.value}" for o in OUTCOMES),
    "object",
    "conclude_recheck",
    "close",
]


def _source_allows(action: str, source: TipState) -> bool:
    name = action.split(":", maxsplit=1)[0]
    target = TipState(action.split(":")[1]) if ":" in action else None
    step = next(s for s in STEPS if s.action.value == name)
    return source in step.sources and (target is None or target in step.targets)


@pytest.mark.parametrize(("action", "source"), list(itertools.product(ACTIONS, TipState)))
def test_every_action_from_every_state(world: World, action: str, source: TipState) -> None:
    tip_id = world.submit()
    world.drive(tip_id, source)
    before_history = len(world.history(tip_id))
    before_audit = len(world.audit(tip_id))
    if _source_allows(action, source):
        target = _call(world, action, tip_id)
        tip = world.tip(tip_id)
        assert tip.state is target
        history = world.history(tip_id)
        assert len(history) == before_history + 1
        assert (history[-1].from_state, history[-1].to_state) == (source, target)
        records = world.audit(tip_id)[before_audit:]
        assert records[-1].action == f"tip.{action.split(':', maxsplit=1)[0]}"
        assert records[-1].actor_label in {"triage-city", "reporter"}
    else:
        expected: type[Exception] = (
            ObjectionNotPossible if action == "object" else InvalidTransition
        )
        with pytest.raises(expected):
            _call(world, action, tip_id)
        assert world.tip(tip_id).state is source
        assert len(world.history(tip_id)) == before_history
        assert len(world.audit(tip_id)) == before_audit


# ---------------------------------------------------------------- CHECK constraints


CheckBreaker = Callable[[object], None]


@pytest.mark.parametrize(
    ("state", "breaker"),
    [
        (S.VERIFYING, lambda t: setattr(t, "verification_due_at", None)),
        (S.VERIFYING, lambda t: setattr(t, "due_at", None)),
        (S.SUBSTANTIATED, lambda t: setattr(t, "concluded_at", None)),
        (S.SUBSTANTIATED, lambda t: setattr(t, "objection_due_at", None)),
        (S.NOT_ACCEPTED, lambda t: setattr(t, "not_accepted_reason", None)),
        (S.TRANSFERRED, lambda t: setattr(t, "transferred_to", None)),
        (S.RECHECKING, lambda t: setattr(t, "recheck_due_at", None)),
        (S.DUPLICATE, lambda t: setattr(t, "duplicate_of_id", None)),
        (S.CLOSED, lambda t: setattr(t, "closed_at", None)),
        (S.SUBMITTED, lambda t: setattr(t, "state", TipState.VERIFYING)),
        (S.SUBMITTED, lambda t: setattr(t, "reward_right", True)),
        (S.ACCEPTED, lambda t: setattr(t, "state", TipState.SUBSTANTIATED)),
    ],
)
def test_check_constraints_tie_state_to_columns(
    world: World, state: TipState, breaker: CheckBreaker
) -> None:
    tip_id = world.submit()
    world.drive(tip_id, state)
    tip = world.tip(tip_id)
    breaker(tip)
    with pytest.raises(IntegrityError), world.dbs.begin_nested():
        world.dbs.flush()
