"""TOTP: RFC 6238 vectors, the ±1 step window, base32 and the provisioning URI."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from crypto import totp

# RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; 8-digit codes, we use the last 6.
RFC_SEED = b"12345678901234567890"
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
]


@pytest.mark.parametrize(("unix", "code8"), RFC_VECTORS)
def test_rfc6238_vectors(unix: int, code8: str) -> None:
    at = dt.datetime.fromtimestamp(unix, dt.UTC)
    assert totp.code_at(RFC_SEED, at) == code8[-6:]


def test_verify_accepts_one_step_either_side_and_returns_the_step() -> None:
    seed = totp.new_seed()
    now = dt.datetime(2026, 11, 1, 2, 0, 10, tzinfo=dt.UTC)
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_for_step(seed, step + offset)
        assert totp.verify(seed, code, now) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.code_for_step(seed, step + offset)
        if code not in {totp.code_for_step(seed, step + o) for o in (-1, 0, 1)}:
            assert totp.verify(seed, code, now) is None


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5"])
def test_malformed_codes_are_refused(bad: str) -> None:
    assert totp.verify(totp.new_seed(), bad, dt.datetime.now(dt.UTC)) is None


def test_spaces_inside_a_code_are_allowed() -> None:
    seed = totp.new_seed()
    now = dt.datetime.now(dt.UTC)
    code = totp.code_at(seed, now)
    assert totp.verify(seed, f"{code[:3]} {code[3:]}", now) == totp.step_at(now)


def test_seed_and_base32() -> None:
    seed = totp.new_seed()
    assert len(seed) == 20
    text = totp.to_base32(seed)
    assert len(text) == 32
    assert "=" not in text
    assert totp.from_base32(text.lower()) == seed
    assert totp.from_base32(" ".join([text[:4], text[4:]])) == seed
    assert totp.new_seed() != seed


def test_provisioning_uri() -> None:
    seed = totp.new_seed()
    uri = totp.provisioning_uri(seed, "wang.li")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert "wang.li" in parts.path
    query = parse_qs(parts.query)
    assert query["secret"] == [totp.to_base32(seed)]
    assert query["issuer"] == ["Qingling"]
    assert query.get("digits", ["6"]) == ["6"]
    assert query.get("period", ["30"]) == ["30"]
