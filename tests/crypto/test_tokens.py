"""Tracking tokens: format, normalisation, the check symbol's guarantees, derivation."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import tokens
from crypto.errors import CryptoError, InvalidToken
from crypto.suite import encode_binding
from crypto.tokens import ALPHABET, TrackingToken, parse_token

#: A valid token holding 0 and 1, so the confusable letters can be exercised.
KNOWN = "7KQ2-M9XD-4R0T-1P35"
KNOWN_COMPACT = KNOWN.replace("-", "")
DISPLAY = re.compile(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}")


def is_valid(symbols: str) -> bool:
    """Whether ``symbols`` parse; any failure must be the check symbol's."""
    try:
        parse_token(symbols)
    except InvalidToken as exc:
        if exc.reason != "check":
            raise
        return False
    return True


def test_known_token_is_valid() -> None:
    assert tokens.check_symbol(KNOWN_COMPACT[:15]) == KNOWN_COMPACT[15]
    assert parse_token(KNOWN).value == KNOWN_COMPACT
    assert parse_token(KNOWN).display == KNOWN


# ---------------------------------------------------------------- format


def test_generated_tokens() -> None:
    seen = {tokens.generate_token() for _ in range(500)}
    assert len(seen) == 500
    for token in seen:
        assert DISPLAY.fullmatch(token.display)
        assert parse_token(token.display) == token
        assert token.value not in repr(token)
        assert token.value not in str(token)
        assert token.value[:4] not in f"{token}"
    # Every symbol turns up in every data position (75 bits really are random).
    for position in range(15):
        assert {t.value[position] for t in seen} == set(ALPHABET)


def test_token_object_refuses_invalid_value() -> None:
    with pytest.raises(InvalidToken):
        TrackingToken("7KQ2M9XD4R0T1P3D")
    with pytest.raises(InvalidToken):
        TrackingToken("7kq2m9xd4r0t1p35")


# ---------------------------------------------------------------- the check symbol


def test_field_arithmetic() -> None:
    """α = x generates the multiplicative group of GF(32): order 31, so the 16 weights are
    distinct and non-zero, which is what the proof in the module docstring needs."""
    powers = [tokens.weight(i) for i in range(31)]
    assert sorted(powers) == list(range(1, 32))
    assert len({tokens.weight(i) for i in range(16)}) == 16
    for a in range(32):
        assert tokens.gf_mul(a, 1) == a
        assert tokens.gf_mul(a, 0) == 0
        if a:
            assert sum(tokens.gf_mul(a, b) == 1 for b in range(1, 32)) == 1  # an inverse


def _complete(symbols: list[str], free: int) -> str:
    """Fill position ``free`` so that the token is valid; by linearity exactly one symbol does."""
    fits = []
    for candidate in ALPHABET:
        symbols[free] = candidate
        if tokens.syndrome([ALPHABET.index(c) for c in symbols]) == 0:
            fits.append(candidate)
    assert len(fits) == 1
    symbols[free] = fits[0]
    return "".join(symbols)


def test_every_single_substitution_is_caught_exhaustively() -> None:
    """All 16 positions × 31 wrong symbols. The check is linear, so whether a substitution is
    caught depends only on (position, difference); covering every position with every
    difference for one token covers every token. Random tokens are checked again below."""
    base = KNOWN_COMPACT
    for position in range(16):
        for wrong in ALPHABET:
            if wrong != base[position]:
                typo = base[:position] + wrong + base[position + 1 :]
                assert not is_valid(typo), (position, wrong)


def test_every_adjacent_swap_is_caught_exhaustively() -> None:
    """Every neighbouring pair of positions holding every ordered pair of distinct symbols
    (15 × 32 × 31 valid tokens, each swapped)."""
    checked = 0
    for position in range(15):
        free = 15 if position + 1 < 15 else 0
        for a in ALPHABET:
            for b in ALPHABET:
                if a == b:
                    continue
                symbols = list(KNOWN_COMPACT)
                symbols[position], symbols[position + 1] = a, b
                valid = _complete(symbols, free)
                assert is_valid(valid)
                swapped = valid[:position] + b + a + valid[position + 2 :]
                assert not is_valid(swapped), (position, a, b)
                checked += 1
    assert checked == 15 * 32 * 31


def test_random_tokens_all_single_errors_and_swaps_caught() -> None:
    for _ in range(150):
        value = tokens.generate_token().value
        for position in range(16):
            for wrong in ALPHABET:
                if wrong != value[position]:
                    assert not is_valid(value[:position] + wrong + value[position + 1 :])
        for i in range(16):
            for j in range(i + 1, 16):  # every transposition, neighbours or not
                if value[i] != value[j]:
                    swapped = list(value)
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    assert not is_valid("".join(swapped))


