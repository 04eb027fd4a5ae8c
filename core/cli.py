"""The ``qingling`` command line.

Each command is one unit of work: it opens one session, commits once at the end and rolls
back on any error. Bad settings give a clear message and exit status 2.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from core import db, logs
from core import settings as settings_module
from core.audit import services as audit
from core.clock import SystemClock
from core.errors import DomainError
from core.settings import SECRET_BYTES, SPECS, Settings, SettingsError, Spec, secret_path

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Settings and database access for one CLI invocation."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = settings_module.load()
            except SettingsError as exc:
                raise click.ClickException(f"bad setting: {exc}") from None
        return self._settings

    def reload(self) -> Settings:
        self._settings = None
        return self.settings

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        engine = db.make_engine(self.settings)
        try:
            with db.unit_of_work(db.make_session_factory(engine)) as session:
                yield session
        except DomainError as exc:
            raise click.ClickException(
                exc.message % exc.params if exc.params else exc.message
            ) from None
        finally:
            engine.dispose()


pass_context = click.make_pass_decorator(Context, ensure=True)


class _Group(click.Group):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except SettingsError as exc:
            click.echo(f"Error: bad setting: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Qingling (清零): anonymous hazard reporting, verification, rectification and rewards."""
    ctx.ensure_object(Context)


# ---------------------------------------------------------------- init


def new_secret_values() -> dict[str, bytes]:
    """Fresh values for every generated secret; the key-record verifying key is derived from
    the signing key, everything else is 32 random bytes."""
    from crypto import signing

    values = {s.name: secrets.token_bytes(SECRET_BYTES) for s in SPECS if s.secret is not None}
    pair = signing.generate_signing_keypair()
    values["key_signing_key"] = pair.private_key
    values["key_verifying_key"] = pair.public_key
    return values


def write_secrets(settings: Settings, environ: dict[str, str] | None = None) -> list[Path]:
    """Generate each secret that is neither in the environment nor on disk (mode 0600).

    The verifying key is written only together with a newly generated signing key, so an
    existing pair is never split.
    """
    from crypto import signing

    env = os.environ if environ is None else environ
    values = new_secret_values()
    signing_path = secret_path(settings.data_dir, _spec("key_signing_key"))
    if env.get("QINGLING_KEY_SIGNING_KEY", "").strip() or signing_path.exists():
        values.pop("key_verifying_key")
        if settings.key_signing_key:
            values["key_verifying_key"] = signing.verifying_key_of(settings.key_signing_key)
    written = []
    for spec in SPECS:
        if spec.secret is None or env.get(spec.variable, "").strip():
            continue
        path = secret_path(settings.data_dir, spec)
        if path.exists() or spec.name not in values:
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(values[spec.name].hex() + "\n")
        written.append(path)
    return written


def _spec(name: str) -> Spec:
    return next(s for s in SPECS if s.name == name)


def check_key_pair(settings: Settings) -> None:
    """Where both halves are present (embedded mode), they must belong together."""
    from crypto import signing

    both = settings.key_signing_key and settings.key_verifying_key
    if both and signing.verifying_key_of(settings.key_signing_key) != settings.key_verifying_key:
        raise click.ClickException(
            "QINGLING_KEY_VERIFYING_KEY does not belong to QINGLING_KEY_SIGNING_KEY"
        )


@main.command()
@pass_context
def init(ctx: Context) -> None:
    """Create the data directory, secrets and database, and load the divisions, facility
    types and judgment standards shipped with Qingling."""
    from cases.standards.services import load_shipped_standards
    from core import migrate
    from intake.services import initialise_token_params
    from registry.services import load_default_divisions, load_default_facility_types

    settings = ctx.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    for path in write_secrets(settings):
        click.echo(f"generated secret {path} (mode 0600)")
    settings = ctx.reload()
    check_key_pair(settings)
    engine = db.make_engine(settings)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    click.echo("database schema is at the latest revision")
    with ctx.unit_of_work() as session:
        added = load_default_divisions(session, SystemClock(), audit.SYSTEM_ACTOR)
        types = load_default_facility_types(session, SystemClock(), audit.SYSTEM_ACTOR)
        standards = load_shipped_standards(session, SystemClock(), audit.SYSTEM_ACTOR)
        params = initialise_token_params(session, SystemClock())
    click.echo(f"divisions: {added} added")
    click.echo(f"facility types: {types} added")
    click.echo(
        f"judgment standards: {len(standards.created)} added, {len(standards.updated)} updated"
    )
    click.echo(
        f"tracking-token KDF: version {params.version}, scrypt n=2^{params.n.bit_length() - 1}"
    )
    click.echo(f"initialised {settings.data_dir}")


# ---------------------------------------------------------------- serve


@main.command()
@click.option("--host", default=None, help="Address to bind (default QINGLING_HOST).")
@click.option("--public-port", type=int, default=None, help="Public site port (default 5000).")
@click.option("--staff-port", type=int, default=None, help="Staff site port (default 5001).")
@pass_context
def serve(ctx: Context, host: str | None, public_port: int | None, staff_port: int | None) -> None:
    """Serve the public and the staff site (embedded default; use gunicorn in production)."""
    from werkzeug.serving import make_server

    import public_site
    import staff_site
    from core import memory
    from core.logs import AnonymousRequestHandler, StaffRequestHandler

    memory.limit_malloc_arenas()  # see core/memory.py

    settings = ctx.settings
    logs.configure(settings.log_level)
    host = host or settings.host
    ports = (public_port or settings.public_port, staff_port or settings.staff_port)
    if ports[0] == ports[1]:
        raise click.ClickException("the public and the staff site need different ports")
    try:
        public = make_server(
            host,
            ports[0],
            public_site.create_app(settings),
            threaded=True,
            request_handler=AnonymousRequestHandler,
        )
        staff = make_server(
            host,
            ports[1],
            staff_site.create_app(settings),
            threaded=True,
            request_handler=StaffRequestHandler,
        )
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}: {exc.strerror}") from None
    click.echo(
        f"public site: http://{host}:{public.server_port}/",
    )
    click.echo(f"staff site:  http://{host}:{staff.server_port}/")
    click.echo("press Ctrl+C to stop")
    sys.stdout.flush()
    thread = threading.Thread(target=staff.serve_forever, daemon=True)
    thread.start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            public.serve_forever()
    finally:
        staff.shutdown()
        public.server_close()
        staff.server_close()


