"""Requests to the public site leave no client address, user agent or search term in any log,
table or file.

`qingling serve` runs in a subprocess bound to 127.0.0.2 over a fresh data directory; the client
connects from 127.0.0.3, so any trace of that address can only come from the request.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVER = "127.0.0.2"
CLIENT = "127.0.0.3"
SEARCH_TERM = "yanglaoyuan-xiaofang-7Q4Z"  # a term a reporter might search for
USER_AGENT = "QinglingTestAgent/9.7.5"
FORWARDED = "198.51.100.77"
REPO = Path(__file__).resolve().parents[2]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env.update(
        QINGLING_DATA_DIR=str(data_dir),
        QINGLING_HOST=SERVER,
        QINGLING_LOG_LEVEL="DEBUG",  # the most the service would ever log
        QINGLING_ARGON2_MEMORY_KIB="64",
        QINGLING_ARGON2_ITERATIONS="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),  # the code under test, whatever is installed
    )
    return env


def qingling(*args: str) -> list[str]:
    return [sys.executable, "-c", "from core.cli import main; main()", *args]


def request(port: int, method: str, path: str, body: str | None = None) -> int:
    conn = http.client.HTTPConnection(SERVER, port, timeout=10, source_address=(CLIENT, 0))
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"qingling serve exited early:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection((SERVER, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("qingling serve did not start listening within 60 s")


def test_public_site_records_no_client_address(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(data_dir)
    init = subprocess.run(
        qingling("init"), env=env, cwd=tmp_path, capture_output=True, timeout=120, check=False
    )
    assert init.returncode == 0, init.stderr.decode(errors="replace")

    public_port, staff_port = free_port(SERVER), free_port(SERVER)
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            qingling("serve", "--public-port", str(public_port), "--staff-port", str(staff_port)),
            env=env,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            wait_until_listening(public_port, process, err)
            statuses = [
                request(public_port, "GET", "/"),
                request(public_port, "GET", f"/?q={SEARCH_TERM}"),
                request(public_port, "GET", f"/no-such-page?search={SEARCH_TERM}"),
                request(public_port, "GET", f"/{SEARCH_TERM}"),
                request(public_port, "GET", "/privacy"),
                request(public_port, "POST", "/language", body=f"lang=en&next=/{SEARCH_TERM}"),
                request(public_port, "GET", "/static/qingling.css"),
            ]
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert statuses == [200, 200, 404, 404, 200, 400, 200]

    logged = out.read_bytes() + err.read_bytes()
    # The requests were logged (so the check below is not vacuous) by route name, never by the
    # path or query string the visitor typed.
    assert b"GET - 404" in logged
    assert b"GET home.index 200" in logged

    forbidden = [CLIENT, SEARCH_TERM, USER_AGENT, FORWARDED]
    for needle in forbidden:
        assert needle.encode() not in logged, f"{needle!r} in the output of qingling serve"

    database = data_dir / "qingling.sqlite3"
    assert database.is_file()
    with sqlite3.connect(database) as conn:
        dump = "\n".join(conn.iterdump())
    conn.close()
    assert "CREATE TABLE" in dump
    for needle in forbidden:
        assert needle not in dump, f"{needle!r} in the database"

    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert database in files
    for path in files:
        content = path.read_bytes()
        for needle in forbidden:
            assert needle.encode() not in content, f"{needle!r} in {path}"
            assert needle.encode("utf-16-le") not in content, f"{needle!r} in {path}"
