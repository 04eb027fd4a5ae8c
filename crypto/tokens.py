r"""Tracking tokens (DESIGN.md "Tracking tokens").

Format
------
A token is 16 symbols of the Crockford base32 alphabet ``0123456789ABCDEFGHJKMNPQRSTVWXYZ``
(no I, L, O, U): 15 symbols carry 75 random bits from :mod:`secrets`, the 16th is a check
symbol from the same alphabet. It is shown in four groups of four, ``7KQ2-M9XD-4R8T-ZP3W``.

Input normalisation (:func:`parse_token`): NFKC (full-width ``ＡＢ１２`` and ``－`` from Chinese
input methods become ASCII, the ideographic space a space); whitespace, every dash (Unicode
category Pd, plus ``−`` U+2212 and ``ー`` U+30FC) and invisible format characters (category Cf,
e.g. a zero-width space pasted from a chat) are dropped; letters are upper-cased; ``O`` reads as
``0``, ``I`` and ``L`` as ``1``. ``U`` is not in the alphabet and is rejected with its own reason.
Then the check symbol is verified, so a typo is reported before any expensive derivation runs.

Check symbol: why GF(32) and not a sum mod 32
---------------------------------------------
Map each symbol to its index ``0..31`` read as an element of the field GF(2⁵) = GF(2)[x]/(x⁵ + x²
+ 1) (addition is XOR). Let α = x, a primitive element (its multiplicative order is 31). A token
``d₀ … d₁₅`` is valid iff

    S(d) = Σᵢ αⁱ · dᵢ = 0        (i = 0 … 15, arithmetic in GF(32)),

and the check symbol is ``d₁₅ = α⁻¹⁵ · Σ_{i<15} αⁱ · dᵢ``.

* *Any single wrong symbol* at position i turns dᵢ into dᵢ + e with e ≠ 0; the sum changes by
  αⁱ · e, a product of two non-zero field elements, hence non-zero: detected.
* *Any swap* of dᵢ ≠ dⱼ (neighbours or not) changes the sum by
  αⁱdⱼ + αʲdᵢ − αⁱdᵢ − αʲdⱼ = (αⁱ − αʲ)(dⱼ − dᵢ), non-zero because the weights α⁰ … α¹⁵ are
  distinct (16 ≤ 31, the order of α) and dᵢ ≠ dⱼ: detected.

(This is the parity check of a Reed–Solomon-style code with minimum distance 2.) A weighted sum
*of integers* mod 32 cannot do both: catching single errors needs every weight to be a unit
(odd), and then the difference of two neighbouring weights is even, so swapping two symbols whose
indices differ by 16 goes unnoticed. Because the check is linear, whether an error is caught
depends only on the error, not on the token — which is why the exhaustive test over all
positions and symbol pairs in ``tests/crypto/test_tokens.py`` is a proof, not a sample.

Derivation
----------
``S = scrypt(HMAC-SHA256(pepper, token), site salt, n, r, p)``; the token index is
``HKDF-SHA256(S, info="index")`` and the key that wraps the reporter's copy of the data key is
``HKDF-SHA256(S, info="wrap" ‖ tip id)`` (``info`` built with the binding encoder). Salt, cost
and pepper are fixed at ``qingling init`` with a version (:class:`TokenParams`); changing them
locks every reporter out.

Proof of the token
------------------
Whoever unwrapped the data key with the token can compute :func:`reporter_proof`
``= HKDF-SHA256(data key, info="qingling reporter proof v1" ‖ tip id)``; the database stores its
SHA-256 at intake and the public site's role must present the proof itself for every reporter
step on the tip (migration 0008, ``docs/deployment.md`` "Database roles").
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from crypto.errors import CryptoError, InvalidToken
from crypto.suite import encode_binding

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOKEN_LEN = 16
DATA_LEN = 15  # 15 × 5 = 75 random bits
GROUP = 4
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_CONFUSABLE = {"O": "0", "I": "1", "L": "1"}
_EXTRA_SEPARATORS = frozenset("\u2212\u30fc")  # minus sign, katakana long-vowel mark
#: Longer input is refused before normalising (NFKC may expand a character up to 18 times).
MAX_INPUT_LEN = 100

# ---------------------------------------------------------------- the field of 32 elements

_POLY = 0b100101  # x^5 + x^2 + 1, primitive
_EXP: list[int] = []
_LOG: dict[int, int] = {}


def _build_tables() -> None:
    value = 1
    for power in range(31):
        _EXP.append(value)
        _LOG[value] = power
        value <<= 1
        if value & 0b100000:
            value ^= _POLY
    if value != 1 or len(_LOG) != 31:  # pragma: no cover - a wrong constant above
        raise RuntimeError("x^5 + x^2 + 1 is not primitive")


_build_tables()


def gf_mul(a: int, b: int) -> int:
    """Multiply two elements of GF(32) given as 5-bit integers."""
    if a == 0 or b == 0:
        return 0
    return _EXP[(_LOG[a] + _LOG[b]) % 31]


def weight(position: int) -> int:
    """αⁱ, the weight of symbol position ``i``."""
    return _EXP[position % 31]


def syndrome(values: list[int]) -> int:
    """Σ αⁱ · dᵢ over GF(32); zero for a valid token."""
    total = 0
    for position, value in enumerate(values):
        total ^= gf_mul(weight(position), value)
    return total


def check_symbol(data: str) -> str:
    """The check symbol for 15 data symbols (already normalised)."""
    if len(data) != DATA_LEN or any(c not in _INDEX for c in data):
        raise InvalidToken("length", "token data must be 15 alphabet symbols")
    partial = syndrome([_INDEX[c] for c in data])
    # d₁₅ · α¹⁵ = partial (characteristic 2: minus is plus)  ⇒  d₁₅ = partial · α⁻¹⁵
    return ALPHABET[gf_mul(partial, _EXP[(31 - DATA_LEN) % 31])]


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TrackingToken:
    """A parsed, check-verified token. ``repr`` and ``str`` never show it."""

    value: str = field(repr=False)  # the 16 normalised symbols, no dashes

    def __post_init__(self) -> None:
        if (
            not isinstance(self.value, str)
            or len(self.value) != TOKEN_LEN
            or any(c not in _INDEX for c in self.value)
            or syndrome([_INDEX[c] for c in self.value]) != 0
        ):
            raise InvalidToken("check", "not a valid tracking token")

    @property
    def display(self) -> str:
        """The token as shown to the reporter: ``7KQ2-M9XD-4R8T-ZP3W``."""
        return "-".join(self.value[i : i + GROUP] for i in range(0, TOKEN_LEN, GROUP))


def generate_token() -> TrackingToken:
    """A new token: 75 bits from :mod:`secrets` and the check symbol."""
    bits = secrets.randbits(DATA_LEN * 5)
    data = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(DATA_LEN))
    return TrackingToken(data + check_symbol(data))


def _is_separator(ch: str) -> bool:
    return ch.isspace() or ch in _EXTRA_SEPARATORS or unicodedata.category(ch) in {"Pd", "Cf"}


def normalise_token(text: str) -> str:
    """Normalise typed input to the 16 symbols, without checking the check symbol.

    Raises :class:`InvalidToken` (reason ``empty``, ``length``, ``character`` or ``letter_u``).
    """
    if not isinstance(text, str):
        raise InvalidToken("character", "a token is text")
    if len(text) > MAX_INPUT_LEN:
        raise InvalidToken("length", "too long to be a tracking token")
    symbols: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        if _is_separator(ch):
            continue
        position = len(symbols) + 1
        if not ch.isascii():
            raise InvalidToken("character", "a tracking token has no such character", position)
        upper = _CONFUSABLE.get(ch.upper(), ch.upper())
        if upper == "U":
            raise InvalidToken("letter_u", "tracking tokens never contain the letter U", position)
        if upper not in _INDEX:
            raise InvalidToken("character", "a tracking token has no such character", position)
        symbols.append(upper)
    if not symbols:
        raise InvalidToken("empty", "no tracking token was entered")
    if len(symbols) != TOKEN_LEN:
        raise InvalidToken("length", "a tracking token has 16 characters")
    return "".join(symbols)


def parse_token(text: str) -> TrackingToken:
    """Parse a token as a person typed it; raises :class:`InvalidToken` on any typo.

    Cheap: no key derivation happens here, so a typo costs nothing and is reported as such
    (reason ``check``) before the caller runs :func:`derive_token_secret`.
    """
    value = normalise_token(text)
    if syndrome([_INDEX[c] for c in value]) != 0:
        raise InvalidToken("check", "the tracking token has a typo (check character mismatch)")
    return TrackingToken(value)


# ---------------------------------------------------------------- derivation


@dataclass(frozen=True)
class TokenParams:
    """The instance's token-derivation parameters, fixed at ``qingling init``.

    ``n`` is scrypt's cost (a power of two), ``r`` its block size, ``p`` its parallelism, and
    ``salt`` the site salt (at least 16 bytes). ``version`` is stored beside them.
    """

    version: int
    n: int
    r: int
    p: int
    salt: bytes = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("version", "n", "r", "p"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CryptoError(f"token parameter {name} must be a positive int")
        if self.n < 2 or self.n & (self.n - 1):
            raise CryptoError("scrypt n must be a power of two")
        if 128 * self.n * self.r * self.p > 1 << 30:
            raise CryptoError("scrypt parameters need more than 1 GiB")
        if not isinstance(self.salt, bytes) or len(self.salt) < 16:
            raise CryptoError("token salt must be at least 16 bytes")


def new_salt() -> bytes:
    """A random 32-byte site salt."""
    return secrets.token_bytes(32)


def new_pepper() -> bytes:
    """A random 32-byte pepper (kept outside the database and backed up separately)."""
    return secrets.token_bytes(32)


def cheap_token_params(salt: bytes | None = None) -> TokenParams:
    """Deliberately weak parameters for tests and demos (n=16, r=1, p=1)."""
    return TokenParams(version=1, n=16, r=1, p=1, salt=salt or new_salt())


def _check_pepper(pepper: bytes) -> None:
    if not isinstance(pepper, bytes) or len(pepper) < 16:
        raise CryptoError("pepper must be at least 16 bytes")


def derive_token_secret(token: TrackingToken, *, pepper: bytes, params: TokenParams) -> bytes:
    """``S = scrypt(HMAC-SHA256(pepper, token), salt, n, r, p)``: the expensive step (32 bytes).

    Takes a :class:`TrackingToken`, so only input that passed the check symbol gets here.
    """
    if not isinstance(token, TrackingToken):
        raise CryptoError("parse the token first")
    _check_pepper(pepper)
    mac = hmac.new(pepper, token.value.encode("ascii"), hashlib.sha256).digest()
    kdf = Scrypt(salt=params.salt, length=32, n=params.n, r=params.r, p=params.p)
    return kdf.derive(mac)


def _hkdf(secret: bytes, info: bytes) -> bytes:
    if not isinstance(secret, bytes) or len(secret) != 32:
        raise CryptoError("token secret must be 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def token_index(secret: bytes) -> bytes:
    """``HKDF(S, "index")``: the 32-byte value stored to find the reporter's tip."""
    return _hkdf(secret, encode_binding("index"))


