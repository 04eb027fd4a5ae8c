"""A retry that arrives while the first delivery is still being answered (reference §2.4: it
happens) waits for it and gets the same reply; the push acts once.

The suite's usual fixtures share one rolled-back connection, which threads cannot; this builds
an instance with real commits, in a scratch schema on PostgreSQL (where the retry blocks on the
claim's unique key) or a scratch SQLite file (where it waits for the writer's lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import db
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from intake import services as intake_services
from intake.models import Tip
from intake.wechat import conversation
from public_site import create_app
from public_site.limits import limiter_of
from registry.services import load_default_divisions
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, committed_database, make_settings
from tests.wechat.conftest import Delivery, FakeApi, WeChat, message_xml, wechat_settings


@pytest.fixture
def committed(tmp_path: Path, fake_api: FakeApi) -> Iterator[tuple[Flask, sessionmaker[Session]]]:
    base = wechat_settings(make_settings(tmp_path, TEST_DATABASE_URL), fake_api.url)
    with committed_database(base, tmp_path, "wechat") as database:
        settings, factory = database.settings, db.make_session_factory(database.engine)
        with db.unit_of_work(factory) as session:
            load_default_divisions(session, SystemClock(), SYSTEM_ACTOR)
            intake_services.initialise_token_params(session, SystemClock(), calibrate=False)
            keys.init_recovery(session, SystemClock(), settings, SYSTEM_ACTOR)
        app = create_app(settings, session_factory=factory)
        limiter_of(app).enabled = False
        yield app, factory


def test_a_concurrent_retry_waits_for_the_first_and_gets_its_reply(
    committed: tuple[Flask, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, factory = committed
    wx = WeChat(app.test_client(), SystemClock())
    wx.text("举报")
    wx.text("2")
    wx.text("1")
    wx.text("跳过")
    wx.text("消防通道被杂物堵死，无法通行。")
    wx.text("完成")
    wx.text("跳过")
    wx.text("跳过")

    real_run = conversation._Turn.run
    entered = threading.Event()

    def slow_run(turn: conversation._Turn) -> str | None:
        entered.set()
        time.sleep(0.6)  # the first delivery is slow: WeChat retries meanwhile
        return real_run(turn)

    monkeypatch.setattr(conversation._Turn, "run", slow_run)
    query, body = wx.envelope(message_xml(wx.fields("text", Content="确认")))
    results: dict[str, Delivery] = {}

    def deliver(name: str) -> None:
        client = app.test_client()
        response = client.post("/wechat", query_string=query, data=body, content_type="text/xml")
        results[name] = Delivery(query, body, response, wx.read(response, mode="safe"))

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert entered.wait(5)
    retry = threading.Thread(target=deliver, args=("retry",))
    retry.start()
    first.join(10)
    retry.join(10)
    assert results["first"].reply is not None
    assert results["retry"].reply == results["first"].reply
    with db.unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == 1


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="the lock timeout is PostgreSQL's")
def test_a_retry_behind_a_very_slow_first_delivery_answers_success(
    committed: tuple[Flask, sessionmaker[Session]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the lock timeout the retry answers ``success`` (no reply), never "send again",
    which would make the reporter repeat a step the first delivery is completing."""
    app, _factory = committed
    monkeypatch.setattr(conversation, "LOCK_TIMEOUT_MS", 300)
    wx = WeChat(app.test_client(), SystemClock())
    real_run = conversation._Turn.run
    entered = threading.Event()

    def slow_run(turn: conversation._Turn) -> str | None:
        entered.set()
        time.sleep(1.0)
        return real_run(turn)

    monkeypatch.setattr(conversation._Turn, "run", slow_run)
    query, body = wx.envelope(message_xml(wx.fields("text", Content="举报")))
    results: dict[str, bytes] = {}

    def deliver(name: str) -> None:
        response = app.test_client().post("/wechat", query_string=query, data=body)
        assert response.status_code == 200
        results[name] = response.get_data()

    first = threading.Thread(target=deliver, args=("first",))
    first.start()
    assert entered.wait(5)
    deliver("retry")
    first.join(10)
    assert results["retry"] == b"success"
    assert results["first"].startswith(b"<xml><Encrypt>")
