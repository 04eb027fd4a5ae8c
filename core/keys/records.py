"""Signed public key records: making them on the staff side, checking them on either side.

A record is ``KeyRecord(key id, purpose, version, public key)`` (:mod:`crypto.signing`):

============================  ===========  ===============================
what                          key id       purpose
============================  ===========  ===============================
a key group's version         group id     ``group/<slug>`` (``group/triage:city``, …)
a staff member's personal key user id      ``personal``
============================  ===========  ===============================

The purpose carries the group's slug, so a database writer cannot pass one group's signed key
off as another's (the city triage key as a division's, say): the reader computes the purpose it
expects from what it is looking for, never from the row.
"""

from __future__ import annotations

import hashlib

from core.keys.errors import KeyRecordRejected, SigningKeyMissing
from core.settings import Settings
from crypto import signing
from crypto.errors import CryptoError
from crypto.suite import encode_binding

PERSONAL_PURPOSE = "personal"


def group_purpose(slug: str) -> str:
    return f"group/{slug}"


def signing_key(settings: Settings) -> bytes:
    """The staff-side signing key, or a clear error on a host that lacks it."""
    if not settings.key_signing_key:
        raise SigningKeyMissing()
    return settings.key_signing_key


def staff_verifying_key(settings: Settings) -> bytes:
    """On the staff side the verifying key is the signing key's own half."""
    return signing.verifying_key_of(signing_key(settings))


def sign(settings: Settings, record: signing.KeyRecord) -> bytes:
    return signing.sign_key_record(signing_key(settings), record)


def record_sha256(record: signing.KeyRecord, signature: bytes) -> str:
    """The hash of a record and its signature, as it enters the audit chain."""
    body = encode_binding(
        "qingling/key-record-hash",
        record.key_id,
        record.purpose,
        record.version,
        record.public_key,
        signature,
    )
    return hashlib.sha256(body).hexdigest()


def envelope_sha256(envelope: bytes) -> str:
    """The hash of a stored envelope, as it enters the audit chain."""
    return hashlib.sha256(envelope).hexdigest()


def verify(
    verifying_key: bytes, record: signing.KeyRecord, signature: bytes, *, min_version: int = 1
) -> None:
    """Raise :class:`KeyRecordRejected` unless ``signature`` is a valid signature of
    ``record`` under ``verifying_key`` (version checks are the caller's: see
    :func:`core.keys.services.tip_recipients`)."""
    try:
        signing.verify_key_record(verifying_key, record, signature, min_version=min_version)
    except CryptoError:
        raise KeyRecordRejected() from None
