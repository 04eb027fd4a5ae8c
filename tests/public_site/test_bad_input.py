"""Issue 4's table of bad input: each refused with a clear error, nothing stored (a script
payload is the exception: it is stored, and shown escaped). A wrong token is in
test_reporter_pages.py."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder, run_wsgi_app

from intake import services
from tests.conftest import csrf_token
from tests.intake.test_media import PDF, png_header_only
from tests.public_site.conftest import (
    Ready,
    count_rows,
    enter_token,
    post_tip,
    set_language,
    tip_fields,
    token_of,
)

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(200)


def errors_on(page: str) -> list[str]:
    return re.findall(r'<p class="error-text">([^<]*)</p>', page)


CASES: list[tuple[str, dict[str, Any], list[tuple[bytes, str]], int, str]] = [
    ("empty text", {"description": ""}, [], 400, "This field is required."),
    ("too short", {"description": "太短"}, [], 400, "between 10 and 10000"),
    ("over-long text", {"description": "隐" * 10_001}, [], 400, "between 10 and 10000"),
    ("over-long location", {"location": "x" * 1_001}, [], 400, "longer than 1000"),
    ("NUL byte", {"description": "消防通道堵塞\x00了很多天了"}, [], 400, "control characters"),
    ("unknown division", {"division": "99999"}, [], 400, "This division does not exist."),
    (
        "unknown facility",
        {"facility_id": "99999", "facility_name": ""},
        [],
        400,
        "This facility is not in the registry",
    ),
    ("no category", {"category": "earthquake"}, [], 400, "Not a valid choice"),
    (
        "a name that lies about the type",
        {},
        [(EXE, "holiday.jpg")],
        415,
        "File 1: This type of file is not accepted",
    ),
    ("a zero-byte file", {}, [(b"", "empty.jpg")], 400, "File 1: The file is empty."),
    (
        "an image decompression bomb",
        {},
        [(png_header_only(40_000, 40_000), "bomb.png")],
        413,
        "File 1: This picture is too large to process",
    ),
    (
        "eleven files",
        {},
        [(PDF, f"f{i}.pdf") for i in range(11)],
        400,
        "at most 10 files",
    ),
]


@pytest.mark.parametrize(
    ("changes", "files", "status", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_stored(  # noqa: PLR0917 - pytest fixtures and parameters
    client: FlaskClient,
    ready: Ready,
    dbs: Session,
    changes: dict[str, Any],
    files: list[tuple[bytes, str]],
    status: int,
    message: str,
) -> None:
    set_language(client, "en")
    before = count_rows(dbs)
    response = post_tip(client, tip_fields(ready.division(), **changes), files)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert any(message in e for e in errors_on(page)), errors_on(page)
    assert 'id="token"' not in page
    assert count_rows(dbs) == before


def test_invalid_utf8_is_refused(client: FlaskClient, ready: Ready, dbs: Session) -> None:
    set_language(client, "en")
    fields = tip_fields(ready.division())
    fields["csrf_token"] = csrf_token(client, "/report")
    boundary = "qlboundary"
    parts = []
    for name, value in fields.items():
        raw = (
            value.encode()
            if name != "description"
            else "消防通道".encode() + b"\xff\xfe" + "堵塞了很多天".encode()
        )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + raw
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    before = count_rows(dbs)
    response = client.post(
        "/report", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 400
    assert any("could not be read" in e for e in errors_on(response.get_data(as_text=True)))
    assert count_rows(dbs) == before


def test_a_script_payload_is_stored_and_shown_escaped(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    token = token_of(
        post_tip(client, tip_fields(ready.division(), description=payload, location=payload))
    )
    assert services.open_with_token(dbs, ready.settings, token).content.description == payload
    enter_token(client, token)
    page = client.get("/status/report").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


class LimitedStream(io.RawIOBase):
    """A request body that fails the test if more than ``allowed`` bytes are read."""

    def __init__(self, allowed: int = 64 * 1024) -> None:
        self.read_bytes = 0
        self.allowed = allowed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), 8192)
        self.read_bytes += n
        assert self.read_bytes <= self.allowed, "the body was read although it is too large"
        buffer[:n] = b"a" * n
        return n


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/report", "multipart/form-data; boundary=x"), ("/api/v1/tips", "application/json")],
)
def test_an_oversize_request_is_refused_with_413_before_it_is_read(
    client: FlaskClient, ready: Ready, dbs: Session, path: str, content_type: str
) -> None:
    stream = LimitedStream()
    before = count_rows(dbs)
    # Straight to the WSGI app: the test client would recompute Content-Length from the stream.
    environ = EnvironBuilder(path=path, method="POST", content_type=content_type).get_environ()
    environ["wsgi.input"] = stream
    environ["CONTENT_LENGTH"] = str(200 * 1024 * 1024)
    body, status, headers = run_wsgi_app(client.application, environ)
    assert status.startswith("413")
    payload = b"".join(body)
    assert stream.read_bytes == 0
    assert count_rows(dbs) == before
    if path.startswith("/api/"):
        assert json.loads(payload)["error"]["code"] == "too_large"
    else:
        assert headers.get("Content-Type", "").startswith("text/html")


def test_api_bad_input_is_a_4xx_never_a_500(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    before = count_rows(dbs)
    good = {
        "description": "消防通道被堵死很多天了",
        "category": "fire",
        "division": ready.division(),
    }
    cases: list[tuple[Any, str, int, str | None]] = [
        (b"{not json", "application/json", 400, None),
        (b"\xff\xfe\x00", "application/json", 400, None),
        (b"[1, 2]", "application/json", 422, "body"),
        (
            json.dumps({**good, "description": "x\u0000yyyyyyyyyy"}),
            "application/json",
            422,
            "description",
        ),
        (
            json.dumps({**good, "description": "\ud800 lone surrogate"}),
            "application/json",
            422,
            "description",
        ),
        (json.dumps({**good, "division": 99999}), "application/json", 422, "division"),
        (json.dumps({**good, "division": "1"}), "application/json", 422, "division"),
        (json.dumps({**good, "facility_id": 99999}), "application/json", 422, "facility_id"),
        (json.dumps({**good, "colour": "red"}), "application/json", 422, "colour"),
        (json.dumps({**good, "description": "short"}), "application/json", 422, "description"),
        (json.dumps(good), "text/plain", 415, None),
    ]
    for body, content_type, status, field in cases:
        response = client.post("/api/v1/tips", data=body, content_type=content_type)
        assert response.status_code == status, (body, response.get_json())
        error = response.get_json()["error"]
        assert set(error) >= {"code", "message", "fields"}
        if field:
            assert field in error["fields"], error
    assert count_rows(dbs) == before
