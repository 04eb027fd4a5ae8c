"""The canary test (tests/intake/test_canary.py) for a tip filed over WeChat: no canary text and
no OpenID anywhere in the database, the data directory, the temporary directory or the logs.

A whole conversation runs through ``/wechat`` in safe mode against a real SQLite file (real
commits), with a canary OpenID, canary text in the description, the typed place and the typed
location, canary MediaIds, and a photo whose EXIF carries a canary. Then the download job
fetches the photo from the fake WeChat API on loopback (its access token is a needle too), the
reporter queries the status and subscribes to a notification (so an encrypted OpenID is in
the database while it is scanned), and WeChat's consent redirect brings the OpenID in a query
string. Every statement's bound parameters are checked as they go to the database; the files
are scanned with the WAL before and after a checkpoint; logs and stdout/stderr after.

Needles: each canary text (UTF-8, JSON escapes, UTF-16, GB18030, hex, ASCII core), the OpenID
(and its hex, UTF-16), the MsgIds, the MediaIds, the token in every form with its derived
secrets, the access token, the token pepper and the channel's pepper and keys.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, create_engine, event, make_url, select, text
from sqlalchemy.pool import NullPool

from core import db
from core.audit import services as audit
from core.clock import FakeClock
from core.keys import services as keys
from core.settings import Settings
from crypto import tokens, wechat
from intake import services as intake_services
from intake.wechat import jobs
from migrations import load_models
from public_site import create_app
from public_site.limits import limiter_of
from registry.models import Division
from registry.services import list_divisions, load_default_divisions
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.intake.test_canary import (
    as_bytes,
    canary,
    derived_needles,
    find,
    flatten,
    pg_dump,
    scan_dirs,
    secret_needles,
    text_needles,
    token_needles,
)
from tests.wechat.conftest import FakeApi, WeChat, jpeg_with_exif, wechat_settings
from tests.wechat.test_conversation import token_in

# One scratch database per process (the intake canary test uses its own name).
SCRATCH_DATABASE = f"qingling_wechat_canary_{os.getpid()}"


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    data_dir, tmp = tmp_path / "instance", tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return data_dir, tmp


def openid_needles(openid: str) -> dict[str, bytes]:
    return {
        "OpenID": openid.encode("ascii"),
        "OpenID (hex)": openid.encode("ascii").hex().encode("ascii"),
        "OpenID (UTF-16)": openid.encode("utf-16-le"),
    }


@dataclass
class Run:
    """What one conversation stored: the needles to look for and the control to find."""

    needles: dict[str, bytes]
    control: dict[str, bytes]


def chat_and_file(engine: Engine, settings: Settings, fake_api: FakeApi) -> Run:
    """The whole story of a WeChat tip against ``engine`` with real commits (see the module
    docstring); fails at once if a statement's bound parameters carry a needle."""
    clock = FakeClock()
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        load_default_divisions(session, clock, audit.SYSTEM_ACTOR)
        params = intake_services.initialise_token_params(session, clock, calibrate=False)
        keys.init_recovery(session, clock, settings, audit.SYSTEM_ACTOR)

    # ------------------------------------------------------------ the needles
    openid = "oCANARY" + secrets.token_hex(10)
    description = canary("description")
    place = canary("place")
    location = canary("location")
    exif_marker = "EXIF" + secrets.token_hex(8)
    media_ids = ["MEDIA" + secrets.token_hex(8), "MEDIA" + secrets.token_hex(8)]
    control = canary("control")
    needles: dict[str, bytes] = {}
    for label, value in (("description", description), ("place", place), ("location", location)):
        needles.update(text_needles(label, value))
    needles.update(openid_needles(openid))
    needles["EXIF canary"] = exif_marker.encode()
    for n, media_id in enumerate(media_ids):
        needles[f"MediaId {n}"] = media_id.encode()
    pepper = wechat.channel_pepper(settings.token_pepper)
    needles.update(secret_needles("token pepper", settings.token_pepper))
    needles.update(secret_needles("channel pepper", pepper))
    needles.update(secret_needles("sender key", wechat.sender_key(pepper, openid)))
    fake_api.media[media_ids[0]] = ("image/jpeg", jpeg_with_exif(exif_marker))
    fake_api.media[media_ids[1]] = ("image/jpeg", jpeg_with_exif(exif_marker, size=(20, 20)))

    violations: list[str] = []

    def hook(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        # The registry search is the one read that must carry what was typed (the place's
        # name): as on the web form, the term is a bound parameter that nothing stores or logs.
        searching = statement.lstrip().startswith("SELECT facilities.")
        for value in [statement, *flatten(parameters)]:
            violations.extend(
                f"{label} in {statement[:40]!r}"
                for label in find(as_bytes(value), needles)
                if not (searching and label.startswith("place"))
            )

    event.listen(engine, "before_cursor_execute", hook)

    # ------------------------------------------------------------ the conversation
    app = create_app(settings, session_factory=factory, clock=clock)
    limiter_of(app).enabled = False
    wx = WeChat(app.test_client(), clock, openid=openid)
    first_id = secrets.randbelow(10**17) + 10**18  # MsgIds that appear nowhere else
    wx._ids = itertools.count(first_id)
    with db.unit_of_work(factory) as session:
        divisions = [d.id for d in list_divisions(session)]
        own = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
        assert own is not None
    wx.text("举报")
    wx.text("2")
    wx.text(str(divisions.index(own) + 1))
    wx.text(place)  # not in the registry: kept as the place's name
    wx.text(description)
    wx.text("完成")
    for media_id in media_ids:
        wx.image(media_id)
    wx.text("完成")
    wx.text(location)
    token_text = token_in(wx.text("确认"))
    token = tokens.parse_token(token_text)
    needles.update(token_needles("token", token))
    needles.update(derived_needles("token", token, settings, params))
    for msg_id in range(first_id, next(wx._ids)):
        needles[f"MsgId {msg_id}"] = str(msg_id).encode()

    # The photos are fetched and stored; the access token becomes a needle.
    with db.unit_of_work(factory) as session:
        lines = jobs.run_due(session, clock, settings)
    assert "wechat photos: 2 stored, 0 lost, 0 still waiting" in lines
    for n, access_token in enumerate(fake_api.tokens_issued):
        needles[f"access token {n}"] = access_token.encode()

    # The status by token, and a notification subscription with WeChat's consent redirect.
    assert "2026" in wx.text(token_text)
    consent_reply = wx.text(f"订阅 {token_text}")
    link_line = next(x for x in consent_reply.splitlines() if x.startswith("https://mp.weixin"))
    link = {k: v[0] for k, v in parse_qs(urlsplit(link_line).query).items()}
    page = wx.client.get(
        "/wechat/subscribed",
        query_string={
            "openid": openid,
            "template_id": link["template_id"],
            "action": "confirm",
            "scene": link["scene"],
            "reserved": link["reserved"],
        },
    )
    assert page.status_code == 200

    with db.unit_of_work(factory) as session:
        opened = intake_services.open_with_token(session, settings, token_text)
        assert opened.content.description == description
        assert opened.content.facility_name == place
        assert opened.content.location == location
        # In the clear on purpose: the scans must find this one.
        audit.record(
            session, clock, audit.SYSTEM_ACTOR, "test.control", "test", None, {"note": control}
        )
    event.remove(engine, "before_cursor_execute", hook)
    assert not violations, violations
    return Run(needles, text_needles("control", control))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    # Pillow's DEBUG log prints the EXIF tags (GPS, camera serial numbers) of every photo it
    # opens; the site's logging must keep it at INFO (see test_pillow_is_kept_quiet below).
    caplog.set_level(logging.INFO, logger="PIL")
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_logs_clean(
    run: Run, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    captured = capfd.readouterr()
    logs = "\n".join(
        [caplog.text, captured.out, captured.err]
        + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )
    assert "INSERT INTO wechat_conversations" in logs, "the SQL log was not captured"
    assert "INSERT INTO tips" in logs
    assert_clean_of({"logs": logs.encode("utf-8")}, run.needles)


def test_a_tip_filed_over_wechat_leaves_no_canary_and_no_openid(
    scratch: tuple[Path, Path],
    fake_api: FakeApi,
    logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    data_dir, tmp = scratch
    settings = wechat_settings(make_settings(data_dir), fake_api.url)
    engine = db.make_engine(settings)
    load_models().create_all(engine)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    keeper = sqlite3.connect(database)  # keeps the WAL from being checkpointed away
    try:
        run = chat_and_file(engine, settings, fake_api)
        wal = Path(f"{database}-wal")
        before = scan_dirs(data_dir, tmp)
        # In the WAL, or already in the database file if SQLite checkpointed on its own.
        assert any(
            find(blob, run.control)
            for name, blob in before.items()
            if name in {str(wal), str(database)}
        ), "the control canary was not found: the scan does not see what is stored"
        assert_clean_of(before, run.needles)
        keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = scan_dirs(data_dir, tmp)
        assert any(find(blob, run.control) for name, blob in after.items() if name == str(database))
        assert_clean_of(after, run.needles)
    finally:
        keeper.close()
        engine.dispose()
    assert_logs_clean(run, logs, capfd)


@pytest.mark.postgres
@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs QINGLING_TEST_DATABASE_URL pointing at PostgreSQL",
)
def test_the_same_on_postgresql(
    scratch: tuple[Path, Path],
    tmp_path: Path,
    fake_api: FakeApi,
    logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    data_dir, tmp = scratch
    url = make_url(TEST_DATABASE_URL)
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH_DATABASE}"))
    scratch_url = url.set(database=SCRATCH_DATABASE)
    try:
        settings = wechat_settings(
            make_settings(data_dir, scratch_url.render_as_string(hide_password=False)),
            fake_api.url,
        )
        engine = db.make_engine(settings)
        try:
            load_models().create_all(engine)
            run = chat_and_file(engine, settings, fake_api)
        finally:
            engine.dispose()
        dump = tmp_path / "dump.sql"  # outside the scanned directories: it holds the control
        libpq = scratch_url.set(drivername="postgresql")
        subprocess.run(
            [
                pg_dump(),
                "--format=plain",
                "--no-owner",
                f"--file={dump}",
                libpq.set(password=None).render_as_string(hide_password=False),
            ],
            check=True,
            env={**os.environ, "PGPASSWORD": libpq.password or ""},
            timeout=120,
        )
        dumped = {"pg_dump": dump.read_bytes()}
        assert b"COPY public.wechat_photos" in dumped["pg_dump"]
        assert find(dumped["pg_dump"], run.control), "the control canary was not found"
        assert_clean_of(dumped, run.needles)
        assert_clean_of(scan_dirs(data_dir, tmp), run.needles)
        assert_logs_clean(run, logs, capfd)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
        admin.dispose()


def assert_clean_of(blobs: dict[str, bytes], needles: dict[str, bytes]) -> None:
    leaks = {name: hits for name, blob in blobs.items() if (hits := find(blob, needles))}
    assert not leaks, f"found in the clear: {leaks}"


def test_pillow_is_kept_quiet() -> None:
    """At ``QINGLING_LOG_LEVEL=DEBUG`` Pillow would log the EXIF of every photo a reporter
    sends, GPS included, before it is scrubbed; the site's logging must keep it at INFO."""
    from core import logs

    root, pil = logging.getLogger(), logging.getLogger("PIL")
    saved = (root.level, list(root.handlers), pil.level)
    try:
        logs.configure("DEBUG")
        assert pil.getEffectiveLevel() >= logging.INFO
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        pil.setLevel(saved[2])
