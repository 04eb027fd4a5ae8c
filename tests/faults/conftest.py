"""Fixtures of the fault tests: the database of the stage (a SQLite file in the instance's
data directory, the embedded default; or a scratch database on the PostgreSQL server of
``QINGLING_TEST_DATABASE_URL``, dropped afterwards) and a photo. See :mod:`tests.faults.live`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL
from tests.faults.live import photo_jpeg


@pytest.fixture(scope="session")
def photo() -> bytes:
    return photo_jpeg()


@pytest.fixture
def stage_database_url() -> Iterator[str]:
    """The instance's database URL: empty on the SQLite stage (SQLite under the data
    directory); on the PostgreSQL stage a new database of its own on that server, so that
    gunicorn's workers and the checks really commit."""
    if not ON_POSTGRES:
        yield ""
        return
    name = f"qingling_faults_{secrets.token_hex(4)}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
