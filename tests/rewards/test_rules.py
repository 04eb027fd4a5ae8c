"""The reward calculation, worked out by hand from the rules (regulations.md §1), and the rule
set format.

National set (安监总财〔2018〕19号): hazards 15 % of the fines added together, at least ¥3,000
(300 000 fen), at most ¥300,000 (30 000 000 fen); concealed accidents ¥30,000 / ¥40,000 /
¥50,000 / ¥60,000 per death by grade, at most ¥300,000. Taizhou variant: 20 %, ¥5,000 to
¥300,000; ¥30,000 / ¥40,000 / ¥50,000 per death, at most ¥500,000, no 特别重大 amount.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from rewards.rules import EXCLUSIONS, Quote, QuoteInput, RuleSet, Step, calculate
from rewards.rules.calculation import parse_yuan, yuan
from rewards.rules.errors import QuoteInputInvalid, RuleMissing, RuleSetInvalid
from rewards.rules.rule_sets import MAX_FEN, parse_rule_set
from rewards.rules.services import rule_set_in_force, shipped_rule_sets

NATIONAL = "national-2018"
TAIZHOU = "taizhou-2020"
NO_PENALTY_500 = "test-no-penalty-500"


def _shipped(rule_set_id: str) -> RuleSet:
    return next(rs for rs in shipped_rule_sets() if rs.id == rule_set_id)


def national_document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_shipped(NATIONAL).body)
    return doc


def _no_penalty_500() -> RuleSet:
    """A local variant that pays a fixed ¥500 for a hazard rectified without a penalty."""
    doc = national_document()
    doc.update(id=NO_PENALTY_500, series="test-local")
    doc["hazard_no_penalty"] = {
        "amount_fen": 50000,
        "verification": "unverified",
        "reason": {"zh": "测试用固定奖励", "en": "a fixed reward for the test"},
    }
    return parse_rule_set(json.dumps(doc, ensure_ascii=False))


def _rule_set(rule_set_id: str) -> RuleSet:
    return _no_penalty_500() if rule_set_id == NO_PENALTY_500 else _shipped(rule_set_id)


def hazard(*fines: int, **kw: Any) -> QuoteInput:
    return QuoteInput(kind="hazard", penalties_fen=fines, **kw)


def accident(grade: str, deaths: int, **kw: Any) -> QuoteInput:
    return QuoteInput(kind="concealed_accident", grade=grade, deaths=deaths, **kw)


# (case id, rule set, input, amount in fen, rule) — every amount worked out by hand.
CASES: list[tuple[str, str, QuoteInput, int, str]] = [
    # National, hazards: 15 %, floor ¥3,000, cap ¥300,000.
    ("fine ¥1: 15 fen, floor", NATIONAL, hazard(100), 300000, "hazard_penalty"),
    ("fine ¥10,000: ¥1,500, floor", NATIONAL, hazard(1000000), 300000, "hazard_penalty"),
    ("fine ¥19,999.99: 299,999.85 fen rounds up to the floor", NATIONAL, hazard(1999999), 300000, "hazard_penalty"),
    ("fine ¥20,000: exactly ¥3,000", NATIONAL, hazard(2000000), 300000, "hazard_penalty"),
    ("fine ¥20,000.01: 300,000.15 fen rounds down", NATIONAL, hazard(2000001), 300000, "hazard_penalty"),
    ("fine ¥20,000.04: 300,000.6 fen rounds up", NATIONAL, hazard(2000004), 300001, "hazard_penalty"),
    ("fine ¥20,000.10: 300,001.5 fen, half up", NATIONAL, hazard(2000010), 300002, "hazard_penalty"),
    ("fine ¥20,000.30: 300,004.5 fen, half up", NATIONAL, hazard(2000030), 300005, "hazard_penalty"),
    ("fine ¥30,000: ¥4,500", NATIONAL, hazard(3000000), 450000, "hazard_penalty"),
    ("fine ¥33,333.33: 499,999.95 fen rounds to ¥5,000", NATIONAL, hazard(3333333), 500000, "hazard_penalty"),
    ("fine ¥100,000: ¥15,000", NATIONAL, hazard(10000000), 1500000, "hazard_penalty"),
    ("fine ¥1,999,999.99: rounds to the cap exactly", NATIONAL, hazard(199999999), 30000000, "hazard_penalty"),
    ("fine ¥2,000,000: exactly the cap", NATIONAL, hazard(200000000), 30000000, "hazard_penalty"),
    ("fine ¥2,000,000.01: over the cap by 0.15 fen, rounds to it", NATIONAL, hazard(200000001), 30000000, "hazard_penalty"),
    ("fine ¥5,000,000: ¥750,000, cap", NATIONAL, hazard(500000000), 30000000, "hazard_penalty"),
    ("unit ¥150,000 + person ¥20,000: ¥25,500", NATIONAL, hazard(15000000, 2000000), 2550000, "hazard_penalty"),
    ("three fines each under the floor, sum ¥23,000: ¥3,450", NATIONAL, hazard(1000000, 500000, 800000), 345000, "hazard_penalty"),
    ("¥1,500,000 + ¥600,000: ¥315,000, cap", NATIONAL, hazard(150000000, 60000000), 30000000, "hazard_penalty"),
    ("¥12,345.67 + ¥10,000.33 = ¥22,346: ¥3,351.90", NATIONAL, hazard(1234567, 1000033), 335190, "hazard_penalty"),
    ("¥20,000.05 + ¥0.05: 300,001.5 fen, half up", NATIONAL, hazard(2000005, 5), 300002, "hazard_penalty"),
    ("¥150,000 + ¥20,000.10: 2,550,001.5 fen, half up", NATIONAL, hazard(15000000, 2000010), 2550002, "hazard_penalty"),
    # Taizhou variant: 20 %, floor ¥5,000, cap ¥300,000.
    ("Taizhou fine ¥20,000: ¥4,000, floor ¥5,000", TAIZHOU, hazard(2000000), 500000, "hazard_penalty"),
    ("Taizhou fine ¥25,000: exactly ¥5,000", TAIZHOU, hazard(2500000), 500000, "hazard_penalty"),
    ("Taizhou fine ¥25,000.03: 500,000.6 fen", TAIZHOU, hazard(2500003), 500001, "hazard_penalty"),
    ("Taizhou fine ¥100,000: ¥20,000", TAIZHOU, hazard(10000000), 2000000, "hazard_penalty"),
    ("Taizhou fine ¥1,600,000: ¥320,000, cap", TAIZHOU, hazard(160000000), 30000000, "hazard_penalty"),
    # National, concealed accidents.
    ("一般, 1 death: ¥30,000", NATIONAL, accident("一般", 1), 3000000, "concealed_accident"),
    ("较大, 3 deaths: ¥120,000", NATIONAL, accident("较大", 3), 12000000, "concealed_accident"),
    ("重大, 2 deaths: ¥100,000", NATIONAL, accident("重大", 2), 10000000, "concealed_accident"),
    ("特别重大, 1 death: ¥60,000", NATIONAL, accident("特别重大", 1), 6000000, "concealed_accident"),
    ("特别重大, 5 deaths: exactly the cap", NATIONAL, accident("特别重大", 5), 30000000, "concealed_accident"),
    ("特别重大, 6 deaths: ¥360,000, cap", NATIONAL, accident("特别重大", 6), 30000000, "concealed_accident"),
    ("一般, 10 deaths: exactly the cap", NATIONAL, accident("一般", 10), 30000000, "concealed_accident"),
    ("一般, 11 deaths: ¥330,000, cap", NATIONAL, accident("一般", 11), 30000000, "concealed_accident"),
    ("一般, 1,000 deaths: cap", NATIONAL, accident("一般", 1000), 30000000, "concealed_accident"),
    ("Taizhou 较大, 2 deaths: ¥80,000", TAIZHOU, accident("较大", 2), 8000000, "concealed_accident"),
    ("Taizhou 重大, 10 deaths: exactly its ¥500,000 cap", TAIZHOU, accident("重大", 10), 50000000, "concealed_accident"),
    ("Taizhou 重大, 11 deaths: ¥550,000, cap ¥500,000", TAIZHOU, accident("重大", 11), 50000000, "concealed_accident"),
    # The no-penalty branch.
    ("national, no penalty: nothing", NATIONAL, QuoteInput(kind="hazard", no_penalty=True), 0, "hazard_no_penalty"),
    ("Taizhou, no penalty: nothing", TAIZHOU, QuoteInput(kind="hazard", no_penalty=True), 0, "hazard_no_penalty"),
    ("local ¥500 variant, no penalty: ¥500", NO_PENALTY_500, QuoteInput(kind="hazard", no_penalty=True), 50000, "hazard_no_penalty"),
    ("local ¥500 variant, with a fine: 15 % as usual", NO_PENALTY_500, hazard(10000000), 1500000, "hazard_penalty"),
    # Later duplicate reporter and joint reports.
    ("later duplicate reporter: nothing", NATIONAL, hazard(10000000, earliest_reporter=False), 0, "later_reporter"),
    ("later duplicate reporter of an accident", NATIONAL, accident("一般", 2, earliest_reporter=False), 0, "later_reporter"),
    ("joint report, first signatory: full amount", NATIONAL, hazard(10000000, joint_position=1), 1500000, "hazard_penalty"),
    ("joint report, second signatory: nothing", NATIONAL, hazard(10000000, joint_position=2), 0, "joint_cosignatory"),
    ("joint report, fifth signatory of an accident: nothing", NATIONAL, accident("重大", 1, joint_position=5), 0, "joint_cosignatory"),
    # Exclusions: each one the national set lists pays nothing.
    *[
        (f"excluded: {e.code}", NATIONAL, hazard(10000000, exclusions=frozenset({e.code})), 0, f"exclusion.{e.code}")
        for e in EXCLUSIONS
        if e.code != "third_party_service"
    ],
    ("excluded accident report (media)", NATIONAL, accident("较大", 1, exclusions=frozenset({"media_exposed"})), 0, "exclusion.media_exposed"),
    ("several exclusions: the first in order is named", NATIONAL, hazard(10000000, exclusions=frozenset({"judicial", "close_relative"})), 0, "exclusion.close_relative"),
    ("excluded and a later reporter: the exclusion is named", NATIONAL, hazard(10000000, exclusions=frozenset({"judicial"}), earliest_reporter=False), 0, "exclusion.judicial"),
    ("third-party service is not a national exclusion: paid", NATIONAL, hazard(10000000, exclusions=frozenset({"third_party_service"})), 1500000, "hazard_penalty"),
]  # fmt: skip


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("rule_set_id", "inputs", "amount_fen", "rule"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_calculation_table(
    rule_set_id: str, inputs: QuoteInput, amount_fen: int, rule: str
) -> None:
    quote = calculate(_rule_set(rule_set_id), inputs)
    assert isinstance(quote, Quote)
    assert quote.amount_fen == amount_fen
    assert type(quote.amount_fen) is int
    assert quote.rule_set == rule_set_id
    assert quote.rule == rule
    assert quote.eligible is (amount_fen > 0)
    assert all(isinstance(s, Step) and s.zh and s.en for s in quote.steps)
    # The first step names the rule set, the last one states the amount, in both languages.
    assert rule_set_id in quote.steps[0].zh
    assert rule_set_id in quote.steps[0].en
    assert quote.steps[-1] == Step(
        f"奖励金额：{yuan(amount_fen)}。", f"Reward: {yuan(amount_fen)}."
    )


def _texts(quote: Quote) -> tuple[str, str]:
    return "\n".join(quote.explanation("zh")), "\n".join(quote.explanation("en"))


def test_floor_is_explained() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), hazard(1000000)))
    assert "¥10,000.00 × 15% = ¥1,500.00" in zh
    assert "低于最低奖励¥3,000.00，按最低额¥3,000.00奖励" in zh
    assert "Below the minimum reward of ¥3,000.00: the minimum ¥3,000.00 is paid." in en


def test_cap_is_explained() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), hazard(500000000)))
    assert "¥5,000,000.00 × 15% = ¥750,000.00" in en
    assert "超过最高奖励¥300,000.00" in zh
    assert "Above the maximum reward of ¥300,000.00" in en


def test_half_fen_rounding_is_explained() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), hazard(2000010)))
    assert "¥20,000.10 × 15% = ¥3,000.015，按四舍五入（半分进位）到分为¥3,000.02" in zh
    assert "= ¥3,000.015, rounded to the nearest fen (halves up): ¥3,000.02." in en


def test_fines_added_together_are_shown() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), hazard(15000000, 2000000)))
    assert "¥150,000.00 + ¥20,000.00 = ¥170,000.00" in zh
    assert "Fines on the unit and its responsible persons added together" in en


def test_accident_steps_name_grade_and_deaths() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), accident("较大", 3)))
    assert "较大事故；经核实瞒报死亡3人" in zh
    assert "¥40,000.00 × 3 = ¥120,000.00" in zh
    assert "relatively major (较大)" in en


def test_exclusion_step_gives_the_basis() -> None:
    rs = _shipped(NATIONAL)
    zh, en = _texts(calculate(rs, hazard(100, exclusions=frozenset({"safety_duty"}))))
    basis = rs.exclusion("safety_duty")
    assert basis is not None
    assert f"不予奖励：举报人负有该单位安全生产管理、监管或监察职责（{basis.basis.zh}）" in zh
    assert en.startswith("Rule set national-2018")
    assert "No reward: the reporter has safety-management" in en


def test_no_penalty_step_says_why() -> None:
    rs = _shipped(NATIONAL)
    assert rs.hazard_no_penalty is not None
    zh, en = _texts(calculate(rs, QuoteInput(kind="hazard", no_penalty=True)))
    assert rs.hazard_no_penalty.reason.zh in zh
    assert "pays no reward in this case" in en
    zh, en = _texts(calculate(_no_penalty_500(), QuoteInput(kind="hazard", no_penalty=True)))
    assert "固定奖励¥500.00" in zh


def test_joint_first_signatory_step() -> None:
    zh, en = _texts(calculate(_shipped(NATIONAL), hazard(10000000, joint_position=1)))
    assert "第一署名人" in zh
    assert "paid to its first signatory" in en


# ---------------------------------------------------------------- impossible input

INVALID: list[tuple[str, QuoteInput, str]] = [
    ("negative fine", hazard(-100), "Each fine must be a whole number of fen greater than zero."),
    ("zero fine", hazard(0), "Each fine must be a whole number of fen greater than zero."),
    ("no fine and no no-penalty", QuoteInput(kind="hazard"), "A hazard needs at least one fine, or no penalty when none was imposed."),
    ("fine and no penalty", hazard(100, no_penalty=True), "A hazard with no penalty cannot also have fines."),
    ("hazard with a grade", hazard(100, grade="一般"), "The accident grade and deaths apply only to a concealed accident."),
    ("hazard with deaths", hazard(100, deaths=2), "The accident grade and deaths apply only to a concealed accident."),
    ("accident without grade", QuoteInput(kind="concealed_accident", deaths=1), "A concealed accident needs its finally confirmed grade: %(grades)s."),
    ("unknown grade", accident("很大", 1), "Unknown accident grade %(grade)s: use %(grades)s."),
    ("no deaths", accident("一般", 0), "A concealed accident needs at least one verified concealed death."),
    ("negative deaths", accident("一般", -2), "A concealed accident needs at least one verified concealed death."),
    ("accident with fines", QuoteInput(kind="concealed_accident", grade="一般", deaths=1, penalties_fen=(100,)), "Fines and the no-penalty branch apply only to a hazard."),
    ("accident with no penalty", accident("一般", 1, no_penalty=True), "Fines and the no-penalty branch apply only to a hazard."),
    ("unknown kind", QuoteInput(kind="fire", penalties_fen=(100,)), "Unknown kind %(kind)s: use hazard or concealed_accident."),  # type: ignore[arg-type]
    ("unknown exclusion", hazard(100, exclusions=frozenset({"bribery"})), "Unknown exclusion %(exclusion)s."),
    ("joint position 0", hazard(100, joint_position=0), "The position in a joint report starts at 1 (the first signatory)."),
    ("fines beyond what can be stored", hazard(MAX_FEN, 1), "The fines add up to more than can be recorded."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_impossible_input_is_refused(inputs: QuoteInput, message: str) -> None:
    with pytest.raises(QuoteInputInvalid) as caught:
        calculate(_shipped(NATIONAL), inputs)
    assert caught.value.message == message


def test_a_float_fine_is_refused() -> None:
    with pytest.raises(QuoteInputInvalid):
        calculate(_shipped(NATIONAL), hazard(1000.5))  # type: ignore[arg-type]


def test_rule_missing_for_a_grade_the_rule_set_does_not_give() -> None:
    with pytest.raises(RuleMissing) as caught:
        calculate(_shipped(TAIZHOU), accident("特别重大", 1))
    assert caught.value.params == {"rule_set": TAIZHOU, "grade": "特别重大"}


def test_rule_missing_when_a_rule_set_has_no_such_rule() -> None:
    doc = national_document()
    doc.update(
        id="hazards-only", series="test-hazards", concealed_accident=None, hazard_no_penalty=None
    )
    rs = parse_rule_set(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(RuleMissing):
        calculate(rs, accident("一般", 1))
    with pytest.raises(RuleMissing):
        calculate(rs, QuoteInput(kind="hazard", no_penalty=True))
    assert calculate(rs, hazard(2000000)).amount_fen == 300000


# ---------------------------------------------------------------- yuan typed by a person


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("20000", 2000000),
        ("20000.5", 2000050),
        ("20000.05", 2000005),
        (" 0.01 ", 1),
        ("２００００", 2000000),
    ],
)
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "%(amount)s: a fine cannot be negative."),
        ("1.234", "%(amount)s: at most two decimals (1 fen is ¥0.01)."),
        ("0", "%(amount)s: a fine must be more than ¥0."),
        ("0.00", "%(amount)s: a fine must be more than ¥0."),
        ("1e5", "%(amount)s: expected an amount in yuan such as 20000 or 20000.50."),
        ("20,000", "%(amount)s: expected an amount in yuan such as 20000 or 20000.50."),
        ("", "%(amount)s: expected an amount in yuan such as 20000 or 20000.50."),
        ("٣٠٠", "%(amount)s: expected an amount in yuan such as 20000 or 20000.50."),
        ("9" * 19, "%(amount)s: too large."),
    ],
)
def test_parse_yuan_refuses(text: str, message: str) -> None:
    with pytest.raises(QuoteInputInvalid) as caught:
        parse_yuan(text)
    assert caught.value.message == message


def test_yuan_formatting() -> None:
    assert yuan(0) == "¥0.00"
    assert yuan(30000000) == "¥300,000.00"
    assert yuan(Decimal("300001.5")) == "¥3,000.015"


# ---------------------------------------------------------------- the rule set format


def test_shipped_rule_sets_are_valid_and_as_the_research_says() -> None:
    national = _shipped(NATIONAL)
    assert national.series == "national"
    assert national.effective_from == dt.date(2018, 1, 4)
    assert national.document is not None
    assert national.document.doc_no == "安监总财〔2018〕19号"
    assert national.hazard_penalty is not None
    assert (national.hazard_penalty.percent, national.hazard_penalty.min_fen) == (
        Decimal(15),
        300000,
    )
    assert national.hazard_penalty.max_fen == 30000000
    assert national.concealed_accident is not None
    assert dict(national.concealed_accident.per_death_fen) == {
        "一般": 3000000, "较大": 4000000, "重大": 5000000, "特别重大": 6000000,
    }  # fmt: skip
    assert national.hazard_no_penalty is not None
    assert national.hazard_no_penalty.amount_fen == 0
    assert national.hazard_no_penalty.reason.zh
    assert national.hazard_no_penalty.reason.en
    assert {e.code for e in national.exclusions} == {
        e.code for e in EXCLUSIONS if e.code != "third_party_service"
    }
    taizhou = _shipped(TAIZHOU)
    assert taizhou.hazard_penalty is not None
    assert (taizhou.hazard_penalty.percent, taizhou.hazard_penalty.min_fen) == (
        Decimal(20),
        500000,
    )
    assert taizhou.concealed_accident is not None
    assert taizhou.concealed_accident.max_fen == 50000000
    assert taizhou.concealed_accident.amount_for("特别重大") is None
    assert {v for rs in shipped_rule_sets() for v in [rs.verification]} <= {
        "verified", "partial", "unverified",
    }  # fmt: skip


def test_shipped_default_needs_no_database() -> None:
    assert rule_set_in_force(None, dt.date(2026, 11, 1)).id == NATIONAL


def test_body_round_trips_and_a_decimal_percent_stays_exact() -> None:
    doc = national_document()
    doc.update(id="pct", series="test-pct")
    doc["hazard_penalty"]["percent"] = "12.5"
    rs = parse_rule_set(json.dumps(doc, ensure_ascii=False))
    assert rs.hazard_penalty is not None
    assert rs.hazard_penalty.percent == Decimal("12.5")
    again = parse_rule_set(rs.body)
    assert again == rs
    # 12.5 % of ¥24,000.04 = 300,000.5 fen → 300,001 fen (half up).
    assert calculate(rs, hazard(2400004)).amount_fen == 300001
    # A JSON number with decimals is read as a Decimal too, never a float.
    text = json.dumps(doc, ensure_ascii=False).replace('"12.5"', "12.5")
    rs2 = parse_rule_set(text)
    assert rs2.hazard_penalty is not None
    assert rs2.hazard_penalty.percent == Decimal("12.5")


def _problems(document: str | dict[str, Any]) -> dict[str, str]:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(
            document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
        )
    return {p.path: p.message for p in caught.value.problems}


def _changed(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(national_document())
    doc.update(changes)
    return doc


def test_invalid_documents_name_every_problem() -> None:
    doc = _changed(id="Bad Id", effective_from="2018-13-01", verification="sure", extra=1)
    doc["hazard_penalty"]["min_fen"] = 3000.0
    doc["hazard_penalty"]["percent"] = "15.555"
    doc["concealed_accident"]["per_death_fen"]["巨大"] = 1
    doc["exclusions"].append(
        {"code": "bribery", "verification": "verified", "basis": {"zh": "x", "en": "x"}}
    )
    problems = _problems(doc)
    assert problems == {
        "id": "expected 2 to 64 lower-case letters, digits, dots, underscores or hyphens, "
        "starting and ending with a letter or digit",
        "effective_from": "expected a date written YYYY-MM-DD",
        "verification": "expected verified, partial or unverified",
        "extra": "unknown field",
        "hazard_penalty.min_fen": "expected a whole number of fen (1 yuan = 100 fen)",
        "hazard_penalty.percent": "expected a percentage above 0 and at most 100, with at most 2 decimals",
        "concealed_accident.per_death_fen.巨大": "unknown field",
        "exclusions[8].code": "unknown exclusion; known: %(codes)s",
    }


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"format": 2}, "format", "expected %(format)s"),
        ({"series": "national-2018"}, "series", "must differ from id (a series holds several versions)"),
        ({"effective_until": "2017-12-31"}, "effective_until", "earlier than effective_from"),
        ({"title": {"zh": "只有中文"}}, "title.en", "missing"),
        ({"hazard_penalty": None, "concealed_accident": None}, "", "give at least one of hazard_penalty and concealed_accident"),
        ({"exclusions": "all"}, "exclusions", "expected a list"),
    ],
)  # fmt: skip
def test_single_problems(changes: dict[str, Any], path: str, message: str) -> None:
    assert _problems(_changed(**changes)).get(path) == message


def test_nested_problems() -> None:
    doc = _changed()
    doc["hazard_penalty"]["max_fen"] = 100
    doc["hazard_penalty"]["percent"] = 0
    doc["concealed_accident"]["per_death_fen"] = {}
    doc["hazard_no_penalty"]["amount_fen"] = -1
    doc["exclusions"].append(copy.deepcopy(doc["exclusions"][0]))
    problems = _problems(doc)
    assert problems["hazard_penalty.max_fen"] == "smaller than min_fen"
    assert problems["hazard_penalty.percent"].startswith("expected a percentage")
    assert problems["concealed_accident.per_death_fen"] == "give an amount for at least one grade"
    assert (
        problems["hazard_no_penalty.amount_fen"]
        == "expected at least %(min)s fen and at most %(max)s fen"
    )
    assert problems["exclusions[8].code"] == "listed twice"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON (line %(line)s, column %(column)s)"),
        ('{"percent": NaN}', "not valid JSON"),
        ("[]", "expected an object"),
        (" " * 70000, "longer than %(max)s characters"),
    ],
)
def test_not_a_document(text: str, message: str) -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(text)
    assert [p.message for p in caught.value.problems] == [message]


def test_problem_english_text() -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(json.dumps(_changed(format=3)))
    assert str(caught.value) == "format: expected 1"