def test_integer_weights_mod_32_cannot_catch_all_swaps() -> None:
    """Why GF(32): with weights that are units mod 32 (odd, needed for single errors), every
    difference of two weights is even, and symbols 16 apart swap unnoticed."""
    for w1 in range(1, 32, 2):
        for w2 in range(1, 32, 2):
            a, b = 3, 19
            assert (w1 * a + w2 * b) % 32 == (w1 * b + w2 * a) % 32


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ2-M9XD-4R0T-1P35",
        "7KQ2M9XD4R0T1P35",
        "7kq2-m9xd-4r0t-1p35",
        "7Kq2 M9xD 4r0T 1p35",
        "  7KQ2-M9XD-4R0T-1P35\n",
        "7KQ2--M9XD--4R0T--1P35",
        "7KQ2-M9XD-4ROT-IP35",  # O for 0, I for 1
        "7KQ2-M9XD-4roT-lP35",  # o and l
        "7KQ2-M9XD-4R0T-LP35",
        "７ＫＱ２－Ｍ９ＸＤ－４Ｒ０Ｔ－１Ｐ３５",  # full width, full-width dashes
        "７ｋｑ２　ｍ９ｘｄ　４ｒ０ｔ　１ｐ３５",  # full-width lower case, ideographic spaces
        "7KQ2—M9XD—4R0T—1P35",  # em dash (Chinese IME for shift+minus)
        "7KQ2——M9XD——4R0T——1P35",
        "7KQ2–M9XD–4R0T–1P35",  # en dash
        "7KQ2−M9XD−4R0T−1P35",  # minus sign
        "7KQ2ーM9XDー4R0Tー1P35",  # katakana long-vowel mark
        "7KQ2\u200bM9XD\u200b4R0T\u200b1P35",  # zero-width spaces from a chat paste
        "\ufeff7KQ2-M9XD-4R0T-1P35",  # byte-order mark
        "7KQ2\tM9XD\t4R0T\t1P35",
        "7 K Q 2 M 9 X D 4 R 0 T 1 P 3 5",
        "７KQ2-m９xd-4ＲＯt－1p35",  # a mixture
    ],
)
def test_tokens_as_people_type_them(typed: str) -> None:
    assert parse_token(typed).value == KNOWN_COMPACT


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty"),
        ("  - -　", "empty"),
        ("7KQ2-M9XD-4R0T-1P3", "length"),
        ("7KQ2-M9XD-4R0T-1P35C", "length"),
        ("7KQ2-M9XD-4R0T-1P3U", "letter_u"),
        ("ｕKQ2-M9XD-4R0T-1P35", "letter_u"),
        ("7KQ2-M9XD-4R0T-1P3!", "character"),
        ("7KQ2_M9XD_4R0T_1P35", "character"),
        ("7KQ2-M9XD-4R0T-1P3É", "character"),
        ("七KQ2-M9XD-4R0T-1P35", "character"),
        ("7KQ2-M9XD-4R0T-1P3D", "check"),  # wrong check symbol
        ("7KQ2-M9XD-4R0T-P135", "check"),  # neighbours swapped
        ("7KQ2-M9XD-4R0T-1P35" * 6, "length"),  # refused before NFKC
    ],
)
def test_rejections(typed: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as excinfo:
        parse_token(typed)
    assert excinfo.value.reason == reason
    assert KNOWN_COMPACT[:8] not in str(excinfo.value)


def test_letter_u_reports_its_position() -> None:
    with pytest.raises(InvalidToken) as excinfo:
        parse_token("7KQ2-MUXD-4R0T-1P35")
    assert excinfo.value.position == 6


SEPARATORS = ["", "", "", "-", " ", "－", "\u3000", "—", "\t", "\u200b", "--"]
_CONFUSED = {
    "0": ["0", "O", "o", "０", "Ｏ", "ｏ"],
    "1": ["1", "I", "i", "L", "l", "１", "Ｉ", "ｌ"],
}


def _renderings(symbol: str) -> list[str]:
    if symbol in _CONFUSED:
        return _CONFUSED[symbol]
    full = chr(ord(symbol) + 0xFEE0)
    return [symbol, symbol.lower(), full, full.lower()]


@st.composite
def typed_tokens(draw: st.DrawFn) -> tuple[TrackingToken, str]:
    bits = draw(st.integers(0, (1 << 75) - 1))
    data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(15))
    token = TrackingToken(data + tokens.check_symbol(data))
    parts = [draw(st.sampled_from(SEPARATORS))]
    for symbol in token.value:
        parts.append(draw(st.sampled_from(_renderings(symbol))))
        parts.append(draw(st.sampled_from(SEPARATORS)))
    return token, "".join(parts)


@given(typed_tokens())
def test_any_rendering_resolves_to_the_same_token(case: tuple[TrackingToken, str]) -> None:
    token, typed = case
    assert parse_token(typed) == token


@given(st.text(max_size=120))
def test_random_text_parses_or_raises_invalid_token(text: str) -> None:
    try:
        token = parse_token(text)
    except InvalidToken as exc:
        reason = exc.reason
    else:
        assert DISPLAY.fullmatch(token.display)
        return
    assert reason in {"empty", "length", "character", "letter_u", "check"}


