"""Soak: ten minutes of mixed load at a steady rate (issue 9, "Soak").

Run: ``.venv/bin/python bench/soak.py`` (part of ``make bench``; ``--seconds`` for a shorter
run). It needs the local PostgreSQL (``--admin-url``), creates a scratch database there, runs
``qingling demo`` against it for a triage officer with a key, and drops the database at the end.

Two servers on 127.0.0.1, each gunicorn with 2 workers (``gthread``, 4 threads): the public site
(rate limiter off: every client comes from one address) and the staff site. Client threads
keep a steady schedule of operations (the ``--rate`` multiplies it), each timed:

- ``submit``: ``POST /api/v1/tips`` (JSON; every fifth with a 1 MB photo, multipart);
- ``status``: ``POST /api/v1/session`` with a token kept from a submission, then ``GET /api/v1/tip``;
- ``message``: a reporter's message, ``POST /api/v1/tip/messages``;
- ``queue``: the triage queue, ``GET /triage/`` (a logged-in city triage officer);
- ``read``: a tip decrypted for the officer, ``GET /triage/tips/<id>`` (audited).

An operation that falls behind its schedule is started late, not skipped, so a slow server shows
as lower throughput and higher latency. Printed: per operation the count, throughput, p50 and p95
latency and errors; and the resident memory (VmRSS) of every gunicorn worker, sampled every
5 s: the median of the first minute after the warm-up against the median of the last minute,
with the growth (the issue's bound: under 10 %). A benchmark, not a test: it prints and exits 0
unless the servers cannot be started.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import importlib.util
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [
    p for p in sys.path if Path(p or ".").resolve() not in {REPO, REPO / "bench"}
]

_spec = importlib.util.spec_from_file_location("bench_intake", REPO / "bench" / "intake.py")
if _spec is None or _spec.loader is None:
    raise SystemExit("bench/intake.py is missing")
intake_bench: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(intake_bench)

WARM_UP = 30.0
#: Operations per second at ``--rate 1``.
SCHEDULE = {"submit": 1.0, "status": 2.0, "message": 1.0, "queue": 1.0, "read": 1.0}
CLIENT_THREADS = 12
TIMEOUT = 60


# ---------------------------------------------------------------- servers


def serve(which: str, port: int) -> None:
    """gunicorn in this process (``--serve public|staff``), the app loaded in each worker."""
    from gunicorn.app.base import BaseApplication

    def app() -> Any:
        # The production entry points (public_site.wsgi, staff_site.wsgi), as gunicorn loads
        # them behind nginx: settings, logging and the malloc arena limit (core/memory.py).
        if which == "public":
            from public_site.limits import limiter_of
            from public_site.wsgi import app as public

            limiter_of(public).enabled = False
            return public
        from staff_site.wsgi import app as staff

        return staff

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": 2,
                "worker_class": "gthread",
                "threads": 4,
                "timeout": 120,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "worker_tmp_dir": "/dev/shm",  # noqa: S108 - RAM, as the deploy examples
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app()

    Server().run()


def start(which: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = intake_bench.free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    child_env.update(env, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(  # noqa: S603 - this script, fixed arguments
        [sys.executable, __file__, "--serve", which, "--port", str(port)],
        env=child_env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {which} server exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
            return proc, port
        except urllib.error.HTTPError:
            return proc, port  # it answers (the staff site redirects to the login page)
        except OSError:
            time.sleep(0.3)
    intake_bench.stop(proc)
    raise SystemExit(f"the {which} server did not start")


def worker_rss(master: int) -> dict[int, int]:
    """Resident memory in KiB of each worker of a gunicorn master (its children)."""
    out = {}
    for pid in intake_bench.children(master):
        path = Path(f"/proc/{pid}/status")
        status = path.read_text() if path.exists() else ""
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if found:
            out[pid] = int(found.group(1))
    return out


# ---------------------------------------------------------------- the instance


def qingling(env: dict[str, str], *args: str) -> str:
    """Run the project's CLI with exactly the instance's settings; its output."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    child_env.update(env)
    result = subprocess.run(  # noqa: S603 - the project's own CLI
        [str(Path(sys.executable).parent / "qingling"), *args],
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return result.stdout


def make_instance(admin_url: str, data_dir: Path) -> tuple[dict[str, str], str]:
    """A scratch PostgreSQL database set up by `qingling init` (secrets in ``data_dir``);
    the environment of its servers and the database name."""
    from sqlalchemy import create_engine, text

    name = f"qingling_soak_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    env = {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{name}",
        "QINGLING_LOG_LEVEL": "WARNING",
        "QINGLING_SECURE_COOKIES": "false",  # plain HTTP on loopback
    }
    qingling(env, "init")
    return env, name


