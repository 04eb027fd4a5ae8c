"""PostgreSQL stopped and started again while tips keep coming (issue 9).

The database is a private cluster of this test (``initdb`` and ``pg_ctl`` in a temporary
directory, on a free loopback port, SCRAM password authentication), never the machine's shared
server. The public site runs under gunicorn with the production configuration. Client threads
submit tips without pause (API JSON, API multipart with a photo, the web form with a photo);
the cluster is stopped (``pg_ctl stop -m fast``: sessions are ended, open transactions rolled
back), kept down for a while, and started again.

While it is down, every answer is a 503 with ``Retry-After``: a JSON error
(``{"error": {"code": "unavailable", …}}``) under ``/api/v1`` and a page saying that nothing was
saved on the web; never a 500, a dropped connection or a dead worker. Once it is back, tips are
taken again without restarting anything (``pool_pre_ping`` replaces the dead connections). No
tip whose token was returned is lost, every stored tip is whole, the audit chain verifies, and
neither the database password nor its URL reaches the log.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask_babel import gettext

from core.settings import Settings
from tests.conftest import ON_POSTGRES
from tests.faults.live import (
    Gunicorn,
    Http,
    Load,
    Submission,
    build_instance,
    cli,
    consistency_problems,
    new_address,
    postgres_bin_dir,
    private_cluster,
    private_cluster_missing,
    tip_json,
    token_problems,
    wait_until,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL fault tests run in make test-postgres"),
]

CLIENTS = 6
DOWN_SECONDS = 3
UNAVAILABLE_MSGID = (
    "The service cannot save or read anything at the moment. Nothing you sent was saved. "
    "Please try again in a few minutes."
)


def expected_message(settings: Settings) -> str:
    """The 503 message in the instance's default language, as the site renders it."""
    import public_site

    app = public_site.create_app(settings)
    with app.test_request_context("/"):
        return str(gettext(UNAVAILABLE_MSGID))


def accepted_since(load: Load, moment: float) -> int:
    return sum(1 for r in load.since(moment) if r.accepted)


def test_database_restart_gives_503_with_retry_and_loses_no_tip(
    tmp_path: Path, photo: bytes
) -> None:
    missing = private_cluster_missing()
    if missing:
        pytest.skip(missing)
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    with private_cluster(bin_dir) as cluster:
        instance = build_instance(tmp_path / "instance", cluster.create_database("qingling"))
        message = expected_message(instance.settings)
        try:
            with Gunicorn(instance, tmp_path / "gunicorn.log", workers=2) as server:
                api = Http(server.port, new_address())
                with Load(server.port, instance.division, photo, CLIENTS) as load:
                    wait_until(lambda: accepted_since(load, 0) >= 3, 60, "tips before the stop")
                    workers_before = server.worker_pids()
                    stopped_at = time.monotonic()
                    cluster.stop("fast")
                    down_form = Http(server.port, new_address()).get("/report")
                    down_api = api.post_json("/api/v1/tips", tip_json(instance.division, "x" * 20))
                    down_meta = api.get("/api/v1/meta")
                    time.sleep(DOWN_SECONDS)
                    during = load.since(stopped_at)
                    cluster.start()
                    started_at = time.monotonic()
                    wait_until(
                        lambda: accepted_since(load, started_at) >= 3, 60, "tips after the restart"
                    )
                workers_after = server.worker_pids()
                log = server.log()
            results = load.results
            accepted = [r for r in results if r.accepted]

            # While the database was down: 503 with retry advice, in JSON on the API.
            for reply in (down_api, down_meta):
                assert reply.status == 503, reply.text[:500]
                assert reply.headers["retry-after"] == "30"
                assert reply.headers["content-type"].startswith("application/json")
                assert reply.json()["error"]["code"] == "unavailable"
                assert reply.json()["error"]["message"] == message
            assert down_form.status == 503
            assert down_form.headers["retry-after"] == "30"
            assert down_form.headers["content-type"].startswith("text/html")
            assert message in down_form.text
            unavailable = [r for r in during if r.status == 503]
            assert unavailable, "no client submission met the stopped database"
            for item in unavailable:
                assert item.retry_after == "30"
                if item.kind == "web":
                    assert item.content_type.startswith("text/html")
                    assert message in item.body
                else:
                    assert item.content_type.startswith("application/json")
                    assert '"unavailable"' in item.body

            # Never anything else: no 500, no dropped connection, no dead worker.
            def unexpected(r: Submission) -> bool:
                return not r.accepted and r.status != 503

            assert not [r for r in results if unexpected(r)], [
                (r.kind, r.status, r.error, r.body[:300]) for r in results if unexpected(r)
            ][:5]
            assert workers_after == workers_before, "a worker died"
            assert "Traceback" not in log, log[-3000:]
            assert cluster.password not in log
            assert "postgresql+psycopg" not in log

            # Nothing lost, nothing partial.
            with instance.sessions() as session:
                assert consistency_problems(session) == []
                assert token_problems(session, instance.settings, accepted) == []
            verified = cli(instance.env, "audit", "verify")
            assert verified.exit_code == 0, verified.output
            print(  # noqa: T201 - the figures of the run, shown with -s
                f"\n{len(results)} submissions, {len(accepted)} accepted, "
                f"{len(unavailable)} answered 503 while the database was down"
            )
        finally:
            instance.close()
