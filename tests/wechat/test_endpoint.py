"""The ``/wechat`` endpoint's protocol hygiene: URL verification, every refusal an empty 4xx
(never a 500), malformed XML, an XXE attempt, entity expansion, an oversize body, signatures
and timestamps, the AppID, plaintext refused outside the sandbox; and ``intake.wechat.protocol``
on its own (the XML reader, CDATA escaping, the reply envelope)."""

from __future__ import annotations

import io
import secrets

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.clock import FakeClock
from core.settings import Settings
from crypto import wechat
from intake.wechat import protocol
from tests.triage.conftest import World
from tests.wechat.conftest import (
    ACCOUNT,
    AES_KEY,
    APPID,
    TOKEN,
    WeChat,
    cdata,
    message_xml,
    sign,
    wx_decrypt,
    wx_encrypt,
    xml_fields,
)

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>gh_x</ToUserName><FromUserName>o1</FromUserName>"
    b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content></xml>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<xml><Content>&lol3;</Content></xml>"
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % remote SYSTEM "http://127.0.0.1:1/x">'
    b"%remote;]><xml><Content>x</Content></xml>"
)


# ---------------------------------------------------------------- not configured


@pytest.fixture
def unconfigured(
    settings: Settings, session_factory: object, clock: FakeClock, dbs: Session
) -> FlaskClient:
    import public_site

    app = public_site.create_app(
        settings.with_changes(wechat_token=""),
        session_factory=session_factory,  # type: ignore[arg-type]
        clock=clock,
    )
    return app.test_client()


def test_the_endpoint_is_off_without_a_token(unconfigured: FlaskClient, clock: FakeClock) -> None:
    wx = WeChat(unconfigured, clock)
    query, body = wx.envelope(message_xml(wx.fields("text", Content="举报")))
    for response in (
        unconfigured.get("/wechat", query_string={**query, "echostr": "123"}),
        unconfigured.post("/wechat", query_string=query, data=body),
        unconfigured.get("/wechat/subscribed", query_string={"reserved": "x"}),
    ):
        assert response.status_code == 404
        assert response.get_data() == b""


# ---------------------------------------------------------------- URL verification


def test_url_verification(client: FlaskClient, clock: FakeClock) -> None:
    timestamp = str(int(clock.now().timestamp()))
    query = {
        "signature": sign(TOKEN, timestamp, "1514711492"),
        "timestamp": timestamp,
        "nonce": "1514711492",
        "echostr": "4375120948345356249",
    }
    response = client.get("/wechat", query_string=query)
    assert response.status_code == 200
    assert response.get_data() == b"4375120948345356249"
    assert response.mimetype == "text/plain"

    refusals = [
        ({**query, "signature": sign("OtherToken", timestamp, "1514711492")}, 403),
        ({**query, "signature": ""}, 403),
        ({**query, "nonce": "1"}, 403),
        (
            {
                **query,
                "timestamp": str(int(timestamp) - 600),
                "signature": sign(TOKEN, str(int(timestamp) - 600), "1514711492"),
            },
            403,
        ),
        ({**query, "echostr": ""}, 400),
        ({**query, "echostr": "<script>alert(1)</script>"}, 400),
    ]
    for args, status in refusals:
        response = client.get("/wechat", query_string=args)
        assert response.status_code == status, args
        assert response.get_data() == b""


# ---------------------------------------------------------------- pushes refused


def signed_post(
    client: FlaskClient, clock: FakeClock, body: bytes, *, encrypted: str | None = None
) -> tuple[int, bytes]:
    timestamp, nonce = str(int(clock.now().timestamp())), str(secrets.randbelow(10**9))
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": "o-test",
    }
    if encrypted is not None:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sign(TOKEN, timestamp, nonce, encrypted)
    response = client.post("/wechat", query_string=query, data=body, content_type="text/xml")
    return response.status_code, response.get_data()


def safe_body(encrypted: str) -> bytes:
    return f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>".encode()


