"""Shared fixtures.

The schema is created once per run; every test runs inside a transaction that is rolled back,
and both apps are built on that same connection, so a request's commit is a savepoint release.
Settings use fast KDF parameters. ``QINGLING_TEST_DATABASE_URL`` runs the suite on PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from core import db
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.settings import Settings, load
from migrations import load_models
from registry.services import load_default_divisions

TEST_DATABASE_URL = os.environ.get("QINGLING_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


def make_settings(data_dir: Path, database_url: str = "", **changes: object) -> Settings:
    env = {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": database_url,
        "QINGLING_ARGON2_MEMORY_KIB": "64",
        "QINGLING_ARGON2_ITERATIONS": "1",
        "QINGLING_LOG_LEVEL": "DEBUG",
    }
    from core.cli import new_secret_values

    for name, value in new_secret_values().items():
        env[f"QINGLING_{name.upper()}"] = value.hex()
    return load(env).with_changes(testing=True, **changes)


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def engine(session_data_dir: Path) -> Iterator[Engine]:
    settings = make_settings(session_data_dir, TEST_DATABASE_URL)
    eng = db.make_engine(settings)
    metadata = load_models()
    if eng.dialect.name == "postgresql":
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(session_data_dir: Path, engine: Engine) -> Settings:
    return make_settings(session_data_dir, str(engine.url.render_as_string(hide_password=False)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def connection(engine: Engine) -> Iterator[object]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def session_factory(connection: object) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,  # type: ignore[arg-type]
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def dbs(session_factory: sessionmaker[Session], clock: FakeClock) -> Iterator[Session]:
    """A session for service tests, with the default divisions loaded."""
    s = session_factory()
    load_default_divisions(s, clock, SYSTEM_ACTOR)
    s.flush()
    yield s
    s.close()


@pytest.fixture
def public_app(
    settings: Settings, session_factory: sessionmaker[Session], dbs: Session, clock: FakeClock
) -> Flask:
    import public_site

    return public_site.create_app(settings, session_factory=session_factory, clock=clock)


@pytest.fixture
def staff_app(
    settings: Settings, session_factory: sessionmaker[Session], dbs: Session, clock: FakeClock
) -> Flask:
    import staff_site

    return staff_site.create_app(settings, session_factory=session_factory, clock=clock)


@pytest.fixture
def public_client(public_app: Flask) -> FlaskClient:
    return public_app.test_client()


@pytest.fixture
def staff_client(staff_app: Flask) -> FlaskClient:
    return staff_app.test_client()


# ---------------------------------------------------------------- staff users and logins

DEFAULT_PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def make_user(dbs: Session, clock: FakeClock, settings: Settings):  # type: ignore[no-untyped-def]
    """Create a staff user (TOTP not enrolled unless ``totp=True``)."""
    from core.accounts import services as accounts
    from core.accounts.models import Role

    def _make(
        username: str,
        *roles: Role,
        division_id: int | None = None,
        password: str = DEFAULT_PASSWORD,
        totp: bool = False,
    ):  # type: ignore[no-untyped-def]
        user = accounts.create_user(
            dbs,
            clock,
            settings,
            SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=password,
            roles=set(roles),
            division_id=division_id,
        )
        if totp:
            accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
        dbs.flush()
        return user

    return _make


@pytest.fixture
def login(dbs: Session, clock: FakeClock, settings: Settings):  # type: ignore[no-untyped-def]
    """Put a full (password and TOTP done) session for ``user`` into ``client``'s cookie."""
    from core.accounts import services as accounts

    def _login(client: FlaskClient, user):  # type: ignore[no-untyped-def]
        cookie_value = accounts.open_session(dbs, clock, settings, user)
        dbs.flush()
        with client.session_transaction() as flask_session:
            flask_session["sid"] = cookie_value
        return client

    return _login


def csrf_token(client: FlaskClient, path: str) -> str:
    """GET ``path`` and return the CSRF token of its first form."""
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def build_user(
    dbs: Session,
    clock: FakeClock,
    username: str,
    *roles: object,
    division_id: int | None = None,
    active: bool = True,
):  # type: ignore[no-untyped-def]
    """A staff user built directly, with no password or key: for tests that need only an actor."""
    from core.accounts.models import User, UserRole

    user = User(
        username=username,
        display_name=username.title(),
        division_id=division_id,
        active=active,
        password_salt=b"\0" * 16,
        password_verifier=b"\0" * 32,
        kdf_params="argon2id:test",
        password_changed_at=clock.now(),
        created_at=clock.now(),
        roles=[UserRole(role=r) for r in roles],
    )
    dbs.add(user)
    dbs.flush()
    return user


@dataclass(frozen=True)
class CommittedDatabase:
    settings: Settings  # pointing at it
    engine: Engine
    schema: str | None  # PostgreSQL: the schema of its own; SQLite: None


@contextmanager
def committed_database(
    settings: Settings, tmp_path: Path, name: str, *, pool_size: int = 5
) -> Iterator[CommittedDatabase]:
    """A database whose transactions really commit, for tests of several sessions at once:
    a schema of its own on PostgreSQL (dropped afterwards), a SQLite file otherwise, with
    every table created."""
    admin: Engine | None = None
    schema = f"{name}_{secrets.token_hex(4)}"
    if ON_POSTGRES:
        admin = create_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = create_engine(
            TEST_DATABASE_URL,
            hide_parameters=True,
            pool_size=pool_size,
            connect_args={"options": f"-csearch_path={schema}"},
        )
    else:
        settings = settings.with_changes(database_url=f"sqlite:///{tmp_path / f'{name}.sqlite3'}")
        engine = db.make_engine(settings)
    load_models().create_all(engine)
    try:
        yield CommittedDatabase(settings, engine, schema if admin is not None else None)
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
