"""What the fault tests share.

* :func:`build_instance`: a data directory and database prepared as ``qingling init`` does it
  (secrets on disk, the migrations, the divisions, the token parameters) plus
  ``qingling keys init-recovery``, with cheap token parameters so that checking every token
  afterwards takes little time.
* :class:`Gunicorn`: the public site (``public_site.wsgi:app``) served by gunicorn with the
  production configuration ``deploy/gunicorn-public.conf.py`` on a free loopback port, in a
  process group of its own; its workers can be listed and killed.
* :class:`Http`, :func:`submit` and :class:`Load`: plain HTTP/1.1 from any loopback address
  (127.1.x.y), so that each submission comes from an address of its own as from many reporters
  and the per-address rate limits stay on; a dropped connection is recorded, not raised.
* :func:`consistency_problems`: every stored tip is whole (its envelopes, sealed keys, token row,
  attachments and chunks match the hashes recorded in the audit chain when it was received),
  nothing points at a row that is gone, and the audit chain verifies.
* :class:`PrivateCluster`: a PostgreSQL cluster of the test's own (``initdb`` + ``pg_ctl`` in a
  temporary directory on a free port), which may be stopped and started at will; the machine's
  shared server is never touched.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import db, migrate
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from core.settings import Settings, load
from intake import errors as intake_errors
from intake.models import Attachment, AttachmentChunk, Tip, TipKey, TipToken
from intake.services import (
    RECEIVED,
    initialise_token_params,
    open_with_token,
    verify_tip_envelopes,
)
from registry.models import Division
from registry.services import load_default_divisions

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "deploy" / "gunicorn-public.conf.py"
TOKEN_RE = re.compile(r'<p class="secret token" id="token">([0-9A-Z-]{19})</p>')
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---------------------------------------------------------------- the instance


def instance_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The ``QINGLING_*`` variables of a test instance (an empty URL: SQLite in the data
    directory, the embedded default)."""
    env = {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": database_url,
        "QINGLING_LOG_LEVEL": "WARNING",
        "QINGLING_ARGON2_MEMORY_KIB": "1024",
        "QINGLING_ARGON2_ITERATIONS": "1",
    }
    env.update(extra)
    return env


@dataclass
class Instance:
    data_dir: Path
    env: dict[str, str]
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    division: int

    def close(self) -> None:
        self.engine.dispose()


def build_instance(data_dir: Path, database_url: str, **extra: str) -> Instance:
    from core.cli import write_secrets

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = instance_env(data_dir, database_url, **extra)
    write_secrets(load(env, dotenv=False), env)
    settings = load(env, dotenv=False)
    engine = db.make_engine(settings)
    migrate.upgrade(engine)
    sessions = db.make_session_factory(engine)
    clock = SystemClock()
    with db.unit_of_work(sessions) as session:
        load_default_divisions(session, clock, SYSTEM_ACTOR)
        initialise_token_params(session, clock, calibrate=False)
        keys.init_recovery(session, clock, settings, SYSTEM_ACTOR)
    with sessions() as session:
        division = session.scalar(select(Division.id).order_by(Division.id).limit(1))
    assert division is not None
    return Instance(data_dir, env, settings, engine, sessions, division)


def cli(env: Mapping[str, str], *args: str) -> Result:
    """``qingling <args>`` with exactly these ``QINGLING_*`` variables."""
    from core.cli import main

    cli_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QINGLING_")}
    cli_env.update(env)
    return CliRunner().invoke(main, list(args), env=cli_env)


