"""Signed key records: round trip, every altered field, wrong key, rollback, malformed input."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.envelope import generate_keypair
from crypto.errors import CryptoError, InvalidSignature, MalformedEnvelope
from crypto.signing import (
    KeyRecord,
    encode_key_record,
    generate_signing_keypair,
    sign_key_record,
    verify_key_record,
    verifying_key_of,
)

SIGNER = generate_signing_keypair()
GROUP_ID = uuid.UUID("2b7e1516-28ae-4d2a-8abf-7158809cf4f3")


@pytest.fixture
def record() -> KeyRecord:
    return KeyRecord(
        key_id=GROUP_ID, purpose="group/triage", version=3, public_key=generate_keypair().public_key
    )


def test_round_trip(record: KeyRecord) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    assert len(signature) == 67
    verify_key_record(SIGNER.public_key, record, signature)
    verify_key_record(SIGNER.public_key, record, signature, min_version=3)
    assert verifying_key_of(SIGNER.private_key) == SIGNER.public_key


@pytest.mark.parametrize(
    "changes",
    [
        {"key_id": uuid.UUID("00000000-0000-4000-8000-000000000000")},
        {"key_id": str(GROUP_ID)},
        {"purpose": "group/recovery"},
        {"version": 4},
        {"public_key": bytes(32)},
    ],
)
def test_any_altered_field_fails(record: KeyRecord, changes: dict[str, Any]) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    with pytest.raises(InvalidSignature):
        verify_key_record(SIGNER.public_key, dataclasses.replace(record, **changes), signature)


def test_wrong_verifying_key(record: KeyRecord) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    with pytest.raises(InvalidSignature):
        verify_key_record(generate_signing_keypair().public_key, record, signature)


def test_rollback_refused(record: KeyRecord) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    with pytest.raises(InvalidSignature, match="older"):
        verify_key_record(SIGNER.public_key, record, signature, min_version=4)


def test_every_flipped_bit_fails(record: KeyRecord) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    for bit in range(len(signature) * 8):
        bad = bytearray(signature)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CryptoError):
            verify_key_record(SIGNER.public_key, record, bytes(bad))


def test_malformed_signatures(record: KeyRecord) -> None:
    signature = sign_key_record(SIGNER.private_key, record)
    for bad in (b"", signature[:-1], signature + b"\x00", signature[3:], b"\x00" * 67):
        with pytest.raises(MalformedEnvelope):
            verify_key_record(SIGNER.public_key, record, bad)
    with pytest.raises(CryptoError):
        verify_key_record(b"short", record, signature)


def test_encoding_is_canonical_and_unambiguous(record: KeyRecord) -> None:
    assert encode_key_record(record) == encode_key_record(dataclasses.replace(record))
    a = KeyRecord(key_id="ab", purpose="c", version=1, public_key=bytes(32))
    b = KeyRecord(key_id="a", purpose="bc", version=1, public_key=bytes(32))
    assert encode_key_record(a) != encode_key_record(b)


@pytest.mark.parametrize(
    "changes",
    [{"public_key": b"short"}, {"version": 0}, {"version": True}, {"version": "1"}],
)
def test_key_record_validation(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "key_id": 1,
        "purpose": "group/triage",
        "version": 1,
        "public_key": bytes(32),
        **changes,
    }
    with pytest.raises(CryptoError):
        KeyRecord(**values)


def test_bad_signing_key(record: KeyRecord) -> None:
    with pytest.raises(CryptoError):
        sign_key_record(b"short", record)


@given(st.binary(max_size=100))
def test_random_signatures_only_raise_crypto_error(blob: bytes) -> None:
    record = KeyRecord(key_id=1, purpose="p", version=1, public_key=bytes(32))
    with pytest.raises(CryptoError):
        verify_key_record(SIGNER.public_key, record, blob)
