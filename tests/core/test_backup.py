"""`qingling backup` and `qingling restore`: the drill (restore into an empty database and read
a tip with a staff password and with the reporter's token), and the refusals."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from core import db
from core import settings as settings_module
from core.accounts.models import User
from core.accounts.services import personal_key_with_password
from core.clock import SystemClock
from intake import services as intake_services
from public_site import create_app
from registry.models import Division
from tests.core.conftest import run
from triage.services.reading import open_tip

DESCRIPTION = "备份演练：三楼走廊的应急照明全部不亮，夜班只有一个人。"


def _load(env: dict[str, str]) -> settings_module.Settings:
    return settings_module.load(env, dotenv=False)


def _demo_password(env: dict[str, str], username: str) -> str:
    result = run(env, "demo")
    assert result.exit_code == 0, result.output
    found = re.search(rf"user name:\s+{re.escape(username)}\n\s+password:\s+(.+)\n", result.output)
    assert found, result.output
    return found.group(1).strip()


def _file_tip(env: dict[str, str]) -> str:
    """A tip filed through the public JSON API; returns the token."""
    settings = _load(env)
    engine = db.make_engine(settings)
    try:
        factory = db.make_session_factory(engine)
        with db.unit_of_work(factory) as session:
            division = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
        client = create_app(settings, session_factory=factory).test_client()
        response = client.post(
            "/api/v1/tips",
            json={
                "description": DESCRIPTION,
                "category": "fire",
                "division": division,
                "location": "三楼走廊",
                "facility_name": "",
                "observed_at": "昨晚",
                "relationship": "employee",
            },
        )
    finally:
        engine.dispose()
    assert response.status_code == 201, response.get_json()
    token: str = response.get_json()["token"]
    return token


def _read_back(env: dict[str, str], password: str, token: str) -> None:
    """The tip opens in the restored database with the officer's password and with the token."""
    settings = _load(env)
    engine = db.make_engine(settings)
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            clock = SystemClock()
            officer = session.scalar(select(User).where(User.username == "demo.triage"))
            assert officer is not None
            personal = personal_key_with_password(
                session, clock, settings, officer, password=password
            )
            reporter = intake_services.open_with_token(session, settings, token)
            assert reporter.content.description == DESCRIPTION
            opened = open_tip(session, clock, settings, officer, reporter.id, personal_key=personal)
            assert opened.tip.content.description == DESCRIPTION
    finally:
        engine.dispose()


def _instance_like(env: dict[str, str], data_dir: Path, **changes: str) -> dict[str, str]:
    """Settings of a second instance with the first one's secrets (as an operator restores
    them from their separate backup) and its own, empty database."""
    shutil.copytree(Path(env["QINGLING_DATA_DIR"]) / "secrets", data_dir / "secrets")
    return {**env, "QINGLING_DATA_DIR": str(data_dir), **changes}


def test_sqlite_drill(cli_instance: dict[str, str], tmp_path: Path) -> None:
    password = _demo_password(cli_instance, "demo.triage")
    token = _file_tip(cli_instance)
    target = tmp_path / "backups" / "qingling.sqlite3"

    made = run(cli_instance, "backup", str(target))
    assert made.exit_code == 0, made.output
    assert "audit head at backup time:" in made.output
    assert target.stat().st_mode & 0o077 == 0
    assert DESCRIPTION.encode() not in target.read_bytes()  # tips stay encrypted in a backup
    assert not list(target.parent.glob("*.part"))

    restored_env = _instance_like(cli_instance, tmp_path / "restored")
    done = run(restored_env, "restore", str(target))
    assert done.exit_code == 0, done.output
    assert "audit chain intact" in done.output
    _read_back(restored_env, password, token)


def test_backup_refuses_to_overwrite(cli_instance: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "exists.sqlite3"
    target.write_bytes(b"keep me")
    result = run(cli_instance, "backup", str(target))
    assert result.exit_code != 0
    assert "exists already" in result.output
    assert target.read_bytes() == b"keep me"


def test_restore_refuses_a_database_that_is_not_empty(
    cli_instance: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "b.sqlite3"
    assert run(cli_instance, "backup", str(target)).exit_code == 0
    result = run(cli_instance, "restore", str(target))
    assert result.exit_code != 0
    assert "not empty" in result.output
    replaced = run(cli_instance, "restore", "--replace", str(target))
    assert replaced.exit_code == 0, replaced.output
    assert "audit chain intact" in replaced.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a backup at all", "not a Qingling backup"),
        (b"PGDMP\x01\x0e\x00", "is a postgresql backup but the database is sqlite"),
    ],
)
def test_restore_refuses_what_is_not_a_backup_of_this_kind(
    cli_instance: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "file.bin"
    source.write_bytes(content)
    empty = {**cli_instance, "QINGLING_DATA_DIR": str(tmp_path / "empty")}
    result = run(empty, "restore", str(source))
    assert result.exit_code != 0
    assert message in result.output


def test_restore_refuses_a_damaged_sqlite_backup(
    cli_instance: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "b.sqlite3"
    assert run(cli_instance, "backup", str(target)).exit_code == 0
    data = bytearray(target.read_bytes())
    data[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512  # a page in the middle of the file
    target.write_bytes(bytes(data))
    empty = {**cli_instance, "QINGLING_DATA_DIR": str(tmp_path / "empty")}
    result = run(empty, "restore", str(target))
    assert result.exit_code != 0
    assert "integrity" in result.output or "malformed" in result.output


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture
def pg_databases() -> Iterator[tuple[str, str]]:
    """Two new, empty PostgreSQL databases (source and restore target) on the test server."""
    base = os.environ.get("QINGLING_TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("needs QINGLING_TEST_DATABASE_URL pointing at PostgreSQL")
    url = make_url(base)
    names = [f"qingling_backup_{uuid.uuid4().hex[:10]}_{side}" for side in ("src", "dst")]
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield tuple(  # type: ignore[misc]
            url.set(database=name).render_as_string(hide_password=False) for name in names
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgresql_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_databases: tuple[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)
    source_url, target_url = pg_databases
    env = {
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
        "QINGLING_DATABASE_URL": source_url,
        "QINGLING_ARGON2_MEMORY_KIB": "64",
        "QINGLING_ARGON2_ITERATIONS": "1",
    }
    assert run(env, "init").exit_code == 0
    password = _demo_password(env, "demo.triage")
    token = _file_tip(env)
    target = tmp_path / "qingling.pgdump"
    made = run(env, "backup", str(target))
    assert made.exit_code == 0, made.output
    assert target.read_bytes()[:5] == b"PGDMP"

    restored_env = _instance_like(env, tmp_path / "restored", QINGLING_DATABASE_URL=target_url)
    done = run(restored_env, "restore", str(target))
    assert done.exit_code == 0, done.output
    _read_back(restored_env, password, token)
    again = run(restored_env, "restore", str(target))
    assert again.exit_code != 0
    assert "not empty" in again.output
