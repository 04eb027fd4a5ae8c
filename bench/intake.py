"""Benchmark of the public intake under load (issue 4, "Benchmark").

Run: ``.venv/bin/python bench/intake.py`` (part of ``make bench``; about 80 seconds). It needs
the local PostgreSQL (``--admin-url``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/
postgres``), creates a scratch database there and drops it at the end.

Two servers, each gunicorn with 2 workers (``gthread``, 4 threads, as deploy/gunicorn-public
.conf.py) on 127.0.0.1, are loaded in turn by 20 concurrent clients for ``--seconds`` (30) each:

- **full**: the public site, ``POST /api/v1/tips`` — validation, the token KDF with the
  instance's calibrated parameters (~50 ms), HPKE sealing to three key groups, every field
  encrypted, the photo checked and scrubbed, the audit record, one transaction;
- **bare**: a Flask + SQLAlchemy endpoint doing only the irreducible work of a tip: one token
  KDF with the same parameters, one AES-GCM encryption of the payload (JSON and photo), one
  INSERT.

Every fifth request carries a 1 MB JPEG photo (multipart) with a phone's EXIF (make, model,
GPS); the rest are JSON. The photo is laid out as the site's own encoder writes JPEGs, so the
site strips its metadata without re-encoding it; ``--camera-photo`` sends one with quantisation
tables of its own instead, which the site decodes and re-encodes (about 20 ms more per photo
here). The line "photo scrub" says which way the photo goes. The rate limiter
of the full site is switched off (it would refuse 20 clients from one address). Printed:
submissions per second, p50 and p95 latency of both, the ratios (targets: throughput ≥ 0.8 ×
bare, p95 ≤ 1.25 × bare) and the share of worker time spent in the token KDF; then the CPU time
each submission cost (gunicorn processes and PostgreSQL backends, from /proc) and its ratio,
which moves far less than the wall-clock figures when other work shares the machine. Loopback only;
every phase is bounded in time and the servers are stopped at the end, whatever happens. It is
a benchmark, not a test: it prints, it does not fail on a slow machine.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# This file is bench/intake.py: with bench/ on the path, `import intake` would find it instead
# of the intake package. The repository comes first, and bench/ goes.
sys.path[:] = [str(REPO)] + [
    p for p in sys.path if Path(p or ".").resolve() not in {REPO, REPO / "bench"}
]

WORKERS = 2
CLIENTS = 20
PHOTO_EVERY = 5
BOUNDARY = "qingling-bench-boundary"


# ---------------------------------------------------------------- the two servers


def bare_app() -> Any:
    """The irreducible work of a tip: one KDF, one AES-GCM encryption, one INSERT."""
    from flask import Flask, request
    from sqlalchemy import Column, LargeBinary, MetaData, Table, Uuid, insert

    from core import db
    from core.settings import load
    from crypto import envelope, tokens
    from intake.services import current_token_params

    settings = load(dotenv=False)
    engine = db.make_engine(settings)
    table = Table(
        "bench_bare",
        MetaData(),
        Column("id", Uuid(), primary_key=True),
        Column("data", LargeBinary),
    )
    with engine.connect() as conn:
        from sqlalchemy.orm import Session

        params = current_token_params(Session(bind=conn))
    app = Flask("bare")

    @app.post("/bare")
    def bare() -> tuple[str, int]:
        payload = request.get_data()
        token = tokens.generate_token()
        tokens.derive_token_secret(token, pepper=settings.token_pepper, params=params)
        tip_id = uuid.uuid4()
        sealed = envelope.encrypt_field(
            envelope.new_data_key(),
            payload,
            tip_id=tip_id,
            kind="tip",
            object_id=tip_id,
            field_name="payload",
        )
        with engine.begin() as conn:
            conn.execute(insert(table).values(id=tip_id, data=sealed))
        return json.dumps({"token": token.display, "status": "submitted"}), 201

    return app


def full_app() -> Any:
    from core.settings import load
    from public_site import create_app
    from public_site.limits import limiter_of

    app = create_app(load(dotenv=False))
    limiter_of(app).enabled = False
    return app


def serve(which: str, port: int) -> None:
    """Run gunicorn in this process (``--serve``), loading the app in each worker."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"127.0.0.1:{port}",
                "workers": WORKERS,
                "worker_class": "gthread",
                "threads": 4,
                "timeout": 120,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "worker_tmp_dir": "/dev/shm",  # noqa: S108 - RAM, as deploy/gunicorn-public.conf.py
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return full_app() if which == "full" else bare_app()

    Server().run()


