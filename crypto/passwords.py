"""Staff password hashing: one Argon2id output, split by HKDF into a verifier and a wrapping key.

    out      = Argon2id(password, salt = 16 random bytes, secret = pepper, m, t, p, 32 bytes)
    verifier = HKDF-SHA256(out, info = "qingling/password/verifier/v1")   stored
    wrap_key = HKDF-SHA256(out, info = "qingling/password/wrap/v1")       never stored

The pepper (``QINGLING_PASSWORD_PEPPER``) goes into Argon2's own ``secret`` input (RFC 9106 §3.1,
"K"), not through a separate HMAC: a database dump without the pepper gives nothing to guess
against. The password is normalised to Unicode NFC (RFC 8265 OpaqueString) and encoded as UTF-8,
so the same password typed on another keyboard or input method still matches.

No cheaper hash of the password exists anywhere: the verifier needs the full Argon2id work,
and the wrapping key cannot be derived from the verifier.
"""

from __future__ import annotations

import hmac
import os
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SALT_BYTES = 16
OUTPUT_BYTES = 32
_INFO_VERIFIER = b"qingling/password/verifier/v1"
_INFO_WRAP = b"qingling/password/wrap/v1"
_PARAMS_RE = re.compile(r"argon2id:m=(\d+),t=(\d+),p=(\d+)")


@dataclass(frozen=True)
class KdfParams:
    """Argon2id costs, stored with each user as ``argon2id:m=65536,t=3,p=1``."""

    memory_kib: int
    iterations: int
    lanes: int

    def encode(self) -> str:
        return f"argon2id:m={self.memory_kib},t={self.iterations},p={self.lanes}"

    @classmethod
    def parse(cls, text: str) -> KdfParams:
        match = _PARAMS_RE.fullmatch(text)
        if match is None:
            raise ValueError(f"unknown password KDF parameters: {text!r}")
        m, t, p = (int(g) for g in match.groups())
        return cls(memory_kib=m, iterations=t, lanes=p)


@dataclass(frozen=True)
class DerivedKeys:
    verifier: bytes = field(repr=False)  # stored, compared with :func:`verifier_matches`
    wrap_key: bytes = field(repr=False)  # wraps the personal key; never stored


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=OUTPUT_BYTES, salt=None, info=info).derive(key)


def derive(password: str, salt: bytes, pepper: bytes, params: KdfParams) -> DerivedKeys:
    """Run Argon2id once and derive both keys from its output."""
    material = unicodedata.normalize("NFC", password).encode("utf-8")
    kdf = Argon2id(
        salt=salt,
        length=OUTPUT_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        ad=None,
        secret=pepper,
    )
    out = kdf.derive(material)
    return DerivedKeys(verifier=_hkdf(out, _INFO_VERIFIER), wrap_key=_hkdf(out, _INFO_WRAP))


def verifier_matches(stored: bytes, candidate: bytes) -> bool:
    """Compare two verifiers in constant time."""
    return hmac.compare_digest(stored, candidate)
