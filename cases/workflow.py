"""The hazard-case workflow as data: which action takes a case from which state to which.

DESIGN.md "Workflows" and issue 6::

    open ─ plan ─▶ rectifying ─ submit ─▶ awaiting_acceptance ─ accept ─▶ closed ─ recheck_ok ─▶ rechecked
                     ▲  │ plan (replaces)          │ refuse                  │
                     │  └──┘                        ▼                         │ relapse
                     ├──────────────────────── rectifying ◀──────────────────┘

Besides the state changes, the table holds the actions that keep the state (progress notes,
enforcement measures and their lifting, marking a public example) so that one table says what
may happen in each state. Escalation (interview, circular) is not here: its guard is being
overdue (:func:`cases.models.is_overdue`), whatever the state.

Each action is one service function in :mod:`cases.services`; each asks :func:`check` for the
target before it changes anything. The CHECK constraints on ``hazard_cases`` hold the columns
each state needs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from cases.errors import InvalidCaseTransition
from cases.models import CaseState


class Action(enum.StrEnum):
    PLAN = "plan"  # record a rectification plan (the first starts rectification)
    SUBMIT = "submit"  # rectification done: submit for acceptance
    REFUSE = "refuse"  # acceptance not passed: back to rectification
    ACCEPT = "accept"  # acceptance passed: closed (验收销号)
    RECHECK_OK = "recheck_ok"  # re-check (回头看) found the hazard cleared
    RELAPSE = "relapse"  # re-check found the hazard back: rectification again
    PROGRESS = "progress"  # a progress update with evidence
    ENFORCE = "enforce"  # an enforcement measure ordered
    LIFT = "lift"  # an enforcement measure ended
    PUBLISH = "publish"  # marked (or unmarked) as a public example


S = CaseState
_ANY = tuple(CaseState)
_ACTIVE = (S.OPEN, S.RECTIFYING, S.AWAITING_ACCEPTANCE)

#: (action, from) → to. A pair not in the table is refused.
TABLE: Mapping[tuple[Action, CaseState], CaseState] = MappingProxyType(
    {
        (Action.PLAN, S.OPEN): S.RECTIFYING,
        (Action.PLAN, S.RECTIFYING): S.RECTIFYING,
        (Action.SUBMIT, S.RECTIFYING): S.AWAITING_ACCEPTANCE,
        (Action.REFUSE, S.AWAITING_ACCEPTANCE): S.RECTIFYING,
        (Action.ACCEPT, S.AWAITING_ACCEPTANCE): S.CLOSED,
        (Action.RECHECK_OK, S.CLOSED): S.RECHECKED,
        (Action.RELAPSE, S.CLOSED): S.RECTIFYING,
        **{(Action.PROGRESS, s): s for s in _ACTIVE},
        **{(Action.ENFORCE, s): s for s in _ACTIVE},
        **{(Action.LIFT, s): s for s in _ANY},
        **{(Action.PUBLISH, s): s for s in (S.CLOSED, S.RECHECKED)},
    }
)
del S

#: Actions that change the state (the others keep it).
STATE_CHANGES = frozenset(
    action for (action, source), target in TABLE.items() if source is not target
)


def allowed(action: Action, source: CaseState) -> bool:
    return (action, source) in TABLE


def check(action: Action, source: CaseState) -> CaseState:
    """The state ``action`` takes a case in ``source`` to; :class:`InvalidCaseTransition` if
    the table does not allow it."""
    target = TABLE.get((action, source))
    if target is None:
        raise InvalidCaseTransition()
    return target


def actions_from(state: CaseState) -> frozenset[Action]:
    """What the table allows in ``state`` (for the case page's forms; the services check
    their own guards as well)."""
    return frozenset(action for (action, source) in TABLE if source is state)