# ---------------------------------------------------------------- the instance


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_instance(
    admin_url: str, data_dir: Path, log2_n: int | None = None
) -> tuple[dict[str, str], str, float]:
    """A scratch PostgreSQL database, initialised as `qingling init` and `keys init-recovery`
    do; returns the environment for the servers, the database name and one KDF's duration."""
    from sqlalchemy import create_engine, text

    from core import db, migrate
    from core.audit.services import SYSTEM_ACTOR
    from core.cli import new_secret_values
    from core.clock import SystemClock
    from core.keys import services as keys
    from core.settings import load
    from crypto import tokens
    from intake import services
    from registry.services import load_default_divisions

    name = f"qingling_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    env = {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": url,
        "QINGLING_LOG_LEVEL": "WARNING",
    }
    for key, value in new_secret_values().items():
        env[f"QINGLING_{key.upper()}"] = value.hex()
    settings = load(env, dotenv=False)
    engine = db.make_engine(settings)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_bare (id uuid PRIMARY KEY, data bytea NOT NULL)"))
    with db.unit_of_work(db.make_session_factory(engine)) as session:
        load_default_divisions(session, SystemClock(), SYSTEM_ACTOR)
        fixed = None
        if log2_n is not None:
            fixed = tokens.TokenParams(version=1, n=1 << log2_n, r=8, p=1, salt=tokens.new_salt())
        # Calibrated to about 50 ms as `qingling init` does, unless --log2-n fixes the cost.
        params = services.initialise_token_params(session, SystemClock(), params=fixed)
        keys.init_recovery(session, SystemClock(), settings, SYSTEM_ACTOR)
    engine.dispose()
    durations = []
    for _ in range(15):
        token = tokens.generate_token()
        start = time.perf_counter()
        tokens.derive_token_secret(token, pepper=settings.token_pepper, params=params)
        durations.append(time.perf_counter() - start)
    return env, name, statistics.median(durations)


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start_server(which: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    child_env.update(env)
    child_env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(  # noqa: S603 - this script, with fixed arguments
        [sys.executable, __file__, "--serve", which, "--port", str(port)],
        env=child_env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the {which} server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1.0)  # let both workers boot
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise SystemExit(f"the {which} server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


# ---------------------------------------------------------------- the load


def photo_bytes(size: int = 1_000_000, *, camera_tables: bool = False) -> bytes:
    """A JPEG of at least ``size`` bytes (noise, so it does not compress) with what a phone
    writes into a photo: EXIF with make, model, time and GPS position.

    Encoded like Qingling's own encoder (quality 75, standard tables), the site strips its
    metadata without re-encoding it (``intake.media``); ``camera_tables`` encodes it with
    quantisation tables of its own, as many cameras do, which the site re-encodes."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "Huawei"  # Make
    exif[0x0110] = "ELS-AN00"  # Model
    exif[0x0132] = "2025:11:27 21:30:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (31.0, 52.0, 12.5), 3: "E", 4: (120.0, 33.0, 7.25)})
    params: dict[str, Any] = {"quality": 75, "exif": exif}
    if camera_tables:
        params = {"qtables": [[4 + i % 7 for i in range(64)], [6 + i % 5 for i in range(64)]]}
        params["exif"] = exif
    side = 700
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", **params)
        if out.tell() >= size:
            return out.getvalue()
        side += 50


def photo_scrub(photo: bytes) -> tuple[str, float]:
    """How the site scrubs ``photo`` (its quantisation tables kept, or re-encoded) and how
    long it takes here, in seconds (median of five)."""
    from PIL import Image

    from intake import media

    durations = []
    for _ in range(5):
        start = time.perf_counter()
        result = media.scrub_image(photo, media.FileKind.JPEG)
        durations.append(time.perf_counter() - start)

    def tables(data: bytes) -> Any:
        return getattr(Image.open(io.BytesIO(data)), "quantization", None)

    how = (
        "metadata stripped, picture kept" if tables(result.data) == tables(photo) else "re-encoded"
    )
    return how, statistics.median(durations)


def tip_body(division: int, n: int) -> dict[str, Any]:
    return {
        "description": (
            f"第 {n} 份举报：二楼消防通道被杂物堵死，夜间只有一名护工值班，"
            "烟感报警器已经拆掉好几个月了，老人行动不便，一旦着火后果不堪设想。"
        ),
        "category": "fire",
        "division": division,
        "location": "杨舍镇某路 12 号，后门楼梯",
        "facility_name": "夕阳红托老所",
        "observed_at": "上周三晚上九点左右",
        "relationship": "employee",
    }


def multipart(tip: dict[str, Any], photo: bytes) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="tip"\r\n'
        "Content-Type: application/json\r\n\r\n".encode()
        + json.dumps(tip).encode()
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        'filename="IMG_0001.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        + photo
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def load(
    port: int,
    path: str,
    *,
    seconds: float,
    division: int,
    photo: bytes,
    latencies: list[float],
    failures: list[int],
) -> float:
    """Run the clients for ``seconds``; append to ``latencies``/``failures``; return the wall
    time."""
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(worker: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = worker
        while time.monotonic() < end:
            tip = tip_body(division, n)
            if n % PHOTO_EVERY == 0:
                body, ctype = multipart(tip, photo), f"multipart/form-data; boundary={BOUNDARY}"
            else:
                body, ctype = json.dumps(tip).encode(), "application/json"
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": ctype})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            elapsed = time.perf_counter() - start
            with lock:
                if status == 201:
                    latencies.append(elapsed)
                else:
                    failures.append(status)
                    if len(failures) > 100:  # the server is broken: stop, do not spin
                        return
            n += CLIENTS
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 90)
    return time.monotonic() - started


# ---------------------------------------------------------------- CPU time, for a noisy machine


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after "pid (comm)": state, ppid, …; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process (all its threads); None if it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds that one server's gunicorn processes and the PostgreSQL backends of the
    bench database spend, summed over the phases measured. Unlike throughput, this hardly
    moves when other processes compete for the machine (Linux /proc; elsewhere it stays 0)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn  # a connection to the bench database (its own backend not counted)
        self.workers = 0.0
        self.database = 0.0

    def _backends(self) -> list[int]:
        from sqlalchemy import text

        rows = self._conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        return [int(row[0]) for row in rows]

    def _snapshot(self, master: int) -> tuple[dict[int, float], dict[int, float]]:
        def times(pids: list[int]) -> dict[int, float]:
            return {pid: t for pid in pids if (t := cpu_seconds(pid)) is not None}

        return times([master, *children(master)]), times(self._backends())

    def measure(self, master: int, run: Any) -> Any:
        """Run ``run()`` and add the CPU time it cost to the totals; returns what it returns."""
        workers_before, database_before = self._snapshot(master)
        result = run()
        workers_after, database_after = self._snapshot(master)
        self.workers += sum(t - workers_before.get(p, 0.0) for p, t in workers_after.items())
        self.database += sum(t - database_before.get(p, 0.0) for p, t in database_after.items())
        return result


def summary(latencies: list[float], failures: list[int], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "failures": len(failures),
        "rate": len(ordered) / wall,
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan"),
    }


def report(
    args: argparse.Namespace,
    photo: bytes,
    scrub: tuple[str, float],
    kdf: float,
    *,
    results: dict[str, dict[str, float]],
    meters: dict[str, CpuMeter],
) -> None:
    scrub_how, scrub_seconds = scrub
    bare, full = results["bare"], results["full"]
    print(
        f"intake under load: gunicorn {WORKERS} workers (gthread ×4), {CLIENTS} clients, "
        f"{args.seconds:.0f} s each in {args.rounds} alternating rounds, "
        f"1 photo of {len(photo) / 1e6:.2f} MB in {PHOTO_EVERY}"
    )
    how = "calibrated" if args.log2_n is None else f"n=2^{args.log2_n}"
    print(f"token KDF (scrypt, {how}): {kdf * 1000:.1f} ms")
    print(f"photo scrub ({scrub_how}): {scrub_seconds * 1000:.1f} ms")
    for label, r in (("bare Flask+SQLAlchemy", bare), ("full public site", full)):
        print(
            f"  {label:22s} {r['rate']:7.1f} submissions/s   p50 {r['p50'] * 1000:7.1f} ms   "
            f"p95 {r['p95'] * 1000:7.1f} ms   ({r['count']:.0f} ok, {r['failures']:.0f} failed)"
        )
        # Worker time in the KDF: one derivation per submission, over the workers' wall time.
        print(f"  {'':22s} KDF share of worker time: {r['rate'] * kdf / WORKERS:6.1%}")
    if not (bare["count"] and full["count"]):
        raise SystemExit("no successful submission: see the server errors above")
    ratio_rate = full["rate"] / bare["rate"]
    ratio_p95 = full["p95"] / bare["p95"]
    print(
        f"  throughput ratio full/bare: {ratio_rate:.2f} (target ≥ 0.80)   "
        f"p95 ratio: {ratio_p95:.2f} (target ≤ 1.25)"
    )
    cpu = {
        which: (meter.workers + meter.database) / results[which]["count"]
        for which, meter in meters.items()
    }
    if cpu["full"] > 0:
        for which, meter in meters.items():
            count = results[which]["count"]
            print(
                f"  CPU per submission, {which}: {cpu[which] * 1000:6.1f} ms "
                f"(workers {meter.workers / count * 1000:.1f}, "
                f"PostgreSQL {meter.database / count * 1000:.1f})"
            )
        # What the throughput ratio would be if the CPU were the only limit and nobody else
        # used the machine: a steadier figure than the wall-clock ratio on a busy machine.
        print(f"  CPU ratio bare/full: {cpu['bare'] / cpu['full']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load time per endpoint")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternate the two endpoints this many times (ABA… order), so load from other "
        "processes on the machine falls on both alike",
    )
    parser.add_argument(
        "--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--log2-n",
        type=int,
        default=None,
        help="fix scrypt's n at 2**N instead of calibrating (calibration picks the power of "
        "two nearest 50 ms, which on some machines flips between two neighbours)",
    )
    parser.add_argument(
        "--camera-photo",
        action="store_true",
        help="send a photo with quantisation tables of its own, as many cameras write, which "
        "the site decodes and re-encodes (the default photo's metadata is stripped without "
        "re-encoding)",
    )
    parser.add_argument("--serve", choices=["full", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    from sqlalchemy import create_engine, select

    from registry.models import Division

    photo = photo_bytes(camera_tables=args.camera_photo)
    scrub_how, scrub_seconds = photo_scrub(photo)
    with tempfile.TemporaryDirectory(prefix="qingling-bench-") as scratch:
        env, name, kdf = make_instance(args.admin_url, Path(scratch), args.log2_n)
        try:
            engine = create_engine(env["QINGLING_DATABASE_URL"])
            with engine.connect() as conn:
                division = conn.scalar(select(Division.id).order_by(Division.id).limit(1))
            engine.dispose()
            paths = {"bare": "/bare", "full": "/api/v1/tips"}
            servers = {which: start_server(which, env) for which in paths}
            latencies: dict[str, list[float]] = {which: [] for which in paths}
            failures: dict[str, list[int]] = {which: [] for which in paths}
            walls = dict.fromkeys(paths, 0.0)
            # Autocommit: inside a transaction pg_stat_activity stays as first read.
            meter_engine = create_engine(env["QINGLING_DATABASE_URL"], isolation_level="AUTOCOMMIT")
            try:
                with meter_engine.connect() as meter_conn:
                    meters = {which: CpuMeter(meter_conn) for which in paths}
                    slice_seconds = args.seconds / args.rounds
                    for round_no in range(args.rounds):
                        order = ("bare", "full") if round_no % 2 == 0 else ("full", "bare")
                        for which in order:
                            walls[which] += meters[which].measure(
                                servers[which][0].pid,
                                lambda which=which: load(
                                    servers[which][1],
                                    paths[which],
                                    seconds=slice_seconds,
                                    division=int(division or 1),
                                    photo=photo,
                                    latencies=latencies[which],
                                    failures=failures[which],
                                ),
                            )
            finally:
                meter_engine.dispose()
                for proc, _port in servers.values():
                    stop(proc)
            results = {w: summary(latencies[w], failures[w], walls[w]) for w in paths}
        finally:
            drop_database(args.admin_url, name)

    report(args, photo, (scrub_how, scrub_seconds), kdf, results=results, meters=meters)


if __name__ == "__main__":
    main()