def token_wrapping_key(secret: bytes, tip_id: uuid.UUID) -> bytes:
    """``HKDF(S, "wrap" ‖ tip id)``: the key wrapping the reporter's copy of the data key."""
    if not isinstance(tip_id, uuid.UUID):
        raise CryptoError("tip id must be a UUID")
    return _hkdf(secret, encode_binding("wrap", tip_id))


#: HKDF ``info`` prefix of :func:`reporter_proof` (the tip id's 16 bytes follow).
REPORTER_PROOF_INFO = b"qingling reporter proof v1"


def reporter_proof(data_key: bytes, tip_id: uuid.UUID) -> bytes:
    """``HKDF-SHA256(data key, salt none, info "qingling reporter proof v1" ‖ tip id bytes)``.

    The proof that the caller holds the tip's data key, i.e. that the reporter's token was
    entered (or that this is intake, which made the key). Intake stores SHA-256 of it in
    ``tips.reporter_proof_sha256``; a reporter step on the public site presents it to
    PostgreSQL (``intake.access.present_reporter_proof``), whose triggers compare its hash, so
    a compromised public host cannot act for a tip whose token it never saw. A one-way
    function of the data key: the proof (or its hash) opens nothing. Never logged.
    """
    if not isinstance(data_key, bytes) or len(data_key) != 32:
        raise CryptoError("data key must be 32 bytes")
    if not isinstance(tip_id, uuid.UUID):
        raise CryptoError("tip id must be a UUID")
    info = REPORTER_PROOF_INFO + tip_id.bytes
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two secrets without leaking where they differ."""
    return hmac.compare_digest(a, b)


def calibrate_token_params(
    target_seconds: float = 0.05,
    *,
    r: int = 8,
    p: int = 1,
    version: int = 1,
    salt: bytes | None = None,
    min_log2_n: int = 10,
    max_log2_n: int = 20,
) -> TokenParams:
    """Parameters whose derivation takes about ``target_seconds`` here (used by ``qingling init``).

    Doubles n from 2**min_log2_n and stops at the first n whose time reaches target/√2, which is
    the power of two nearest the target on a log scale (each doubling doubles the time).
    """
    pepper = new_pepper()
    probe = generate_token()
    log2_n = min_log2_n
    while True:
        params = TokenParams(version=version, n=1 << log2_n, r=r, p=p, salt=salt or new_salt())
        elapsed = min(_time_derivation(probe, pepper, params) for _ in range(2))
        if elapsed * math.sqrt(2) >= target_seconds or log2_n >= max_log2_n:
            return params
        log2_n += 1


def _time_derivation(token: TrackingToken, pepper: bytes, params: TokenParams) -> float:
    start = time.perf_counter()
    derive_token_secret(token, pepper=pepper, params=params)
    return time.perf_counter() - start
