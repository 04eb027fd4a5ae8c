"""WeChat Official Account message crypto, and the keys that keep OpenIDs out of storage.

**The protocol** (``reference/wechat-protocol.md`` §1–3, implemented directly):

* *Signatures*: SHA-1 over the lexicographically sorted strings token, timestamp, nonce (and,
  for ``msg_signature``, the ``Encrypt`` text exactly as received), joined without separator,
  as lowercase hex. Compared in constant time (:func:`check_signature`). SHA-1 is what the
  protocol prescribes; the secret in it is the Token, and a signature only says that the
  request comes from someone who knows the Token.
* *Cipher*: AES-256-CBC under ``AESKey = base64(EncodingAESKey + "=")`` (32 bytes), with the
  first 16 bytes of the key as the IV, PKCS#7 padding to a **32-byte** block (1 to 32 bytes of
  padding; an aligned message gets a whole block of 32).
* *Framing*: ``random(16) ‖ uint32_be(len(msg)) ‖ msg ‖ appid``, Base64 on the outside. The
  appid at the end must be ours (:class:`WrongAppId`), the length must fit.

CBC without a MAC is malleable; the ``msg_signature`` over the ciphertext is the protocol's
integrity check, so :meth:`MessageCrypto.open` checks it (and the timestamp) before anything is
decrypted, and every decryption failure is the same :class:`BadCiphertext`.

**OpenIDs** (DESIGN.md "WeChat"). The OpenID arrives with every push and is never stored. The
channel's keys come from one pepper, :func:`channel_pepper` = HKDF(token pepper, "qingling/
wechat/pepper") — the public site's ``token_pepper`` secret, so no further secret file exists,
and the derived pepper is never used for tokens (a distinct HKDF ``info``):

* a conversation is *found* by :func:`sender_index` = HMAC(HKDF(pepper, "sender-index"),
  OpenID) and *encrypted* under :func:`sender_key` = HKDF(pepper, "sender-key" ‖ OpenID), so
  the stored draft (and the cached reply that carries a new token) opens only for a request
  that brings the OpenID again;
* :func:`channel_key` gives the keys of the other purposes (the MediaIds waiting for the
  download job, a notification subscriber's OpenID, the index of subscriptions, retry keys).

Photos that the download job fetches after the tip was filed are encrypted under a fresh key
per file, sealed (HPKE, like a tip's data key) to the tip's key groups by
:func:`seal_photo_key`; the job holds that key only while it stores the photo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.envelope import (
    _hpke_open,  # the DATA_KEY envelope's HPKE, under the photo key's own binding
    _hpke_seal,
    parse_envelope,
)
from crypto.errors import CryptoError
from crypto.suite import CURRENT_SUITE, BindingField, EnvelopeType, encode_binding, header

#: PKCS#7 block of the WeChat framing (not AES's 16 bytes).
BLOCK = 32
RANDOM_LEN = 16
KEY_LEN = 32
#: A push whose timestamp is further than this from our clock is refused (seconds). WeChat
#: documents no window; its retries come within about 20 seconds of the first delivery.
TIMESTAMP_WINDOW = 300
#: Longest ``Encrypt`` text accepted before decoding (a push body is capped far below).
MAX_CIPHERTEXT = 256 * 1024


class WeChatCryptoError(CryptoError):
    """A WeChat request or message fails a check. Messages never carry request content."""


class SignatureMismatch(WeChatCryptoError):
    """``signature`` or ``msg_signature`` does not match (wrong Token, or altered)."""


class StaleTimestamp(WeChatCryptoError):
    """The timestamp is not a number or lies outside :data:`TIMESTAMP_WINDOW`."""


class BadCiphertext(WeChatCryptoError):
    """The ``Encrypt`` text does not decode, decrypt, unpad or frame."""


class WrongAppId(WeChatCryptoError):
    """The message decrypted, but names another AppID: it is not for this account."""


class BadAESKey(WeChatCryptoError):
    """The EncodingAESKey is not 43 Base64 characters decoding to 32 bytes."""


# ---------------------------------------------------------------- signatures


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """``sha1(sort([token, timestamp, nonce, *extra]) joined)`` as lowercase hex."""
    joined = "".join(sorted([token, timestamp, nonce, *extra]))
    # SHA-1 is the protocol's choice; what it protects is the secret Token (see module doc).
    # "surrogatepass": a lone surrogate (which no real push carries) gives a signature that
    # simply does not match, rather than a UnicodeEncodeError (found by tests/hostile).
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def check_signature(given: str, token: str, timestamp: str, nonce: str, *extra: str) -> None:
    """Raise :class:`SignatureMismatch` unless ``given`` is the signature (constant time)."""
    expected = signature(token, timestamp, nonce, *extra).encode("ascii")
    try:
        candidate = given.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        candidate = b""
    if not hmac.compare_digest(expected, candidate):
        raise SignatureMismatch("signature does not match")


def check_timestamp(timestamp: str, now: int, window: int = TIMESTAMP_WINDOW) -> int:
    """The timestamp as an integer, or :class:`StaleTimestamp` (not digits, or too far off)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise StaleTimestamp("timestamp is not a number")
    value = int(timestamp)
    if abs(now - value) > window:
        raise StaleTimestamp("timestamp outside the window")
    return value


