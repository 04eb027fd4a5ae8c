"""TOTP second factor (RFC 6238): SHA-1, 6 digits, 30-second steps, 160-bit random seeds.

These are the parameters every authenticator app supports. :func:`verify` accepts the current
step and one step either side (clock drift) and returns the step that matched, so the caller can
remember it and refuse that code, and every earlier one, from then on.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import os

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

SEED_BYTES = 20  # 160 bits, as RFC 4226 recommends
DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps accepted either side of the current one
ISSUER = "Qingling"


def new_seed() -> bytes:
    return os.urandom(SEED_BYTES)


def to_base32(seed: bytes) -> str:
    """The secret as authenticator apps want it typed: base32, no padding (32 characters)."""
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    cleaned = "".join(text.split()).upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def _totp(seed: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 and every authenticator app use here; HMAC-SHA-1 remains sound.
    return TOTP(seed, DIGITS, SHA1(), STEP_SECONDS)  # noqa: S303


def step_at(at: dt.datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_for_step(seed: bytes, step: int) -> str:
    return _totp(seed).generate(step * STEP_SECONDS).decode("ascii")


def code_at(seed: bytes, at: dt.datetime) -> str:
    """The code an authenticator app shows at ``at``."""
    return code_for_step(seed, step_at(at))


def normalise_code(code: str) -> str | None:
    """Digits only (spaces allowed, as apps show "123 456"); None when it cannot be a code."""
    cleaned = "".join(code.split())
    if len(cleaned) != DIGITS or not cleaned.isascii() or not cleaned.isdigit():
        return None
    return cleaned


def verify(seed: bytes, code: str, at: dt.datetime) -> int | None:
    """The time step whose code equals ``code`` within ±:data:`WINDOW` steps, else None.

    The latest matching step is returned. Comparison is in constant time.
    """
    cleaned = normalise_code(code)
    if cleaned is None:
        return None
    now = step_at(at)
    matched = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(code_for_step(seed, step), cleaned):
            matched = step
    return matched


def provisioning_uri(seed: bytes, account_name: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    return _totp(seed).get_provisioning_uri(account_name, issuer)
