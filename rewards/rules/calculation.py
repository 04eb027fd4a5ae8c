"""The reward calculation: a rule set and the facts of a matter in, an explained amount out.

Pure and exact: integers and :class:`~decimal.Decimal` only (never a float), no database, no
locale. Every quote carries its explanation in Chinese and English at once, written out here
(not through gettext), because a calculation record and the reporter's notice need both.

What the input means (``QuoteInput``):

- ``kind``: ``"hazard"`` (a major accident hazard or illegal production, rewarded as a share of
  the administrative penalty) or ``"concealed_accident"`` (a concealed or falsely reported
  accident, rewarded per verified concealed death by the finally confirmed grade).
- ``penalties_fen``: each fine of the penalty decision, in fen; the fines on the unit and on
  its responsible persons are added together. Each must be more than zero.
- ``no_penalty``: the hazard was verified and rectified and no penalty was imposed; the rule
  set's no-penalty branch decides the amount (a fixed amount, or nothing).
- ``grade`` and ``deaths``: the finally confirmed accident grade (一般, 较大, 重大, 特别重大) and
  the number of verified concealed deaths (at least 1).
- ``exclusions``: codes of :data:`rewards.rules.EXCLUSIONS` that finance found to apply. A code
  the rule set does not list is shown in the explanation and has no effect.
- ``earliest_reporter``: False when another reporter of the same matter was accepted earlier;
  only the earliest accepted reporter is rewarded.
- ``joint_position``: for a joint report, this reporter's place among the signatories (1 is
  the first signatory, who collects the reward, or a co-signatory the first one authorised in
  writing, whom the caller then treats as 1); ``None`` for a report by one person.

The calculation presumes the matter was verified true; a tip that was not is never quoted.
``Quote.eligible`` is True exactly when a reward is due (``amount_fen > 0``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from core.errors import N_
from rewards.rules.errors import QuoteInputInvalid, RuleMissing
from rewards.rules.rule_sets import (
    EXCLUSIONS,
    EXCLUSIONS_BY_CODE,
    GRADE_NAMES,
    GRADES,
    MAX_FEN,
    PenaltyShareRule,
    PerDeathRule,
    RuleSet,
)

QuoteKind = Literal["hazard", "concealed_accident"]
KINDS: tuple[str, ...] = ("hazard", "concealed_accident")

# Rule identifiers a quote names (with the rule set id they identify the rule applied).
RULE_HAZARD_PENALTY = "hazard_penalty"
RULE_HAZARD_NO_PENALTY = "hazard_no_penalty"
RULE_CONCEALED_ACCIDENT = "concealed_accident"
RULE_LATER_REPORTER = "later_reporter"
RULE_JOINT_COSIGNATORY = "joint_cosignatory"
EXCLUSION_RULE_PREFIX = "exclusion."


@dataclass(frozen=True)
class QuoteInput:
    kind: QuoteKind
    penalties_fen: tuple[int, ...] = ()
    grade: str | None = None
    deaths: int = 0
    no_penalty: bool = False
    exclusions: frozenset[str] = frozenset()
    earliest_reporter: bool = True
    joint_position: int | None = None


@dataclass(frozen=True)
class Step:
    """One step of the explanation, in Chinese and in English."""

    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Quote:
    amount_fen: int
    rule_set: str
    rule: str
    steps: tuple[Step, ...]
    eligible: bool

    def explanation(self, lang: str = "zh") -> list[str]:
        """The steps in one language: ``"zh"`` (the default) or ``"en"``."""
        return [step.text(lang) for step in self.steps]


@dataclass
class _Explanation:
    steps: list[Step] = field(default_factory=list)

    def add(self, zh: str, en: str) -> None:
        self.steps.append(Step(zh, en))


# ---------------------------------------------------------------- money as text

_FEN = Decimal(1)
_HUNDRED = Decimal(100)


def yuan(fen: int | Decimal) -> str:
    """¥ with thousands separators and two decimals; a fraction of a fen keeps its digits
    (``Decimal(300001.5)`` fen → ``¥3,000.015``), so an explanation shows what was rounded."""
    value = Decimal(fen) / _HUNDRED
    text = f"{value:,.2f}"
    if value != value.quantize(Decimal("0.01")):
        exponent = value.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) else 2
        text = f"{value:,.{places}f}"
    return f"¥{text}"


_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]{1,2}))?")
_OVER_PRECISE = re.compile(r"[0-9]+\.[0-9]{3,}")


def parse_yuan(raw: str) -> int:
    """A fine typed in yuan with at most two decimals (``20000``, ``20000.5``), as fen.

    Full-width digits from a Chinese input method are accepted (NFKC); thousands separators,
    signs, exponents and a third decimal are not. Raises :class:`QuoteInputInvalid`.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.startswith("-"):
        raise QuoteInputInvalid(N_("%(amount)s: a fine cannot be negative."), amount=raw)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        if _OVER_PRECISE.fullmatch(text):
            raise QuoteInputInvalid(
                N_("%(amount)s: at most two decimals (1 fen is ¥0.01)."), amount=raw
            )
        raise QuoteInputInvalid(
            N_("%(amount)s: expected an amount in yuan such as 20000 or 20000.50."), amount=raw
        )
    if len(match.group(1)) > 18:
        raise QuoteInputInvalid(N_("%(amount)s: too large."), amount=raw)
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if fen == 0:
        raise QuoteInputInvalid(N_("%(amount)s: a fine must be more than ¥0."), amount=raw)
    if fen > MAX_FEN:
        raise QuoteInputInvalid(N_("%(amount)s: too large."), amount=raw)
    return fen


