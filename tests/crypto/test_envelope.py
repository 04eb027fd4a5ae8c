"""Envelopes: round trips, bindings, tampering, and the parser on hostile input."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import envelope as env
from crypto.errors import CryptoError, DecryptionFailed, MalformedEnvelope
from crypto.suite import MAGIC, EnvelopeType, SuiteId, encode_binding, header

TIP = uuid.UUID("6f1c2a4e-8b1d-4c3e-9a7f-0d2b5e6c7a81")
OTHER_TIP = uuid.UUID("0a9d8c7b-6e5f-4a3b-8c1d-2e3f4a5b6c7d")


@pytest.fixture
def group() -> env.KeyPair:
    return env.generate_keypair()


@pytest.fixture
def data_key() -> bytes:
    return env.new_data_key()


def field_kwargs(**changes: object) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tip_id": TIP,
        "kind": "tip",
        "object_id": TIP,
        "field_name": "description",
    }
    kwargs.update(changes)
    return kwargs


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


# ---------------------------------------------------------------- binding encoder


def test_binding_is_length_prefixed_and_typed() -> None:
    assert encode_binding("ab", "c") != encode_binding("a", "bc")
    assert encode_binding(5) != encode_binding("5")
    assert encode_binding(b"x") != encode_binding("x")
    assert encode_binding(TIP) != encode_binding(TIP.bytes)
    assert encode_binding("a", "") != encode_binding("a")
    assert encode_binding("ab") == b"s\x00\x00\x00\x02ab"
    assert encode_binding(1) == b"i\x00\x00\x00\x08" + (1).to_bytes(8, "big")


@pytest.mark.parametrize("bad", [True, -1, 1 << 64, 1.5, None, b"x" * 70000])
def test_binding_rejects_bad_fields(bad: object) -> None:
    with pytest.raises(CryptoError):
        encode_binding(bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- keys


def test_keypair_and_fingerprint(group: env.KeyPair) -> None:
    assert len(group.private_key) == len(group.public_key) == 32
    assert env.public_key_of(group.private_key) == group.public_key
    assert group.private_key.hex() not in repr(group)
    fp = env.fingerprint(group.public_key)
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}", fp)
    assert fp == env.fingerprint(group.public_key)
    assert fp != env.fingerprint(env.generate_keypair().public_key)
    with pytest.raises(CryptoError):
        env.fingerprint(b"short")


# ---------------------------------------------------------------- data keys (HPKE)


def test_data_key_round_trip(group: env.KeyPair, data_key: bytes) -> None:
    sealed = env.seal_data_key(
        group.public_key, data_key, tip_id=TIP, group_id="d-3", group_version=2
    )
    assert len(sealed) == 83
    assert sealed[:3] == bytes((MAGIC, SuiteId.V1, EnvelopeType.DATA_KEY))
    opened = env.open_data_key(
        group.private_key, sealed, tip_id=TIP, group_id="d-3", group_version=2
    )
    assert opened == data_key
    # Fresh ephemeral key each time.
    assert sealed != env.seal_data_key(
        group.public_key, data_key, tip_id=TIP, group_id="d-3", group_version=2
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"tip_id": OTHER_TIP},  # moved to another tip
        {"group_id": "d-4"},  # another group
        {"group_version": 3},  # another version of the group key
    ],
)
def test_data_key_binding(group: env.KeyPair, data_key: bytes, changes: dict[str, Any]) -> None:
    sealed = env.seal_data_key(
        group.public_key, data_key, tip_id=TIP, group_id="d-3", group_version=2
    )
    kwargs: dict[str, Any] = {"tip_id": TIP, "group_id": "d-3", "group_version": 2, **changes}
    with pytest.raises(DecryptionFailed):
        env.open_data_key(group.private_key, sealed, **kwargs)


def test_data_key_wrong_group_key(group: env.KeyPair, data_key: bytes) -> None:
    sealed = env.seal_data_key(group.public_key, data_key, tip_id=TIP, group_id=1, group_version=1)
    with pytest.raises(DecryptionFailed):
        env.open_data_key(
            env.generate_keypair().private_key, sealed, tip_id=TIP, group_id=1, group_version=1
        )


def test_data_key_every_flipped_bit_fails(group: env.KeyPair, data_key: bytes) -> None:
    sealed = env.seal_data_key(group.public_key, data_key, tip_id=TIP, group_id=1, group_version=1)
    for bit in range(len(sealed) * 8):
        with pytest.raises(CryptoError):
            env.open_data_key(
                group.private_key, flip(sealed, bit), tip_id=TIP, group_id=1, group_version=1
            )


def test_seal_rejects_bad_keys(group: env.KeyPair) -> None:
    with pytest.raises(CryptoError):  # low-order point: all-zero shared secret
        env.seal_data_key(bytes(32), env.new_data_key(), tip_id=TIP, group_id=1, group_version=1)
    with pytest.raises(CryptoError):
        env.seal_data_key(b"x" * 31, env.new_data_key(), tip_id=TIP, group_id=1, group_version=1)
    with pytest.raises(CryptoError):
        env.seal_data_key(group.public_key, b"k" * 16, tip_id=TIP, group_id=1, group_version=1)
    with pytest.raises(CryptoError):
        env.seal_data_key(
            group.public_key,
            env.new_data_key(),
            tip_id=str(TIP),  # type: ignore[arg-type]
            group_id=1,
            group_version=1,
        )


# ---------------------------------------------------------------- group keys (HPKE)


GROUP_BINDING: dict[str, Any] = {
    "group_id": "city-triage",
    "group_version": 4,
    "user_id": 17,
    "user_key_version": 2,
}


def test_group_key_round_trip(group: env.KeyPair) -> None:
    member = env.generate_keypair()
    sealed = env.seal_group_key(member.public_key, group.private_key, **GROUP_BINDING)
    assert len(sealed) == 83
    assert env.open_group_key(member.private_key, sealed, **GROUP_BINDING) == group.private_key


@pytest.mark.parametrize(
    "changes",
    [{"group_id": "d-1"}, {"group_version": 5}, {"user_id": 18}, {"user_key_version": 1}],
)
def test_group_key_binding(group: env.KeyPair, changes: dict[str, Any]) -> None:
    member = env.generate_keypair()
    sealed = env.seal_group_key(member.public_key, group.private_key, **GROUP_BINDING)
    with pytest.raises(DecryptionFailed):
        env.open_group_key(member.private_key, sealed, **{**GROUP_BINDING, **changes})


def test_group_key_wrong_member(group: env.KeyPair) -> None:
    member = env.generate_keypair()
    sealed = env.seal_group_key(member.public_key, group.private_key, **GROUP_BINDING)
    with pytest.raises(DecryptionFailed):
        env.open_group_key(env.generate_keypair().private_key, sealed, **GROUP_BINDING)


def test_envelope_types_do_not_mix(group: env.KeyPair, data_key: bytes) -> None:
    """A data-key envelope has the length of a group-key envelope, yet neither opens as the
    other: the type byte is checked, and forging it breaks the HPKE info binding."""
    sealed = env.seal_data_key(group.public_key, data_key, tip_id=TIP, group_id=1, group_version=1)
    binding = {"group_id": 1, "group_version": 1, "user_id": 1, "user_key_version": 1}
    with pytest.raises(MalformedEnvelope):
        env.open_group_key(group.private_key, sealed, **binding)
    forged = sealed[:2] + bytes((EnvelopeType.GROUP_KEY,)) + sealed[3:]
    with pytest.raises(DecryptionFailed):
        env.open_group_key(group.private_key, forged, **binding)


def test_unknown_suite_rejected(group: env.KeyPair, data_key: bytes) -> None:
    sealed = env.seal_data_key(group.public_key, data_key, tip_id=TIP, group_id=1, group_version=1)
    with pytest.raises(MalformedEnvelope, match="unknown suite"):
        env.open_data_key(
            group.private_key,
            sealed[:1] + b"\x7f" + sealed[2:],
            tip_id=TIP,
            group_id=1,
            group_version=1,
        )


# ---------------------------------------------------------------- fields


@pytest.mark.parametrize("size", [0, 1, 62, 63, 64, 65, 127, 128, 4000, 16383, 16384, 40000])
def test_field_round_trip_and_bucket(data_key: bytes, size: int) -> None:
    plaintext = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    sealed = env.encrypt_field(data_key, plaintext, **field_kwargs())
    assert len(sealed) == 3 + 12 + env.padded_length(size) + 16
    assert env.decrypt_field(data_key, sealed, **field_kwargs()) == plaintext


def test_text_round_trip(data_key: bytes) -> None:
    text = "养老院消防通道被堵塞，灭火器过期。🔥"
    sealed = env.encrypt_text(data_key, text, **field_kwargs())
    assert text.encode() not in sealed
    assert env.decrypt_text(data_key, sealed, **field_kwargs()) == text


def test_padding_hides_length_within_a_bucket(data_key: bytes) -> None:
    short = env.encrypt_field(data_key, b"a", **field_kwargs())
    longer = env.encrypt_field(data_key, b"a" * 63, **field_kwargs())
    assert len(short) == len(longer)
    assert short != env.encrypt_field(data_key, b"a", **field_kwargs())


def test_padding_buckets() -> None:
    assert [env.padded_length(n) for n in (0, 63, 64, 127, 128, 1000, 16383, 16384, 32767, 32768)] == [
        64, 64, 128, 128, 256, 1024, 16384, 32768, 32768, 49152,
    ]  # fmt: skip
    for n in range(0, 70000, 97):
        bucket = env.padded_length(n)
        assert bucket > n
        assert env.is_bucket(bucket)
        assert env.unpad(env.pad(b"\x00" * n)) == b"\x00" * n
        assert env.unpad(env.pad(b"\x80" * n)) == b"\x80" * n


@pytest.mark.parametrize(
    "padded",
    [
        bytes(64),  # no marker
        b"x" * 64,  # no marker
        b"x" * 10 + b"\x80" + bytes(117),  # 128 bytes, but 11 bytes belong in the 64 bucket
        b"x" * 10 + b"\x80\x01" + bytes(52),  # junk after the marker
    ],
)
def test_unpad_rejects_non_canonical(padded: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        env.unpad(padded)


def test_field_too_long(data_key: bytes) -> None:
    with pytest.raises(CryptoError):
        env.encrypt_field(data_key, bytes(env.MAX_FIELD_LEN + 1), **field_kwargs())


@pytest.mark.parametrize(
    "changes",
    [
        {"tip_id": OTHER_TIP},  # moved to another tip
        {"kind": "message"},  # another kind of object
        {"object_id": OTHER_TIP},  # another object of the same tip
        {"field_name": "location"},  # swapped with another column
    ],
)
def test_field_binding(data_key: bytes, changes: dict[str, Any]) -> None:
    sealed = env.encrypt_field(data_key, b"canary", **field_kwargs())
    with pytest.raises(DecryptionFailed):
        env.decrypt_field(data_key, sealed, **field_kwargs(**changes))


def test_field_swapped_between_columns(data_key: bytes) -> None:
    description = env.encrypt_text(data_key, "堵塞", **field_kwargs())
    location = env.encrypt_text(data_key, "三楼", **field_kwargs(field_name="location"))
    with pytest.raises(DecryptionFailed):
        env.decrypt_text(data_key, location, **field_kwargs())
    with pytest.raises(DecryptionFailed):
        env.decrypt_text(data_key, description, **field_kwargs(field_name="location"))


def test_field_wrong_key(data_key: bytes) -> None:
    sealed = env.encrypt_field(data_key, b"x", **field_kwargs())
    with pytest.raises(DecryptionFailed):
        env.decrypt_field(env.new_data_key(), sealed, **field_kwargs())


def test_field_every_flipped_bit_fails(data_key: bytes) -> None:
    sealed = env.encrypt_field(data_key, b"hello", **field_kwargs())
    for bit in range(len(sealed) * 8):
        with pytest.raises(CryptoError):
            env.decrypt_field(data_key, flip(sealed, bit), **field_kwargs())


def test_field_truncated_or_extended(data_key: bytes) -> None:
    sealed = env.encrypt_field(data_key, b"hello", **field_kwargs())
    for bad in (sealed[:-1], sealed + b"\x00", sealed[:3], b"", sealed[:-16]):
        with pytest.raises(MalformedEnvelope):
            env.decrypt_field(data_key, bad, **field_kwargs())


def test_decrypt_text_rejects_non_utf8(data_key: bytes) -> None:
    sealed = env.encrypt_field(data_key, b"\xff\xfe", **field_kwargs())
    with pytest.raises(MalformedEnvelope):
        env.decrypt_text(data_key, sealed, **field_kwargs())


# ---------------------------------------------------------------- wrapped bytes


def test_wrap_round_trip_and_binding() -> None:
    key = env.new_data_key()
    secret = env.generate_keypair().private_key
    wrapped = env.wrap(key, secret, purpose="personal-key/password", context=(17, 2))
    assert len(wrapped) == 3 + 12 + 32 + 16
    assert env.unwrap(key, wrapped, purpose="personal-key/password", context=(17, 2)) == secret
    for purpose, context in [
        ("personal-key/recovery", (17, 2)),
        ("personal-key/password", (18, 2)),
        ("personal-key/password", (17, 3)),
        ("personal-key/password", (17,)),
    ]:
        with pytest.raises(DecryptionFailed):
            env.unwrap(key, wrapped, purpose=purpose, context=context)
    with pytest.raises(DecryptionFailed):
        env.unwrap(env.new_data_key(), wrapped, purpose="personal-key/password", context=(17, 2))
    for bit in range(len(wrapped) * 8):
        with pytest.raises(CryptoError):
            env.unwrap(key, flip(wrapped, bit), purpose="personal-key/password", context=(17, 2))


def test_wrap_empty_and_bad_key() -> None:
    key = env.new_data_key()
    assert env.unwrap(key, env.wrap(key, b"", purpose="p"), purpose="p") == b""
    with pytest.raises(CryptoError):
        env.wrap(b"short", b"x", purpose="p")


# ---------------------------------------------------------------- the parser on hostile input


def _openers() -> list[Callable[[bytes], object]]:
    key = env.new_data_key()
    pair = env.generate_keypair()
    return [
        env.parse_envelope,
        lambda b: env.open_data_key(pair.private_key, b, tip_id=TIP, group_id=1, group_version=1),
        lambda b: env.open_group_key(
            pair.private_key, b, group_id=1, group_version=1, user_id=1, user_key_version=1
        ),
        lambda b: env.decrypt_field(key, b, **field_kwargs()),
        lambda b: env.decrypt_text(key, b, **field_kwargs()),
        lambda b: env.unwrap(key, b, purpose="p"),
    ]


OPENERS = _openers()

headers = st.sampled_from([header(SuiteId.V1, t) for t in EnvelopeType] + [b"", b"Q", b"Q\x01"])


@given(st.binary(max_size=300))
def test_random_bytes_only_raise_crypto_error(blob: bytes) -> None:
    for opener in OPENERS:
        with contextlib.suppress(CryptoError):
            opener(blob)


@given(headers, st.binary(max_size=300))
def test_random_bodies_behind_valid_headers_only_raise_crypto_error(
    head: bytes, body: bytes
) -> None:
    blob = head + body
    for opener in OPENERS[1:]:
        with pytest.raises(CryptoError):
            opener(blob)
    try:
        parsed = env.parse_envelope(blob)
    except MalformedEnvelope:
        return
    assert parsed.body == body


@pytest.mark.parametrize("value", ["text", None, 5, bytearray(b"Q\x01\x02")])
def test_non_bytes_rejected(value: object) -> None:
    with pytest.raises(MalformedEnvelope):
        env.parse_envelope(value)  # type: ignore[arg-type]


def test_parse_envelope_lengths() -> None:
    v1 = header(SuiteId.V1, EnvelopeType.DATA_KEY)
    assert env.parse_envelope(v1 + bytes(80)).envelope_type == EnvelopeType.DATA_KEY
    for length in (0, 79, 81):
        with pytest.raises(MalformedEnvelope):
            env.parse_envelope(v1 + bytes(length))
    with pytest.raises(MalformedEnvelope):
        env.parse_envelope(v1 + bytes(80), EnvelopeType.FIELD)
    stream = header(SuiteId.V1, EnvelopeType.STREAM)
    assert env.parse_envelope(stream + b"\x14" + bytes(32)).body[0] == 20
    for log2 in (0, 9, 25, 255):
        with pytest.raises(MalformedEnvelope):
            env.parse_envelope(stream + bytes((log2,)) + bytes(32))
    with pytest.raises(MalformedEnvelope):
        env.parse_envelope(b"X" + v1[1:] + bytes(80))
    with pytest.raises(MalformedEnvelope):
        env.parse_envelope(v1[:2] + b"\x99" + bytes(80))
