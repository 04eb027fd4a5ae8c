"""A small benchmark of Qingling's hot paths, on a temporary SQLite instance (``make bench``).

It measures, with the real code and a real database file:

- public home page requests through the Flask test client (routing, templates, headers, session
  cookie, per-request database session);
- audit-trail appends, each one its own committed transaction as a service call makes it, and
  the same appends batched in one transaction;
- ``audit verify`` over the whole chain.

It prints operations per second and a few ratios that should stay roughly stable across
machines (for example how many home pages cost as much as one committed audit append). It is a
benchmark, not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core import db, migrate  # noqa: E402 - after the path set-up above
from core.audit import services as audit  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.settings import SPECS, Settings, load  # noqa: E402
from registry.services import load_default_divisions  # noqa: E402


def make_instance(data_dir: Path) -> Settings:
    env = {"QINGLING_DATA_DIR": str(data_dir), "QINGLING_LOG_LEVEL": "WARNING"}
    for spec in SPECS:
        if spec.secret:
            env[spec.variable] = secrets.token_hex(32)
    settings = load(env, dotenv=False)
    engine = db.make_engine(settings)
    try:
        migrate.upgrade(engine)
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            load_default_divisions(session, SystemClock(), audit.SYSTEM_ACTOR)
    finally:
        engine.dispose()
    return settings


def timed(label: str, n: int, fn: Callable[[int], None], repeats: int) -> float:
    """Run ``fn(n)`` ``repeats`` times; print and return the median operations per second."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        rates.append(n / (time.perf_counter() - start))
    rate = statistics.median(rates)
    spread = (max(rates) - min(rates)) / rate * 100 if rate else 0.0
    print(
        f"{label:<44} {rate:>10.0f} ops/s  ({1000 / rate:.3f} ms/op, ±{spread:.0f}% over {repeats})"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="operations per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per operation")
    args = parser.parse_args()
    n, repeats = args.n, args.repeats

    with tempfile.TemporaryDirectory(prefix="qingling-bench-") as tmp:
        settings = make_instance(Path(tmp))
        import public_site

        app = public_site.create_app(settings)
        client = app.test_client()
        assert client.get("/").status_code == 200

        # Each request comes from another address, so the rate limiter (300 a minute per
        # address) is exercised as in production but never trips.
        def address(i: int) -> dict[str, str]:
            return {"REMOTE_ADDR": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}

        def home_pages(count: int) -> None:
            for i in range(count):
                response = client.get("/", environ_base=address(i))
                assert response.status_code == 200

        def not_found(count: int) -> None:
            for i in range(count):
                assert client.get("/no-such-page", environ_base=address(i)).status_code == 404

        engine = db.make_engine(settings)
        sessions = db.make_session_factory(engine)
        clock = SystemClock()

        def appends_committed(count: int) -> None:
            for i in range(count):
                with db.unit_of_work(sessions) as session:
                    audit.record(
                        session, clock, audit.SYSTEM_ACTOR, "bench.op", "bench", i, {"i": i}
                    )

        def appends_batched(count: int) -> None:
            with db.unit_of_work(sessions) as session:
                for i in range(count):
                    audit.record(
                        session, clock, audit.SYSTEM_ACTOR, "bench.op", "bench", i, {"i": i}
                    )

        print(f"Qingling benchmark: SQLite in {tmp}, n={n}, median of {repeats}\n")
        home = timed("public home page (GET /)", n, home_pages, repeats)
        missing = timed("public 404 page", n, not_found, repeats)
        committed = timed("audit append, one transaction each", n, appends_committed, repeats)
        batched = timed("audit append, all in one transaction", n, appends_batched, repeats)

        with db.unit_of_work(sessions) as session:
            total = audit.count_records(session)

        def verify_chain(_count: int) -> None:
            with db.unit_of_work(sessions) as session:
                result = audit.verify(session)
            assert result.ok, result.problem
            assert result.count == total

        verify_rate = timed(
            f"audit verify ({total} records), records", total, verify_chain, repeats
        )
        engine.dispose()

    print()
    print(f"home pages per committed audit append:      {home / committed:8.2f}")
    print(f"404 pages per home page:                    {missing / home:8.2f}")
    print(f"batched / committed audit appends:          {batched / committed:8.2f}")
    print(f"records verified per committed append time: {verify_rate / committed:8.2f}")


if __name__ == "__main__":
    main()
