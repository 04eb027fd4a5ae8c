"""The WeChat server protocol around the crypto: reading a push, writing a reply.

* :func:`parse_xml` reads WeChat's flat ``<xml>…</xml>`` documents with expat and refuses a
  DTD, any entity declaration or external entity (so no XXE and no entity expansion), more
  than :data:`MAX_ELEMENTS` elements, nesting deeper than :data:`MAX_DEPTH`, and a field that
  appears twice. Only the root's children are kept (nested event details are skipped).
* :func:`open_push` checks a push — timestamp, ``signature``, and in safe or compatible mode
  ``msg_signature`` before anything is decrypted — and returns the :class:`Message`.
  Plaintext mode is accepted only for Tencent's sandbox test account.
* :func:`text_reply` and :func:`sealed_reply` write the passive reply; text goes into CDATA
  sections with ``]]>`` split, so a reporter's words can never close one.

Every refusal is a :class:`Rejected` carrying a 4xx status and no detail. No Flask here; the
view (``public_site/views/wechat.py``) maps the status to an empty response.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from xml.parsers import expat

from crypto import wechat
from crypto.wechat import MessageCrypto, WeChatCryptoError

#: Largest push body read (WeChat's pushes are a few KiB; a text message is at most 2048 bytes).
MAX_BODY = 64 * 1024
MAX_ELEMENTS = 200
MAX_DEPTH = 8
#: Longest value of one field kept (a text message's Content is at most 2048 bytes).
MAX_FIELD = 16 * 1024
#: An OpenID is 28 characters; a gh_ id about 15.
MAX_ID = 64


class Rejected(Exception):
    """A push that is refused: ``status`` is the 4xx to answer, with an empty body."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Refused(Exception):
    """Raised inside expat callbacks to stop parsing."""


def parse_xml(body: bytes) -> dict[str, str]:
    """The root's child elements of a WeChat XML document, by name.

    :class:`Rejected` (400) for a document that is malformed, has a DTD or an entity
    declaration, refers to an undefined entity, has another root than ``xml``, more than
    :data:`MAX_ELEMENTS` elements, deeper nesting than :data:`MAX_DEPTH`, a repeated field or a
    field longer than :data:`MAX_FIELD`.
    """
    if len(body) > MAX_BODY:
        raise Rejected(413)
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    fields: dict[str, str] = {}
    state: dict[str, Any] = {"depth": 0, "count": 0, "name": None, "text": [], "size": 0}

    def refuse(*_args: object) -> int:
        raise _Refused

    def start(name: str, _attrs: object) -> None:
        state["depth"] += 1
        state["count"] += 1
        if state["count"] > MAX_ELEMENTS or state["depth"] > MAX_DEPTH:
            raise _Refused
        if state["depth"] == 1 and name != "xml":
            raise _Refused
        if state["depth"] == 2:
            if name in fields:
                raise _Refused
            state["name"], state["text"], state["size"] = name, [], 0

    def end(_name: str) -> None:
        if state["depth"] == 2:
            fields[state["name"]] = "".join(state["text"])
            state["name"] = None
        state["depth"] -= 1

    def characters(data: str) -> None:
        if state["depth"] == 2:
            state["text"].append(data)
            state["size"] += len(data)
            if state["size"] > MAX_FIELD:
                raise _Refused

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.NotationDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(body, True)
    except (_Refused, expat.ExpatError, ValueError, LookupError):
        # LookupError: an XML declaration naming an encoding Python does not know.
        raise Rejected(400) from None
    if state["count"] == 0:
        raise Rejected(400)
    return fields


@dataclass(frozen=True)
class Message:
    """One push, decrypted. ``sender`` is the OpenID: never stored, logged or shown."""

    to_user: str
    sender: str = field(repr=False)
    create_time: int
    msg_type: str
    msg_id: str | None
    fields: Mapping[str, str] = field(repr=False)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    @property
    def event(self) -> str:
        return self.get("Event") if self.msg_type == "event" else ""


def _identifier(value: str) -> bool:
    return 0 < len(value) <= MAX_ID and value.isascii() and value.isprintable()


def message_of(fields: Mapping[str, str]) -> Message:
    """A :class:`Message` from parsed fields, or :class:`Rejected` (400) when a required one
    is missing or malformed."""
    to_user = fields.get("ToUserName", "").strip()
    sender = fields.get("FromUserName", "").strip()
    create_time = fields.get("CreateTime", "").strip()
    msg_type = fields.get("MsgType", "").strip()
    msg_id = fields.get("MsgId", "").strip() or None
    if not (_identifier(to_user) and _identifier(sender)):
        raise Rejected(400)
    if not (create_time.isascii() and create_time.isdigit() and len(create_time) <= 12):
        raise Rejected(400)
    if not (msg_type.isascii() and msg_type.isalpha() and len(msg_type) <= 20):
        raise Rejected(400)
    if msg_id is not None and not (msg_id.isascii() and msg_id.isdigit() and len(msg_id) <= 24):
        raise Rejected(400)
    return Message(
        to_user=to_user,
        sender=sender,
        create_time=int(create_time),
        msg_type=msg_type.lower(),
        msg_id=msg_id,
        fields=MappingProxyType(dict(fields)),
    )


