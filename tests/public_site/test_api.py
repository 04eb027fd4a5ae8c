"""The JSON API under /api/v1 (issue 4 item 5): tips as JSON or multipart, sessions with a
bearer credential, the tip, meta, facility search; no cookies, the error shape."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from intake import services
from intake.models import Channel
from tests.intake.test_media import CANARIES, identifying_jpeg
from tests.public_site.conftest import Ready, count_rows, enter_token, post_tip, tip_fields


def tip_json(division: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "description": "燃气管道在厨房漏气，已经闻到很久了。",
        "category": "gas",
        "division": division,
        "location": "厨房",
        "facility_name": "",
        "observed_at": "今天早上",
        "relationship": "family",
    }
    values.update(changes)
    return values


def bearer(client: FlaskClient, token: str) -> dict[str, str]:
    response = client.post("/api/v1/session", json={"token": token})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 20 * 60
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_post_tips_json_gives_201_token_and_status(
    client: FlaskClient, ready: Ready, dbs: Session
) -> None:
    response = client.post(
        "/api/v1/tips", json=tip_json(ready.division(), facility_id=ready.facility())
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "status"}
    assert body["status"] == "submitted"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    tip = services.open_with_token(dbs, ready.settings, body["token"])
    assert (tip.channel, tip.facility_id, tip.content.observed_when) == (
        Channel.API,
        ready.facility(),
        "今天早上",
    )


def test_post_tips_multipart_with_a_photo(client: FlaskClient, ready: Ready, dbs: Session) -> None:
    response = client.post(
        "/api/v1/tips",
        data={
            "tip": (
                io.BytesIO(json.dumps(tip_json(ready.division())).encode()),
                "tip.json",
                "application/json",
            ),
            "files": [(io.BytesIO(identifying_jpeg()), "IMG_20251127_2130.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    tip = services.open_with_token(dbs, ready.settings, response.get_json()["token"])
    assert [(a.name, a.scrubbed) for a in tip.attachments] == [("photo-1.jpg", True)]
    access = services.unlock_with_token(dbs, ready.settings, response.get_json()["token"])
    data = b"".join(services.iter_attachment_with_access(dbs, access, tip.attachments[0].id))
    assert not any(c in data for c in CANARIES)


def test_session_and_get_tip(
    client: FlaskClient, ready: Ready, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = client.post("/api/v1/tips", json=tip_json(ready.division())).get_json()["token"]
    headers = bearer(client, token)
    response = client.get("/api/v1/tip", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "submitted"
    assert body["status_label"]["en"] == "Received"
    assert body["category"] == "gas"
    assert body["description"].startswith("燃气管道")
    assert body["submitted_at"].endswith(":00:00Z")
    assert "Set-Cookie" not in response.headers
    value = headers["Authorization"].split()[1]
    for record in caplog.records:
        assert token not in record.getMessage()
        assert value not in record.getMessage()


def test_the_api_uses_no_cookie(client: FlaskClient, ready: Ready) -> None:
    """A reporter logged in on the web pages gives the API nothing: GET /tip needs a bearer."""
    from tests.public_site.conftest import token_of

    token = token_of(post_tip(client, tip_fields(ready.division())))
    assert enter_token(client, token).status_code == 303
    assert client.get("/status/report").status_code == 200  # the cookie session works
    response = client.get("/api/v1/tip")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Authorization": "Bearer not-a-session"}, 401),
        ({"Authorization": "Bearer " + "é" * 30}, 401),
    ],
)
def test_get_tip_refuses_bad_credentials(
    client: FlaskClient, ready: Ready, headers: dict[str, str], status: int
) -> None:
    response = client.get("/api/v1/tip", headers=headers)
    assert response.status_code == status
    assert set(response.get_json()["error"]) >= {"code", "message", "fields"}


def test_session_errors(client: FlaskClient, ready: Ready, dbs: Session) -> None:
    from crypto import tokens

    unknown = client.post("/api/v1/session", json={"token": tokens.generate_token().display})
    assert unknown.status_code == 404
    typo = client.post("/api/v1/session", json={"token": "ABCD"})
    assert typo.status_code == 422
    assert "token" in typo.get_json()["error"]["fields"]
    assert client.post("/api/v1/session", json={"token": 5}).status_code == 422
    assert client.post("/api/v1/session", json={"token": "x", "y": 1}).status_code == 422
    assert client.post("/api/v1/session", data="token=x").status_code == 415
    assert count_rows(dbs)["reporter_sessions"] == 0


def test_bearer_session_expires(client: FlaskClient, ready: Ready) -> None:
    token = client.post("/api/v1/tips", json=tip_json(ready.division())).get_json()["token"]
    headers = bearer(client, token)
    ready.clock.advance(minutes=21)
    assert client.get("/api/v1/tip", headers=headers).status_code == 401


def test_meta(client: FlaskClient, ready: Ready) -> None:
    body = client.get("/api/v1/meta").get_json()
    assert [c["value"] for c in body["categories"]] == [
        "elderly_care_safety",
        "fire",
        "buildings",
        "gas",
        "special_equipment",
        "other",
    ]
    assert body["categories"][1]["label"] == {"zh_CN": "消防安全", "en": "Fire safety"}
    assert any(d["name"] == "杨舍镇" for d in body["divisions"])
    assert body["limits"]["files_max"] == 10
    assert body["limits"]["file_mb_max"] == 20
    assert body["limits"]["files_mb_total_max"] == 100


def test_facilities_search(
    client: FlaskClient, ready: Ready, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    found = client.get("/api/v1/facilities", query_string={"q": "塘桥 敬老院"}).get_json()
    assert [f["name"] for f in found["facilities"]] == ["塘桥镇敬老院"]
    assert found["facilities"][0]["division"]["name"] == "塘桥镇"
    by_address = client.get("/api/v1/facilities", query_string={"q": "长安南路"}).get_json()
    assert [f["name"] for f in by_address["facilities"]] == ["夕阳红托老所"]
    assert client.get("/api/v1/facilities").get_json() == {"facilities": []}
    wildcard = client.get("/api/v1/facilities", query_string={"q": "%"}).get_json()
    assert wildcard == {"facilities": []}
    assert all("塘桥" not in r.getMessage() for r in caplog.records)


def test_unknown_api_routes_are_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.delete("/api/v1/tips").status_code == 405


def test_the_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/tips",
        "/session",
        "/tip",
        "/tip/messages",
        "/tip/objection",
        "/reward/claim",
        "/reward/decline",
        "/meta",
        "/facilities",
    }
    fields = set(doc["components"]["schemas"]["TipInput"]["properties"])
    assert fields == {
        "category",
        "division",
        "location",
        "facility_id",
        "facility_name",
        "description",
        "observed_at",
        "relationship",
        "contact",
        "real_name",
    }
