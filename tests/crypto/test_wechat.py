"""WeChat message crypto (``crypto.wechat``): the official example of reference §3.6, vectors
with a key that is not all zeros (built here from the primitives, so key/IV confusion shows),
the 32-byte padding boundary, and every refusal: tampered ciphertext, wrong AppID, wrong
Token, stale timestamp, bad padding, bad keys. Also the channel's key derivations and the
photo-key seal."""

from __future__ import annotations

import base64
import struct
import uuid

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crypto import envelope, wechat
from crypto.errors import CryptoError, DecryptionFailed

# ---------------------------------------------------------------- reference §3.6

OFFICIAL_KEY = wechat.aes_key("A" * 43)
OFFICIAL_APPID = "wxba5fad812f8e6fb9"
OFFICIAL_ENCRYPT = (
    "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLK"
    "JGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPp"
    "RSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6m"
    "OcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
)
OFFICIAL_PLAIN = (
    b'{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
    b'"CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
)
NOW = 1714112445


def test_the_official_url_verification_and_plain_push_signatures() -> None:
    assert (
        wechat.signature("AAAAA", "1714036504", "1514711492")
        == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    )
    assert (
        wechat.signature("AAAAA", "1714037059", "486452656")
        == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    )
    wechat.check_signature(
        "f464b24fc39322e44b38aa78f5edd27bd1441696", "AAAAA", "1714036504", "1514711492"
    )


def test_the_official_safe_push() -> None:
    assert bytes(32) == OFFICIAL_KEY
    assert (
        wechat.signature("AAAAA", "1714112445", "415670741")
        == "6c5c811b55cc85e0e1b54100749188c20beb3f5d"
    )
    crypto = wechat.MessageCrypto("AAAAA", OFFICIAL_KEY, OFFICIAL_APPID)
    opened = crypto.open(
        "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
        "1714112445",
        "415670741",
        OFFICIAL_ENCRYPT,
        now=NOW,
    )
    assert opened == OFFICIAL_PLAIN
    # What the documentation says is inside: the random prefix and 19 bytes of padding.
    raw = base64.b64decode(OFFICIAL_ENCRYPT)
    decryptor = Cipher(algorithms.AES(OFFICIAL_KEY), modes.CBC(bytes(16))).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    assert padded[:16] == b"a8eedb185eb2fecf"
    assert padded[-19:] == bytes([19]) * 19


def test_the_official_safe_reply_byte_for_byte() -> None:
    crypto = wechat.MessageCrypto("AAAAA", OFFICIAL_KEY, OFFICIAL_APPID)
    encrypted, msg_signature = crypto.seal(
        b'{"demo_resp":"good luck"}', "1713424427", "415670741", random16=b"707722b803182950"
    )
    assert encrypted == (
        "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
    )
    assert msg_signature == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"


# ---------------------------------------------------------------- vectors with a real key

KEY = bytes(range(0x20, 0x40))  # not all zeros; the IV (its first half) differs from the key
ENCODING = base64.b64encode(KEY).decode("ascii").rstrip("=")
APPID = "wx0123456789abcdef"
RANDOM16 = b"Q1w2E3r4T5y6U7i8"


def reference_encrypt(key: bytes, appid: str, message: bytes, random16: bytes) -> str:
    """The framing and cipher built from the primitives, as the protocol describes them."""
    framed = random16 + struct.pack(">I", len(message)) + message + appid.encode("ascii")
    padder = padding.PKCS7(256).padder()  # 256 bits: the 32-byte block of the protocol
    padded = padder.update(framed) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def test_the_encoding_aes_key_decodes_to_our_key() -> None:
    assert len(ENCODING) == 43
    assert wechat.aes_key(ENCODING) == KEY


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"<xml><Content><![CDATA[\xe4\xbd\xa0\xe5\xa5\xbd]]></Content></xml>",
        bytes(range(256)) * 3,
    ],
)
def test_own_vectors_match_the_protocol_built_from_primitives(message: bytes) -> None:
    expected = reference_encrypt(KEY, APPID, message, RANDOM16)
    assert wechat.encrypt(KEY, APPID, message, random16=RANDOM16) == expected
    assert wechat.decrypt(KEY, APPID, expected) == message


def test_a_pinned_vector_with_a_nonzero_key() -> None:
    """Pinned, so a change of framing or of the IV shows even if the reference changed too."""
    crypto = wechat.MessageCrypto("QinglingToken", KEY, APPID)
    encrypted, msg_signature = crypto.seal(
        b"<xml>hello</xml>", "1714112445", "415670741", random16=RANDOM16
    )
    assert encrypted == (
        "xOGbt/AbJzYpYbCBK7LbikHtNC1KP0Ic4Vr1kPOQMmCFAMJh47Tom8F7QYjrlokjNMd9rVeRIkxoDJk0Xv2qJw=="
    )
    assert msg_signature == "ebce645006e4f048da0decf7fd950a1fff7ecb05"
    assert encrypted == reference_encrypt(KEY, APPID, b"<xml>hello</xml>", RANDOM16)
    assert crypto.open(msg_signature, "1714112445", "415670741", encrypted, now=NOW) == (
        b"<xml>hello</xml>"
    )
    # The IV is the key's first 16 bytes: a zero IV garbles the first block.
    raw = base64.b64decode(encrypted)
    wrong_iv = Cipher(algorithms.AES(KEY), modes.CBC(bytes(16))).decryptor()
    assert (wrong_iv.update(raw) + wrong_iv.finalize())[:16] != RANDOM16


