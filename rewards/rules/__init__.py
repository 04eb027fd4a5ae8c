"""Reward rule sets as versioned data, and the calculation of a reward under them.

- :func:`calculate` (``rule set, QuoteInput → Quote``): pure, exact (fen, ``Decimal``), explained
  step by step in Chinese and English (:mod:`rewards.rules.calculation`).
- :func:`rule_set_in_force` (``session or None, day, id or series → RuleSet``): the shipped
  JSON rule sets plus the versions administrators added (:mod:`rewards.rules.services`).
- :data:`EXCLUSIONS`: the grounds on which no reward is paid, with Chinese and English labels;
  each rule set says which of them apply (:mod:`rewards.rules.rule_sets`, which also documents
  the rule set format).
"""

from rewards.rules.calculation import Quote, QuoteInput, QuoteKind, Step, calculate
from rewards.rules.rule_sets import EXCLUSIONS, GRADES, Exclusion, RuleSet, parse_rule_set
from rewards.rules.services import get_rule_set, rule_set_in_force

__all__ = [
    "EXCLUSIONS",
    "GRADES",
    "Exclusion",
    "Quote",
    "QuoteInput",
    "QuoteKind",
    "RuleSet",
    "Step",
    "calculate",
    "get_rule_set",
    "parse_rule_set",
    "rule_set_in_force",
]