# ---------------------------------------------------------------- gunicorn


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3… of /proc/<pid>/stat (state, ppid, …), or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``, oldest first."""
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] == "Z" or int(fields[1]) != pid:
            continue
        found.append((int(fields[19]), int(entry.name)))  # field 22: start time (ticks)
    return [child for _, child in sorted(found)]


def age_of(pid: int) -> float:
    """Seconds since ``pid`` started (0 if it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - int(fields[19]) / ticks


class Gunicorn:
    """``gunicorn -c deploy/gunicorn-public.conf.py public_site.wsgi:app`` on a free port.

    Only the bind address, the number of workers and the graceful timeout differ from the
    production configuration. Its output (gunicorn's error log and the site's log) goes to
    ``log_path``."""

    def __init__(
        self,
        instance: Instance,
        log_path: Path,
        *,
        workers: int = 2,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.instance = instance
        self.log_path = log_path
        self.workers = workers
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        env.update(self.instance.env)
        env.update(self.extra_env)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--graceful-timeout",
            "3",
            "public_site.wsgi:app",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                cwd=self.instance.data_dir,  # no stray .env is read
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, ended as one
            )
        wait_until(self._answers, 60, f"gunicorn to answer\n{self.log()}")
        wait_until(
            lambda: len(children_of(self.master)) == self.workers, 30, "every gunicorn worker"
        )

    @property
    def master(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}\n{self.log()}")
        try:
            return Http(self.port, timeout=5).get("/").status == 200
        except (OSError, http.client.HTTPException):
            return False

    def worker_pids(self) -> list[int]:
        return children_of(self.master)

    def kill_worker(self, pid: int) -> None:
        assert pid in self.worker_pids(), "only a worker of this gunicorn is killed"
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    cookies: tuple[str, ...]  # "name=value" of each Set-Cookie
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


_addresses = itertools.count()
_addresses_lock = threading.Lock()


def new_address() -> str:
    """A loopback address not used before in this run (127.1.0.1, 127.1.0.2, …): each
    submission comes from a reporter of its own, as in life, so per-address limits stay on."""
    with _addresses_lock:
        n = next(_addresses)
    return f"127.{1 + n // 62_500}.{n // 250 % 250}.{n % 250 + 1}"


class Http:
    """One connection per request, from ``source``; connection errors are raised."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 60) -> None:
        self.port = port
        self.source = source
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=self.timeout, source_address=(self.source, 0)
        )
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            data = response.read()
            cookies = tuple(
                c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or ()
            )
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                cookies,
                data,
            )
        finally:
            conn.close()

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post_json(
        self, path: str, value: object, headers: Mapping[str, str] | None = None
    ) -> Reply:
        return self.request(
            "POST",
            path,
            json.dumps(value).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


@dataclass(frozen=True)
class FilePart:
    field: str
    name: str
    content_type: str
    data: bytes


def multipart(fields: Sequence[tuple[str, str]], files: Sequence[FilePart]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = "----qingling-faults-" + secrets.token_hex(12)
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for part in files:
        out.write(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{part.field}"; '
                f'filename="{part.name}"\r\nContent-Type: {part.content_type}\r\n\r\n'
            ).encode()
        )
        out.write(part.data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------- submissions

#: How a tip is sent: JSON to the API, multipart (JSON part and photos) to the API, the web form.
KINDS = ("json", "multipart", "web")


@dataclass
class Submission:
    """One attempt and what the client saw."""

    kind: str
    description: str
    photos: int
    status: int | None = None  # None: the connection failed (no HTTP answer)
    token: str | None = None
    error: str = ""  # the connection error's type, or a note on an unexpected answer
    retry_after: str | None = None
    content_type: str = ""
    body: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.token is not None


def tip_json(division: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "category": "fire",
        "division": division,
        "location": "后门旁的楼梯",
        "facility_name": "无名托老所",
        "observed_at": "上周三晚上",
        "relationship": "employee",
    }


def _web_fields(division: int, description: str, csrf: str) -> list[tuple[str, str]]:
    return [
        ("csrf_token", csrf),
        ("description", description),
        ("category", "fire"),
        ("division", str(division)),
        ("location", "后门旁的楼梯"),
        ("facility_id", ""),
        ("facility_name", "无名托老所"),
        ("observed_when", "上周三晚上"),
        ("relationship", "employee"),
        ("contact", ""),
        ("real_name", ""),
    ]


def _send(client: Http, kind: str, division: int, description: str, photo: bytes) -> Reply:
    photos = [FilePart("files", "IMG_20250101_0930.jpg", "image/jpeg", photo)] if photo else []
    if kind == "json":
        return client.post_json("/api/v1/tips", tip_json(division, description))
    if kind == "multipart":
        body, content_type = multipart(
            [("tip", json.dumps(tip_json(division, description)))], photos
        )
        return client.request("POST", "/api/v1/tips", body, {"Content-Type": content_type})
    form = client.get("/report")
    match = CSRF_RE.search(form.text)
    if form.status != 200 or match is None:
        return form  # the form itself could not be had (a 503, say): that is the answer
    body, content_type = multipart(_web_fields(division, description, match.group(1)), photos)
    headers = {"Content-Type": content_type, "Cookie": "; ".join(form.cookies)}
    return client.request("POST", "/report", body, headers)


def submit(port: int, n: int, kind: str, division: int, photo: bytes = b"") -> Submission:
    """Submit tip number ``n`` from an address of its own; never raises for a failure of the
    server or the connection: the outcome is in the result."""
    description = f"故障测试第 {n} 份举报（{kind}）：消防通道被杂物堵死，夜间只有一名护工值班。"
    attempt = Submission(kind, description, 1 if photo and kind != "json" else 0)
    attempt.started = time.monotonic()
    try:
        reply = _send(Http(port, new_address()), kind, division, description, photo)
    except (OSError, http.client.HTTPException) as exc:
        attempt.error = type(exc).__name__
        attempt.ended = time.monotonic()
        return attempt
    attempt.ended = time.monotonic()
    attempt.status = reply.status
    attempt.retry_after = reply.headers.get("retry-after")
    attempt.content_type = reply.headers.get("content-type", "")
    attempt.body = reply.text[:20_000]
    if kind == "web" and reply.status == 200:
        match = TOKEN_RE.search(reply.text)
        attempt.token = match.group(1) if match else None
        if match is None:
            attempt.error = "a 200 answer without a token"
    elif kind != "web" and reply.status == 201:
        attempt.token = reply.json().get("token")
    return attempt


class Load:
    """Client threads submitting tips one after another (kinds in turn, photos on the
    multipart and web ones) until :meth:`stop`."""

    def __init__(self, port: int, division: int, photo: bytes, clients: int) -> None:
        self.port = port
        self.division = division
        self.photo = photo
        self.results: list[Submission] = []
        self.in_flight = 0
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"faults-client-{i}", daemon=True)
            for i in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                n = next(self._numbers)
                self.in_flight += 1
            try:
                result = submit(self.port, n, KINDS[n % len(KINDS)], self.division, self.photo)
            finally:
                with self._lock:
                    self.in_flight -= 1
            with self._lock:
                self.results.append(result)
            if not result.accepted:
                time.sleep(0.05)  # a refused client pauses a little before it tries again

    def stop(self) -> list[Submission]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)
        assert not any(t.is_alive() for t in self._threads), "a client thread hung"
        return self.results

    def since(self, moment: float) -> list[Submission]:
        with self._lock:
            return [r for r in self.results if r.started >= moment]


# ---------------------------------------------------------------- checks


def consistency_problems(session: Session) -> list[str]:
    """Everything wrong with the stored tips; an empty list when every tip is whole."""
    problems: list[str] = []
    tip_ids = set(session.scalars(select(Tip.id)))
    for tip_id in tip_ids:
        try:
            verify_tip_envelopes(session, tip_id)
        except intake_errors.TipDamaged:
            problems.append(f"tip {tip_id}: its rows do not match the hashes recorded at receipt")
    dangling = {
        "sealed keys of no tip": select(TipKey.tip_id).where(TipKey.tip_id.not_in(select(Tip.id))),
        "token rows of no tip": select(TipToken.tip_id).where(
            TipToken.tip_id.not_in(select(Tip.id))
        ),
        "attachments of no tip": select(Attachment.id).where(
            Attachment.tip_id.not_in(select(Tip.id))
        ),
        "chunks of no attachment": select(AttachmentChunk.attachment_id).where(
            AttachmentChunk.attachment_id.not_in(select(Attachment.id))
        ),
        "tips without a token row": select(Tip.id).where(Tip.id.not_in(select(TipToken.tip_id))),
        "tips without sealed keys": select(Tip.id).where(Tip.id.not_in(select(TipKey.tip_id))),
    }
    for what, query in dangling.items():
        count = session.scalar(select(func.count()).select_from(query.subquery()))
        if count:
            problems.append(f"{count} {what}")
    for attachment_id in session.scalars(select(Attachment.id)):
        chunks = session.execute(
            select(AttachmentChunk.chunk_index, AttachmentChunk.final)
            .where(AttachmentChunk.attachment_id == attachment_id)
            .order_by(AttachmentChunk.chunk_index)
        ).all()
        indexes = [c.chunk_index for c in chunks]
        finals = [bool(c.final) for c in chunks]
        if indexes != list(range(len(chunks))) or finals != [False] * (len(chunks) - 1) + [True]:
            problems.append(f"attachment {attachment_id}: chunks {indexes} finals {finals}")
    received = [
        str(object_id)
        for object_id in session.scalars(
            select(AuditRecord.object_id).where(
                AuditRecord.object_type == "tip", AuditRecord.action == RECEIVED
            )
        )
    ]
    if sorted(received) != sorted(str(t) for t in tip_ids):
        problems.append(
            f"{len(received)} receipt records in the audit trail for {len(tip_ids)} tips"
        )
    result = audit.verify(session)
    if not result.ok:
        problems.append(f"audit chain: {result.problem}")
    return problems


def token_problems(
    session: Session, settings: Settings, accepted: Sequence[Submission]
) -> list[str]:
    """Every token a client received opens a tip with what that client sent."""
    problems = []
    for item in accepted:
        assert item.token is not None
        try:
            tip = open_with_token(session, settings, item.token)
        except intake_errors.UnknownToken:
            problems.append(f"a token returned to a {item.kind} client opens nothing")
            continue
        if tip.content.description != item.description:
            problems.append(f"a {item.kind} token opens another tip")
        if len(tip.attachments) != item.photos:
            problems.append(
                f"a {item.kind} tip has {len(tip.attachments)} attachments, sent {item.photos}"
            )
    return problems


def sqlite_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` of a SQLite file."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
    problems = [] if integrity == ["ok"] else [f"integrity_check: {integrity[:5]}"]
    if foreign:
        problems.append(f"foreign_key_check: {foreign[:5]}")
    return problems


def opened_over_http(port: int, token: str) -> dict[str, Any]:
    """The reporter's way in through the API: a session from the token, then the tip."""
    client = Http(port, new_address())
    opened = client.post_json("/api/v1/session", {"token": token})
    assert opened.status == 201, (opened.status, opened.text[:500])
    bearer = opened.json()["access_token"]
    tip = client.get("/api/v1/tip", {"Authorization": f"Bearer {bearer}"})
    assert tip.status == 200, (tip.status, tip.text[:500])
    value: dict[str, Any] = tip.json()
    return value


def photo_jpeg(width: int = 1400, height: int = 1000) -> bytes:
    """A photo of noise: incompressible, so that it spans two 1 MiB chunks."""
    from PIL import Image

    image = Image.frombytes("RGB", (width, height), secrets.token_bytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


# ---------------------------------------------------------------- a private PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` and ``pg_ctl``."""
    found = [
        d
        for d in Path("/usr/lib/postgresql").glob("*/bin")
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file()
    ]
    found.sort(key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
    return found[-1] if found else None


def private_cluster_missing() -> str | None:
    """Why a private cluster cannot be made here, or None."""
    if postgres_bin_dir() is None:
        return (
            "no PostgreSQL server programs (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: "
            "install Debian's postgresql package"
        )
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster in a temporary directory, on a free loopback port, password
    authentication (SCRAM) only. Run as ``postgres`` when the tests run as root (initdb
    refuses root)."""

    bin_dir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="qingling-faults-pg-")))
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def _as_user(self) -> dict[str, Any]:
        """``subprocess`` arguments that run a server program as ``postgres`` under root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        entry = pwd.getpwnam("postgres")
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _give_to_server_user(self, path: Path) -> None:
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            args, capture_output=True, timeout=timeout, check=False, **self._as_user()
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{result.stderr.decode(errors='replace')[-2000:]}\n{self.server_log()}"
            )

    def init(self) -> None:
        self._give_to_server_user(self.root)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        self._give_to_server_user(pwfile)
        self._run(
            str(self.bin_dir / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "scram-sha-256",
            "--pwfile",
            str(pwfile),
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log_path),
            "--options",
            options,
            "--wait",
            "--timeout",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "--pgdata", str(self.data), "--mode", mode, "--wait",
            "stop",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def server_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError, OSError, subprocess.TimeoutExpired):
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_cluster(bin_dir: Path) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
