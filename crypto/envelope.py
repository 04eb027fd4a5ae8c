"""Envelopes: data keys sealed to key groups, encrypted fields, group keys sealed to members,
wrapped bytes. Bytes in, bytes out; keys are raw 32-byte strings.

Every envelope is ``header ‖ body`` where the header is ``0x51 ‖ suite ‖ type`` (see
:mod:`crypto.suite`). Suite ``0x01`` bodies, byte by byte:

====================  ==========================================================  ============
type                  body                                                        total length
====================  ==========================================================  ============
``0x01`` DATA_KEY     HPKE enc (32) ‖ HPKE ciphertext of the 32-byte data key     83
                      (48 = 32 + 16-byte tag)
``0x02`` FIELD        nonce (12) ‖ AES-256-GCM(padded text) ‖ tag (16)             31 + bucket
``0x03`` GROUP_KEY    HPKE enc (32) ‖ HPKE ciphertext of the 32-byte group         83
                      private key (48)
``0x04`` WRAPPED      nonce (12) ‖ AES-256-GCM(plaintext) ‖ tag (16)               ≥ 31
``0x05`` STREAM       log2 chunk size (1) ‖ salt (32)  — see :mod:`crypto.stream`  36
``0x06`` SIGNATURE    Ed25519 signature (64) — see :mod:`crypto.signing`           67
====================  ==========================================================  ============

Bindings (each an :func:`crypto.suite.encode_binding` of length-prefixed fields; ``header`` is
the envelope's own three header bytes, so suite and type are bound too):

* DATA_KEY HPKE ``info`` = header ‖ tip id ‖ group id ‖ group version
* GROUP_KEY HPKE ``info`` = header ‖ group id ‖ group version ‖ user id ‖ user-key version
* FIELD associated data = header ‖ tip id ‖ kind ‖ object id ‖ field name
* WRAPPED associated data = header ‖ purpose ‖ context fields…

Field plaintext is padded (ISO/IEC 7816-4: one ``0x80`` byte, then zeros) to a length bucket
before encryption; see :func:`padded_length`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crypto.errors import CryptoError, DecryptionFailed, MalformedEnvelope
from crypto.suite import (
    CURRENT_SUITE,
    HEADER_LEN,
    BindingField,
    EnvelopeType,
    SuiteId,
    encode_binding,
    header,
    parse_header,
)

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
HPKE_ENC_LEN = 32
HPKE_SEALED_LEN = HPKE_ENC_LEN + KEY_LEN + TAG_LEN  # 80
SIGNATURE_LEN = 64
STREAM_SALT_LEN = 32
#: Chunk sizes an attachment stream may declare: 2**10 … 2**24 bytes (1 MiB is the default).
STREAM_MIN_LOG2 = 10
STREAM_MAX_LOG2 = 24

#: Padding buckets: 64 bytes, then powers of two up to 16 KiB, then multiples of 16 KiB.
PAD_MIN = 64
PAD_POW2_CAP = 16 * 1024
PAD_STEP = 16 * 1024
#: The longest field plaintext accepted (messages and descriptions, never attachments).
MAX_FIELD_LEN = 1024 * 1024

_HPKE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

_FIXED_BODY = {
    EnvelopeType.DATA_KEY: HPKE_SEALED_LEN,
    EnvelopeType.GROUP_KEY: HPKE_SEALED_LEN,
    EnvelopeType.STREAM: 1 + STREAM_SALT_LEN,
    EnvelopeType.SIGNATURE: SIGNATURE_LEN,
}


# ---------------------------------------------------------------- keys


@dataclass(frozen=True)
class KeyPair:
    """A raw 32-byte key pair (X25519 here, Ed25519 in :mod:`crypto.signing`).

    The private key never appears in ``repr``.
    """

    private_key: bytes = field(repr=False)
    public_key: bytes


def generate_keypair() -> KeyPair:
    """A fresh X25519 key pair as raw bytes."""
    private = x25519.X25519PrivateKey.generate()
    return KeyPair(
        private_key=private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
    )


def public_key_of(private_key: bytes) -> bytes:
    """The raw X25519 public key of a raw private key."""
    return _x25519_private(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public_key: bytes) -> str:
    """A public key's fingerprint for people to compare: 160 bits of SHA-256 over a label and
    the key, as 32 Crockford base32 characters in groups of four (``7KQ2-M9XD-…``)."""
    _check_len(public_key, KEY_LEN, "public key")
    digest = hashlib.sha256(encode_binding("qingling/fingerprint", public_key)).digest()[:20]
    text = base64.b32encode(digest).decode("ascii").translate(_B32_TO_CROCKFORD)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


_B32_TO_CROCKFORD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)


def new_data_key() -> bytes:
    """A random 256-bit tip data key."""
    return secrets.token_bytes(KEY_LEN)


def _check_len(value: bytes, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise CryptoError(f"{what} must be {length} bytes")


def _x25519_private(raw: bytes) -> x25519.X25519PrivateKey:
    _check_len(raw, KEY_LEN, "private key")
    return x25519.X25519PrivateKey.from_private_bytes(raw)


def _x25519_public(raw: bytes) -> x25519.X25519PublicKey:
    _check_len(raw, KEY_LEN, "public key")
    return x25519.X25519PublicKey.from_public_bytes(raw)


# ---------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ParsedEnvelope:
    """An envelope split into its parts; the body is not yet authenticated."""

    suite: SuiteId
    envelope_type: EnvelopeType
    body: bytes = field(repr=False)


def parse_envelope(blob: bytes, expected: EnvelopeType | None = None) -> ParsedEnvelope:
    """Split and check an envelope of any type (or of type ``expected``).

    Rejects with :class:`MalformedEnvelope` anything that is not bytes, lacks the magic byte,
    names an unknown suite or type, is of another type than expected, or has a body length that
    type cannot have. Never raises anything else.
    """
    suite, envelope_type = parse_header(blob)
    if expected is not None and envelope_type != expected:
        raise MalformedEnvelope("unexpected envelope type")
    body = bytes(blob[HEADER_LEN:])
    fixed = _FIXED_BODY.get(envelope_type)
    if fixed is not None and len(body) != fixed:
        raise MalformedEnvelope("envelope has the wrong length")
    if envelope_type == EnvelopeType.FIELD:
        if not is_bucket(len(body) - NONCE_LEN - TAG_LEN):
            raise MalformedEnvelope("field envelope has the wrong length")
    elif envelope_type == EnvelopeType.WRAPPED:
        if len(body) < NONCE_LEN + TAG_LEN:
            raise MalformedEnvelope("wrapped envelope too short")
    elif envelope_type == EnvelopeType.STREAM and not (
        STREAM_MIN_LOG2 <= body[0] <= STREAM_MAX_LOG2
    ):
        raise MalformedEnvelope("stream chunk size out of range")
    return ParsedEnvelope(suite, envelope_type, body)


# ---------------------------------------------------------------- padding


def padded_length(length: int) -> int:
    """The bucket a plaintext of ``length`` bytes is padded to (one byte of padding at least).

    64 bytes; then the next power of two up to 16 KiB; then the next multiple of 16 KiB.
    """
    n = length + 1
    if n <= PAD_MIN:
        return PAD_MIN
    if n <= PAD_POW2_CAP:
        return 1 << (n - 1).bit_length()
    return -(-n // PAD_STEP) * PAD_STEP


def is_bucket(size: int) -> bool:
    """Whether ``size`` is a padded length :func:`padded_length` can produce."""
    if size < PAD_MIN or size > padded_length(MAX_FIELD_LEN):
        return False
    if size <= PAD_POW2_CAP:
        return size & (size - 1) == 0
    return size % PAD_STEP == 0


def pad(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding to the bucket: ``data ‖ 0x80 ‖ 0x00…``."""
    if len(data) > MAX_FIELD_LEN:
        raise CryptoError("field too long")
    return data + b"\x80" + bytes(padded_length(len(data)) - len(data) - 1)


