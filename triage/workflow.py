"""The tip workflow as data: which action takes a tip from which states to which.

DESIGN.md "Workflows" and issue 5::

    submitted ─ accept ─▶ accepted ─ start_verification ─▶ verifying ─ conclude ─▶ substantiated
        │                    │                            │  ▲              partly_substantiated
        ├ not_accept ─▶ not_accepted                      └──┘ extend       unsubstantiated
        ├ transfer ───▶ transferred                        (once)               │ object (reporter,
        └ mark_duplicate ─▶ duplicate ◀─ mark_duplicate ─ accepted              ▼  within the window)
                                                                         rechecking
                                                                              │ conclude_recheck
                                                                              ▼
    not_accepted, transferred, the three conclusions (after the objection window),
    rechecked, duplicate ─ close ─▶ closed

Each action is one service function in :mod:`triage.services` (``object`` is
:func:`triage.services.reporter.reporter_object`); each checks this table before it changes
anything (:func:`check`). The CHECK constraints on ``tips`` hold the columns each state needs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intake.models import CONCLUDED_STATES, TipState
from triage.errors import InvalidTransition


class Action(enum.StrEnum):
    ACCEPT = "accept"
    NOT_ACCEPT = "not_accept"
    TRANSFER = "transfer"
    MARK_DUPLICATE = "mark_duplicate"
    START_VERIFICATION = "start_verification"
    EXTEND_VERIFICATION = "extend_verification"
    CONCLUDE = "conclude"
    OBJECT = "object"  # the reporter's
    CONCLUDE_RECHECK = "conclude_recheck"
    CLOSE = "close"


@dataclass(frozen=True)
class Step:
    action: Action
    sources: frozenset[TipState]
    targets: frozenset[TipState]


def _step(action: Action, sources: tuple[TipState, ...], *targets: TipState) -> Step:
    return Step(action, frozenset(sources), frozenset(targets))


S = TipState
STEPS: tuple[Step, ...] = (
    _step(Action.ACCEPT, (S.SUBMITTED,), S.ACCEPTED),
    _step(Action.NOT_ACCEPT, (S.SUBMITTED,), S.NOT_ACCEPTED),
    _step(Action.TRANSFER, (S.SUBMITTED,), S.TRANSFERRED),
    _step(Action.MARK_DUPLICATE, (S.SUBMITTED, S.ACCEPTED), S.DUPLICATE),
    _step(Action.START_VERIFICATION, (S.ACCEPTED,), S.VERIFYING),
    _step(Action.EXTEND_VERIFICATION, (S.VERIFYING,), S.VERIFYING),
    _step(Action.CONCLUDE, (S.VERIFYING,), *CONCLUDED_STATES),
    _step(Action.OBJECT, CONCLUDED_STATES, S.RECHECKING),
    _step(Action.CONCLUDE_RECHECK, (S.RECHECKING,), S.RECHECKED),
    _step(
        Action.CLOSE,
        (S.NOT_ACCEPTED, S.TRANSFERRED, *CONCLUDED_STATES, S.RECHECKED, S.DUPLICATE),
        S.CLOSED,
    ),
)
del S

STEP_OF: dict[Action, Step] = {step.action: step for step in STEPS}

#: Every allowed (from, to) pair.
TRANSITIONS: frozenset[tuple[TipState, TipState]] = frozenset(
    (source, target) for step in STEPS for source in step.sources for target in step.targets
)


def allowed(source: TipState, target: TipState) -> bool:
    return (source, target) in TRANSITIONS


def check(action: Action, source: TipState, target: TipState) -> None:
    """Raise :class:`InvalidTransition` unless ``action`` may take a tip from ``source`` to
    ``target``."""
    step = STEP_OF[action]
    if source not in step.sources or target not in step.targets:
        raise InvalidTransition()


def actions_from(state: TipState) -> list[Action]:
    """The actions the table allows from ``state`` (for the tip page's buttons; guards such as
    the objection window are checked by the services themselves)."""
    return [step.action for step in STEPS if state in step.sources]