def test_signatures_timestamps_and_appid(
    client: FlaskClient, clock: FakeClock, ready: World
) -> None:
    wx = WeChat(client, clock)
    inner = message_xml(wx.fields("text", Content="举报"))
    query, body = wx.envelope(inner)

    def post(**changes: str) -> int:
        return client.post("/wechat", query_string={**query, **changes}, data=body).status_code

    assert post(signature="0" * 40) == 403
    assert post(msg_signature="0" * 40) == 403
    assert post(msg_signature="") == 403
    assert post(timestamp=str(int(query["timestamp"]) + 1)) == 403  # signed value changed
    # A stale push, correctly signed.
    clock.advance(minutes=6)
    assert wx.post(query, body).status_code == 403
    clock.advance(minutes=-6)
    # The Token of another account.
    other = WeChat(client, clock, token="SomeOtherToken1")
    assert other.post(*other.envelope(inner)).status_code == 403
    # The AES key of another account (garbage after decryption: padding or framing).
    stranger = WeChat(client, clock, key=bytes(range(100, 132)))
    assert stranger.post(*stranger.envelope(inner)).status_code in {400, 403}
    # Encrypted for another AppID.
    foreign = WeChat(client, clock, appid="wx0000000000000000")
    assert foreign.post(*foreign.envelope(inner)).status_code == 403
    # Plaintext outside the sandbox.
    assert wx.post(*wx.envelope(inner, mode="plain")).status_code == 403
    # An unknown encrypt_type.
    assert post(encrypt_type="rsa") == 403
    # And the genuine push is answered.
    assert wx.post(query, body).status_code == 200


