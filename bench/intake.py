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

Every fifth request carries a 1 MB JPEG photo (multipart); the rest are JSON. The rate limiter
of the full site is switched off (it would refuse 20 clients from one address). Printed:
submissions per second, p50 and p95 latency of both, the ratios (targets: throughput ≥ 0.8 ×
bare, p95 ≤ 1.25 × bare) and the share of worker time spent in the token KDF. Loopback only;
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


def photo_bytes(size: int = 1_000_000) -> bytes:
    from PIL import Image

    side = 700
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=75)
        if out.tell() >= size:
            return out.getvalue()
        side += 50


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


def summary(latencies: list[float], failures: list[int], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "count": len(ordered),
        "failures": len(failures),
        "rate": len(ordered) / wall,
        "p50": statistics.median(ordered) if ordered else float("nan"),
        "p95": ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan"),
    }


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
    parser.add_argument("--serve", choices=["full", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    from sqlalchemy import create_engine, select

    from registry.models import Division

    photo = photo_bytes()
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
            try:
                slice_seconds = args.seconds / args.rounds
                for round_no in range(args.rounds):
                    order = ("bare", "full") if round_no % 2 == 0 else ("full", "bare")
                    for which in order:
                        walls[which] += load(
                            servers[which][1],
                            paths[which],
                            seconds=slice_seconds,
                            division=int(division or 1),
                            photo=photo,
                            latencies=latencies[which],
                            failures=failures[which],
                        )
            finally:
                for proc, _port in servers.values():
                    stop(proc)
            results = {w: summary(latencies[w], failures[w], walls[w]) for w in paths}
        finally:
            drop_database(args.admin_url, name)

    bare, full = results["bare"], results["full"]
    print(
        f"intake under load: gunicorn {WORKERS} workers (gthread ×4), {CLIENTS} clients, "
        f"{args.seconds:.0f} s each in {args.rounds} alternating rounds, "
        f"1 photo of {len(photo) / 1e6:.2f} MB in {PHOTO_EVERY}"
    )
    how = "calibrated" if args.log2_n is None else f"n=2^{args.log2_n}"
    print(f"token KDF (scrypt, {how}): {kdf * 1000:.1f} ms")
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


if __name__ == "__main__":
    main()
