"""Backup and restore of the database (``qingling backup``, ``qingling restore``).

* SQLite: the online backup API copies a consistent snapshot while the sites keep running
  (readers and writers are not stopped; WAL pages are included).
* PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore``; the password, if the URL has one,
  goes to the tools through ``PGPASSWORD``, never on a command line.

A backup holds what the database holds: tips stay encrypted, so a backup alone gives metadata
only. The secrets under ``<data dir>/secrets`` (above all the token pepper) are **not** in it
and must be kept apart (docs/deployment.md): a restored database is readable with the staff
passwords and the reporters' tokens only next to the same secrets.

The backup is written to a temporary file next to the target and renamed when complete, so a
failed backup never leaves a truncated file under the target's name. A restore goes only into
an empty database, unless ``replace`` is given.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from core.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    kind: str  # "sqlite" or "postgresql"
    size: int


@dataclass(frozen=True)
class RestoreResult:
    kind: str
    tables: int


def _sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _kind(settings: Settings) -> str:
    if settings.is_sqlite:
        return "sqlite"
    if settings.database_url.startswith("postgresql"):
        return "postgresql"
    raise BackupError("backup supports SQLite and PostgreSQL databases only")


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    args: list[str] = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools are needed)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    # The program is found with shutil.which and every argument is passed as a list item.
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        # The tools' messages name tables and options, not data; the password is in the
        # environment only.
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {detail[-1] if detail else 'error'}")


def _temporary_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    os.chmod(name, 0o600)
    return Path(name)


def backup(settings: Settings, target: Path) -> BackupResult:
    """Write a backup of the database to ``target`` (mode 0600); refuses to overwrite."""
    kind = _kind(settings)
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    partial = _temporary_beside(target)
    try:
        if kind == "sqlite":
            source = _sqlite_path(settings)
            if not source.is_file():
                raise BackupError(f"no database at {source}; run `qingling init` first")
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dest = sqlite3.connect(partial)
            try:
                src.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")
                check = dest.execute("PRAGMA integrity_check").fetchone()
            finally:
                dest.close()
                src.close()
            if check is None or check[0] != "ok":
                raise BackupError("the copy failed SQLite's integrity check; nothing was written")
        else:
            url = make_url(settings.database_url)
            args, env = _pg_args(url)
            _run(
                [
                    _tool("pg_dump"),
                    *args,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(partial),
                    "--dbname",
                    str(url.database),
                ],
                env,
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(target, kind, target.stat().st_size)


def _table_count(settings: Settings) -> int:
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return len(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def restore(settings: Settings, source: Path, *, replace: bool = False) -> RestoreResult:
    """Restore the backup ``source`` into the configured database, which must be empty unless
    ``replace`` is given. The caller brings the schema up to date afterwards (migrations)."""
    kind = _kind(settings)
    try:
        with source.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror}") from None
    found = "sqlite" if head == SQLITE_MAGIC else "postgresql" if head[:5] == PG_MAGIC else None
    if found is None:
        raise BackupError(f"{source} is not a Qingling backup (neither SQLite nor pg_dump)")
    if found != kind:
        raise BackupError(
            f"{source} is a {found} backup but the database is {kind}; restore it into a "
            f"{found} database"
        )
    if kind == "sqlite":
        target = _sqlite_path(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
    if (kind == "postgresql" or target.exists()) and _table_count(settings) and not replace:
        raise BackupError(
            "the database is not empty; restore into an empty database, or pass --replace "
            "to overwrite it"
        )
    if kind == "sqlite":
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            try:
                check = src.execute("PRAGMA integrity_check").fetchone()
            except sqlite3.DatabaseError:
                check = None
            if check is None or check[0] != "ok":
                raise BackupError(f"{source} fails SQLite's integrity check; nothing was restored")
            dest = sqlite3.connect(target)
            try:
                src.backup(dest)
                dest.execute("PRAGMA journal_mode=WAL")
            finally:
                dest.close()
        finally:
            src.close()
    else:
        url = make_url(settings.database_url)
        args, env = _pg_args(url)
        _run(
            [
                _tool("pg_restore"),
                *args,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                *(["--clean", "--if-exists"] if replace else []),
                "--dbname",
                str(url.database),
                str(source),
            ],
            env,
        )
    return RestoreResult(kind, _table_count(settings))