def test_malformed_xml_and_xxe_are_refused(
    client: FlaskClient, clock: FakeClock, ready: World
) -> None:
    for outer in (b"", b"not xml", b"<xml><Encrypt>abc", b"<root/>", XXE, LAUGHS, PARAMETER_ENTITY):
        status, body = signed_post(client, clock, outer, encrypted="abc")
        assert status in {400, 403}, outer
        assert body == b""
    # The same documents inside a correctly encrypted and signed push.
    for inner in (b"<xml><Content>", b"<other/>", XXE, LAUGHS, PARAMETER_ENTITY, b"\xff\xfe<xml/>"):
        encrypted = wx_encrypt(AES_KEY, APPID, inner)
        status, body = signed_post(client, clock, safe_body(encrypted), encrypted=encrypted)
        assert status == 400, inner
        assert body == b""
    # Well-formed, but not a WeChat message (no sender, non-numeric time, a repeated field).
    for fields in (
        b"<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType></xml>",
        b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
        b"<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><FromUserName>p</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    ):
        encrypted = wx_encrypt(AES_KEY, APPID, fields)
        assert signed_post(client, clock, safe_body(encrypted), encrypted=encrypted)[0] == 400
    # Ciphertext that is not Base64 or not whole blocks.
    for junk in ("!!!", "QUJD", "A" * 45):
        assert signed_post(client, clock, safe_body(junk), encrypted=junk)[0] == 400


def test_an_oversize_body_is_refused(client: FlaskClient, clock: FakeClock, ready: World) -> None:
    big = b"<xml><Encrypt>" + b"A" * (protocol.MAX_BODY + 10) + b"</Encrypt></xml>"
    status, body = signed_post(client, clock, big, encrypted="A")
    assert (status, body) == (413, b"")
    # Without a Content-Length (chunked), the read is capped all the same.
    timestamp = str(int(clock.now().timestamp()))

    response = client.post(
        "/wechat",
        query_string={
            "signature": sign(TOKEN, timestamp, "1"),
            "timestamp": timestamp,
            "nonce": "1",
        },
        input_stream=io.BytesIO(big),
        headers={"Transfer-Encoding": "chunked"},
        # What gunicorn sets for a chunked request body.
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.get_data() == b""


def test_random_bodies_never_give_a_500(
    client: FlaskClient, clock: FakeClock, ready: World
) -> None:
    for _ in range(40):
        junk = secrets.token_bytes(secrets.randbelow(600))
        encrypted = wx_encrypt(AES_KEY, APPID, junk)
        status, _ = signed_post(client, clock, safe_body(encrypted), encrypted=encrypted)
        assert 200 <= status < 500
        status, _ = signed_post(client, clock, junk, encrypted="x")
        assert 400 <= status < 500


def test_replies_are_encrypted_and_an_unknown_event_is_success(
    client: FlaskClient, clock: FakeClock, ready: World
) -> None:
    wx = WeChat(client, clock)
    delivery = wx.deliver(wx.fields("text", Content="帮助"))
    outer = xml_fields(delivery.response.get_data())
    assert delivery.response.mimetype == "application/xml"
    assert "帮助".encode() not in delivery.response.get_data()
    inner = xml_fields(wx_decrypt(AES_KEY, APPID, outer["Encrypt"]))
    assert inner["Content"] == delivery.reply
    # The periodic location report (which the account should not enable) gets "success".
    location = wx.deliver(wx.fields("event", Event="LOCATION", Latitude="31.8", Longitude="120.5"))
    assert location.reply is None
    assert location.response.get_data() == b"success"


def test_the_default_address_limit_does_not_apply(
    public_app: Flask, ready: World, clock: FakeClock
) -> None:
    """Every push comes from a few Tencent addresses: the per-address default limit (300 a
    minute) must not throttle them all together; the limits are per sender."""
    client = public_app.test_client()
    for _ in range(310):
        status, _ = signed_post(client, clock, b"<xml/>", encrypted="x")
        assert status == 400


# ---------------------------------------------------------------- the protocol module


def test_the_xml_reader() -> None:
    fields = protocol.parse_xml(
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>12</CreateTime>"
        b"<Content><![CDATA[a ]]]]><![CDATA[> b &amp; <c>]]></Content>"
        b"<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum>x</PicMd5Sum></item></PicList></SendPicsInfo>"
        b"</xml>"
    )
    assert fields["ToUserName"] == "gh_1"
    assert fields["CreateTime"] == "12"
    assert fields["Content"] == "a ]]> b &amp; <c>"
    assert "Count" not in fields  # nested details are not fields
    for bad in (
        XXE,
        LAUGHS,
        PARAMETER_ENTITY,
        b"<xml>&undefined;</xml>",
        b"<a/>",
        b"<xml><A/><A/></xml>",
        b"",
    ):
        with pytest.raises(protocol.Rejected) as refused:
            protocol.parse_xml(bad)
        assert refused.value.status == 400
    deep = b"<xml>" + b"<a>" * 20 + b"</a>" * 20 + b"</xml>"
    with pytest.raises(protocol.Rejected):
        protocol.parse_xml(deep)
    many = b"<xml>" + b"".join(f"<F{i}>1</F{i}>".encode() for i in range(300)) + b"</xml>"
    with pytest.raises(protocol.Rejected):
        protocol.parse_xml(many)
    with pytest.raises(protocol.Rejected) as too_big:
        protocol.parse_xml(b"<xml>" + b" " * protocol.MAX_BODY + b"</xml>")
    assert too_big.value.status == 413


@pytest.mark.parametrize(
    "content",
    ["plain", "]]>", "a]]>b]]>c", "]]]]>", "<xml/>&amp;", "line\nbreak", "控制\x01字符\x1f", "😀"],
)
def test_replies_survive_any_text(content: str) -> None:
    message = protocol.message_of(
        {"ToUserName": "gh_1", "FromUserName": "o-1", "CreateTime": "5", "MsgType": "text"}
    )
    reply = protocol.text_reply(message, content, now=99)
    fields = protocol.parse_xml(reply)
    assert fields["Content"] == content.replace("\x01", "").replace("\x1f", "")
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (
        "o-1",
        "gh_1",
        "text",
    )
    crypto = wechat.MessageCrypto(TOKEN, AES_KEY, APPID)
    sealed = protocol.parse_xml(protocol.sealed_reply(crypto, reply, "42", now=99))
    assert sealed["MsgSignature"] == sign(TOKEN, "99", "42", sealed["Encrypt"])
    assert wx_decrypt(AES_KEY, APPID, sealed["Encrypt"]) == reply


def test_the_cdata_escape() -> None:
    assert protocol.cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert protocol.cdata("") == "<![CDATA[]]>"