# ---------------------------------------------------------------- AES-256-CBC, PKCS#7/32


def aes_key(encoding_aes_key: str) -> bytes:
    """``base64(EncodingAESKey + "=")``: 32 bytes, or :class:`BadAESKey`."""
    text = encoding_aes_key.strip()
    if len(text) != 43 or not text.isascii():
        raise BadAESKey("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(text + "=", validate=True)
    except (binascii.Error, ValueError):
        raise BadAESKey("EncodingAESKey is not Base64") from None
    if len(key) != KEY_LEN:
        raise BadAESKey("EncodingAESKey does not decode to 32 bytes")
    return key


def pad(data: bytes) -> bytes:
    """PKCS#7 to a 32-byte block: 1 to 32 bytes, each the padding length."""
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def unpad(data: bytes) -> bytes:
    """Remove :func:`pad` padding, checking its range and every padding byte."""
    if not data or len(data) % BLOCK:
        raise BadCiphertext("cannot decrypt")
    n = data[-1]
    if not 1 <= n <= BLOCK or not hmac.compare_digest(data[-n:], bytes([n]) * n):
        raise BadCiphertext("cannot decrypt")
    return data[:-n]


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    if len(key) != KEY_LEN:
        raise BadAESKey("the AES key must be 32 bytes")
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def new_random16() -> bytes:
    """16 random alphanumeric ASCII characters, like Tencent's samples."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(RANDOM_LEN)).encode("ascii")


def encrypt(key: bytes, appid: str, message: bytes, *, random16: bytes | None = None) -> str:
    """The ``Encrypt`` text of ``message``. ``random16`` is injectable for test vectors."""
    prefix = new_random16() if random16 is None else random16
    if len(prefix) != RANDOM_LEN:
        raise WeChatCryptoError("the random prefix must be 16 bytes")
    framed = prefix + struct.pack(">I", len(message)) + message + appid.encode("ascii")
    encryptor = _cipher(key).encryptor()
    sealed = encryptor.update(pad(framed)) + encryptor.finalize()
    return base64.b64encode(sealed).decode("ascii")


def decrypt(key: bytes, appid: str, ciphertext: str) -> bytes:
    """The message inside an ``Encrypt`` text, checked to be framed for ``appid``.

    :class:`BadCiphertext` for anything that does not decode, decrypt, unpad or frame (one
    error, whatever failed), :class:`WrongAppId` when it frames for another account.
    """
    if not ciphertext or len(ciphertext) > MAX_CIPHERTEXT or not ciphertext.isascii():
        raise BadCiphertext("cannot decrypt")
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise BadCiphertext("cannot decrypt") from None
    if not raw or len(raw) % BLOCK:
        raise BadCiphertext("cannot decrypt")
    decryptor = _cipher(key).decryptor()
    framed = unpad(decryptor.update(raw) + decryptor.finalize())
    if len(framed) < RANDOM_LEN + 4:
        raise BadCiphertext("cannot decrypt")
    (length,) = struct.unpack(">I", framed[RANDOM_LEN : RANDOM_LEN + 4])
    start = RANDOM_LEN + 4
    if start + length > len(framed):
        raise BadCiphertext("cannot decrypt")
    message, tail = framed[start : start + length], framed[start + length :]
    if not hmac.compare_digest(tail, appid.encode("ascii")):
        raise WrongAppId("message is for another account")
    return message


@dataclass(frozen=True)
class MessageCrypto:
    """One Official Account's Token, AES key and AppID (safe and compatible mode)."""

    token: str = field(repr=False)
    key: bytes = field(repr=False)
    appid: str

    @classmethod
    def from_settings(cls, token: str, encoding_aes_key: str, appid: str) -> MessageCrypto:
        return cls(token, aes_key(encoding_aes_key), appid)

    def open(
        self, msg_signature: str, timestamp: str, nonce: str, ciphertext: str, *, now: int
    ) -> bytes:
        """Check the timestamp and ``msg_signature`` (before decrypting), then decrypt."""
        check_timestamp(timestamp, now)
        check_signature(msg_signature, self.token, timestamp, nonce, ciphertext)
        return decrypt(self.key, self.appid, ciphertext)

    def seal(
        self, message: bytes, timestamp: str, nonce: str, *, random16: bytes | None = None
    ) -> tuple[str, str]:
        """``(Encrypt, MsgSignature)`` of a reply."""
        ciphertext = encrypt(self.key, self.appid, message, random16=random16)
        return ciphertext, signature(self.token, timestamp, nonce, ciphertext)


# ---------------------------------------------------------------- keys for OpenIDs


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=None, info=info).derive(ikm)