def test_the_padding_boundary_adds_a_whole_block_of_32() -> None:
    # 16 random + 4 length + n message + 18 appid = 64: already a multiple of 32.
    message = b"x" * (64 - 16 - 4 - len(APPID))
    encrypted = wechat.encrypt(KEY, APPID, message, random16=RANDOM16)
    raw = base64.b64decode(encrypted)
    assert len(raw) == 96
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    assert padded[-32:] == bytes([32]) * 32
    assert encrypted == reference_encrypt(KEY, APPID, message, RANDOM16)
    assert wechat.decrypt(KEY, APPID, encrypted) == message
    # One byte less: one byte of padding.
    shorter = base64.b64decode(wechat.encrypt(KEY, APPID, message[:-1], random16=RANDOM16))
    assert len(shorter) == 64


def test_pkcs7_to_32_bytes() -> None:
    for n in range(70):
        padded = wechat.pad(b"a" * n)
        assert len(padded) % 32 == 0
        assert 1 <= padded[-1] <= 32
        assert wechat.unpad(padded) == b"a" * n
    for bad in (b"", b"a" * 31 + b"\x00", b"a" * 31 + b"\x21", b"a" * 30 + b"\x01\x02", b"a" * 33):
        with pytest.raises(wechat.BadCiphertext):
            wechat.unpad(bad)


def _raw_cbc(plaintext: bytes, key: bytes = KEY) -> str:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode("ascii")


def test_tampered_ciphertext_is_refused() -> None:
    encrypted = wechat.encrypt(KEY, APPID, b"<xml>hello</xml>", random16=RANDOM16)
    raw = bytearray(base64.b64decode(encrypted))
    raw[-1] ^= 0x01  # the last block: the padding no longer checks
    with pytest.raises(wechat.WeChatCryptoError):
        wechat.decrypt(KEY, APPID, base64.b64encode(bytes(raw)).decode())
    # Truncated, not Base64, not a whole block, empty, far too long.
    for bad in (
        encrypted[:-8],
        encrypted[:20] + "!!" + encrypted[22:],
        base64.b64encode(base64.b64decode(encrypted)[:-1]).decode(),
        "",
        "A" * (wechat.MAX_CIPHERTEXT + 4),
    ):
        with pytest.raises(wechat.BadCiphertext):
            wechat.decrypt(KEY, APPID, bad)
    # A length field pointing past the end.
    lying = RANDOM16 + struct.pack(">I", 10_000) + b"short" + APPID.encode()
    with pytest.raises(wechat.BadCiphertext):
        wechat.decrypt(KEY, APPID, _raw_cbc(wechat.pad(lying)))
    # Bits flipped anywhere are caught by msg_signature before decryption.
    crypto = wechat.MessageCrypto("TokenX", KEY, APPID)
    signature = wechat.signature("TokenX", str(NOW), "42", encrypted)
    flipped = bytearray(base64.b64decode(encrypted))
    flipped[3] ^= 0x80
    with pytest.raises(wechat.SignatureMismatch):
        crypto.open(signature, str(NOW), "42", base64.b64encode(bytes(flipped)).decode(), now=NOW)
    assert crypto.open(signature, str(NOW), "42", encrypted, now=NOW) == b"<xml>hello</xml>"


def test_a_message_for_another_appid_is_refused() -> None:
    encrypted = wechat.encrypt(KEY, "wxffffffffffffffff", b"<xml/>", random16=RANDOM16)
    with pytest.raises(wechat.WrongAppId):
        wechat.decrypt(KEY, APPID, encrypted)
    # The wrong key gives garbage: a padding or framing error, never a message.
    with pytest.raises(wechat.WeChatCryptoError):
        wechat.decrypt(bytes(32), APPID, wechat.encrypt(KEY, APPID, b"<xml/>"))