def demo_officer(env: dict[str, str]) -> tuple[str, str]:
    """Run `qingling demo` on the instance (it makes the key groups and grants the city
    triage group to demo.triage); that officer's password and TOTP secret."""
    stdout = qingling(env, "demo")
    found = re.search(
        r"user name:\s+demo\.triage\n\s+password:\s+(.+)\n\s+TOTP secret:\s+(\S+)", stdout
    )
    if found is None:
        raise SystemExit("qingling demo did not print the demo.triage credentials")
    return found.group(1).strip(), found.group(2).strip()


class Staff:
    """A logged-in staff browser: cookies kept, CSRF tokens read from the forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=TIMEOUT) as response:
            return str(response.read().decode())

    def post_form(self, path: str, fields: dict[str, str]) -> str:
        page = self.get(path)
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if found is None:
            raise SystemExit(f"no CSRF token on {path}")
        data = urllib.parse.urlencode({"csrf_token": found.group(1), **fields}).encode()
        with self.opener.open(self.base + path, data=data, timeout=TIMEOUT) as response:
            return str(response.read().decode())

    def login(self, username: str, password: str, totp_secret: str) -> None:
        import datetime as dt

        from crypto import totp

        self.post_form("/login", {"username": username, "password": password})
        code = totp.code_at(totp.from_base32(totp_secret), dt.datetime.now(dt.UTC))
        page = self.post_form("/login/totp", {"code": code})
        if "/logout" not in page:
            raise SystemExit("the staff login did not succeed")


# ---------------------------------------------------------------- the load


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def add(self, op: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.latency[op].append(seconds)
            else:
                self.errors[op].append(error)


class Load:
    def __init__(self, public: str, staff: Staff, division: int, tip_ids: list[str]) -> None:
        self.public = public
        self.staff = staff
        self.division = division
        self.tokens: list[str] = []
        self.tip_ids = tip_ids
        self.lock = threading.Lock()
        self.photo = intake_bench.photo_bytes()
        self.count = 0

    def _json(self, method: str, path: str, body: Any = None, bearer: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.public + path, data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if bearer:
            request.add_header("Authorization", f"Bearer {bearer}")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def _token(self) -> str | None:
        with self.lock:
            return random.choice(self.tokens) if self.tokens else None  # noqa: S311

    def submit(self) -> None:
        with self.lock:
            self.count += 1
            n = self.count
        tip = intake_bench.tip_body(self.division, n)
        if n % intake_bench.PHOTO_EVERY == 0:
            body = intake_bench.multipart(tip, self.photo)
            request = urllib.request.Request(  # noqa: S310
                self.public + "/api/v1/tips", data=body, method="POST"
            )
            request.add_header(
                "Content-Type", f"multipart/form-data; boundary={intake_bench.BOUNDARY}"
            )
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                answer = json.loads(response.read())
        else:
            answer = self._json("POST", "/api/v1/tips", tip)
        with self.lock:
            self.tokens.append(answer["token"])

    def _bearer(self) -> str | None:
        token = self._token()
        if token is None:
            return None
        answer = self._json("POST", "/api/v1/session", {"token": token})
        return str(answer["access_token"])

    def status(self) -> None:
        bearer = self._bearer()
        if bearer is not None:
            self._json("GET", "/api/v1/tip", bearer=bearer)

    def message(self) -> None:
        bearer = self._bearer()
        if bearer is not None:
            body = {"body": f"补充情况：今天又看到消防通道被堵住了（{secrets.token_hex(3)}）。"}
            self._json("POST", "/api/v1/tip/messages", body, bearer=bearer)

    def queue(self) -> None:
        self.staff.get("/triage/")

    def read(self) -> None:
        with self.lock:
            tip_id = random.choice(self.tip_ids) if self.tip_ids else None  # noqa: S311
        if tip_id is not None:
            self.staff.get(f"/triage/tips/{tip_id}")


class MemorySampler(threading.Thread):
    """VmRSS of every worker every few seconds: a single reading swings by tens of MiB with the
    photos in flight, so start and end are medians of the first and last minute."""

    def __init__(self, masters: list[int], every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.masters = masters
        self.every = every
        self.samples: list[tuple[float, dict[int, int]]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            now = time.monotonic()
            reading: dict[int, int] = {}
            for master in self.masters:
                reading.update(worker_rss(master))
            self.samples.append((now, reading))
            self.halt.wait(self.every)

    def window(self, start: float, end: float) -> dict[int, int]:
        """Median VmRSS per worker over the samples taken in [start, end)."""
        values: dict[int, list[int]] = defaultdict(list)
        for at, reading in self.samples:
            if start <= at < end:
                for pid, kib in reading.items():
                    values[pid].append(kib)
        return {pid: int(statistics.median(v)) for pid, v in values.items()}


def run_load(load: Load, results: Results, seconds: float, rate: float, stop_at: float) -> None:
    """Schedule every operation at its steady rate until ``stop_at``; a pool of client threads
    runs them (late, never skipped)."""
    import queue as queue_module

    jobs: queue_module.Queue[tuple[str, float] | None] = queue_module.Queue()

    def client() -> None:
        while True:
            item = jobs.get()
            if item is None:
                return
            op, _due = item
            started = time.perf_counter()
            try:
                getattr(load, op)()
                results.add(op, time.perf_counter() - started, None)
            except urllib.error.HTTPError as exc:
                results.add(op, 0.0, f"HTTP {exc.code}")
            except Exception as exc:
                results.add(op, 0.0, type(exc).__name__)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    begin = time.monotonic()
    next_due = dict.fromkeys(SCHEDULE, begin)
    while time.monotonic() < stop_at:
        now = time.monotonic()
        for op, per_second in SCHEDULE.items():
            while next_due[op] <= now:
                jobs.put((op, next_due[op]))
                next_due[op] += 1.0 / (per_second * rate)
        time.sleep(0.01)
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join(timeout=TIMEOUT + 5)


def refresh_tip_ids(url: str, tip_ids: list[str], stop: threading.Event) -> None:
    """Keep a sample of tip ids for the officer's reads (metadata only, from the database)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        while not stop.is_set():
            with engine.connect() as conn:
                ids = [
                    str(row[0])
                    for row in conn.execute(text("SELECT id FROM tips ORDER BY random() LIMIT 50"))
                ]
            tip_ids[:] = ids
            stop.wait(10)
    finally:
        engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="load time after warm-up")
    parser.add_argument("--rate", type=float, default=1.0, help="multiplies the schedule")
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--serve", choices=["public", "staff"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    servers: list[subprocess.Popen[bytes]] = []
    name = None
    with tempfile.TemporaryDirectory(prefix="qingling-soak-") as data_dir:
        try:
            env, name = make_instance(args.admin_url, Path(data_dir))
            password, secret = demo_officer(env)
            public, public_port = start("public", env)
            staff_proc, staff_port = start("staff", env)
            servers = [public, staff_proc]
            staff = Staff(f"http://127.0.0.1:{staff_port}")
            staff.login("demo.triage", password, secret)
            from core.settings import load as load_settings

            url = load_settings(env, dotenv=False).database_url
            division = division_id(url)
            tip_ids: list[str] = []
            stop = threading.Event()
            refresher = threading.Thread(
                target=refresh_tip_ids, args=(url, tip_ids, stop), daemon=True
            )
            refresher.start()
            load = Load(f"http://127.0.0.1:{public_port}", staff, division, tip_ids)
            warm = Results()
            print(f"warm-up {WARM_UP:.0f} s …", flush=True)
            run_load(load, warm, WARM_UP, args.rate, time.monotonic() + WARM_UP)
            rss_start = {p.pid: worker_rss(p.pid) for p in servers}
            results = Results()
            print(f"soak {args.seconds:.0f} s at rate {args.rate} …", flush=True)
            started = time.monotonic()
            run_load(load, results, args.seconds, args.rate, started + args.seconds)
            wall = time.monotonic() - started
            rss_end = {p.pid: worker_rss(p.pid) for p in servers}
            stop.set()
            report(
                results, wall, rss_start, rss_end, {public.pid: "public", staff_proc.pid: "staff"}
            )
        finally:
            for proc in servers:
                intake_bench.stop(proc)
            if name is not None:
                intake_bench.drop_database(args.admin_url, name)


