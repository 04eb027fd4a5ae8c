"""Signed public-key records (DESIGN.md "Public keys are signed").

Each key record — id, purpose, version, raw public key — is signed with an Ed25519 key that only
the staff side holds. The public site pins the verifying key in its settings and calls
:func:`verify_key_record` with the newest version it has seen before sealing anything to a key,
so a write to the database cannot redirect new tips to an attacker's key, nor roll a group back
to an older (perhaps compromised, perhaps removed-member-readable) key.

The signed message is ``encode_binding("qingling/key-record", header, id, purpose, version,
public key)`` with the SIGNATURE envelope header; the stored signature is ``header ‖ 64-byte
Ed25519 signature`` (67 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _LibInvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crypto.envelope import KEY_LEN, KeyPair, parse_envelope
from crypto.errors import CryptoError, InvalidSignature
from crypto.suite import CURRENT_SUITE, BindingField, EnvelopeType, encode_binding, header


@dataclass(frozen=True)
class KeyRecord:
    """A public key as published to the public site."""

    key_id: BindingField
    purpose: str  # e.g. "group/triage", "group/recovery", "group/finance"
    version: int
    public_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, bytes) or len(self.public_key) != KEY_LEN:
            raise CryptoError("public key must be 32 bytes")
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise CryptoError("key version must be an int")
        if self.version < 1:
            raise CryptoError("key versions start at 1")


def generate_signing_keypair() -> KeyPair:
    """A fresh Ed25519 key pair as raw 32-byte strings."""
    private = ed25519.Ed25519PrivateKey.generate()
    return KeyPair(
        private_key=private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def verifying_key_of(signing_key: bytes) -> bytes:
    """The raw Ed25519 verifying (public) key of a raw signing key."""
    return _signing_key(signing_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def encode_key_record(record: KeyRecord, head: bytes | None = None) -> bytes:
    """The canonical bytes that are signed for ``record``."""
    if head is None:
        head = header(CURRENT_SUITE, EnvelopeType.SIGNATURE)
    return encode_binding(
        "qingling/key-record",
        head,
        record.key_id,
        record.purpose,
        record.version,
        record.public_key,
    )


def sign_key_record(signing_key: bytes, record: KeyRecord) -> bytes:
    """Sign a key record; returns the 67-byte signature envelope."""
    head = header(CURRENT_SUITE, EnvelopeType.SIGNATURE)
    return head + _signing_key(signing_key).sign(encode_key_record(record, head))


def verify_key_record(
    verifying_key: bytes,
    record: KeyRecord,
    signature: bytes,
    *,
    min_version: int = 1,
) -> None:
    """Check ``signature`` over ``record``; raise :class:`InvalidSignature` unless it verifies
    under the pinned ``verifying_key`` and ``record.version >= min_version`` (pass the newest
    version seen for this key id to refuse a rollback)."""
    if not isinstance(verifying_key, bytes) or len(verifying_key) != KEY_LEN:
        raise CryptoError("verifying key must be 32 bytes")
    parsed = parse_envelope(signature, EnvelopeType.SIGNATURE)
    head = header(parsed.suite, parsed.envelope_type)
    try:
        public = ed25519.Ed25519PublicKey.from_public_bytes(verifying_key)
        public.verify(parsed.body, encode_key_record(record, head))
    except (_LibInvalidSignature, ValueError):
        raise InvalidSignature("key record signature does not verify") from None
    if record.version < min_version:
        raise InvalidSignature("key record version is older than one already seen")


def _signing_key(raw: bytes) -> ed25519.Ed25519PrivateKey:
    if not isinstance(raw, bytes) or len(raw) != KEY_LEN:
        raise CryptoError("signing key must be 32 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
