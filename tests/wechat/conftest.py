"""Fixtures for the WeChat channel: a simulated WeChat server that signs and encrypts pushes
like the real one (written here from the protocol, independently of ``crypto.wechat``), a fake
WeChat API on a real HTTP server on loopback, and an instance ready to take tips.

The ``settings`` fixture is overridden here: every test of this package runs with the channel
configured (Token, EncodingAESKey, AppID, AppSecret) and the API pointed at the fake server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import secrets
import struct
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.clock import Clock, FakeClock
from core.settings import Settings
from intake.wechat import api as wechat_api
from public_site.limits import limiter_of
from registry.models import Division, Facility
from registry.services import load_demo_facilities
from tests.conftest import make_settings
from tests.triage.conftest import World, world  # noqa: F401 - the fixture, used by tests here

TOKEN = "QinglingTest2026"
AES_KEY = bytes(range(1, 33))
ENCODING_AES_KEY = base64.b64encode(AES_KEY).decode("ascii").rstrip("=")
APPID = "wx5a1e0c9d3b7f2468"
APPSECRET = "0123456789abcdef0123456789abcdef"
ACCOUNT = "gh_3f9a0b1c2d4e"
TEMPLATE = "tmpl-OneTimeStatus-0001"


# ---------------------------------------------------------------- the protocol, independently


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324


def wx_encrypt(key: bytes, appid: str, message: bytes, random16: bytes | None = None) -> str:
    prefix = random16 or secrets.token_hex(8).encode("ascii")
    framed = prefix + struct.pack(">I", len(message)) + message + appid.encode("ascii")
    padder = padding.PKCS7(256).padder()
    padded = padder.update(framed) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def wx_decrypt(key: bytes, appid: str, text: str) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(base64.b64decode(text)) + decryptor.finalize()
    unpadder = padding.PKCS7(256).unpadder()
    framed = unpadder.update(padded) + unpadder.finalize()
    (length,) = struct.unpack(">I", framed[16:20])
    assert framed[20 + length :] == appid.encode("ascii"), "reply framed for another AppID"
    return framed[20 : 20 + length]


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, str | int]) -> bytes:
    parts = [
        f"<{name}>{value}</{name}>"
        if isinstance(value, int)
        else f"<{name}>{cdata(value)}</{name}>"
        for name, value in fields.items()
    ]
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


def xml_fields(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)  # noqa: S314 - the server's own reply
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


@dataclass
class Delivery:
    """One push as WeChat sent it: replayable byte for byte (a retry)."""

    query: dict[str, str]
    body: bytes
    response: TestResponse
    reply: str | None  # the decrypted reply's Content; None for "success"


@dataclass
class WeChat:
    """WeChat's server, for one follower of the account: builds a message, encrypts and signs
    it for the mode, posts it to ``/wechat`` and decrypts and checks the reply."""

    client: FlaskClient
    clock: Clock
    mode: str = "safe"  # "safe", "compat" or "plain"
    openid: str = field(default_factory=lambda: "o" + secrets.token_urlsafe(20)[:27])
    token: str = TOKEN
    key: bytes = AES_KEY
    appid: str = APPID
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(7_000_000_000_000_000))

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def fields(self, msg_type: str, **extra: str | int) -> dict[str, str | int]:
        values: dict[str, str | int] = {
            "ToUserName": ACCOUNT,
            "FromUserName": self.openid,
            "CreateTime": self.now(),
            "MsgType": msg_type,
        }
        values.update(extra)
        if msg_type != "event" and "MsgId" not in values:
            values["MsgId"] = next(self._ids)
        return values

    def envelope(self, inner: bytes, *, mode: str | None = None) -> tuple[dict[str, str], bytes]:
        mode = mode or self.mode
        timestamp, nonce = str(self.now()), str(secrets.randbelow(10**9))
        query = {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": self.openid,
        }
        if mode == "plain":
            return query, inner
        encrypted = wx_encrypt(self.key, self.appid, inner)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sign(self.token, timestamp, nonce, encrypted)
        if mode == "safe":
            body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
            return query, body.encode("utf-8")
        # Compatible mode: the plaintext fields and the Encrypt field side by side.
        plain = inner.decode("utf-8").removesuffix("</xml>")
        return query, (plain + f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>").encode("utf-8")

    def post(self, query: dict[str, str], body: bytes) -> TestResponse:
        return self.client.post("/wechat", query_string=query, data=body, content_type="text/xml")

    def deliver(self, values: dict[str, str | int], *, mode: str | None = None) -> Delivery:
        query, body = self.envelope(message_xml(values), mode=mode)
        response = self.post(query, body)
        return Delivery(query, body, response, self.read(response, mode=mode or self.mode))

    def retry(self, delivery: Delivery) -> Delivery:
        response = self.post(delivery.query, delivery.body)
        return Delivery(
            delivery.query, delivery.body, response, self.read(response, mode=self.mode)
        )

    def read(self, response: TestResponse, *, mode: str) -> str | None:
        assert response.status_code == 200, response.status_code
        body = response.get_data()
        if body in {b"success", b""}:
            return None
        if mode == "plain":
            inner = body
        else:
            outer = xml_fields(body)
            assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
            expected = sign(self.token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
            assert outer["MsgSignature"] == expected, "the reply's MsgSignature does not match"
            inner = wx_decrypt(self.key, self.appid, outer["Encrypt"])
        reply = xml_fields(inner)
        assert reply["ToUserName"] == self.openid
        assert reply["FromUserName"] == ACCOUNT
        assert reply["MsgType"] == "text"
        assert len(reply["Content"].encode("utf-8")) <= 2048
        return reply["Content"]

    # -------------------------------------------------------------- what a follower does

    def text(self, content: str) -> str:
        reply = self.deliver(self.fields("text", Content=content)).reply
        assert reply is not None
        return reply

    def image(self, media_id: str) -> str:
        reply = self.deliver(
            self.fields("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId=media_id)
        ).reply
        assert reply is not None
        return reply

    def location(self, latitude: float, longitude: float, label: str) -> str:
        reply = self.deliver(
            self.fields(
                "location",
                Location_X=f"{latitude}",
                Location_Y=f"{longitude}",
                Scale="15",
                Label=label,
            )
        ).reply
        assert reply is not None
        return reply

    def event(self, name: str, key: str = "") -> str | None:
        values = self.fields("event", Event=name)
        if key:
            values["EventKey"] = key
        return self.deliver(values).reply


# ---------------------------------------------------------------- the fake WeChat API


def jpeg_with_exif(marker: str = "", size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG whose EXIF carries GPS and a camera model (and ``marker`` as its description)."""
    image = Image.new("RGB", size, (180, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone X1 " + marker  # Model
    exif[0x010E] = marker or "description"  # ImageDescription
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 52.0, 30.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@dataclass
class FakeApi:
    """State of the fake WeChat API (``/cgi-bin/…``), inspected and steered by tests."""

    url: str = ""
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tokens_issued: list[str] = field(default_factory=list)
    #: Tokens the API refuses with this errcode (40001 invalid, 42001 expired).
    refused: dict[str, int] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    media_requests: list[dict[str, str]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: errcode answered to the next subscribe-message sends (popped one per call).
    send_errors: list[int] = field(default_factory=list)
    #: HTTP status answered to the next requests of any kind (popped one per call).
    failures: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, force: bool) -> str:
        if force or not self.tokens_issued:
            self.tokens_issued.append(
                f"ACCESS-{len(self.tokens_issued) + 1}-{secrets.token_hex(6)}"
            )
        return self.tokens_issued[-1]

    def expire_current_token(self, errcode: int = 42001) -> None:
        self.refused[self.tokens_issued[-1]] = errcode


class _Handler(BaseHTTPRequestHandler):
    api: FakeApi

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the test output stays readable."""

    def _json(
        self, value: dict[str, Any], status: int = 200, content_type: str = "application/json"
    ) -> None:
        body = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _failure(self) -> bool:
        with self.api.lock:
            status = self.api.failures.pop(0) if self.api.failures else None
        if status is None:
            return False
        self._json({"errcode": -1, "errmsg": "system error"}, status=status)
        return True

    def _token_refused(self, token: str) -> bool:
        valid = self.api.tokens_issued and token == self.api.tokens_issued[-1]
        code = self.api.refused.get(token) if valid else 40001
        if code:
            self._json({"errcode": code, "errmsg": "access_token invalid or expired"})
            return True
        return False

    def do_POST(self) -> None:
        if self._failure():
            return
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        if parts.path == "/cgi-bin/stable_token":
            self.api.token_requests.append(payload)
            if payload.get("appid") != APPID or payload.get("secret") != APPSECRET:
                self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                return
            self._json(
                {
                    "access_token": self.api.issue(bool(payload.get("force_refresh"))),
                    "expires_in": 7200,
                }
            )
        elif parts.path == "/cgi-bin/message/template/subscribe":
            token = parse_qs(parts.query).get("access_token", [""])[0]
            if self._token_refused(token):
                return
            with self.api.lock:
                error = self.api.send_errors.pop(0) if self.api.send_errors else 0
            if error:
                self._json({"errcode": error, "errmsg": "refused"})
                return
            self.api.sent.append(payload)
            self._json({"errcode": 0, "errmsg": "ok"})
        else:
            self._json({"errcode": 404, "errmsg": "no such API"}, status=404)

    def do_GET(self) -> None:
        if self._failure():
            return
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path != "/cgi-bin/media/get":
            self._json({"errcode": 404, "errmsg": "no such API"}, status=404)
            return
        self.api.media_requests.append(query)
        if self._token_refused(query.get("access_token", "")):
            return
        found = self.api.media.get(query.get("media_id", ""))
        if found is None:
            # As WeChat does: HTTP 200, a JSON error, a text content type.
            self._json({"errcode": 40007, "errmsg": "invalid media_id"}, content_type="text/plain")
            return
        content_type, data = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Disposition", 'attachment; filename="MEDIA_ID.jpg"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    wechat_api.forget_tokens()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        wechat_api.forget_tokens()


def wechat_settings(base: Settings, api_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "wechat_token": TOKEN,
        "wechat_encoding_aes_key": ENCODING_AES_KEY,
        "wechat_appid": APPID,
        "wechat_appsecret": APPSECRET,
        "wechat_api_base": api_url,
    }
    values.update(changes)
    configured = base.with_changes(**values)
    # The notification template's setting is asked of the lead; set it the way a frozen
    # dataclass allows until then (and after, this still sets the declared field).
    object.__setattr__(configured, "wechat_subscribe_template_id", TEMPLATE)
    return configured


@pytest.fixture
def settings(session_data_dir: Path, engine: Engine, fake_api: FakeApi) -> Settings:
    base = make_settings(session_data_dir, str(engine.url.render_as_string(hide_password=False)))
    return wechat_settings(base, fake_api.url)


@pytest.fixture
def ready(world: World, dbs: Session, clock: FakeClock) -> World:  # noqa: F811 - the fixture
    """Token parameters and key groups (the world) and the demo facilities."""
    from core.audit.services import SYSTEM_ACTOR

    load_demo_facilities(dbs, clock, SYSTEM_ACTOR)
    dbs.flush()
    return world


@pytest.fixture
def client(public_app: Flask, ready: World) -> FlaskClient:
    """A client of the ready instance with the rate limits off (they have their own test)."""
    limiter_of(public_app).enabled = False
    return public_app.test_client()


@pytest.fixture
def wx(client: FlaskClient, clock: FakeClock) -> WeChat:
    return WeChat(client, clock)


def division_number(dbs: Session, name: str = "杨舍镇") -> int:
    """The number of a division in the chat's list (the order of ``list_divisions``)."""
    from registry.services import list_divisions

    ids = [d.id for d in list_divisions(dbs)]
    wanted = dbs.scalar(select(Division.id).where(Division.name == name))
    assert wanted is not None
    return ids.index(wanted) + 1


def facility_id(dbs: Session, name: str = "夕阳红托老所") -> int:
    found = dbs.scalar(select(Facility.id).where(Facility.name == name))
    assert found is not None
    return found


@dataclass
class Chat:
    """One follower of a ready instance, and what the tests look at."""

    wx: WeChat
    world: World
    api: FakeApi

    def parts(self) -> tuple[WeChat, World, Session, FakeClock, Settings, FakeApi]:
        w = self.world
        return self.wx, w, w.dbs, w.clock, w.settings, self.api


@pytest.fixture
def chat(wx: WeChat, ready: World, fake_api: FakeApi) -> Chat:
    return Chat(wx, ready, fake_api)