@given(st.text(alphabet=ALPHABET + "oOiIlLuU-－ ａｂ", min_size=10, max_size=24))
def test_near_miss_text_parses_or_raises_invalid_token(text: str) -> None:
    try:
        token = parse_token(text)
    except InvalidToken:
        return
    assert parse_token(token.display) == token


def test_non_string_input() -> None:
    with pytest.raises(InvalidToken):
        parse_token(b"7KQ2M9XD4R0T1P35")  # type: ignore[arg-type]


# ---------------------------------------------------------------- derivation

PEPPER = bytes(range(32))
SALT = b"site-salt-0123456789abcdef"


def _hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def test_derivation_matches_the_specification() -> None:
    """Recompute S, the index and the wrapping key with hashlib/hmac alone."""
    params = tokens.TokenParams(version=1, n=16, r=1, p=1, salt=SALT)
    token = parse_token(KNOWN)
    tip = uuid.UUID("6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e6c7a81")
    secret = tokens.derive_token_secret(token, pepper=PEPPER, params=params)
    mac = hmac.new(PEPPER, KNOWN_COMPACT.encode(), hashlib.sha256).digest()
    assert secret == hashlib.scrypt(mac, salt=SALT, n=16, r=1, p=1, dklen=32)
    assert tokens.token_index(secret) == _hkdf_sha256(secret, encode_binding("index"))
    assert tokens.token_wrapping_key(secret, tip) == _hkdf_sha256(
        secret, encode_binding("wrap", tip)
    )


def test_derivation_depends_on_every_input() -> None:
    params = tokens.cheap_token_params(SALT)
    token = parse_token(KNOWN)
    secret = tokens.derive_token_secret(token, pepper=PEPPER, params=params)
    assert secret == tokens.derive_token_secret(
        parse_token(KNOWN.lower()), pepper=PEPPER, params=params
    )
    others = {
        tokens.derive_token_secret(tokens.generate_token(), pepper=PEPPER, params=params),
        tokens.derive_token_secret(token, pepper=bytes(32), params=params),
        tokens.derive_token_secret(token, pepper=PEPPER, params=tokens.cheap_token_params()),
        tokens.derive_token_secret(
            token, pepper=PEPPER, params=tokens.TokenParams(version=1, n=32, r=1, p=1, salt=SALT)
        ),
    }
    assert secret not in others
    assert len(others) == 4
    index = tokens.token_index(secret)
    tip_a, tip_b = uuid.uuid4(), uuid.uuid4()
    keys = {
        index,
        tokens.token_wrapping_key(secret, tip_a),
        tokens.token_wrapping_key(secret, tip_b),
    }
    assert len(keys) == 3
    assert all(len(k) == 32 for k in keys)


def test_derivation_needs_a_parsed_token() -> None:
    with pytest.raises(CryptoError):
        tokens.derive_token_secret(
            KNOWN_COMPACT,  # type: ignore[arg-type]
            pepper=PEPPER,
            params=tokens.cheap_token_params(),
        )
    with pytest.raises(CryptoError):
        tokens.derive_token_secret(
            parse_token(KNOWN), pepper=b"short", params=tokens.cheap_token_params()
        )
    with pytest.raises(CryptoError):
        tokens.token_index(b"short")
    with pytest.raises(CryptoError):
        tokens.token_wrapping_key(bytes(32), "tip")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"n": 1000},
        {"n": 1},
        {"r": 0},
        {"p": -1},
        {"version": 0},
        {"salt": b"short"},
        {"n": 1 << 20, "r": 16},  # 2 GiB
        {"version": True},
    ],
)
def test_token_params_validation(changes: dict[str, object]) -> None:
    values: dict[str, object] = {"version": 1, "n": 16, "r": 1, "p": 1, "salt": SALT, **changes}
    with pytest.raises(CryptoError):
        tokens.TokenParams(**values)  # type: ignore[arg-type]


def test_token_params_hide_salt_in_repr() -> None:
    assert SALT.hex() not in repr(tokens.cheap_token_params(SALT))
    assert repr(SALT) not in repr(tokens.cheap_token_params(SALT))


def test_calibration_bounds() -> None:
    fast = tokens.calibrate_token_params(0.0, min_log2_n=4)
    assert fast.n == 16
    capped = tokens.calibrate_token_params(60.0, r=1, min_log2_n=4, max_log2_n=6, version=3)
    assert (capped.n, capped.r, capped.p, capped.version) == (64, 1, 1, 3)
    assert len(capped.salt) == 32


def test_constant_time_equal() -> None:
    assert tokens.constant_time_equal(b"abc", b"abc")
    assert not tokens.constant_time_equal(b"abc", b"abd")
    assert not tokens.constant_time_equal(b"abc", b"abcd")