def _percent(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return f"{text}%"


# ---------------------------------------------------------------- validation


def _check(inputs: QuoteInput) -> None:  # noqa: PLR0912 - one check per impossible input
    if inputs.kind not in KINDS:
        raise QuoteInputInvalid(
            N_("Unknown kind %(kind)s: use hazard or concealed_accident."), kind=str(inputs.kind)
        )
    unknown = sorted(c for c in inputs.exclusions if c not in EXCLUSIONS_BY_CODE)
    if unknown:
        raise QuoteInputInvalid(N_("Unknown exclusion %(exclusion)s."), exclusion=unknown[0])
    if inputs.joint_position is not None and (
        isinstance(inputs.joint_position, bool)
        or not isinstance(inputs.joint_position, int)
        or inputs.joint_position < 1
    ):
        raise QuoteInputInvalid(
            N_("The position in a joint report starts at 1 (the first signatory).")
        )
    if inputs.kind == "hazard":
        if inputs.grade is not None or inputs.deaths:
            raise QuoteInputInvalid(
                N_("The accident grade and deaths apply only to a concealed accident.")
            )
        if inputs.no_penalty and inputs.penalties_fen:
            raise QuoteInputInvalid(N_("A hazard with no penalty cannot also have fines."))
        if not inputs.no_penalty and not inputs.penalties_fen:
            raise QuoteInputInvalid(
                N_("A hazard needs at least one fine, or no penalty when none was imposed.")
            )
        for fine in inputs.penalties_fen:
            if isinstance(fine, bool) or not isinstance(fine, int) or fine <= 0:
                raise QuoteInputInvalid(
                    N_("Each fine must be a whole number of fen greater than zero.")
                )
        if sum(inputs.penalties_fen) > MAX_FEN:
            raise QuoteInputInvalid(N_("The fines add up to more than can be recorded."))
        return
    if inputs.penalties_fen or inputs.no_penalty:
        raise QuoteInputInvalid(N_("Fines and the no-penalty branch apply only to a hazard."))
    if inputs.grade is None:
        raise QuoteInputInvalid(
            N_("A concealed accident needs its finally confirmed grade: %(grades)s."),
            grades=", ".join(GRADE_NAMES),
        )
    if inputs.grade not in GRADE_NAMES:
        raise QuoteInputInvalid(
            N_("Unknown accident grade %(grade)s: use %(grades)s."),
            grade=inputs.grade,
            grades=", ".join(GRADE_NAMES),
        )
    if isinstance(inputs.deaths, bool) or not isinstance(inputs.deaths, int) or inputs.deaths < 1:
        raise QuoteInputInvalid(
            N_("A concealed accident needs at least one verified concealed death.")
        )


# ---------------------------------------------------------------- calculation


def calculate(rule_set: RuleSet, inputs: QuoteInput) -> Quote:
    """The reward for ``inputs`` under ``rule_set``, explained step by step.

    Raises :class:`QuoteInputInvalid` for impossible input and :class:`RuleMissing` when the
    rule set has no rule for the case (for example no amount for the accident grade).
    """
    _check(inputs)
    rule = _rule_for(rule_set, inputs)
    out = _Explanation()
    _introduce(rule_set, out)
    barred = _bars(rule_set, inputs, out)
    if barred is not None:
        out.add("奖励金额：¥0.00。", "Reward: ¥0.00.")
        return Quote(0, rule_set.id, barred, tuple(out.steps), eligible=False)
    if inputs.kind == "concealed_accident":
        assert isinstance(rule, PerDeathRule)  # noqa: S101 - _rule_for returned it for this kind
        assert inputs.grade is not None  # noqa: S101 - checked by _check
        amount = _concealed(rule, inputs.grade, inputs.deaths, out)
        rule_id = RULE_CONCEALED_ACCIDENT
    elif inputs.no_penalty:
        amount = _no_penalty(rule_set, out)
        rule_id = RULE_HAZARD_NO_PENALTY
    else:
        assert isinstance(rule, PenaltyShareRule)  # noqa: S101 - _rule_for returned it
        amount = _penalty_share(rule, inputs.penalties_fen, out)
        rule_id = RULE_HAZARD_PENALTY
    if inputs.joint_position == 1:
        out.add(
            "本举报为联名举报，奖金由第一署名人（或其书面委托的署名人）领取，即本举报人。",
            "This is a joint report: the reward is paid to its first signatory (or a "
            "co-signatory the first signatory authorised in writing), that is, this reporter.",
        )
    out.add(f"奖励金额：{yuan(amount)}。", f"Reward: {yuan(amount)}.")
    return Quote(amount, rule_set.id, rule_id, tuple(out.steps), eligible=amount > 0)


def _rule_for(rule_set: RuleSet, inputs: QuoteInput) -> PenaltyShareRule | PerDeathRule | None:
    """The rule the input needs, checked before anything else (even an excluded reporter's
    quote must name a rule the rule set has)."""
    if inputs.kind == "concealed_accident":
        per_death = rule_set.concealed_accident
        if per_death is None:
            raise RuleMissing(
                N_("The reward rule set %(rule_set)s has no rule for concealed accidents."),
                rule_set=rule_set.id,
            )
        if per_death.amount_for(inputs.grade or "") is None:
            raise RuleMissing(
                N_("The reward rule set %(rule_set)s sets no amount for a %(grade)s accident."),
                rule_set=rule_set.id,
                grade=inputs.grade,
            )
        return per_death
    if inputs.no_penalty:
        if rule_set.hazard_no_penalty is None:
            raise RuleMissing(
                N_("The reward rule set %(rule_set)s has no rule for a hazard without a penalty."),
                rule_set=rule_set.id,
            )
        return None
    if rule_set.hazard_penalty is None:
        raise RuleMissing(
            N_("The reward rule set %(rule_set)s has no rule for hazards."), rule_set=rule_set.id
        )
    return rule_set.hazard_penalty


def _introduce(rule_set: RuleSet, out: _Explanation) -> None:
    doc = rule_set.document
    if doc is None:
        source_zh, source_en = rule_set.title.zh, rule_set.title.en
    elif doc.doc_no is None:
        source_zh, source_en = f"《{doc.title_zh}》", doc.title_zh
    else:
        source_zh, source_en = (
            f"《{doc.title_zh}》（{doc.doc_no}）",
            f"{doc.title_zh} ({doc.doc_no})",
        )
    until_zh = f"至{rule_set.effective_until.isoformat()}" if rule_set.effective_until else "起"
    until_en = f" to {rule_set.effective_until.isoformat()}" if rule_set.effective_until else ""
    out.add(
        f"适用奖励规则集 {rule_set.id}：{rule_set.title.zh}，依据{source_zh}，"
        f"{rule_set.effective_from.isoformat()}{until_zh}施行。",
        f"Rule set {rule_set.id} applies: {rule_set.title.en}, based on {source_en}, "
        f"in force from {rule_set.effective_from.isoformat()}{until_en}.",
    )


def _bars(rule_set: RuleSet, inputs: QuoteInput, out: _Explanation) -> str | None:
    """Exclusions, a later duplicate and a joint co-signatory: the rule id of the first bar
    that applies (every one that applies is explained), or None."""
    barred: str | None = None
    for exclusion in EXCLUSIONS:
        if exclusion.code not in inputs.exclusions:
            continue
        listed = rule_set.exclusion(exclusion.code)
        if listed is None:
            out.add(
                f"已记录的情形“{exclusion.label.zh}”不是本规则集的不予奖励情形，不影响奖励。",
                f"The recorded circumstance that {exclusion.label.en} is not a ground for "
                "exclusion under this rule set and does not affect the reward.",
            )
            continue
        out.add(
            f"不予奖励：{exclusion.label.zh}（{listed.basis.zh}）。",
            f"No reward: {exclusion.label.en} ({listed.basis.en}).",
        )
        barred = barred or EXCLUSION_RULE_PREFIX + exclusion.code
    if barred is None:
        out.add(
            "未记录本规则集规定的不予奖励情形。",
            "No ground for exclusion under this rule set was recorded.",
        )
    if not inputs.earliest_reporter:
        out.add(
            "同一事项已有更早受理的举报；奖励只发给最先被受理的举报人，本举报不予奖励。",
            "The same matter was reported and accepted earlier; only the earliest accepted "
            "reporter is rewarded, so this report is not.",
        )
        barred = barred or RULE_LATER_REPORTER
    if inputs.joint_position is not None and inputs.joint_position > 1:
        out.add(
            f"本举报为联名举报，奖金由第一署名人领取；本举报人是第{inputs.joint_position}署名人，"
            "不单独领取奖励。",
            "This is a joint report: the reward is paid to its first signatory; this reporter "
            f"is signatory number {inputs.joint_position} and is not paid separately.",
        )
        barred = barred or RULE_JOINT_COSIGNATORY
    return barred


def _penalty_share(rule: PenaltyShareRule, fines: Sequence[int], out: _Explanation) -> int:
    total = sum(fines)
    if len(fines) == 1:
        out.add(f"行政处罚罚款：{yuan(total)}。", f"Administrative fine: {yuan(total)}.")
    else:
        terms = " + ".join(yuan(f) for f in fines)
        out.add(
            f"单位及其有关责任人员的罚款相加：{terms} = {yuan(total)}。",
            f"Fines on the unit and its responsible persons added together: {terms} = "
            f"{yuan(total)}.",
        )
    exact = Decimal(total) * rule.percent / _HUNDRED
    rounded = int(exact.quantize(_FEN, rounding=ROUND_HALF_UP))
    pct = _percent(rule.percent)
    if exact == rounded:
        out.add(
            f"按罚款的{pct}计算：{yuan(total)} × {pct} = {yuan(rounded)}。",
            f"{pct} of the fines: {yuan(total)} × {pct} = {yuan(rounded)}.",
        )
    else:
        out.add(
            f"按罚款的{pct}计算：{yuan(total)} × {pct} = {yuan(exact)}，"
            f"按四舍五入（半分进位）到分为{yuan(rounded)}。",
            f"{pct} of the fines: {yuan(total)} × {pct} = {yuan(exact)}, rounded to the "
            f"nearest fen (halves up): {yuan(rounded)}.",
        )
    return _bounded(rounded, rule.min_fen, rule.max_fen, out)


def _bounded(amount: int, min_fen: int, max_fen: int | None, out: _Explanation) -> int:
    if amount < min_fen:
        out.add(
            f"低于最低奖励{yuan(min_fen)}，按最低额{yuan(min_fen)}奖励。",
            f"Below the minimum reward of {yuan(min_fen)}: the minimum {yuan(min_fen)} is paid.",
        )
        return min_fen
    if max_fen is not None and amount > max_fen:
        out.add(
            f"超过最高奖励{yuan(max_fen)}，按最高额{yuan(max_fen)}奖励。",
            f"Above the maximum reward of {yuan(max_fen)}: the maximum {yuan(max_fen)} is paid.",
        )
        return max_fen
    if max_fen is None:
        out.add(
            f"不低于最低奖励{yuan(min_fen)}，本规则集未设最高额，不作调整。",
            f"Not below the minimum reward of {yuan(min_fen)}, and this rule set has no "
            "maximum: no adjustment.",
        )
    else:
        out.add(
            f"在最低奖励{yuan(min_fen)}与最高奖励{yuan(max_fen)}之间，不作调整。",
            f"Between the minimum of {yuan(min_fen)} and the maximum of {yuan(max_fen)}: "
            "no adjustment.",
        )
    return amount


def _no_penalty(rule_set: RuleSet, out: _Explanation) -> int:
    rule = rule_set.hazard_no_penalty
    assert rule is not None  # noqa: S101 - _rule_for checked it
    out.add(
        "隐患经核查属实并已整改，未作行政处罚。",
        "The hazard was verified and rectified, and no administrative penalty was imposed.",
    )
    if rule.amount_fen:
        out.add(
            f"本规则集对此情形给予固定奖励{yuan(rule.amount_fen)}（{rule.reason.zh}）。",
            f"This rule set pays a fixed reward of {yuan(rule.amount_fen)} in this case "
            f"({rule.reason.en}).",
        )
    else:
        out.add(
            f"本规则集对此情形不给予奖励（{rule.reason.zh}）。",
            f"This rule set pays no reward in this case ({rule.reason.en}).",
        )
    return rule.amount_fen


def _concealed(rule: PerDeathRule, grade: str, deaths: int, out: _Explanation) -> int:
    grade_en = next(g.en for g in GRADES if g.name == grade)
    per_death = rule.amount_for(grade)
    assert per_death is not None  # noqa: S101 - _rule_for checked it
    out.add(
        f"事故最终确认等级：{grade}事故；经核实瞒报死亡{deaths}人。",
        f"Finally confirmed accident grade: {grade_en} ({grade}); verified concealed deaths: "
        f"{deaths}.",
    )
    raw = per_death * deaths
    out.add(
        f"{grade}事故每瞒报死亡1人奖励{yuan(per_death)}：{yuan(per_death)} × {deaths} = "
        f"{yuan(raw)}。",
        f"{yuan(per_death)} for each concealed death in a {grade_en} accident: "
        f"{yuan(per_death)} × {deaths} = {yuan(raw)}.",
    )
    if rule.max_fen is None and raw > MAX_FEN:
        raise QuoteInputInvalid(N_("The reward would be more than can be recorded."))
    if rule.max_fen is not None and raw > rule.max_fen:
        out.add(
            f"超过最高奖励{yuan(rule.max_fen)}，按最高额{yuan(rule.max_fen)}奖励。",
            f"Above the maximum reward of {yuan(rule.max_fen)}: the maximum "
            f"{yuan(rule.max_fen)} is paid.",
        )
        return rule.max_fen
    if rule.max_fen is not None:
        out.add(
            f"未超过最高奖励{yuan(rule.max_fen)}，不作调整。",
            f"Not above the maximum reward of {yuan(rule.max_fen)}: no adjustment.",
        )
    return raw
