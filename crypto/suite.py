"""Suite and envelope-type identifiers, and the length-prefixed binding encoder.

Every stored ciphertext starts with a three-byte header (see ``docs/crypto.md``)::

    0x51 ('Q')  suite id  envelope type

The *suite* names the algorithms; a later suite (an ML-KEM/X25519 hybrid KEM, or SM4/SM2 for
密评) gets a new id, and old rows keep opening under the id they carry. The *type* says what the
envelope holds, so one kind of ciphertext can never be accepted where another is expected.

The binding encoder turns a tuple of fields into bytes for HPKE ``info`` and AEAD associated
data. Each field is a one-byte type tag, a four-byte big-endian length and the value, so no two
different tuples encode to the same bytes (``("ab", "c")`` ≠ ``("a", "bc")``, ``5`` ≠ ``"5"``).
"""

from __future__ import annotations

import enum
import struct
import uuid

from crypto.errors import CryptoError, MalformedEnvelope

MAGIC = 0x51  # 'Q'

#: A value that may appear in a binding: ids are UUIDs, integers or short strings.
BindingField = bytes | str | int | uuid.UUID


class SuiteId(enum.IntEnum):
    """Algorithm suites. Only one exists so far."""

    #: HPKE base mode X25519 / HKDF-SHA256 / AES-256-GCM (RFC 9180 ids 0x0020/0x0001/0x0002);
    #: AES-256-GCM with 96-bit random nonces for fields and wrapped keys; HKDF-SHA256 and
    #: AES-256-GCM STREAM for attachments; Ed25519 for key-record signatures.
    V1 = 0x01


#: The suite new envelopes are written with.
CURRENT_SUITE = SuiteId.V1


class EnvelopeType(enum.IntEnum):
    """What an envelope holds. The numbers are stored; never reuse one."""

    DATA_KEY = 0x01  # a tip's data key sealed to a key group (HPKE)
    FIELD = 0x02  # a padded field or message under a tip's data key (AES-256-GCM)
    GROUP_KEY = 0x03  # a group private key sealed to a member's personal key (HPKE)
    WRAPPED = 0x04  # bytes wrapped under a 32-byte symmetric key (AES-256-GCM)
    STREAM = 0x05  # the header of an attachment STREAM (salt, chunk size)
    SIGNATURE = 0x06  # an Ed25519 signature over a key record


HEADER_LEN = 3

_TAG_BYTES = b"b"
_TAG_STR = b"s"
_TAG_INT = b"i"
_TAG_UUID = b"u"
_LEN = struct.Struct(">I")
_MAX_FIELD = 1 << 16  # bindings hold ids and labels, never payloads


def header(suite: SuiteId, envelope_type: EnvelopeType) -> bytes:
    """The three header bytes of an envelope."""
    return bytes((MAGIC, suite, envelope_type))


def parse_header(blob: bytes) -> tuple[SuiteId, EnvelopeType]:
    """The suite and type named by the header of ``blob``.

    Raises :class:`MalformedEnvelope` if the blob is not bytes, is shorter than a header, lacks
    the magic byte, or names an unknown suite or type. Lengths are checked by
    :func:`crypto.envelope.parse_envelope`.
    """
    if not isinstance(blob, bytes):
        raise MalformedEnvelope("envelope must be bytes")
    if len(blob) < HEADER_LEN:
        raise MalformedEnvelope("envelope too short")
    if blob[0] != MAGIC:
        raise MalformedEnvelope("not a Qingling envelope")
    try:
        suite = SuiteId(blob[1])
        envelope_type = EnvelopeType(blob[2])
    except ValueError:
        raise MalformedEnvelope("unknown suite or envelope type") from None
    return suite, envelope_type


def encode_field(value: BindingField) -> bytes:
    """One field: tag ‖ u32 length ‖ value. Integers are non-negative, 8 bytes big-endian."""
    if isinstance(value, bool):  # bool is an int; a flag in a binding is a bug
        raise CryptoError("a binding field cannot be a bool")
    if isinstance(value, bytes):
        tag, raw = _TAG_BYTES, value
    elif isinstance(value, str):
        tag, raw = _TAG_STR, value.encode("utf-8")
    elif isinstance(value, int):
        if not 0 <= value < 1 << 64:
            raise CryptoError("a binding integer must fit in 64 unsigned bits")
        tag, raw = _TAG_INT, value.to_bytes(8, "big")
    elif isinstance(value, uuid.UUID):
        tag, raw = _TAG_UUID, value.bytes
    else:
        raise CryptoError("unsupported binding field type")
    if len(raw) > _MAX_FIELD:
        raise CryptoError("binding field too long")
    return tag + _LEN.pack(len(raw)) + raw


def encode_binding(*fields: BindingField) -> bytes:
    """Concatenate length-prefixed fields (see the module docstring).

    Used for every HPKE ``info``, every associated data and every signed key record. The first
    field is by convention a label naming the purpose, so two purposes never share an encoding.
    """
    return b"".join(encode_field(f) for f in fields)
