"""A gunicorn worker killed with SIGKILL in the middle of submissions (issue 9).

The public site runs under gunicorn with the production configuration (two workers of four
threads here) on the stage's database: PostgreSQL in ``make test-postgres``, the embedded
SQLite file in the SQLite stage. Client threads submit tips without pause (JSON to the API,
multipart with a photo of two chunks to the API, the web form with the same photo), each from
a loopback address of its own; meanwhile the longest-running worker, which is serving some of
them, is killed with SIGKILL again and again, and gunicorn starts new ones.

Clients may see their connection dropped, and a tip whose worker died after the commit but
before the answer exists without its token reaching anyone. What must hold: every stored tip
is whole (fields, sealed keys, token row, attachments and every chunk match the hashes recorded
in the audit chain at receipt; nothing points at a row that is gone), every token a client did
receive opens the tip it sent, ``qingling audit verify`` passes, and SQLite's integrity check
is clean.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.live import (
    Gunicorn,
    Load,
    age_of,
    build_instance,
    cli,
    consistency_problems,
    opened_over_http,
    sqlite_problems,
    token_problems,
)

pytestmark = pytest.mark.faults

CLIENTS = 8
KILLS = 6
#: A worker is killed only once it has served for this long (booted and busy).
SERVING_SECONDS = 1.5


def kill_busy_workers(server: Gunicorn, load: Load, kills: int) -> list[int]:
    """SIGKILL the oldest worker ``kills`` times, each time while requests are in flight."""
    killed: list[int] = []
    deadline = time.monotonic() + 60
    while len(killed) < kills and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = server.worker_pids()
        if not workers or load.in_flight < 2:
            continue
        oldest = workers[0]
        if age_of(oldest) < SERVING_SECONDS:
            continue
        server.kill_worker(oldest)
        killed.append(oldest)
    return killed


def test_killed_workers_leave_every_tip_whole_or_absent(
    tmp_path: Path, stage_database_url: str, photo: bytes
) -> None:
    instance = build_instance(tmp_path / "instance", stage_database_url)
    spool = tmp_path / "tmp"  # the workers' TMPDIR: uploads past 1 MiB spool there, encrypted
    spool.mkdir()
    try:
        with Gunicorn(
            instance, tmp_path / "gunicorn.log", workers=2, env={"TMPDIR": str(spool)}
        ) as server:
            with Load(server.port, instance.division, photo, CLIENTS) as load:
                killed = kill_busy_workers(server, load, KILLS)
                after_kills = time.monotonic()
                # The service keeps taking tips once the killing stops.
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not any(
                    r.accepted for r in load.since(after_kills)
                ):
                    time.sleep(0.2)
            results = load.results
            accepted = [r for r in results if r.accepted]
            # Two tokens through the site itself, after the kills.
            for item in accepted[-2:]:
                assert item.token is not None
                tip = opened_over_http(server.port, item.token)
                assert tip["description"] == item.description
                assert len(tip["attachments"]) == item.photos
            log = server.log()

        assert len(killed) == KILLS, f"only {len(killed)} workers were killed"
        dropped = [r for r in results if r.status is None]
        other = [r for r in results if r.status is not None and not r.accepted]
        assert dropped, "no kill landed in the middle of a request"
        assert not other, [(r.kind, r.status, r.error, r.body[:300]) for r in other[:5]]
        assert any(r.accepted and r.started >= after_kills for r in results)
        assert {r.kind for r in accepted} == {"json", "multipart", "web"}
        assert any(r.photos for r in accepted)

        with instance.sessions() as session:
            assert consistency_problems(session) == []
            assert token_problems(session, instance.settings, accepted) == []
        verified = cli(instance.env, "audit", "verify")
        assert verified.exit_code == 0, verified.output
        assert "audit chain OK" in verified.output
        if not stage_database_url:
            assert sqlite_problems(instance.data_dir / "qingling.sqlite3") == []

        # A killed worker leaves no spooled upload behind (anonymous temporary files only).
        assert list(spool.iterdir()) == []
        # Nothing a reporter sent, and no token, reached gunicorn's log.
        assert "故障测试" not in log
        assert not any(r.token and r.token in log for r in accepted)
        print(  # noqa: T201 - the figures of the run, shown with -s
            f"\n{len(results)} submissions, {len(accepted)} accepted, {len(dropped)} "
            f"connections dropped, {len(killed)} workers killed"
        )
    finally:
        instance.close()
