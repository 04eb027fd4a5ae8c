"""The request log never carries a sender's OpenID.

WeChat puts the OpenID in the query string of every push (``?openid=…``), and in the redirect
after a notification consent. The public site served by ``qingling serve`` logs requests with
``core.logs.AnonymousRequestHandler``, which writes the method, the route's *name* and the
status: this runs the site under that handler on a real socket on loopback, sends both, and
reads the log.
"""

from __future__ import annotations

import logging
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from core import db
from core.audit import services as audit
from core.clock import SystemClock
from core.logs import AnonymousRequestHandler
from intake import services as intake_services
from migrations import load_models
from public_site import create_app
from registry.services import load_default_divisions
from tests.conftest import make_settings
from tests.wechat.conftest import (
    AES_KEY,
    APPID,
    TOKEN,
    FakeApi,
    cdata,
    message_xml,
    sign,
    wechat_settings,
    wx_encrypt,
)


@pytest.fixture
def server(tmp_path: Path, fake_api: FakeApi) -> Iterator[str]:
    settings = wechat_settings(make_settings(tmp_path), fake_api.url)
    engine = db.make_engine(settings)
    load_models().create_all(engine)
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        load_default_divisions(session, SystemClock(), audit.SYSTEM_ACTOR)
        intake_services.initialise_token_params(session, SystemClock(), calibrate=False)
    app = create_app(settings, session_factory=factory)
    httpd: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=False, request_handler=AnonymousRequestHandler
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        engine.dispose()


def fetch(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_request_log_names_the_route_never_the_openid(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    openid = "oLOGCANARY" + secrets.token_hex(9)
    import time

    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    inner = message_xml(
        {
            "ToUserName": "gh_3f9a0b1c2d4e",
            "FromUserName": openid,
            "CreateTime": int(timestamp),
            "MsgType": "text",
            "Content": "帮助",
            "MsgId": secrets.randbelow(10**18),
        }
    )
    encrypted = wx_encrypt(AES_KEY, APPID, inner)
    query = {
        "signature": sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, timestamp, nonce, encrypted),
    }
    body = f"<xml><ToUserName>{cdata('gh_3f9a0b1c2d4e')}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
    status, reply = fetch(f"{server}/wechat?{urlencode(query)}", body.encode())
    assert status == 200
    assert reply.startswith(b"<xml><Encrypt>")
    status, _ = fetch(
        f"{server}/wechat/subscribed?"
        + urlencode(
            {
                "openid": openid,
                "action": "confirm",
                "scene": "5",
                "reserved": "abc",
                "template_id": "t",
            }
        )
    )
    assert status == 400
    # A refused push is logged the same way.
    status, _ = fetch(f"{server}/wechat?{urlencode({**query, 'signature': '0'})}", body.encode())
    assert status == 403

    access = [r.getMessage() for r in caplog.records if r.name == "qingling.public.access"]
    assert access == [
        "POST wechat.push 200",
        "GET wechat.subscribed 400",
        "POST wechat.push 403",
    ]
    everything = caplog.text + " ".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for secret in (openid, query["signature"], query["msg_signature"], nonce, encrypted[:40]):
        assert secret not in everything
