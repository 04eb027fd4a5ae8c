"""The migrations build exactly the schema of the models, on SQLite and on PostgreSQL, and go
back down to an empty database.

On PostgreSQL the test uses its own database (``qingling_migrations`` on the server of
``QINGLING_TEST_DATABASE_URL``), created and dropped here, so it never touches the suite's schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Engine, Enum, create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from core import db, migrate
from migrations import load_models
from tests.conftest import make_settings

TEST_DATABASE_URL = os.environ.get("QINGLING_TEST_DATABASE_URL", "")
SCRATCH_DATABASE = "qingling_migrations"


def sqlite_engine(tmp_path: Path) -> Engine:
    return db.make_engine(make_settings(tmp_path))


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    url = make_url(TEST_DATABASE_URL)
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {SCRATCH_DATABASE}"))
        engine = create_engine(url.set(database=SCRATCH_DATABASE), poolclass=NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
    finally:
        admin.dispose()


def engines() -> list[object]:
    params: list[object] = ["sqlite"]
    if TEST_DATABASE_URL.startswith("postgresql"):
        params.append(pytest.param("postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(params=engines())
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path)
        yield engine
        engine.dispose()
    else:
        yield request.getfixturevalue("postgres_engine")


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "target_metadata": load_models()}
        )
        return list(compare_metadata(context, load_models()))


def downgrade(engine: Engine, revision: str) -> None:
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_there_is_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1
    assert len(list(script.walk_revisions())) >= 1


def test_upgrade_head_equals_the_models(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    tables = set(inspect(empty_engine).get_table_names())
    assert set(load_models().tables) <= tables
    diff = differences(empty_engine)
    assert not diff, f"the migrations differ from the models: {diff}"


def test_check_constraints_are_created(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    inspector = inspect(empty_engine)
    for table in load_models().sorted_tables:
        expected = {c.name for c in table.constraints if isinstance(c, CheckConstraint) and c.name}
        found = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert expected <= found, f"{table.name}: missing CHECK constraints {expected - found}"


def test_downgrade_to_base_and_up_again(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    downgrade(empty_engine, "base")
    left = set(inspect(empty_engine).get_table_names()) - {"alembic_version"}
    assert not left, f"tables left after downgrade base: {left}"
    migrate.upgrade(empty_engine)
    assert not differences(empty_engine)


def test_enum_check_constraints_allow_every_value(empty_engine: Engine) -> None:
    """A CHECK of an enum column allows every member the model has (a member added later
    needs a migration that replaces the constraint, not just a new column default)."""
    migrate.upgrade(empty_engine)
    inspector = inspect(empty_engine)
    for table in load_models().sorted_tables:
        found = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)}
        for column in table.columns:
            kind = column.type
            if not isinstance(kind, Enum) or not kind.create_constraint or not kind.name:
                continue
            sqltext = found.get(f"ck_{table.name}_{kind.name}")
            assert sqltext is not None, f"{table.name}.{column.name}: no CHECK"
            missing = [value for value in kind.enums if f"'{value}'" not in sqltext]
            assert not missing, f"{table.name}.{column.name}: CHECK refuses {missing}"


def test_upgrade_keeps_registered_facilities(empty_engine: Engine) -> None:
    """A facility registered under revision 0005 gets the type record of its old type."""
    migrate.upgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO divisions (id, name, name_en, kind, management_area, sort_order, "
                "active) VALUES (1, '测试镇', 'Test', 'town', '', 0, true)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO facilities (name, address, division_id, facility_type, status) "
                "VALUES ('夕阳红托老所', '', 1, 'day_care_centre', 'operating'), "
                "('福利院', '', 1, 'welfare_home', 'operating')"
            )
        )
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.name, t.code, f.key_supervision FROM facilities f "
                "JOIN facility_types t ON t.id = f.facility_type_id ORDER BY f.name"
            )
        ).all()
    assert sorted((name, code, bool(flag)) for name, code, flag in rows) == [
        ("夕阳红托老所", "community_elderly_care", False),
        ("福利院", "elderly_care_home", False),
    ]
