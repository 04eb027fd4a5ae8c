"""Alembic environment. The URL comes from the caller (``qingling init`` and the tests pass a
connection) or, for the ``alembic`` command, from the Qingling settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core import db
from core.settings import load
from migrations import load_models

target_metadata = load_models()
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = db.make_engine(load())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_online()