def division_id(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT min(id) FROM divisions")).scalar_one())
    finally:
        engine.dispose()


def report(
    results: Results,
    wall: float,
    rss_start: dict[int, dict[int, int]],
    rss_end: dict[int, dict[int, int]],
    names: dict[int, str],
) -> None:
    print(f"soak: {wall:.0f} s, gunicorn 2 workers per site, {CLIENT_THREADS} client threads")
    print(f"  {'operation':10s} {'count':>7s} {'per s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} errors")
    for op in SCHEDULE:
        done = results.latency[op]
        errors = results.errors[op]
        print(
            f"  {op:10s} {len(done):7d} {len(done) / wall:7.2f} "
            f"{percentile(done, 0.5) * 1000:8.1f} {percentile(done, 0.95) * 1000:8.1f} "
            f"{len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
        )
    print("  worker memory (VmRSS, median of the first and of the last minute):")
    for master, workers in rss_start.items():
        for pid, start_kib in sorted(workers.items()):
            end_kib = rss_end.get(master, {}).get(pid)
            if end_kib is None:
                print(f"    {names[master]} worker {pid}: {start_kib / 1024:.1f} MiB → (restarted)")
                continue
            growth = (end_kib - start_kib) / start_kib
            print(
                f"    {names[master]} worker {pid}: {start_kib / 1024:.1f} MiB → "
                f"{end_kib / 1024:.1f} MiB ({growth:+.1%}; bound +10%)"
            )


if __name__ == "__main__":
    main()
