"""The unified social credit code check character (GB 32100-2015)."""

from __future__ import annotations

import pytest

from registry import credit_code
from registry.credit_code import ALPHABET, CreditCodeError, check_character, is_valid, parse
from tests.registry.conftest import credit_code as made_up

# Published examples (certificates reproduced in GB 32100 commentary and public notices).
VALID = ("91350100M000100Y43", "91110000600037341L", "52320582MJ5733400U")


def test_the_alphabet_and_weights() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOZSV") & set(ALPHABET)
    assert credit_code.WEIGHTS[:6] == (1, 3, 9, 27, 19, 26)
    assert all(w == pow(3, i, 31) for i, w in enumerate(credit_code.WEIGHTS))


@pytest.mark.parametrize("code", VALID)
def test_valid_codes(code: str) -> None:
    assert is_valid(code)
    assert parse(code) == code


def test_check_31_is_written_0() -> None:
    # A body whose weighted sum is 0 mod 31 has check value 31, written "0"; a sum of 1 gives
    # 30, the last symbol.
    assert check_character("0" * 17) == "0"
    assert check_character("1" + "0" * 16) == ALPHABET[30] == "Y"


@pytest.mark.parametrize("code", VALID)
def test_every_single_wrong_character_is_caught(code: str) -> None:
    for position in range(18):
        for replacement in ALPHABET:
            if replacement == code[position]:
                continue
            wrong = code[:position] + replacement + code[position + 1 :]
            assert not is_valid(wrong), wrong


def test_neighbour_swaps_are_mostly_caught() -> None:
    code = VALID[0]
    caught = 0
    swaps = 0
    for i in range(17):
        if code[i] == code[i + 1]:
            continue
        swaps += 1
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
        caught += not is_valid(swapped)
    assert caught == swaps


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100Y433", "18 characters"),
        ("91350100M00O100Y43", "contains O"),
        ("91350100I000100Y43", "contains I"),
        ("91350100S000100Z43", "contains S Z"),
        ("9135010@M000100Y43", "contains @"),
        ("91350100M000100Y44", "check character"),
    ],
)
def test_bad_codes_say_why(text: str, fragment: str) -> None:
    with pytest.raises(CreditCodeError) as caught:
        parse(text)
    assert fragment in str(caught.value)


def test_forgiven_input() -> None:
    assert parse(" 9135 0100-M000 100y43 ") == "91350100M000100Y43"
    assert parse("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"  # full width
    assert not is_valid("")


def test_made_up_codes_are_valid() -> None:
    codes = {made_up(i) for i in range(200)}
    assert len(codes) == 200
    assert all(is_valid(c) for c in codes)
