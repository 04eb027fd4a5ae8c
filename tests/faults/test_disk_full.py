"""A full disk under the embedded SQLite database (issue 9).

How the full disk is made: ``PRAGMA max_page_count`` on every connection of the site's engine
(a ``connect`` listener installed by this test), set to the pages the database already has.
SQLite then refuses to grow the file with the same error as a full file system
(``SQLITE_FULL``, "database or disk is full"), at the same places; no root, loop device or
tmpfs mount is needed, so the test runs anywhere. (A real full file system also stops the WAL
from growing; SQLite answers that with the same error code.)

A tip with a photo, sent through the web form and through the API, gets a 503 with
``Retry-After`` and the message that nothing was saved; afterwards the database passes
``PRAGMA integrity_check``, holds no partial tip (no row of the refused tips, every stored tip
whole), and ``qingling audit verify`` passes. Once there is room again, the same site takes
tips as before.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import gettext
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from core import db
from core.web import DATABASE_RETRY_AFTER
from intake.models import Attachment, AttachmentChunk, Tip, TipKey, TipToken
from intake.services import open_with_token
from tests.conftest import csrf_token
from tests.faults.live import (
    TOKEN_RE,
    FilePart,
    Instance,
    build_instance,
    cli,
    consistency_problems,
    multipart,
    sqlite_problems,
    tip_json,
)

pytestmark = pytest.mark.faults

MSGID = (
    "The service cannot save or read anything at the moment. Nothing you sent was saved. "
    "Please try again in a few minutes."
)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    """An instance on the embedded default: SQLite in its data directory, whatever the stage."""
    built = build_instance(tmp_path / "instance", "")
    try:
        yield built
    finally:
        built.close()


def database_file(instance: Instance) -> Path:
    return instance.data_dir / "qingling.sqlite3"


def full_engine(instance: Instance) -> Engine:
    """The site's engine, on a disk that holds not one page more than the database has now."""
    with sqlite3.connect(database_file(instance)) as conn:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    engine = db.make_engine(instance.settings)

    @event.listens_for(engine, "connect")
    def _disk_full(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    return engine


def site(instance: Instance, engine: Engine) -> Flask:
    import public_site

    return public_site.create_app(
        instance.settings, session_factory=db.make_session_factory(engine)
    )


def counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Tip, TipKey, TipToken, Attachment, AttachmentChunk)
    }


def web_tip(client: FlaskClient, division: int, photo: bytes) -> Any:
    fields = [
        ("csrf_token", csrf_token(client, "/report")),
        ("description", "二楼消防通道被杂物堵死，夜间只有一名护工值班。"),
        ("category", "fire"),
        ("division", str(division)),
        ("facility_name", "无名托老所"),
        ("relationship", "employee"),
    ]
    # Encoded here: Werkzeug's test client would spool a body this large to a temporary file
    # of its own and leave it open.
    body, content_type = multipart(fields, [FilePart("files", "IMG_0001.jpg", "image/jpeg", photo)])
    return client.post("/report", data=body, content_type=content_type)


def api_tip(client: FlaskClient, division: int, photo: bytes) -> Any:
    tip = json.dumps(tip_json(division, "二楼消防通道被杂物堵死，夜间只有一名护工值班。"))
    body, content_type = multipart(
        [("tip", tip)], [FilePart("files", "IMG_0002.jpg", "image/jpeg", photo)]
    )
    return client.post("/api/v1/tips", data=body, content_type=content_type)


def test_a_full_disk_gives_a_clear_503_and_a_consistent_database(
    instance: Instance, photo: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    engine = full_engine(instance)
    app = site(instance, engine)
    with app.test_request_context("/"):
        text = str(gettext(MSGID))
    client = app.test_client()
    with instance.sessions() as session:
        before = counts(session)
    caplog.set_level(logging.WARNING)

    page = web_tip(client, instance.division, photo)
    assert page.status_code == 503, page.get_data(as_text=True)[:500]
    assert page.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert text in page.get_data(as_text=True)
    assert not TOKEN_RE.search(page.get_data(as_text=True))

    answer = api_tip(client, instance.division, photo)
    assert answer.status_code == 503, answer.get_data(as_text=True)[:500]
    assert answer.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert answer.get_json()["error"]["message"] == text
    assert "SQLITE_FULL" in caplog.text  # the operator learns what is wrong
    engine.dispose()

    # Consistent afterwards: nothing of the refused tips, every stored row whole.
    assert sqlite_problems(database_file(instance)) == []
    with instance.sessions() as session:
        assert counts(session) == before
        assert consistency_problems(session) == []
    verified = cli(instance.env, "audit", "verify")
    assert verified.exit_code == 0, verified.output

    # Room again: the same kind of site takes the tip.
    roomy = db.make_engine(instance.settings)
    try:
        again = web_tip(site(instance, roomy).test_client(), instance.division, photo)
        assert again.status_code == 200, again.get_data(as_text=True)[:500]
        match = TOKEN_RE.search(again.get_data(as_text=True))
        assert match is not None
    finally:
        roomy.dispose()
    with instance.sessions() as session:
        assert counts(session)["tips"] == before["tips"] + 1
        assert len(open_with_token(session, instance.settings, match.group(1)).attachments) == 1
        assert consistency_problems(session) == []
    assert sqlite_problems(database_file(instance)) == []