@dataclass(frozen=True)
class PushQuery:
    """The query string of a push (``openid`` is in it too, and deliberately not read)."""

    signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    encrypt_type: str = ""
    msg_signature: str = ""

    @classmethod
    def of(cls, args: Mapping[str, str]) -> PushQuery:
        def arg(name: str) -> str:
            value = args.get(name, "")
            return value if len(value) <= 128 else ""

        return cls(
            signature=arg("signature"),
            timestamp=arg("timestamp"),
            nonce=arg("nonce"),
            encrypt_type=arg("encrypt_type").lower(),
            msg_signature=arg("msg_signature"),
        )


@dataclass(frozen=True)
class Channel:
    """How this server talks to WeChat: the Token, the message crypto (None without an AES
    key) and whether plaintext pushes are accepted (the sandbox test account only)."""

    token: str = field(repr=False)
    crypto: MessageCrypto | None = field(repr=False)
    sandbox: bool


@dataclass(frozen=True)
class Opened:
    message: Message
    encrypted: bool  # the reply must be encrypted too (safe and compatible mode)


def _now() -> int:
    return int(time.time())


def verify_url(channel: Channel, args: Mapping[str, str], *, now: int | None = None) -> str:
    """The ``echostr`` to answer a URL verification with; :class:`Rejected` (403/400)."""
    query = PushQuery.of(args)
    echostr = args.get("echostr", "")
    if not (0 < len(echostr) <= 128 and echostr.isascii() and echostr.isalnum()):
        raise Rejected(400)
    try:
        wechat.check_timestamp(query.timestamp, _now() if now is None else now)
        wechat.check_signature(query.signature, channel.token, query.timestamp, query.nonce)
    except WeChatCryptoError:
        raise Rejected(403) from None
    return echostr


def open_push(
    channel: Channel, args: Mapping[str, str], body: bytes, *, now: int | None = None
) -> Opened:
    """Check and decrypt a push. The order matters: the timestamp and ``signature`` first,
    then (encrypted) ``msg_signature`` over the ciphertext, and only then decryption."""
    query = PushQuery.of(args)
    moment = _now() if now is None else now
    try:
        wechat.check_timestamp(query.timestamp, moment)
        wechat.check_signature(query.signature, channel.token, query.timestamp, query.nonce)
    except WeChatCryptoError:
        raise Rejected(403) from None
    outer = parse_xml(body)
    if query.encrypt_type == "aes":
        if channel.crypto is None:
            raise Rejected(403)
        ciphertext = outer.get("Encrypt", "").strip()
        if not ciphertext:
            raise Rejected(400)
        try:
            inner = channel.crypto.open(
                query.msg_signature, query.timestamp, query.nonce, ciphertext, now=moment
            )
        except (wechat.SignatureMismatch, wechat.StaleTimestamp, wechat.WrongAppId):
            raise Rejected(403) from None
        except WeChatCryptoError:
            raise Rejected(400) from None
        return Opened(message_of(parse_xml(inner)), encrypted=True)
    if query.encrypt_type not in {"", "raw"} or not channel.sandbox:
        raise Rejected(403)
    return Opened(message_of(outer), encrypted=False)


# ---------------------------------------------------------------- replies


def cdata(value: str) -> str:
    """``value`` as CDATA: every ``]]>`` is split across two sections."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_text(value: str) -> str:
    """Drop what XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; U+FFFE/FFFF;
    lone surrogates)."""
    return "".join(
        ch
        for ch in value
        if ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch >= "\U00010000"
    )


def text_reply(message: Message, content: str, *, now: int) -> bytes:
    """The passive text reply to ``message`` (To/From swapped)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(message.sender)}</ToUserName>"
        f"<FromUserName>{cdata(message.to_user)}</FromUserName>"
        f"<CreateTime>{int(now)}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(_xml_text(content))}</Content>"
        "</xml>"
    ).encode()


def sealed_reply(
    crypto: MessageCrypto,
    reply: bytes,
    nonce: str,
    *,
    now: int,
    random16: bytes | None = None,
) -> bytes:
    """The encrypted reply envelope (reference §3.5) around a :func:`text_reply`."""
    timestamp = str(int(now))
    safe_nonce = nonce if nonce.isascii() and nonce.isalnum() else "0"
    ciphertext, msg_signature = crypto.seal(reply, timestamp, safe_nonce, random16=random16)
    return (
        "<xml>"
        f"<Encrypt>{cdata(ciphertext)}</Encrypt>"
        f"<MsgSignature>{cdata(msg_signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp>"
        f"<Nonce>{cdata(safe_nonce)}</Nonce>"
        "</xml>"
    ).encode()
