"""Errors of the reward rules: a bad rule set, an impossible quote input, an unknown rule set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import N_, Conflict, DomainError, InvalidInput, NotFound


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule set document: where (a JSON path such as
    ``hazard_penalty.min_fen``) and what (an English msgid and its parameters)."""

    path: str
    message: str
    params: dict[str, Any]

    def english(self) -> str:
        text = self.message % self.params if self.params else self.message
        return f"{self.path}: {text}" if self.path else text


class RuleSetInvalid(InvalidInput):
    """A rule set document does not follow the format; ``problems`` says every place."""

    message = N_("The rule set is not valid.")

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__()
        self.problems = problems

    def __str__(self) -> str:
        return "; ".join(p.english() for p in self.problems)


class RuleSetNotFound(NotFound):
    message = N_("There is no reward rule set %(rule_set)s.")


class RuleSetNotInForce(DomainError):
    status = 400
    message = N_("The reward rule set %(rule_set)s is not in force on %(date)s.")


class NoRuleSetInForce(DomainError):
    status = 400
    message = N_("No version of the reward rule set %(rule_set)s is in force on %(date)s.")


class RuleSetExists(Conflict):
    message = N_("A reward rule set or series named %(rule_set)s already exists.")


class RuleSetDateTaken(Conflict):
    message = N_(
        "The series %(series)s already has a version in force from %(date)s (%(rule_set)s)."
    )


class RuleSetNotWithdrawable(Conflict):
    message = N_("Only a rule set added by an administrator and not yet in force can be withdrawn.")


class QuoteInputInvalid(InvalidInput):
    """The input of a reward calculation is impossible (a negative fine, no deaths, ...)."""

    message = N_("The reward cannot be calculated from this input.")


class RuleMissing(InvalidInput):
    """The rule set has no rule for what was asked (no concealed-accident rule, no amount
    for this accident grade, no branch for a hazard without a penalty)."""

    message = N_("The reward rule set %(rule_set)s has no rule for this case.")