def unpad(padded: bytes) -> bytes:
    """Remove :func:`pad` padding, checking that it is exactly what :func:`pad` writes."""
    stripped = padded.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise MalformedEnvelope("bad padding")
    data = stripped[:-1]
    if padded_length(len(data)) != len(padded):
        raise MalformedEnvelope("bad padding")
    return data


# ---------------------------------------------------------------- HPKE seals


def _data_key_info(head: bytes, tip_id: uuid.UUID, group_id: BindingField, version: int) -> bytes:
    _check_uuid(tip_id)
    return encode_binding(head, tip_id, group_id, version)


def _check_uuid(tip_id: uuid.UUID) -> None:
    if not isinstance(tip_id, uuid.UUID):
        raise CryptoError("tip id must be a UUID")


def _hpke_seal(plaintext: bytes, public_key: bytes, head: bytes, info: bytes) -> bytes:
    try:
        sealed = _HPKE.encrypt(plaintext, _x25519_public(public_key), info=info)
    except ValueError:  # a low-order public key gives an all-zero shared secret
        raise CryptoError("cannot seal to this public key") from None
    return head + sealed


def _hpke_open(parsed: ParsedEnvelope, private_key: bytes, info: bytes) -> bytes:
    try:
        opened = _HPKE.decrypt(parsed.body, _x25519_private(private_key), info=info)
    except (InvalidTag, ValueError):
        raise DecryptionFailed("cannot open envelope") from None
    if len(opened) != KEY_LEN:  # unreachable unless the suite is broken; never return junk
        raise DecryptionFailed("sealed key has the wrong length")
    return opened


