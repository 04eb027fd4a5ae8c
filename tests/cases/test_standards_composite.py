"""The GB 35181-2017 composite rule as shipped: thresholds for each class of place, tested at,
below and above each one; direct elements, exclusions, and the explanation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from cases.standards import schema
from cases.standards import services as standards
from cases.standards.services import CompositeResult, Sentence
from core.accounts.models import Role
from core.clock import FakeClock
from tests.conftest import build_user

FIRE = "GB 35181-2017"


def _codes(*clauses: str) -> list[str]:
    return [f"{FIRE}/{c}" for c in clauses]


# Elements of the crowded-place list (7.3.1-7.3.9, 7.5, 7.9.3), of the flammable-goods list
# (7.1.1-7.1.3, 7.4.5, 7.4.6), and elements in neither list.
CROWDED_LIST = ["7.3.1", "7.3.2", "7.3.3", "7.3.4", "7.3.5"]
FLAMMABLE_LIST = ["7.1.1", "7.1.2", "7.1.3", "7.4.5", "7.4.6"]
NEITHER = ["7.2.1", "7.2.2", "7.6.1", "7.6.2", "7.7.1", "7.8.1", "7.8.2"]


@pytest.fixture
def loaded(dbs: Session, clock: FakeClock) -> Session:
    standards.load_shipped_standards(dbs, clock)
    dbs.flush()
    return dbs


def _evaluate(dbs: Session, clauses: list[str], place: str | None) -> CompositeResult:
    return standards.evaluate_composite(dbs, _codes(*clauses), place)


@pytest.mark.parametrize(
    ("place", "clauses", "expected"),
    [
        # Crowded places: 3 of the list, or 4 of any chapter-7 element.
        ("crowded", CROWDED_LIST[:2], (False, 2, 3)),
        ("crowded", CROWDED_LIST[:3], (True, 3, 3)),
        ("crowded", CROWDED_LIST[:4], (True, 4, 3)),
        ("crowded", CROWDED_LIST[:2] + NEITHER[:1], (False, 2, 3)),
        ("crowded", CROWDED_LIST[:2] + NEITHER[:2], (True, 4, 4)),
        ("crowded", NEITHER[:3], (False, 3, 4)),
        ("crowded", NEITHER[:4], (True, 4, 4)),
        # Flammable-goods places: 3 of their list, or 4 of any.
        ("flammable", FLAMMABLE_LIST[:2], (False, 2, 3)),
        ("flammable", FLAMMABLE_LIST[:3], (True, 3, 3)),
        ("flammable", FLAMMABLE_LIST[:2] + CROWDED_LIST[:1], (False, 2, 3)),
        ("flammable", FLAMMABLE_LIST[:2] + CROWDED_LIST[:2], (True, 4, 4)),
        ("flammable", CROWDED_LIST[:3], (False, 3, 4)),
        # Important places: 4 of any.
        ("important", NEITHER[:3], (False, 3, 4)),
        ("important", NEITHER[:4], (True, 4, 4)),
        ("important", NEITHER[:5], (True, 5, 4)),
        ("important", CROWDED_LIST[:3], (False, 3, 4)),
        # Other places: 6 of any; the crowded list does not apply to them.
        ("other", NEITHER[:5], (False, 5, 6)),
        ("other", NEITHER[:6], (True, 6, 6)),
        ("other", NEITHER[:7], (True, 7, 6)),
        ("other", CROWDED_LIST[:5], (False, 5, 6)),
        ("other", FLAMMABLE_LIST[:5], (False, 5, 6)),
    ],
)
def test_thresholds_for_each_class_of_place(
    loaded: Session,
    place: str,
    clauses: list[str],
    expected: tuple[bool, int, int],
) -> None:
    result = _evaluate(loaded, clauses, place)
    assert result.applies
    assert result.standard_code == FIRE
    assert result.place_class == place
    assert (result.is_major, result.met, result.threshold) == expected
    assert result.composite == tuple(_codes(*clauses))
    assert not result.direct
    assert not result.exclusions


def test_the_deciding_rule_is_explained_with_its_verification(loaded: Session) -> None:
    result = _evaluate(loaded, CROWDED_LIST[:3], "crowded")
    text = "\n".join(result.explanation)
    assert "3 or more of the elements 7.3.1, 7.3.2, 7.3.3, 7.3.4, 7.3.5, 7.3.6, 7.3.7" in text
    assert "3 of them present, so the threshold is reached." in text
    assert "4 or more of any composite element make a major hazard; 3 present" in text
    assert "This threshold is only partly verified." in text
    assert "This threshold is not verified" in text
    assert result.verification == "unverified"  # the weakest of the two rules applied
    assert [r.reached for r in result.rules] == [True, False]
    assert result.explanation[-2] == "Result: a major hazard under GB 35181-2017."


def test_a_count_that_needs_a_doubtful_element_says_so(loaded: Session) -> None:
    result = _evaluate(loaded, ["7.3.1", "7.3.2", "7.5"], "crowded")
    assert result.is_major is True
    assert result.rules[0].relies_on_doubtful
    assert result.rules[0].doubtful == (f"{FIRE}/7.5",)
    assert (
        "The threshold is reached only by counting 7.5, whose inclusion in this rule is not "
        "confirmed." in result.explanation
    )
    # 7.5 is also an unverified element.
    assert any(
        s.startswith("Marked as not verified in the catalogue: 7.5.") for s in result.explanation
    )
    solid = _evaluate(loaded, ["7.3.1", "7.3.2", "7.3.3", "7.5"], "crowded")
    assert not solid.rules[0].relies_on_doubtful


def test_a_direct_element_decides_without_counting(loaded: Session) -> None:
    for place in (None, "crowded", "other"):
        result = _evaluate(loaded, ["6.9", "7.1.1"], place)
        assert result.is_major is True, place
        assert result.direct == (f"{FIRE}/6.9",)
        assert any(s.startswith("Direct element selected (6.9)") for s in result.explanation)
    assert _evaluate(loaded, ["6.9"], None).threshold is None


def test_an_exclusion_overrides_direct_elements_and_counts(loaded: Session) -> None:
    result = _evaluate(loaded, ["6.9", *NEITHER[:6], "5.1.3b"], "other")
    assert result.is_major is False
    assert result.exclusions == (f"{FIRE}/5.1.3b",)
    assert result.rules[0].reached  # counted all the same, and shown
    assert any(s.startswith("Exclusion selected (5.1.3 b))") for s in result.explanation)


def test_without_a_class_of_place_the_count_is_not_decided(loaded: Session) -> None:
    result = _evaluate(loaded, NEITHER[:7], None)
    assert (result.applies, result.is_major, result.threshold, result.met) == (True, None, None, 7)
    assert "No class of place is set: choose one to apply the thresholds." in result.explanation
    assert result.explanation[-2] == "Result: not decided."


def test_the_superseded_standard_and_its_missing_successor_are_explained(
    loaded: Session,
) -> None:
    result = _evaluate(loaded, CROWDED_LIST[:3], "crowded")
    assert result.superseded
    assert result.explanation[1] == (
        "GB 35181-2017 was superseded by GB 35181-2025 on 2025-11-01. This is the rule of "
        "GB 35181-2017: use it for hazards judged under it, and judge newer ones under "
        "GB 35181-2025."
    )
    assert result.explanation[2].startswith(
        "The catalogue has no composite rule for GB 35181-2025: its elements and thresholds "
        "have not been obtained"
    )
    assert result.explanation[3].startswith("Under GB 35181-2017 5.1, only hazards that cannot")


@pytest.mark.parametrize(
    "codes",
    [
        [],
        ["建质规〔2024〕5号/4(1)"],
        ["GB 35181-2025/unnumbered-1"],  # the current fire standard: nothing to evaluate
    ],
)
def test_items_without_a_composite_rule(loaded: Session, codes: list[str]) -> None:
    result = standards.evaluate_composite(loaded, codes, "crowded")
    assert (result.applies, result.is_major, result.threshold) == (False, None, None)
    assert result.explanation[-1].startswith("None of the selected items belongs to a standard")


def test_other_standards_items_are_left_out_of_the_count(loaded: Session) -> None:
    codes = [*_codes(*CROWDED_LIST[:3]), "GB 45067-2024/4.6a", "GB 35181-2025/unnumbered-1"]
    result = standards.evaluate_composite(loaded, codes, "crowded")
    assert result.met == 3
    assert "Items of GB 35181-2025, GB 45067-2024 are not counted by this rule." in (
        result.explanation
    )


def test_unknown_codes_and_classes_are_reported_not_fatal(loaded: Session) -> None:
    result = standards.evaluate_composite(
        loaded, [*_codes(*CROWDED_LIST[:3]), "GB 1-1999/1"], "harbour"
    )
    assert result.place_class is None
    assert result.is_major is None
    assert result.explanation[0] == "“GB 1-1999/1” is not in the catalogue and is not counted."
    assert result.explanation[1] == "The class of place “harbour” is unknown; it is ignored."


def test_codes_are_matched_like_check_item_codes(loaded: Session) -> None:
    result = standards.evaluate_composite(
        loaded, ["gb 35181-2017/7.3.1", "GB 35181-2017/7.3.1", " GB 35181-2017/7.3.2"], "crowded"
    )
    assert result.composite == tuple(_codes("7.3.1", "7.3.2"))


def test_sentences_carry_msgid_and_params_and_can_be_translated(loaded: Session) -> None:
    def shout(msgid: str, **params: object) -> str:
        return "ZH:" + msgid % params

    result = standards.evaluate_composite(
        loaded, _codes(*CROWDED_LIST[:2]), "crowded", translate=shout
    )
    assert all(s.startswith("ZH:") for s in result.explanation)
    assert all(isinstance(s, Sentence) for s in result.explanation)
    sentence = next(s for s in result.explanation if "threshold is not reached" in s)
    assert isinstance(sentence, Sentence)
    place = sentence.params["place"]
    assert isinstance(place, Sentence)
    assert place.msgid == "Crowded place (人员密集场所)"
    assert place == "ZH:Crowded place (人员密集场所)"


def test_place_classes() -> None:
    assert [v for v, _ in standards.place_classes()] == list(schema.PLACE_CLASS_VALUES)
    labels = dict(standards.place_classes(lambda s: s.upper()))
    assert labels["other"] == "OTHER PLACE (其他场所)"


def test_an_uploaded_standard_with_its_own_rule_is_evaluated_by_the_same_engine(
    loaded: Session, clock: FakeClock
) -> None:
    admin = build_user(loaded, clock, "ruleadmin", Role.ADMINISTRATOR)
    data = {
        "format": schema.FORMAT,
        "version": "t",
        "standards": [
            {
                "code": "T 2-2026",
                "title": "测试",
                "domain": "fire",
                "status": "current",
                "verification": "verified",
                "composite_rules": [
                    {
                        "clause": "9",
                        "place_classes": ["other"],
                        "counted": "*",
                        "min_count": 2,
                        "verification": "verified",
                    }
                ],
                "items": [
                    {
                        "code": f"T 2-2026/{n}",
                        "kind": "composite",
                        "clause": str(n),
                        "text": f"要素{n}",
                        "verification": "verified",
                    }
                    for n in (1, 2)
                ],
            }
        ],
    }
    standards.import_catalogue(loaded, clock, admin, json.dumps(data).encode())
    below = standards.evaluate_composite(loaded, ["T 2-2026/1"], "other")
    at = standards.evaluate_composite(loaded, ["T 2-2026/1", "T 2-2026/2"], "other")
    assert (below.is_major, at.is_major, at.threshold) == (False, True, 2)
    assert not at.superseded
    assert at.verification == "verified"
    assert not any("not verified" in s for s in at.explanation)