def channel_pepper(token_pepper: bytes) -> bytes:
    """The WeChat channel's pepper, derived from the public site's token pepper."""
    if len(token_pepper) < KEY_LEN:
        raise CryptoError("the token pepper must be at least 32 bytes")
    return _hkdf(token_pepper, b"qingling/wechat/pepper")


def channel_key(pepper: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose of the channel (``media-id``, ``notify``, …)."""
    return _hkdf(pepper, encode_binding("qingling/wechat/key", purpose))


def _mac(key: bytes, *fields: BindingField) -> bytes:
    return hmac.new(key, encode_binding(*fields), hashlib.sha256).digest()


def sender_index(pepper: bytes, openid: str) -> bytes:
    """Where a sender's conversation is found: HMAC of the OpenID, 32 bytes."""
    return _mac(channel_key(pepper, "sender-index"), openid)


def sender_key(pepper: bytes, openid: str) -> bytes:
    """The key a sender's conversation (and cached reply) is encrypted under."""
    return _hkdf(pepper, encode_binding("qingling/wechat/sender-key", openid))


def keyed_hash(pepper: bytes, purpose: str, *fields: BindingField) -> bytes:
    """HMAC under ``channel_key(purpose)`` of the length-prefixed fields (retry keys, the index
    of notification subscriptions): no field can be read back from it."""
    return _mac(channel_key(pepper, purpose), *fields)


# ---------------------------------------------------------------- photo keys


def new_photo_key() -> bytes:
    return secrets.token_bytes(KEY_LEN)


def _photo_info(
    head: bytes, tip_id: uuid.UUID, photo_id: uuid.UUID, group_id: int, group_version: int
) -> bytes:
    if not isinstance(tip_id, uuid.UUID) or not isinstance(photo_id, uuid.UUID):
        raise CryptoError("tip and photo ids must be UUIDs")
    return encode_binding(head, "wechat-photo", tip_id, photo_id, group_id, group_version)


def seal_photo_key(
    group_public_key: bytes,
    photo_key: bytes,
    *,
    tip_id: uuid.UUID,
    photo_id: uuid.UUID,
    group_id: int,
    group_version: int,
) -> bytes:
    """Seal a photo's key to a key group (a DATA_KEY envelope, 83 bytes) whose HPKE ``info``
    binds the label ``wechat-photo``, the tip, the photo, the group and its version."""
    if len(photo_key) != KEY_LEN:
        raise CryptoError("a photo key is 32 bytes")
    head = header(CURRENT_SUITE, EnvelopeType.DATA_KEY)
    info = _photo_info(head, tip_id, photo_id, group_id, group_version)
    return _hpke_seal(photo_key, group_public_key, head, info)


def open_photo_key(
    group_private_key: bytes,
    sealed: bytes,
    *,
    tip_id: uuid.UUID,
    photo_id: uuid.UUID,
    group_id: int,
    group_version: int,
) -> bytes:
    """Open a :func:`seal_photo_key` envelope with the group's private key."""
    parsed = parse_envelope(sealed, EnvelopeType.DATA_KEY)
    head = header(parsed.suite, parsed.envelope_type)
    return _hpke_open(
        parsed, group_private_key, _photo_info(head, tip_id, photo_id, group_id, group_version)
    )
