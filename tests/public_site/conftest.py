"""Fixtures for the public site's client tests: an instance ready to take tips (token
parameters, key groups and demo facilities), and helpers that post the real forms."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.keys import services as keys
from core.settings import Settings
from intake import services
from intake.models import Attachment, AttachmentChunk, ReporterSession, Tip, TipKey, TipToken
from public_site.limits import limiter_of
from registry.models import Division, Facility
from registry.services import load_demo_facilities
from tests.conftest import csrf_token

TOKEN_RE = re.compile(r'<p class="secret token" id="token">([0-9A-Z-]{19})</p>')


@dataclass
class Ready:
    dbs: Session
    clock: FakeClock
    settings: Settings
    sheet: keys.RecoverySheet

    def division(self, name: str = "杨舍镇") -> int:
        found = self.dbs.scalar(select(Division.id).where(Division.name == name))
        assert found is not None
        return found

    def facility(self, name: str = "夕阳红托老所") -> int:
        found = self.dbs.scalar(select(Facility.id).where(Facility.name == name))
        assert found is not None
        return found


@pytest.fixture
def ready(dbs: Session, clock: FakeClock, settings: Settings) -> Ready:
    """Token parameters (cheap), the key groups with their recovery key, demo facilities."""
    services.initialise_token_params(dbs, clock, calibrate=False)
    sheet, _ = keys.init_recovery(dbs, clock, settings, SYSTEM_ACTOR)
    load_demo_facilities(dbs, clock, SYSTEM_ACTOR)
    dbs.flush()
    return Ready(dbs, clock, settings, sheet)


def count_rows(dbs: Session) -> dict[str, int]:
    return {
        model.__tablename__: int(dbs.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Tip, TipKey, TipToken, Attachment, AttachmentChunk, ReporterSession)
    }


def tip_fields(division_id: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "description": "二楼消防通道被杂物堵死，夜间只有一名护工值班。",
        "category": "fire",
        "division": str(division_id),
        "location": "后门旁的楼梯",
        "facility_id": "",
        "facility_name": "无名托老所",
        "observed_when": "上周三晚上",
        "relationship": "employee",
        "contact": "",
        "real_name": "",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def post_tip(
    client: FlaskClient,
    fields: dict[str, Any],
    files: Iterable[tuple[bytes, str]] = (),
    *,
    path: str = "/report",
) -> TestResponse:
    data: dict[str, Any] = {"csrf_token": csrf_token(client, "/report"), **fields}
    uploads = [(io.BytesIO(content), name) for content, name in files]
    if uploads:
        data["files"] = uploads
    return client.post(path, data=data, content_type="multipart/form-data")


def token_of(response: TestResponse) -> str:
    match = TOKEN_RE.search(response.get_data(as_text=True))
    assert match, "no token on the page"
    return match.group(1)


def enter_token(client: FlaskClient, token: str) -> TestResponse:
    return client.post(
        "/status", data={"csrf_token": csrf_token(client, "/status"), "token": token}
    )


def set_language(client: FlaskClient, lang: str) -> None:
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": lang})


@pytest.fixture
def client(public_app: Flask, ready: Ready) -> FlaskClient:
    """A client of the ready instance, rate limits off (they have their own tests, which use
    ``limited_client``)."""
    limiter_of(public_app).enabled = False
    return public_app.test_client()


@pytest.fixture
def limited_client(public_app: Flask, ready: Ready) -> FlaskClient:
    return public_app.test_client()