def seal_data_key(
    group_public_key: bytes,
    data_key: bytes,
    *,
    tip_id: uuid.UUID,
    group_id: BindingField,
    group_version: int,
) -> bytes:
    """Seal a tip's data key to a key group's X25519 public key (HPKE base mode).

    ``info`` binds the envelope header, the tip, the group and the group key's version, so the
    envelope opens only for that tip under that group key.
    """
    _check_len(data_key, KEY_LEN, "data key")
    head = header(CURRENT_SUITE, EnvelopeType.DATA_KEY)
    info = _data_key_info(head, tip_id, group_id, group_version)
    return _hpke_seal(data_key, group_public_key, head, info)


def open_data_key(
    group_private_key: bytes,
    envelope: bytes,
    *,
    tip_id: uuid.UUID,
    group_id: BindingField,
    group_version: int,
) -> bytes:
    """Open a :func:`seal_data_key` envelope with the group's private key; the 32-byte data key."""
    parsed = parse_envelope(envelope, EnvelopeType.DATA_KEY)
    head = header(parsed.suite, parsed.envelope_type)
    info = _data_key_info(head, tip_id, group_id, group_version)
    return _hpke_open(parsed, group_private_key, info)


def _group_key_info(
    head: bytes, group_id: BindingField, group_version: int, user_id: BindingField, ukv: int
) -> bytes:
    return encode_binding(head, group_id, group_version, user_id, ukv)


def seal_group_key(
    member_public_key: bytes,
    group_private_key: bytes,
    *,
    group_id: BindingField,
    group_version: int,
    user_id: BindingField,
    user_key_version: int,
) -> bytes:
    """Seal a key group's private key to a member's personal X25519 public key."""
    _check_len(group_private_key, KEY_LEN, "group private key")
    head = header(CURRENT_SUITE, EnvelopeType.GROUP_KEY)
    info = _group_key_info(head, group_id, group_version, user_id, user_key_version)
    return _hpke_seal(group_private_key, member_public_key, head, info)


def open_group_key(
    member_private_key: bytes,
    envelope: bytes,
    *,
    group_id: BindingField,
    group_version: int,
    user_id: BindingField,
    user_key_version: int,
) -> bytes:
    """Open a :func:`seal_group_key` envelope with the member's personal private key."""
    parsed = parse_envelope(envelope, EnvelopeType.GROUP_KEY)
    head = header(parsed.suite, parsed.envelope_type)
    info = _group_key_info(head, group_id, group_version, user_id, user_key_version)
    return _hpke_open(parsed, member_private_key, info)


# ---------------------------------------------------------------- AES-256-GCM envelopes


