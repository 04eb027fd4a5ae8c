"""The composite rule (综合判定) of a judgment standard, applied to a case's items.

In the shipped data only GB 35181-2017 has one (§5.3, thresholds by class of place; see the
rules in ``data/standards.json``): a direct element alone makes a major hazard, an exclusion
(§5.1.3) means the hazard is not judged major, otherwise the composite elements (chapter 7)
present are counted against each threshold that applies to the class of place. GB 35181-2025,
which superseded it on 2025-11-01, has no element list or thresholds in the catalogue (they
were not obtained), so nothing can be evaluated under it; the explanation says so.

Every step is explained in :class:`Sentence` values: English msgids with their parameters,
translated by the site (the ``say`` template filter) or here when ``translate`` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.standards import schema
from cases.standards.models import ItemKind, Standard, StandardItem, StandardStatus, Verification
from cases.standards.schema import PLACE_CLASS_VALUES, RuleData, normalise_code
from core.errors import N_

#: Classes of place of the composite rule, value → English label (msgid).
PLACE_CLASSES: dict[str, str] = {
    "crowded": N_("Crowded place (人员密集场所)"),
    "flammable": N_("Place of flammable or explosive goods (易燃易爆危险品场所)"),
    "important": N_("Important place (重要场所)"),
    "other": N_("Other place (其他场所)"),
}
if tuple(PLACE_CLASSES) != PLACE_CLASS_VALUES:  # one list, two modules
    raise RuntimeError("PLACE_CLASSES and schema.PLACE_CLASS_VALUES differ")

Translate = Callable[..., str]

_WEAKNESS = {"verified": 0, "partial": 1, "unverified": 2}


class Sentence(str):
    """A sentence for people. Its value is the text (translated if a translator was given);
    ``msgid`` and ``params`` let a template translate it in the reader's language. A parameter
    may itself be a Sentence (a label to translate)."""

    msgid: str
    params: dict[str, object]

    def __new__(
        cls, msgid: str, params: dict[str, object], translate: Translate | None = None
    ) -> Sentence:
        text = translate(msgid, **params) if translate is not None else msgid % params
        obj = super().__new__(cls, text)
        obj.msgid = msgid
        obj.params = params
        return obj


def place_classes(translate: Translate | None = None) -> list[tuple[str, str]]:
    """(value, label) of each class of place, for a case's field. Labels are English msgids
    unless ``translate`` is given (pass ``flask_babel.lazy_gettext`` in a form)."""
    return [
        (value, translate(label) if translate is not None else label)
        for value, label in PLACE_CLASSES.items()
    ]


@dataclass(frozen=True)
class RuleOutcome:
    clause: str
    place_classes: tuple[str, ...]
    counted: tuple[str, ...]  # codes of the selected items this rule counts
    met: int
    threshold: int
    reached: bool
    verification: str
    # Counted items whose inclusion in this rule is not confirmed.
    doubtful: tuple[str, ...]
    # Reached only thanks to those.
    relies_on_doubtful: bool


@dataclass(frozen=True)
class CompositeResult:
    """The composite rule applied to a case's items (see :func:`evaluate_composite`).

    ``met``/``threshold`` are those of the deciding rule: the first rule for the class of place
    that is reached, else the one closest to its threshold (``threshold`` is ``None`` when no
    rule applies). ``is_major`` is ``None`` while undecided. ``explanation`` holds
    :class:`Sentence` values (``str``)."""

    applies: bool
    place_class: str | None
    met: int
    threshold: int | None
    is_major: bool | None
    explanation: list[str]
    standard_code: str | None = None
    direct: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    composite: tuple[str, ...] = ()
    rules: tuple[RuleOutcome, ...] = ()
    verification: str | None = None  # the weakest mark among the rules applied
    superseded: bool = False


@dataclass
class _Explainer:
    translate: Translate | None
    out: list[str] = field(default_factory=list)

    def say(self, msgid: str, **params: object) -> None:
        self.out.append(Sentence(msgid, params, self.translate))

    def label(self, place_class: str) -> Sentence:
        return Sentence(PLACE_CLASSES[place_class], {}, self.translate)


def rule_of(raw: dict[str, object]) -> RuleData:
    """A stored composite rule (validated when it was loaded) as a value."""

    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    counted = raw.get("counted")
    min_count = raw.get("min_count")
    return RuleData(
        clause=str(raw.get("clause", "")),
        place_classes=strings("place_classes"),
        counted=None if counted == schema.ALL_COMPOSITE else strings("counted"),
        min_count=min_count if isinstance(min_count, int) else 1,
        verification=Verification(str(raw.get("verification", "unverified"))),
        doubtful=strings("doubtful"),
        note=str(raw.get("note", "")),
    )


def _clauses(items: Iterable[StandardItem]) -> str:
    return ", ".join(item.clause for item in items)


def _short(code: str) -> str:
    """The clause part of an item code ("GB 35181-2017/7.3.1" → "7.3.1")."""
    return code.rsplit("/", 1)[-1]


def _selected(session: Session, codes: Sequence[str], ex: _Explainer) -> list[StandardItem]:
    wanted = [c for c in (normalise_code(code) for code in codes) if c]
    folded = {c.casefold() for c in wanted}
    rows = session.scalars(select(StandardItem).options(selectinload(StandardItem.standard)))
    index = {row.code.casefold(): row for row in rows if row.code.casefold() in folded}
    selected: list[StandardItem] = []
    for code in wanted:
        row = index.get(code.casefold())
        if row is None:
            ex.say(N_("“%(code)s” is not in the catalogue and is not counted."), code=code)
        elif row not in selected:
            selected.append(row)
    return selected


def _choose_standard(selected: list[StandardItem], ex: _Explainer) -> list[StandardItem] | None:
    """The selected items of the standard whose rule is applied: the standard with a composite
    rule that has most of the selected items (a current one before a superseded one)."""
    by_standard: dict[int, list[StandardItem]] = {}
    for item in selected:
        by_standard.setdefault(item.standard_id, []).append(item)
    candidates = [items for items in by_standard.values() if items[0].standard.composite_rules]
    if not candidates:
        return None
    candidates.sort(
        key=lambda items: (-len(items), items[0].standard.status is StandardStatus.SUPERSEDED)
    )
    mine = candidates[0]
    ex.say(N_("Rule applied: the composite judgment of %(code)s."), code=mine[0].standard.code)
    others = sorted({items[0].standard.code for items in by_standard.values() if items is not mine})
    if others:
        ex.say(N_("Items of %(codes)s are not counted by this rule."), codes=", ".join(others))
    return mine


def _explain_superseded(session: Session, standard: Standard, ex: _Explainer) -> None:
    on = standard.superseded_on.isoformat() if standard.superseded_on else ""
    if not standard.superseded_by:
        ex.say(N_("%(code)s was superseded on %(date)s."), code=standard.code, date=on)
        return
    ex.say(
        N_(
            "%(code)s was superseded by %(successor)s on %(date)s. This is the rule of "
            "%(code)s: use it for hazards judged under it, and judge newer ones under "
            "%(successor)s."
        ),
        code=standard.code,
        successor=standard.superseded_by,
        date=on,
    )
    successor = session.scalar(select(Standard).where(Standard.code == standard.superseded_by))
    if successor is None or not successor.composite_rules:
        ex.say(
            N_(
                "The catalogue has no composite rule for %(successor)s: its elements and "
                "thresholds have not been obtained, so it cannot be evaluated here."
            ),
            successor=standard.superseded_by,
        )


def _apply_rule(rule: RuleData, composite: list[StandardItem]) -> RuleOutcome:
    counted = [item for item in composite if rule.counted is None or item.code in rule.counted]
    doubtful = [item.code for item in counted if item.code in rule.doubtful]
    met = len(counted)
    return RuleOutcome(
        clause=rule.clause,
        place_classes=rule.place_classes,
        counted=tuple(i.code for i in counted),
        met=met,
        threshold=rule.min_count,
        reached=met >= rule.min_count,
        verification=rule.verification.value,
        doubtful=tuple(doubtful),
        relies_on_doubtful=met >= rule.min_count and met - len(doubtful) < rule.min_count,
    )


def _explain_rule(
    outcome: RuleOutcome, rule: RuleData, code: str, place: Sentence, ex: _Explainer
) -> None:
    params: dict[str, object] = {
        "code": code,
        "clause": rule.clause,
        "place": place,
        "met": outcome.met,
        "threshold": outcome.threshold,
    }
    if rule.counted is None and outcome.reached:
        msgid = N_(
            "%(code)s %(clause)s, %(place)s: %(threshold)s or more of any composite element "
            "make a major hazard; %(met)s present, so the threshold is reached."
        )
    elif rule.counted is None:
        msgid = N_(
            "%(code)s %(clause)s, %(place)s: %(threshold)s or more of any composite element "
            "make a major hazard; %(met)s present, so the threshold is not reached."
        )
    elif outcome.reached:
        msgid = N_(
            "%(code)s %(clause)s, %(place)s: %(threshold)s or more of the elements %(listed)s "
            "make a major hazard; %(met)s of them present, so the threshold is reached."
        )
    else:
        msgid = N_(
            "%(code)s %(clause)s, %(place)s: %(threshold)s or more of the elements %(listed)s "
            "make a major hazard; %(met)s of them present, so the threshold is not reached."
        )
    if rule.counted is not None:
        params["listed"] = ", ".join(_short(c) for c in rule.counted)
    ex.say(msgid, **params)
    if outcome.verification == Verification.UNVERIFIED:
        ex.say(
            N_(
                "This threshold is not verified: it comes from background knowledge that no "
                "retrieved source confirmed."
            )
        )
    elif outcome.verification == Verification.PARTIAL:
        ex.say(N_("This threshold is only partly verified."))
    if outcome.relies_on_doubtful:
        ex.say(
            N_(
                "The threshold is reached only by counting %(listed)s, whose inclusion in this "
                "rule is not confirmed."
            ),
            listed=", ".join(_short(c) for c in outcome.doubtful),
        )


def _deciding(outcomes: list[RuleOutcome]) -> RuleOutcome | None:
    if not outcomes:
        return None
    for outcome in outcomes:
        if outcome.reached:
            return outcome
    return min(outcomes, key=lambda o: o.threshold - o.met)


def _thresholds(
    standard: Standard,
    composite: list[StandardItem],
    place_class: str | None,
    ex: _Explainer,
) -> list[RuleOutcome]:
    if place_class is None:
        ex.say(N_("No class of place is set: choose one to apply the thresholds."))
        return []
    rules = [rule_of(r) for r in standard.composite_rules]
    applicable = [r for r in rules if place_class in r.place_classes]
    if not applicable:
        ex.say(
            N_("%(code)s gives no composite threshold for this class of place (%(place)s)."),
            code=standard.code,
            place=ex.label(place_class),
        )
    outcomes = []
    for rule in applicable:
        outcome = _apply_rule(rule, composite)
        outcomes.append(outcome)
        _explain_rule(outcome, rule, standard.code, ex.label(place_class), ex)
    return outcomes


def _verdict(
    standard: Standard,
    exclusions: list[StandardItem],
    direct: list[StandardItem],
    outcomes: list[RuleOutcome],
    ex: _Explainer,
) -> bool | None:
    is_major: bool | None = None
    if exclusions:
        ex.say(
            N_(
                "Exclusion selected (%(clauses)s): under %(code)s the hazard is not judged a "
                "major hazard, whatever the elements."
            ),
            clauses=_clauses(exclusions),
            code=standard.code,
        )
        is_major = False
    elif direct:
        ex.say(
            N_(
                "Direct element selected (%(clauses)s): one direct element is enough, so this "
                "is a major hazard without counting composite elements."
            ),
            clauses=_clauses(direct),
        )
        is_major = True
    elif outcomes:
        is_major = any(o.reached for o in outcomes)
    if is_major is True:
        ex.say(N_("Result: a major hazard under %(code)s."), code=standard.code)
    elif is_major is False:
        ex.say(N_("Result: not a major hazard under %(code)s."), code=standard.code)
    else:
        ex.say(N_("Result: not decided."))
    return is_major


def evaluate_composite(
    session: Session,
    codes: Sequence[str],
    place_class: str | None,
    *,
    translate: Translate | None = None,
) -> CompositeResult:
    """Apply the composite rule of the standard the selected items belong to, step by step,
    for a place of ``place_class`` (a value of :data:`PLACE_CLASSES`, or ``None``).

    Explained in order: the standard applied and whether it is superseded (and whether its
    successor can be evaluated); the precondition that only hazards not correctable at once
    count; the composite elements present and those not verified; each threshold for the
    class of place, reached or not, and how well it is verified; an exclusion (not major) or a
    direct element (major) overriding the count; the result. Unknown codes and an unknown class
    of place are reported and ignored, so a case page always renders."""
    ex = _Explainer(translate)
    selected = _selected(session, codes, ex)
    if place_class is not None and place_class not in PLACE_CLASSES:
        ex.say(N_("The class of place “%(value)s” is unknown; it is ignored."), value=place_class)
        place_class = None
    mine = _choose_standard(selected, ex)
    if mine is None:
        ex.say(
            N_(
                "None of the selected items belongs to a standard with a composite rule in the "
                "catalogue, so there is nothing to count."
            )
        )
        return CompositeResult(False, place_class, 0, None, None, ex.out)
    standard = mine[0].standard
    superseded = standard.status is StandardStatus.SUPERSEDED
    if superseded:
        _explain_superseded(session, standard, ex)
    if standard.uncorrectable_clause:
        ex.say(
            N_(
                "Under %(code)s %(clause)s, only hazards that cannot be corrected immediately "
                "count as elements, for direct and composite judgment alike."
            ),
            code=standard.code,
            clause=standard.uncorrectable_clause,
        )
    exclusions = [i for i in mine if i.kind is ItemKind.EXCLUSION]
    direct = [i for i in mine if i.kind is ItemKind.DIRECT]
    composite = [i for i in mine if i.kind is ItemKind.COMPOSITE]
    if composite:
        ex.say(
            N_("Composite elements present: %(clauses)s (%(count)s in all)."),
            clauses=_clauses(composite),
            count=len(composite),
        )
    else:
        ex.say(N_("No composite element of %(code)s is selected."), code=standard.code)
    unverified = [i for i in mine if i.verification is not Verification.VERIFIED]
    if unverified:
        ex.say(
            N_(
                "Marked as not verified in the catalogue: %(clauses)s. Check their wording "
                "against the official text before relying on them."
            ),
            clauses=_clauses(unverified),
        )
    outcomes = _thresholds(standard, composite, place_class, ex)
    is_major = _verdict(standard, exclusions, direct, outcomes, ex)
    ex.say(
        N_(
            "This evaluation helps the officers; the judgment itself follows the standard's "
            "procedure and is theirs."
        )
    )
    deciding = _deciding(outcomes)
    return CompositeResult(
        applies=True,
        place_class=place_class,
        met=deciding.met if deciding is not None else len(composite),
        threshold=deciding.threshold if deciding is not None else None,
        is_major=is_major,
        explanation=ex.out,
        standard_code=standard.code,
        direct=tuple(i.code for i in direct),
        exclusions=tuple(i.code for i in exclusions),
        composite=tuple(i.code for i in composite),
        rules=tuple(outcomes),
        verification=max(
            (o.verification for o in outcomes), key=lambda v: _WEAKNESS.get(v, 2), default=None
        ),
        superseded=superseded,
    )
