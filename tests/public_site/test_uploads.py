"""Uploads never touch the disk in plaintext (DESIGN.md "Anonymity", issue 3 item 6).

A multipart upload larger than the spool's memory limit is posted through the real public app.
While the request is handled, a test-only view reads the file and then searches every file in
the temporary directory — including anonymous ``O_TMPFILE`` files, reached through this
process's open descriptors in ``/proc/self/fd`` — for the canary the upload carries. The same
search run against Werkzeug's own spool finds the canary, so the search can fail.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Request, jsonify, request
from flask.typing import ResponseReturnValue

from core.web import csrf
from crypto.spool import DEFAULT_MEMORY_LIMIT, EncryptedSpool
from public_site.uploads import EncryptingRequest

PROC_FD = Path("/proc/self/fd")
pytestmark = pytest.mark.skipif(not PROC_FD.is_dir(), reason="needs /proc/self/fd (Linux)")


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty temporary directory for everything tempfile makes during the test."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))  # gettempdir() caches its answer
    return directory


def scan(directory: Path, needle: bytes) -> tuple[int, list[str]]:
    """How many files under ``directory`` were read (named or anonymous but open in this
    process), and which of them contain ``needle``."""
    seen: dict[str, bytes] = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = Path(root, name)
            seen[str(path)] = path.read_bytes()
    for fd in os.listdir(PROC_FD):
        target = _link_target(PROC_FD / fd)
        if target.startswith(str(directory)) and target not in seen:
            with open(PROC_FD / fd, "rb") as fh:  # a new description: reads from offset 0
                seen[target] = fh.read()
    return len(seen), [path for path, content in seen.items() if needle in content]


def _link_target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile (the listing's own descriptor)
        return ""


def multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body built in memory (the test client's own encoder would spool a large
    body to a plaintext temporary file of its own, which is not what is under test)."""
    boundary = secrets.token_hex(16)
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'.encode(),
            b"Content-Type: application/octet-stream\r\n\r\n",
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


def add_probe(app: Flask, directory: Path, canary: bytes) -> None:
    """A test-only view: read the upload, then scan the temporary directory mid-request."""

    def probe() -> ResponseReturnValue:
        storage = request.files["photo"]
        data = storage.read()
        files_seen, with_canary = scan(directory, canary)
        return jsonify(
            spool=type(storage.stream).__name__,
            on_disk=bool(getattr(storage.stream, "on_disk", False)),
            size=len(data),
            sha=__import__("hashlib").sha256(data).hexdigest(),
            files_seen=files_seen,
            with_canary=with_canary,
        )

    app.add_url_rule("/_test/upload", "test_upload_probe", csrf.exempt(probe), methods=["POST"])


def upload_content(canary: bytes, size: int) -> bytes:
    body = bytearray(os.urandom(size))
    for position in (0, size // 2, size - len(canary)):
        body[position : position + len(canary)] = canary
    return bytes(body)


def test_public_app_uses_the_encrypting_request(public_app: Flask) -> None:
    assert public_app.request_class is EncryptingRequest


def test_large_upload_is_never_on_disk_in_plaintext(public_app: Flask, spool_dir: Path) -> None:
    import hashlib

    canary = f"CANARY-{secrets.token_hex(12)}".encode()
    content = upload_content(canary, 3 * DEFAULT_MEMORY_LIMIT + 12345)
    add_probe(public_app, spool_dir, canary)
    body, content_type = multipart("photo", "现场.jpg", content)

    response = public_app.test_client().post("/_test/upload", data=body, content_type=content_type)

    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["spool"] == "EncryptedSpool"
    assert result["on_disk"] is True  # past the memory limit: it did spool to a file
    assert result["files_seen"] >= 1  # and the scan saw that file
    assert result["with_canary"] == []
    assert result["size"] == len(content)
    assert result["sha"] == hashlib.sha256(content).hexdigest()  # reads back intact
    assert scan(spool_dir, canary) == (0, [])  # nothing left behind after the request


def test_the_scan_finds_werkzeugs_plaintext_spool(public_app: Flask, spool_dir: Path) -> None:
    """Control: with Flask's own Request, the same upload is found in plaintext on disk."""
    public_app.request_class = Request
    canary = f"CANARY-{secrets.token_hex(12)}".encode()
    content = upload_content(canary, 3 * DEFAULT_MEMORY_LIMIT)
    add_probe(public_app, spool_dir, canary)
    body, content_type = multipart("photo", "photo.jpg", content)

    result = public_app.test_client().post("/_test/upload", data=body, content_type=content_type)

    assert result.status_code == 200
    assert len(result.get_json()["with_canary"]) >= 1


def test_small_upload_stays_in_memory(public_app: Flask, spool_dir: Path) -> None:
    canary = f"CANARY-{secrets.token_hex(12)}".encode()
    content = upload_content(canary, 10_000)
    add_probe(public_app, spool_dir, canary)
    body, content_type = multipart("photo", "photo.png", content)

    result = public_app.test_client().post("/_test/upload", data=body, content_type=content_type)

    data = result.get_json()
    assert data["on_disk"] is False
    assert data["files_seen"] == 0
    assert data["size"] == len(content)


def test_spool_is_what_werkzeug_gets(public_app: Flask) -> None:
    with public_app.test_request_context(method="POST"):
        stream = request._get_file_stream(None, "image/jpeg", "a.jpg")
        try:
            assert isinstance(stream, EncryptedSpool)
        finally:
            stream.close()
