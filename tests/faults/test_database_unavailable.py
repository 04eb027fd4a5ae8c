"""A database that cannot be reached gives a 503 with retry advice on both sites, in-process
(``core/web.py``: ``database_unavailable`` and the error handlers).

Nothing listens on port 1 of the loopback address, so every connection is refused at once, as
when PostgreSQL is down; a SQLite file in a directory that does not exist cannot be opened, as
when the data directory's disk is gone. A failure at the commit itself (the request's last
step, in an after-request hook) is a 503 too, and nothing of the request is kept. The log line
names the error class and code, never the database URL, its password or the driver's message.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import gettext
from sqlalchemy import event, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from core import db
from core.settings import Settings
from core.web import DATABASE_RETRY_AFTER, database_unavailable
from crypto import tokens
from intake.models import Tip
from public_site.limits import limiter_of
from tests.conftest import make_settings
from tests.faults.live import Instance, build_instance, tip_json

pytestmark = pytest.mark.faults

PASSWORD = "pw-never-logged-7d41c9"
UNREACHABLE_PG = f"postgresql+psycopg://qingling:{PASSWORD}@127.0.0.1:1/qingling"
MSGID = (
    "The service cannot save or read anything at the moment. Nothing you sent was saved. "
    "Please try again in a few minutes."
)


def message(app: Flask) -> str:
    with app.test_request_context("/"):
        return str(gettext(MSGID))


def public(settings: Settings) -> Flask:
    import public_site

    app = public_site.create_app(settings)
    limiter_of(app).enabled = False
    return app


def staff(settings: Settings) -> Flask:
    import staff_site

    return staff_site.create_app(settings)


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        return make_settings(tmp_path, UNREACHABLE_PG)
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'gone' / 'qingling.sqlite3'}")


def assert_json_503(response: Any, text: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == {"code": "unavailable", "message": text, "fields": {}}


def assert_page_503(response: Any, text: str) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert text in page
    assert "Traceback" not in page


def test_public_site_answers_503_when_the_database_is_unreachable(
    unreachable: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = public(unreachable)
    text = message(app)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)

    assert client.get("/").status_code == 200  # a page that needs no database still works
    assert_page_503(client.get("/report"), text)
    assert_page_503(client.get("/statistics/"), text)
    assert_json_503(
        client.post("/api/v1/tips", json=tip_json(1, "消防通道被杂物堵死，无人值守。")), text
    )
    assert_json_503(client.get("/api/v1/meta"), text)
    assert_json_503(
        client.post("/api/v1/session", json={"token": tokens.generate_token().display}), text
    )

    assert "database unavailable: OperationalError" in caplog.text
    assert PASSWORD not in caplog.text
    assert "postgresql+psycopg" not in caplog.text
    assert "127.0.0.1" not in caplog.text
    assert str(unreachable.data_dir) not in caplog.text


def test_staff_site_answers_503_when_the_database_is_unreachable(
    unreachable: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = staff(unreachable)
    text = message(app)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    with client.session_transaction() as cookie:
        cookie["sid"] = "a-session-the-database-would-know"
    assert_page_503(client.get("/triage/"), text)
    assert PASSWORD not in caplog.text
    assert "postgresql+psycopg" not in caplog.text


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (
            sa_exc.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
            True,
        ),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (sa_exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE failed")), False),
        (sa_exc.ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("syntax")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_what_counts_as_the_database_being_unavailable(
    error: BaseException, unavailable: bool
) -> None:
    assert database_unavailable(error) is unavailable


def test_a_dropped_connection_counts_as_unavailable() -> None:
    error = sa_exc.InterfaceError("SELECT 1", {}, sqlite3.InterfaceError("connection closed"))
    assert not database_unavailable(error)
    error.connection_invalidated = True
    assert database_unavailable(error)


# ---------------------------------------------------------------- a failure at the commit

#: The driver's message of the injected failures: it must reach no log.
DRIVER_MESSAGE = "connection to server at db.internal (10.0.0.7), port 5432 failed"


@dataclass
class Committing:
    """The public site on a database that really commits; ``fail_next`` makes the next commit
    fail with that error, raised where the driver's would be."""

    app: Flask
    instance: Instance
    fail_next: sa_exc.DBAPIError | None = None


@pytest.fixture
def committing(tmp_path: Path, stage_database_url: str) -> Iterator[Committing]:
    import public_site

    instance = build_instance(tmp_path / "instance", stage_database_url)
    engine = db.make_engine(instance.settings)
    app = public_site.create_app(instance.settings, session_factory=db.make_session_factory(engine))
    state = Committing(app, instance)

    @event.listens_for(engine, "commit")
    def _commit(_conn: Connection) -> None:
        error, state.fail_next = state.fail_next, None
        if error is not None:
            raise error

    try:
        yield state
    finally:
        engine.dispose()
        instance.close()


def tips(instance: Instance) -> int:
    with instance.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Tip)) or 0)


def test_a_commit_that_loses_the_connection_is_a_503_and_keeps_nothing(
    committing: Committing, caplog: pytest.LogCaptureFixture
) -> None:
    client = committing.app.test_client()
    division = committing.instance.division
    caplog.set_level(logging.DEBUG)

    committing.fail_next = sa_exc.OperationalError(
        "COMMIT", {}, sqlite3.OperationalError(DRIVER_MESSAGE), True
    )
    response = client.post(
        "/api/v1/tips", json=tip_json(division, "消防通道被杂物堵死，夜间无人值守。")
    )
    assert_json_503(response, message(committing.app))
    assert "token" not in response.get_data(as_text=True)
    assert tips(committing.instance) == 0
    assert DRIVER_MESSAGE not in caplog.text
    assert "Traceback" not in caplog.text
    assert "/api/v1/tips" not in caplog.text  # Flask's own "Exception on <path>" is not written

    # The next request commits again.
    again = client.post(
        "/api/v1/tips", json=tip_json(division, "消防通道被杂物堵死，夜间无人值守。")
    )
    assert again.status_code == 201, again.get_data(as_text=True)[:500]
    assert tips(committing.instance) == 1


def test_another_failure_at_the_commit_is_a_500_logged_without_its_message(
    committing: Committing, caplog: pytest.LogCaptureFixture
) -> None:
    client = committing.app.test_client()
    caplog.set_level(logging.DEBUG)
    committing.fail_next = sa_exc.IntegrityError(
        "COMMIT", {}, sqlite3.IntegrityError(DRIVER_MESSAGE)
    )
    response = client.post(
        "/api/v1/tips",
        json=tip_json(committing.instance.division, "消防通道被杂物堵死，夜间无人值守。"),
    )
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "server_error"
    assert f"internal error ref={error['reference']} type=IntegrityError" in caplog.text
    assert DRIVER_MESSAGE not in caplog.text
    assert "/api/v1/tips" not in caplog.text
    assert tips(committing.instance) == 0