def _aead_seal(key: bytes, plaintext: bytes, head: bytes, ad: bytes) -> bytes:
    _check_len(key, KEY_LEN, "key")
    nonce = secrets.token_bytes(NONCE_LEN)
    return head + nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def _aead_open(key: bytes, parsed: ParsedEnvelope, ad: bytes) -> bytes:
    _check_len(key, KEY_LEN, "key")
    nonce, ciphertext = parsed.body[:NONCE_LEN], parsed.body[NONCE_LEN:]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, ad)
    except InvalidTag:
        raise DecryptionFailed("cannot open envelope") from None


def _field_ad(
    head: bytes, tip_id: uuid.UUID, kind: str, object_id: BindingField, field_name: str
) -> bytes:
    _check_uuid(tip_id)
    return encode_binding(head, tip_id, kind, object_id, field_name)


def encrypt_field(
    data_key: bytes,
    plaintext: bytes,
    *,
    tip_id: uuid.UUID,
    kind: str,
    object_id: BindingField,
    field_name: str,
) -> bytes:
    """Encrypt one field or message under a tip's data key (padded, AES-256-GCM).

    ``kind`` names the object ("tip", "message", "answer", "claim", …), ``object_id`` its id
    and ``field_name`` the column; all are bound as associated data together with the tip id and
    the envelope header, so a ciphertext copied to another tip, object or column fails to open.
    """
    head = header(CURRENT_SUITE, EnvelopeType.FIELD)
    ad = _field_ad(head, tip_id, kind, object_id, field_name)
    return _aead_seal(data_key, pad(plaintext), head, ad)


def decrypt_field(
    data_key: bytes,
    envelope: bytes,
    *,
    tip_id: uuid.UUID,
    kind: str,
    object_id: BindingField,
    field_name: str,
) -> bytes:
    """Open an :func:`encrypt_field` envelope and remove its padding."""
    parsed = parse_envelope(envelope, EnvelopeType.FIELD)
    head = header(parsed.suite, parsed.envelope_type)
    ad = _field_ad(head, tip_id, kind, object_id, field_name)
    return unpad(_aead_open(data_key, parsed, ad))


def encrypt_text(
    data_key: bytes,
    text: str,
    *,
    tip_id: uuid.UUID,
    kind: str,
    object_id: BindingField,
    field_name: str,
) -> bytes:
    """:func:`encrypt_field` for text (UTF-8)."""
    return encrypt_field(
        data_key,
        text.encode("utf-8"),
        tip_id=tip_id,
        kind=kind,
        object_id=object_id,
        field_name=field_name,
    )


def decrypt_text(
    data_key: bytes,
    envelope: bytes,
    *,
    tip_id: uuid.UUID,
    kind: str,
    object_id: BindingField,
    field_name: str,
) -> str:
    """:func:`decrypt_field` for text; invalid UTF-8 is a :class:`CryptoError`."""
    raw = decrypt_field(
        data_key,
        envelope,
        tip_id=tip_id,
        kind=kind,
        object_id=object_id,
        field_name=field_name,
    )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEnvelope("field is not UTF-8") from None


def wrap(
    key: bytes,
    plaintext: bytes,
    *,
    purpose: str,
    context: Sequence[BindingField] = (),
) -> bytes:
    """Wrap bytes under a 32-byte symmetric key (AES-256-GCM, random nonce, no padding).

    The associated data is the header, ``purpose`` (e.g. ``"personal-key/password"``,
    ``"personal-key/recovery"``, ``"data-key/reporter"``) and the ``context`` fields (user id
    and key version, tip id, …); :func:`unwrap` must be given the same.
    """
    head = header(CURRENT_SUITE, EnvelopeType.WRAPPED)
    return _aead_seal(key, plaintext, head, encode_binding(head, purpose, *context))


def unwrap(
    key: bytes,
    envelope: bytes,
    *,
    purpose: str,
    context: Sequence[BindingField] = (),
) -> bytes:
    """Open a :func:`wrap` envelope."""
    parsed = parse_envelope(envelope, EnvelopeType.WRAPPED)
    head = header(parsed.suite, parsed.envelope_type)
    return _aead_open(key, parsed, encode_binding(head, purpose, *context))
