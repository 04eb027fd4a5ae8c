"""Redis unavailable under gunicorn (issue 9; docs/deployment.md "Faults").

The public site is configured for Redis (``QINGLING_RATELIMIT_STORAGE_URI``, with a password,
as in production) but nothing listens there yet. Tips are still taken and their tokens work,
and the limits are still enforced, from each worker's memory (one worker here, so the count is
exact). Then Redis starts on that port: without a restart, the site goes back to keeping its
counters there. The in-process tests of the same fallback are in
``tests/public_site/test_ratelimit_fallback.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.faults.live import (
    Gunicorn,
    Http,
    build_instance,
    free_port,
    new_address,
    opened_over_http,
    tip_json,
    wait_until,
)

pytestmark = pytest.mark.faults

REDIS_PASSWORD = "redis-pw-never-logged-51e0"
#: public_site.limits.SUBMISSIONS: 5 per minute from one address.
PER_MINUTE = 5


@contextmanager
def redis_server(port: int) -> Iterator[object]:
    """A Redis of this test's own on ``port`` (no persistence), stopped afterwards."""
    import redis

    binary = shutil.which("redis-server")
    assert binary is not None
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, password=REDIS_PASSWORD)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        wait_until(answers, 20, "redis-server")
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_intake_works_and_limits_hold_while_redis_is_down(
    tmp_path: Path, stage_database_url: str
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian's redis-server package)")
    port = free_port()  # nothing listens there until redis_server() below
    instance = build_instance(
        tmp_path / "instance",
        stage_database_url,
        QINGLING_RATELIMIT_STORAGE_URI=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0",
    )
    try:
        with Gunicorn(instance, tmp_path / "gunicorn.log", workers=1) as server:
            reporter = Http(server.port, new_address())
            answers = [
                reporter.post_json(
                    "/api/v1/tips",
                    tip_json(instance.division, f"第 {n} 份：消防通道被杂物堵死，夜间无人值守。"),
                )
                for n in range(PER_MINUTE + 1)
            ]
            assert [a.status for a in answers] == [201] * PER_MINUTE + [429]
            assert int(answers[-1].headers["retry-after"]) >= 1
            assert answers[-1].json()["error"]["code"] == "rate_limited"
            tip = opened_over_http(server.port, answers[0].json()["token"])
            assert tip["description"] == "第 0 份：消防通道被杂物堵死，夜间无人值守。"
            # Another reporter is not held back by the first one's count.
            other = Http(server.port, new_address()).post_json(
                "/api/v1/tips", tip_json(instance.division, "另一位举报人：燃气管道漏气。")
            )
            assert other.status == 201

            # Redis comes up: the counters go back to it (checked at growing intervals).
            with redis_server(port) as redis_client:

                def counted_in_redis() -> bool:
                    assert Http(server.port, new_address()).get("/").status == 200
                    return bool(redis_client.keys("*LIMITER*"))  # type: ignore[attr-defined]

                started = time.monotonic()
                wait_until(counted_in_redis, 40, "the limiter to use Redis again")
                recovered_after = time.monotonic() - started
                back = Http(server.port, new_address()).post_json(
                    "/api/v1/tips", tip_json(instance.division, "Redis 恢复后：消防通道被堵。")
                )
                assert back.status == 201
            log = server.log()
        assert "falling back to in-memory storage" in log
        assert REDIS_PASSWORD not in log
        assert "Traceback" not in log, log[-3000:]
        print(f"\nthe limiter used Redis again {recovered_after:.1f} s after it started")  # noqa: T201
    finally:
        instance.close()
