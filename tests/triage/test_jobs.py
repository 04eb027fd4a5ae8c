"""``qingling jobs run-due``: overdue steps marked once (idempotent), what is due soon listed
per officer with ids and counts only, SKIP LOCKED on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from core.cli import main
from intake.models import Tip, TipState
from tests.triage.conftest import World, at
from triage import jobs


def test_run_due_marks_overdue_once_and_lists_per_officer(world: World) -> None:
    own_officer = world.staff("triage_own").user
    other_officer = world.staff("triage_other").user
    early = world.submit(world.own)
    world.drive(early, TipState.VERIFYING)  # due end of 31 Dec (local)
    world.clock.advance(days=5)
    later = world.submit(world.other)
    world.drive(later, TipState.VERIFYING)  # due end of 5 Jan
    idle = world.submit(world.own)  # no deadline
    at(world.clock, dt.datetime(2026, 12, 30, tzinfo=dt.UTC))
    report = jobs.run_due(world.dbs, world.clock, world.settings)
    assert report.marked_overdue == ()
    by_name = {o.username: o for o in report.officers}
    assert set(by_name) == {"triage-city", own_officer.username, other_officer.username}
    assert by_name["triage-city"].due_soon == (early, later)
    assert by_name[own_officer.username].due_soon == (early,)
    assert by_name[other_officer.username].due_soon == (later,)
    assert by_name["triage-city"].overdue_count == 0

    at(world.clock, dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC))  # end of 31 Dec: early is due
    before = world.audit_count()
    report = jobs.run_due(world.dbs, world.clock, world.settings)
    assert report.marked_overdue == (early,)
    assert world.tip(early).overdue_since == world.clock.now()
    assert world.tip(later).overdue_since is None
    assert world.tip(idle).overdue_since is None
    [record] = world.audit()[before:]
    assert (record.action, record.actor_label, record.object_id) == (
        "tip.overdue",
        "system",
        str(early),
    )
    assert json.loads(record.details) == {"due": "2026-12-31"}
    by_name = {o.username: o for o in report.officers}
    assert by_name[own_officer.username].overdue == (early,)
    assert by_name[own_officer.username].overdue_count == 1
    assert by_name[own_officer.username].due_soon == ()
    assert by_name[other_officer.username].overdue == ()

    # Idempotent: nothing new is marked, nothing new is audited.
    world.clock.advance(hours=1)
    before = world.audit_count()
    again = jobs.run_due(world.dbs, world.clock, world.settings)
    assert again.marked_overdue == ()
    assert world.audit_count() == before
    assert world.tip(early).overdue_since == dt.datetime(2026, 12, 31, 16, tzinfo=dt.UTC)


def test_concluding_clears_the_overdue_mark(world: World) -> None:
    from tests.triage.conftest import CONCLUSION
    from triage import services as triage

    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    world.clock.advance(days=70)
    jobs.run_due(world.dbs, world.clock, world.settings)
    assert world.tip(tip_id).overdue_since is not None
    triage.conclude(
        *world.args(),
        tip_id,
        personal_key=world.city.key,
        outcome=TipState.UNSUBSTANTIATED,
        text=CONCLUSION,
    )
    tip = world.tip(tip_id)
    assert (tip.due_at, tip.overdue_since) == (None, None)


def test_rows_are_taken_with_skip_locked_on_postgresql() -> None:
    query = select(Tip.id).where(Tip.overdue_since.is_(None)).with_for_update(skip_locked=True)
    assert "FOR UPDATE SKIP LOCKED" in str(query.compile(dialect=postgresql.dialect()))
    # And the job builds exactly that kind of statement (checked on the source, since SQLite
    # renders no locking clause at all).
    import inspect

    assert "with_for_update(skip_locked=True)" in inspect.getsource(jobs.mark_overdue)


def test_cli_lists_the_command() -> None:
    result = CliRunner().invoke(main, ["jobs", "--help"])
    assert result.exit_code == 0
    assert "run-due" in result.output


def test_cli_run_due_end_to_end(tmp_path: Path) -> None:
    """The real command on a fresh instance: it runs, commits, and runs again."""
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / "qingling"), *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("init").returncode == 0
    for _ in range(2):
        result = run("jobs", "run-due")
        assert result.returncode == 0, result.stderr
        assert "tips marked overdue: 0" in result.stdout