def test_a_wrong_token_is_refused() -> None:
    encrypted = wechat.encrypt(KEY, APPID, b"<xml/>")
    good = wechat.MessageCrypto("RightToken", KEY, APPID)
    signature = wechat.signature("WrongToken", str(NOW), "7", encrypted)
    with pytest.raises(wechat.SignatureMismatch):
        good.open(signature, str(NOW), "7", encrypted, now=NOW)
    with pytest.raises(wechat.SignatureMismatch):
        wechat.check_signature(wechat.signature("WrongToken", "1", "2"), "RightToken", "1", "2")
    for junk in ("", "zz", "é" * 40, wechat.signature("RightToken", "1", "2")[:-1]):
        with pytest.raises(wechat.SignatureMismatch):
            wechat.check_signature(junk, "RightToken", "1", "2")
    # Upper-case hex is the same signature.
    wechat.check_signature(wechat.signature("RightToken", "1", "2").upper(), "RightToken", "1", "2")


def test_a_stale_timestamp_is_refused_before_the_signature() -> None:
    encrypted = wechat.encrypt(KEY, APPID, b"<xml/>")
    crypto = wechat.MessageCrypto("T0ken", KEY, APPID)
    for moment in (NOW - 301, NOW + 301):
        signature = wechat.signature("T0ken", str(moment), "1", encrypted)
        with pytest.raises(wechat.StaleTimestamp):
            crypto.open(signature, str(moment), "1", encrypted, now=NOW)
    for moment in (NOW - 300, NOW + 300):
        signature = wechat.signature("T0ken", str(moment), "1", encrypted)
        assert crypto.open(signature, str(moment), "1", encrypted, now=NOW) == b"<xml/>"
    for bad in ("", "12a", "-5", "1" * 13, "１２３"):
        with pytest.raises(wechat.StaleTimestamp):
            wechat.check_timestamp(bad, NOW)


def test_encoding_aes_keys_are_checked() -> None:
    for bad in ("", "A" * 42, "A" * 44, "!" * 43, "Ａ" * 43):
        with pytest.raises(wechat.BadAESKey):
            wechat.aes_key(bad)
    # Tencent's keys are 43 random letters and digits: the last character's two low bits
    # fall beyond the 32 bytes and are ignored, as Base64 decoders do.
    assert wechat.aes_key("A" * 42 + "B") == bytes(32)
    with pytest.raises(wechat.WeChatCryptoError):
        wechat.encrypt(KEY, APPID, b"x", random16=b"short")


# ---------------------------------------------------------------- the channel's keys


def test_the_channel_keys_are_distinct_and_bound_to_the_openid() -> None:
    pepper_bytes = bytes(range(32))
    pepper = wechat.channel_pepper(pepper_bytes)
    assert pepper != pepper_bytes
    assert pepper != wechat.channel_pepper(bytes(range(1, 33)))
    one, two = "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "o9AgO5Kd5ggOC-bXrbNODIiE3bGZ"
    assert wechat.sender_index(pepper, one) != wechat.sender_index(pepper, two)
    assert wechat.sender_key(pepper, one) != wechat.sender_key(pepper, two)
    assert wechat.sender_index(pepper, one) != wechat.sender_key(pepper, one)
    assert len(wechat.sender_index(pepper, one)) == 32
    assert one.encode() not in wechat.sender_index(pepper, one)
    assert wechat.channel_key(pepper, "media-id") != wechat.channel_key(pepper, "notify")
    assert wechat.keyed_hash(pepper, "retry", "a", 1) != wechat.keyed_hash(pepper, "retry", "a1")
    # What is encrypted under a sender's key opens only with that sender's key.
    sealed = envelope.wrap(wechat.sender_key(pepper, one), b"draft", purpose="p")
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(wechat.sender_key(pepper, two), sealed, purpose="p")
    with pytest.raises(CryptoError):
        wechat.channel_pepper(b"short")


def test_a_photo_key_opens_only_for_its_group_tip_and_photo() -> None:
    group = envelope.generate_keypair()
    other = envelope.generate_keypair()
    tip, photo = uuid.uuid4(), uuid.uuid4()
    key = wechat.new_photo_key()
    sealed = wechat.seal_photo_key(
        group.public_key, key, tip_id=tip, photo_id=photo, group_id=3, group_version=2
    )
    assert len(sealed) == 83
    opened = wechat.open_photo_key(
        group.private_key, sealed, tip_id=tip, photo_id=photo, group_id=3, group_version=2
    )
    assert opened == key
    for changes in (
        {"tip_id": uuid.uuid4()},
        {"photo_id": uuid.uuid4()},
        {"group_id": 4},
        {"group_version": 1},
    ):
        args = {"tip_id": tip, "photo_id": photo, "group_id": 3, "group_version": 2, **changes}
        with pytest.raises(DecryptionFailed):
            wechat.open_photo_key(group.private_key, sealed, **args)  # type: ignore[arg-type]
    with pytest.raises(DecryptionFailed):
        wechat.open_photo_key(
            other.private_key, sealed, tip_id=tip, photo_id=photo, group_id=3, group_version=2
        )
    # A photo key envelope is not a tip data key envelope, and the reverse.
    with pytest.raises(DecryptionFailed):
        envelope.open_data_key(group.private_key, sealed, tip_id=tip, group_id=3, group_version=2)
