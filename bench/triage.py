"""Benchmark of the triage queue (issue 5, "Benchmark") on PostgreSQL.

Run: ``.venv/bin/python bench/triage.py --tips 1000000`` (the issue's size: about 3 minutes to
fill, then the measurements). ``make bench`` runs it with ``--tips 200000`` to keep the whole
bench bearable; the closing note of issue 5 reports the 1,000,000 figures. It needs the local
PostgreSQL (``--admin-url``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``),
creates the scratch database ``qingling_bench_triage`` there (dropped first if a run was
interrupted) and drops it at the end, whatever happens. Loopback only; it stops by itself.

The fill: the schema by the migrations, the default divisions, then ``--tips`` rows of ``tips``
through one COPY — ids random UUIDv4, submission hours spread over three years, divisions of
uneven size, every state with the columns its CHECK constraints need, most old tips closed and
the recent ones spread over the open states, some with an unanswered question. Encrypted
columns hold random bytes of a plausible envelope size (the queue never decrypts). Then
``VACUUM ANALYZE`` (as autovacuum would after a bulk load).

Measured, each ``--runs`` times after a warm-up, for a city triage officer and for a division
officer (the largest division), p50 and p95 in ms:

- **first**: the queue's default page (open states, newest first, 50 rows);
- **filtered**: verifying tips of one category, soonest deadline first;
- **deep**: the page after 20,000 rows (every state, newest first), reached by keyset;

each through the service (``triage.queue``) and through the page (a Flask test client GET of
``/triage/`` with a logged-in officer: session lookup, the queue, the counts of the open states,
the template). Target: p95 under 100 ms for each. It prints; it does not fail on a slow machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# bench/ holds a triage.py and an intake.py: with bench/ on the path, `import triage` would
# find this file instead of the package. The repository comes first, and bench/ goes.
sys.path[:] = [str(REPO)] + [
    p for p in sys.path if Path(p or ".").resolve() not in {REPO, REPO / "bench"}
]

DB_NAME = "qingling_bench_triage"
PASSWORD = "bench triage officer passphrase 42"  # noqa: S105 - a scratch account
DEEP_ROWS = 20_000
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)

COLUMNS = (
    "id",
    "state",
    "division_id",
    "category",
    "channel",
    "facility_id",
    "submitted_at",
    "description_enc",
    "location_enc",
    "facility_name_enc",
    "observed_when_enc",
    "relationship_enc",
    "contact_enc",
    "real_name_enc",
    "accepted_at",
    "not_accepted_reason",
    "transferred_to",
    "decided_at",
    "decision_enc",
    "verification_started_at",
    "verification_due_at",
    "conclusion",
    "concluded_at",
    "conclusion_enc",
    "objection_due_at",
    "objected_at",
    "objection_enc",
    "recheck_due_at",
    "recheck_outcome",
    "recheck_concluded_at",
    "recheck_conclusion_enc",
    "closed_at",
    "due_at",
    "awaiting_reply_since",
    "duplicate_of_id",
    "reward_right",
)

OPEN_MIX = (
    ("submitted", 20),
    ("accepted", 10),
    ("verifying", 35),
    ("substantiated", 8),
    ("partly_substantiated", 4),
    ("unsubstantiated", 6),
    ("rechecking", 2),
    ("rechecked", 2),
    ("not_accepted", 5),
    ("transferred", 3),
    ("duplicate", 5),
)
CATEGORIES = ("elderly_care_safety", "fire", "buildings", "gas", "special_equipment", "other")
CHANNELS = ("web", "web", "web", "api", "wechat", "wechat")
CONCLUDED = ("substantiated", "partly_substantiated", "unsubstantiated")


# ---------------------------------------------------------------- the scratch database


def create_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{DB_NAME}"


def drop_database(admin_url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


# ---------------------------------------------------------------- the fill


def _blobs(size: int, count: int = 64) -> list[bytes]:
    """Random envelopes of ``size`` bytes (a pool: generating a gigabyte would dominate)."""
    return [os.urandom(size) for _ in range(count)]


def rows(n: int, divisions: list[int], seed: int = 5) -> Iterator[tuple[Any, ...]]:
    """``n`` tips: the first is accepted and is the original every duplicate points to."""
    rnd = random.Random(seed)  # noqa: S311 - test data, not security
    short, long_ = _blobs(95), _blobs(31 + 512)
    weights = [1 + (i % 4) * 2 for i in range(len(divisions))]  # uneven division sizes
    open_states = [s for s, _ in OPEN_MIX]
    open_weights = [w for _, w in OPEN_MIX]
    span_hours = 3 * 365 * 24
    root = uuid.uuid4()
    for i in range(n):
        tip_id = root if i == 0 else uuid.uuid4()
        age_hours = int(span_hours * (rnd.random() ** 1.5))  # more recent tips than old ones
        submitted = NOW.replace(minute=0) - dt.timedelta(hours=age_hours)
        if i == 0:
            state = "accepted"
        elif age_hours > 150 * 24 and rnd.random() < 0.97:
            state = "closed"
        else:
            state = rnd.choices(open_states, open_weights)[0]
        yield _row(rnd, tip_id, root, state, submitted, divisions, weights, short, long_)


def _row(  # noqa: PLR0917 - one row's many inputs
    rnd: random.Random,
    tip_id: uuid.UUID,
    root: uuid.UUID,
    state: str,
    submitted: dt.datetime,
    divisions: list[int],
    weights: list[int],
    short: list[bytes],
    long_: list[bytes],
) -> tuple[Any, ...]:
    v: dict[str, Any] = dict.fromkeys(COLUMNS)
    v.update(
        id=tip_id,
        state=state,
        division_id=rnd.choices(divisions, weights)[0],
        category=rnd.choice(CATEGORIES),
        channel=rnd.choice(CHANNELS),
        facility_id=rnd.randint(1, 400) if rnd.random() < 0.6 else None,
        submitted_at=submitted,
        description_enc=rnd.choice(long_),
        reward_right=False,
    )
    for name in (
        "location_enc",
        "facility_name_enc",
        "observed_when_enc",
        "relationship_enc",
        "contact_enc",
        "real_name_enc",
    ):
        v[name] = rnd.choice(short)
    _workflow(v, rnd, state, submitted, root, short)
    return tuple(v[c] for c in COLUMNS)


def _workflow(  # noqa: PLR0917 - the row being built and what it needs
    v: dict[str, Any],
    rnd: random.Random,
    state: str,
    submitted: dt.datetime,
    root: uuid.UUID,
    short: list[bytes],
) -> None:
    """Set the workflow columns ``state`` needs (the CHECK constraints of ``tips``)."""
    hour = dt.timedelta(hours=1)
    day = dt.timedelta(days=1)

    def accepted() -> None:
        v["accepted_at"] = submitted + 5 * hour

    def verifying() -> None:
        accepted()
        v["verification_started_at"] = submitted + day
        due = _midnight(submitted + 61 * day)
        v["verification_due_at"] = due
        v["due_at"] = due

    def concluded(outcome: str) -> None:
        verifying()
        v["conclusion"] = outcome
        v["concluded_at"] = submitted + 20 * day
        v["conclusion_enc"] = rnd.choice(short)
        v["objection_due_at"] = _midnight(submitted + 31 * day)
        v["due_at"] = None

    if state == "accepted":
        accepted()
    elif state == "verifying":
        verifying()
    elif state in CONCLUDED:
        concluded(state)
    elif state in {"rechecking", "rechecked"}:
        concluded("substantiated")
        v["objected_at"] = submitted + 25 * day
        v["objection_enc"] = rnd.choice(short)
        v["recheck_due_at"] = _midnight(submitted + 56 * day)
        if state == "rechecking":
            v["due_at"] = v["recheck_due_at"]
        else:
            v["recheck_outcome"] = "partly_substantiated"
            v["recheck_concluded_at"] = submitted + 40 * day
            v["recheck_conclusion_enc"] = rnd.choice(short)
    elif state in {"not_accepted", "closed"}:
        v["not_accepted_reason"] = rnd.choice(("outside_remit", "no_clear_target_or_facts"))
        v["decided_at"] = submitted + 3 * hour
        v["decision_enc"] = rnd.choice(short)
        if state == "closed":
            v["closed_at"] = submitted + 12 * day
    elif state == "transferred":
        v["transferred_to"] = "市场监督管理局"
        v["decided_at"] = submitted + 3 * hour
        v["decision_enc"] = rnd.choice(short)
    elif state == "duplicate":
        v["duplicate_of_id"] = root
    if state in {"accepted", "verifying"} and rnd.random() < 0.15:
        v["awaiting_reply_since"] = submitted + 2 * day


def _midnight(moment: dt.datetime) -> dt.datetime:
    """The UTC instant of the next Asia/Shanghai midnight (how deadlines are stored)."""
    from triage.deadlines import end_of_day_after

    return end_of_day_after(moment, 0)


def fill(url: str, n: int) -> float:
    """COPY ``n`` tips; the seconds it took (COPY, then VACUUM ANALYZE)."""
    import psycopg
    from sqlalchemy import create_engine, select

    from registry.models import Division

    engine = create_engine(url)
    with engine.connect() as conn:
        divisions = list(conn.scalars(select(Division.id).order_by(Division.id)))
    engine.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    start = time.perf_counter()
    statement = f"COPY tips ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur, cur.copy(statement) as copy:
        for count, row in enumerate(rows(n, divisions), 1):
            copy.write_row(row)
            if count % 100_000 == 0:
                print(f"  {count:>9,} tips", flush=True)
    # Leaving the connection's block commits.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tips")
    return time.perf_counter() - start


# ---------------------------------------------------------------- measuring


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """p50 and p95 in ms of ``runs`` calls, after three warm-up calls."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main() -> None:  # noqa: PLR0915 - set-up, fill, measure, print, in order
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tips", type=int, default=200_000, help="tips to fill (default 200000)")
    parser.add_argument("--runs", type=int, default=50, help="measurements each (default 50)")
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()

    from core import db, migrate
    from core.accounts import services as accounts
    from core.accounts.models import Role
    from core.audit.services import SYSTEM_ACTOR
    from core.cli import new_secret_values
    from core.clock import FakeClock
    from core.settings import load
    from intake.models import TipCategory, TipState
    from registry.services import load_default_divisions
    from staff_site import create_app
    from staff_site.forms.triage import OPEN_STATES
    from triage import services as triage

    url = create_database(args.admin_url)
    try:
        with tempfile.TemporaryDirectory(prefix="qingling-bench-") as scratch:
            env = {
                "QINGLING_DATA_DIR": scratch,
                "QINGLING_DATABASE_URL": url,
                "QINGLING_LOG_LEVEL": "WARNING",
                "QINGLING_ARGON2_MEMORY_KIB": "1024",
                "QINGLING_ARGON2_ITERATIONS": "1",
            }
            for key, value in new_secret_values().items():
                env[f"QINGLING_{key.upper()}"] = value.hex()
            settings = load(env, dotenv=False)
            clock = FakeClock(NOW)
            engine = db.make_engine(settings)
            migrate.upgrade(engine)
            sessions = db.make_session_factory(engine)
            with db.unit_of_work(sessions) as session:
                load_default_divisions(session, clock, SYSTEM_ACTOR)
            print(f"filling {args.tips:,} tips into {DB_NAME} …", flush=True)
            seconds = fill(url, args.tips)
            print(f"filled in {seconds:.0f} s (COPY and VACUUM ANALYZE)")

            with db.unit_of_work(sessions) as session:
                from sqlalchemy import func, select

                from intake.models import Tip

                biggest = session.execute(
                    select(Tip.division_id, func.count())
                    .group_by(Tip.division_id)
                    .order_by(func.count().desc())
                    .limit(1)
                ).one()
                open_count = session.scalar(
                    select(func.count()).where(Tip.state != TipState.CLOSED)
                )
                users = {}
                for name, division in (("city", None), ("division", biggest[0])):
                    user = accounts.create_user(
                        session,
                        clock,
                        settings,
                        SYSTEM_ACTOR,
                        username=f"bench-{name}",
                        display_name=f"Bench {name}",
                        password=PASSWORD,
                        roles={Role.TRIAGE_OFFICER},
                        division_id=division,
                    )
                    users[name] = user.id
            print(
                f"{open_count:,} open tips; the division officer's division holds "
                f"{biggest[1]:,} tips"
            )

            app = create_app(settings, session_factory=sessions, clock=clock)
            first = triage.QueueFilters(states=OPEN_STATES)
            filtered = triage.QueueFilters(
                states=frozenset({TipState.VERIFYING}), category=TipCategory.FIRE
            )
            results: list[tuple[str, str, tuple[float, float], tuple[float, float]]] = []
            for name, user_id in users.items():
                with sessions() as session:
                    from core.accounts.models import User

                    user = session.get(User, user_id)
                    assert user is not None
                    # The deep cursor: walk DEEP_ROWS rows by keyset, 200 at a time.
                    cursor = None
                    for _ in range(DEEP_ROWS // triage.PAGE_MAX):
                        page = triage.queue(
                            session, clock, user, None, cursor=cursor, limit=triage.PAGE_MAX
                        )
                        cursor = page.next_cursor
                    session.rollback()

                    def svc(
                        filters: triage.QueueFilters | None,
                        sort: triage.QueueSort,
                        at: str | None,
                        session: Any = session,
                        user: Any = user,
                    ) -> Callable[[], object]:
                        def call() -> None:
                            triage.queue(session, clock, user, filters, sort=sort, cursor=at)
                            session.rollback()

                        return call

                    service = {
                        "first": svc(first, triage.QueueSort.NEWEST, None),
                        "filtered": svc(filtered, triage.QueueSort.DUE, None),
                        "deep": svc(None, triage.QueueSort.NEWEST, cursor),
                    }
                    client = app.test_client()
                    with db.unit_of_work(sessions) as s2:
                        login_user = s2.get(User, user_id)
                        assert login_user is not None
                        cookie = accounts.open_session(s2, clock, settings, login_user)
                    with client.session_transaction() as flask_session:
                        flask_session["sid"] = cookie
                        flask_session["lang"] = "en"
                    queries = {
                        "first": {},
                        "filtered": {"state": "verifying", "category": "fire", "sort": "due"},
                        "deep": {"state": "all", "cursor": cursor or ""},
                    }

                    def get(query: dict[str, str], client: Any = client) -> Callable[[], object]:
                        def call() -> None:
                            response = client.get("/triage/", query_string=query)
                            assert response.status_code == 200, response.status_code

                        return call

                    results.extend(
                        (
                            scenario,
                            name,
                            timed(service[scenario], args.runs),
                            timed(get(queries[scenario]), args.runs),
                        )
                        for scenario in ("first", "filtered", "deep")
                    )
            engine.dispose()
    finally:
        drop_database(args.admin_url)

    print()
    print(f"triage queue, {args.tips:,} tips, {args.runs} runs each (ms; target p95 < 100)")
    print(f"{'page':10} {'officer':9} {'service p50':>12} {'p95':>7} {'page p50':>10} {'p95':>7}")
    worst = 0.0
    for scenario, who, (s50, s95), (p50, p95) in results:
        worst = max(worst, s95, p95)
        print(f"{scenario:10} {who:9} {s50:12.1f} {s95:7.1f} {p50:10.1f} {p95:7.1f}")
    print(f"worst p95: {worst:.1f} ms ({'within' if worst < 100 else 'OVER'} the 100 ms target)")


if __name__ == "__main__":
    main()
