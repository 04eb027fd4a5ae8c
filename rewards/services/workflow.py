"""The reward workflow as data: which action takes a reward from which states to which.

DESIGN.md "Workflows → Reward" and issue 7::

    (substantiated conclusion) ─ create ─▶ awaiting_penalty_decision ─ calculate ─▶ calculated
                               └ create ─▶ not_eligible  ◀─ calculate (no reward due) ─┘  │
      awaiting_penalty_decision ◀─ send_back ─ calculated ─ approve (a second person) ─▶ approved
      approved ─ offer ─▶ offered ─ claim (reporter) ─▶ claimed ─ record_payment ─▶ paid
                          offered ─ decline (reporter) ─▶ declined
                          offered ─ expire (the job, after the claim deadline) ─▶ expired
      awaiting_penalty_decision | calculated | approved ─ withdraw (re-check) ─▶ not_eligible

``record_penalty_decision`` records (or corrects) the decision while the reward awaits it and
leaves the state as it is. Each action is one service function in :mod:`rewards.services`;
each checks this table (:func:`check`) under the row lock before it changes anything, so of two
people doing the same step at once one succeeds and the other is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewards.errors import InvalidRewardTransition
from rewards.models import RewardAction, RewardState


@dataclass(frozen=True)
class Step:
    action: RewardAction
    sources: frozenset[RewardState | None]  # None: the reward does not exist yet
    targets: frozenset[RewardState]


def _step(
    action: RewardAction, sources: tuple[RewardState | None, ...], *targets: RewardState
) -> Step:
    return Step(action, frozenset(sources), frozenset(targets))


A = RewardAction
S = RewardState
STEPS: tuple[Step, ...] = (
    _step(A.CREATE, (None,), S.AWAITING_PENALTY_DECISION, S.NOT_ELIGIBLE),
    _step(A.RECORD_PENALTY_DECISION, (S.AWAITING_PENALTY_DECISION,), S.AWAITING_PENALTY_DECISION),
    _step(A.CALCULATE, (S.AWAITING_PENALTY_DECISION,), S.CALCULATED, S.NOT_ELIGIBLE),
    _step(A.SEND_BACK, (S.CALCULATED,), S.AWAITING_PENALTY_DECISION),
    _step(A.APPROVE, (S.CALCULATED,), S.APPROVED),
    _step(A.OFFER, (S.APPROVED,), S.OFFERED),
    _step(A.CLAIM, (S.OFFERED,), S.CLAIMED),
    _step(A.DECLINE, (S.OFFERED,), S.DECLINED),
    _step(A.EXPIRE, (S.OFFERED,), S.EXPIRED),
    _step(A.RECORD_PAYMENT, (S.CLAIMED,), S.PAID),
    _step(
        A.WITHDRAW,
        (S.AWAITING_PENALTY_DECISION, S.CALCULATED, S.APPROVED),
        S.NOT_ELIGIBLE,
    ),
)
del A, S

STEP_OF: dict[RewardAction, Step] = {step.action: step for step in STEPS}

#: Every allowed (from, to) pair between existing states (a step that keeps the state, such as
#: recording the penalty decision, is the pair (s, s)).
TRANSITIONS: frozenset[tuple[RewardState, RewardState]] = frozenset(
    (source, target)
    for step in STEPS
    for source in step.sources
    if source is not None
    for target in step.targets
)

#: States no step leaves.
FINAL_STATES: frozenset[RewardState] = frozenset(
    state for state in RewardState if not any(state in step.sources for step in STEPS)
)


def allowed(source: RewardState, target: RewardState) -> bool:
    return (source, target) in TRANSITIONS


def check(action: RewardAction, source: RewardState | None, target: RewardState) -> None:
    """Raise :class:`InvalidRewardTransition` unless ``action`` may take a reward from
    ``source`` to ``target``."""
    step = STEP_OF[action]
    if source not in step.sources or target not in step.targets:
        raise InvalidRewardTransition()


def actions_from(state: RewardState) -> list[RewardAction]:
    """The actions the table allows from ``state`` (for the reward page's forms; guards such
    as roles, the second person and the claim deadline are the services' own)."""
    return [step.action for step in STEPS if state in step.sources]
