"""schemathesis runs the OpenAPI document of /api/v1 against the app in-process (WSGI): no
server error, and every answer conforms to the document (status, content type, headers, body).

Bounded in time: at most ``MAX_EXAMPLES`` generated requests per operation, no deadline. Rate
limits are off here (a 429 is documented, but would stop the exploration); the bearer
credential of a real tip is sent with every request so that ``GET /tip`` is exercised too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from public_site.limits import limiter_of
from tests.public_site.conftest import Ready

MAX_EXAMPLES = 25
#: Excluded: "a schema-valid request must be accepted". Some rules cannot be written in JSON
#: Schema (a division or facility id that exists, a token's check symbol), so a well-typed
#: request can rightly get a 422 or 404. Every other check runs: no server error, status
#: codes, content types, headers and bodies as documented, invalid data refused.
SEMANTIC = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture
def api_app(public_app: Flask, ready: Ready) -> Iterator[Flask]:
    limiter_of(public_app).enabled = False
    return public_app


@pytest.fixture
def api_schema(api_app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


@pytest.fixture
def auth_headers(api_app: Flask, ready: Ready) -> dict[str, str]:
    client = api_app.test_client()
    created = client.post(
        "/api/v1/tips",
        json={
            "description": "电梯年检过期半年仍在使用。",
            "category": "special_equipment",
            "division": ready.division(),
        },
    )
    token = created.get_json()["token"]
    value = client.post("/api/v1/session", json={"token": token}).get_json()["access_token"]
    return {"Authorization": f"Bearer {value}"}


def operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_the_api_conforms_to_its_document(api_schema: Any, auth_headers: dict[str, str]) -> None:
    # Driven by hand rather than through schemathesis's pytest plugin (its parametrisation
    # does not work with this pytest); each operation gets its own Hypothesis run.
    checked = []
    for operation in operations(api_schema):

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(headers=auth_headers, excluded_checks=SEMANTIC)

        run()
        checked.append(operation.label)
    assert sorted(checked) == [
        "GET /facilities",
        "GET /meta",
        "GET /tip",
        "POST /reward/claim",
        "POST /reward/decline",
        "POST /session",
        "POST /tip/messages",
        "POST /tip/objection",
        "POST /tips",
    ]