# ---------------------------------------------------------------- audit


@main.group(name="audit")
def audit_group() -> None:
    """Check the audit trail."""


@audit_group.command("head")
@pass_context
def audit_head(ctx: Context) -> None:
    """Print the chain head (seq:hash) for recording outside the database."""
    with ctx.unit_of_work() as session:
        click.echo(audit.head(session))


@audit_group.command("verify")
@click.option(
    "--head", "expected_head", default=None, help="A head printed earlier by `qingling audit head`."
)
@pass_context
def audit_verify(ctx: Context, expected_head: str | None) -> None:
    """Check every link of the chain; exit 1 at the first broken link."""
    with ctx.unit_of_work() as session:
        result = audit.verify(session, expected_head)
    if not result.ok:
        click.echo(f"audit chain BROKEN: {result.problem}", err=True)
        click.echo(f"records checked before the break: {result.count}", err=True)
        sys.exit(1)
    click.echo(f"audit chain OK: {result.count} records, head {result.head}")


@main.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup_command(ctx: Context, target: Path) -> None:
    """Write a backup of the database to TARGET (SQLite online backup, or pg_dump).

    The secrets under the data directory are not in it: keep them apart.
    """
    from core import backup

    try:
        result = backup.backup(ctx.settings, target)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    with ctx.unit_of_work() as session:
        head = audit.head(session)
    click.echo(f"backup written: {result.path} ({result.kind}, {result.size} bytes)")
    click.echo(f"audit head at backup time: {head}")


@main.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that is not empty.")
@pass_context
def restore_command(ctx: Context, source: Path, replace: bool) -> None:
    """Restore the backup SOURCE into the configured (empty) database, bring its schema up to
    date and verify the audit chain. Needs the same secrets as the instance it came from."""
    from core import backup, migrate

    try:
        result = backup.restore(ctx.settings, source, replace=replace)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    engine = db.make_engine(ctx.settings)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    with ctx.unit_of_work() as session:
        verdict = audit.verify(session, None)
        head = audit.head(session)
    click.echo(f"restored {result.tables} tables from {source} ({result.kind})")
    if not verdict.ok:
        click.echo(f"audit chain BROKEN: {verdict.problem}", err=True)
        sys.exit(1)
    click.echo(f"audit chain intact; head: {head}")


@main.group(name="jobs")
def jobs_group() -> None:
    """Timed work, for cron or a systemd timer."""


#: Jobs whose ``run_due(session, clock, settings) -> list[str]`` runs after triage's, each in
#: its own transaction, by the name ``--only`` knows them by.
JOBS = (("cases", "cases.jobs"), ("rewards", "rewards.jobs"), ("wechat", "intake.wechat.jobs"))


@jobs_group.command("run-due")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(["triage", *(name for name, _ in JOBS)]),
    help="Run only this job (repeatable). The public host, whose database role may run no "
    "other, runs --only wechat.",
)
@pass_context
def jobs_run_due(ctx: Context, only: tuple[str, ...]) -> None:
    """Mark overdue steps and list what is due soon for each officer (ids, never content).

    Safe to run on several nodes at once on PostgreSQL, and to run again (idempotent).
    """
    if not only or "triage" in only:
        _run_triage_job(ctx)
    for name, module in JOBS:
        if only and name not in only:
            continue
        run_due = importlib.import_module(module).run_due
        with ctx.unit_of_work() as session:
            lines = run_due(session, SystemClock(), ctx.settings)
        for line in lines:
            click.echo(line)


def _run_triage_job(ctx: Context) -> None:
    from triage import jobs as triage_jobs

    with ctx.unit_of_work() as session:
        report = triage_jobs.run_due(session, SystemClock(), ctx.settings)
    click.echo(f"tips marked overdue: {len(report.marked_overdue)}")
    for tip_id in report.marked_overdue:
        click.echo(f"  {tip_id}")
    for officer in report.officers:
        scope = "city" if officer.division_id is None else f"division {officer.division_id}"
        click.echo(
            f"{officer.username} ({scope}): {officer.overdue_count} overdue, "
            f"{officer.due_soon_count} due within {ctx.settings.due_soon_days} days"
        )
        for label, ids in (("overdue", officer.overdue), ("due soon", officer.due_soon)):
            for tip_id in ids:
                click.echo(f"  {label}: {tip_id}")


def _register_extensions() -> None:
    from core import dbroles
    from core.accounts import cli as accounts_cli
    from core.keys import cli as keys_cli
    from registry import cli as registry_cli
    from rewards import cli as rewards_cli

    for command in [
        *accounts_cli.COMMANDS,
        *dbroles.COMMANDS,
        *keys_cli.COMMANDS,
        *registry_cli.COMMANDS,
        *rewards_cli.COMMANDS,
    ]:
        main.add_command(command)


_register_extensions()
