"""50 submissions in parallel give 50 tips and 50 distinct tokens (issue 4).

The suite's usual fixtures run every test inside one rolled-back connection, which threads
cannot share; this test builds its own instance with real commits, in a scratch schema on
PostgreSQL (``make test-postgres``) that is dropped afterwards, or in a scratch SQLite file
(fewer submissions: SQLite serialises writers). Each thread is a client of the one app and
every request opens its own database session, as under gunicorn.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import db
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from core.settings import Settings
from intake import services
from intake.models import Tip, TipToken
from public_site.limits import limiter_of
from registry.models import Division
from registry.services import load_default_divisions
from tests.conftest import ON_POSTGRES, TEST_DATABASE_URL, committed_database, make_settings
from tests.public_site.conftest import tip_fields

SUBMISSIONS = 50 if ON_POSTGRES else 12


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    base = make_settings(tmp_path, TEST_DATABASE_URL)
    with committed_database(base, tmp_path, "parallel", pool_size=SUBMISSIONS) as database:
        settings, factory = database.settings, db.make_session_factory(database.engine)
        clock = SystemClock()
        with db.unit_of_work(factory) as session:
            load_default_divisions(session, clock, SYSTEM_ACTOR)
            services.initialise_token_params(session, clock, calibrate=False)
            keys.init_recovery(session, clock, settings, SYSTEM_ACTOR)
        yield settings, factory


def test_parallel_submissions_give_as_many_tips_and_distinct_tokens(
    committed: tuple[Settings, sessionmaker[Session]],
) -> None:
    import public_site

    settings, factory = committed
    app = public_site.create_app(settings, session_factory=factory)
    limiter_of(app).enabled = False
    with factory() as session:
        division = session.scalar(select(Division.id).order_by(Division.id).limit(1))
    assert division is not None
    start = threading.Barrier(SUBMISSIONS)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def submit(n: int) -> None:
        client = app.test_client()
        body = {
            "description": f"第 {n} 份举报：消防通道被堵，夜间无人值守。",
            "category": "fire",
            "division": division,
            "relationship": tip_fields(division)["relationship"],
        }
        start.wait(timeout=30)
        response = client.post("/api/v1/tips", json=body)
        with lock:
            results.append((response.status_code, (response.get_json() or {}).get("token", "")))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [status for status, _ in results] == [201] * SUBMISSIONS
    issued = {token for _, token in results}
    assert len(issued) == SUBMISSIONS
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Tip)) == SUBMISSIONS
        assert session.scalar(select(func.count()).select_from(TipToken)) == SUBMISSIONS
        for token in list(issued)[:3]:
            assert services.open_with_token(session, settings, token).content.description
