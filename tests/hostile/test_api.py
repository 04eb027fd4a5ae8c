"""The hostile corpus through every operation of the JSON API (``/api/v1``): each text in every
field of every body, hostile bearer credentials and query strings, hostile files and file names
in a multipart tip, and JSON that is hostile in its shape (nested past any recursion limit,
NaN and infinities, huge numbers, duplicate keys, other encodings, the wrong types). Every
answer is a success or a clear 4xx with the API's error object, never a 500."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from intake.models import TipState
from public_site.limits import limiter_of
from registry.services import load_demo_facilities
from rewards.models import RewardState
from tests.hostile import corpus
from tests.hostile.conftest import Verdicts, undone
from tests.hostile.corpus import FILE_NAMES, STRINGS, Hostile, deep_json, multipart, tried
from tests.rewards.conftest import RewardWorld
from tests.triage.conftest import World, world

__all__ = ["world"]

TEXT_KEYS = ("location", "facility_name", "description", "observed_at", "contact", "real_name")
PREFIX = "二楼消防通道被杂物堵死。"
#: The operations that take a JSON body, and the keys of that body.
BODIES: dict[str, tuple[str, ...]] = {
    "/api/v1/tips": ("category", "division", *TEXT_KEYS),
    "/api/v1/session": ("token",),
    "/api/v1/tip/messages": ("body",),
    "/api/v1/tip/objection": ("reason",),
    "/api/v1/reward/claim": ("token", "method", "account_name", "bank", "account_number"),
    "/api/v1/reward/decline": ("token",),
}


def json_text(item: Hostile) -> str:
    """``item`` as a JSON string literal; a lone surrogate travels as ``\\udXXX``, as a
    careless client writes it."""
    return json.dumps(item.value)


def raw_json(values: dict[str, Any], hostile: dict[str, Hostile]) -> bytes:
    """A JSON object of ``values`` with the ``hostile`` texts spliced in as literals."""
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in values.items() if k not in hostile]
    parts += [f"{json.dumps(k)}: {json_text(v)}" for k, v in hostile.items()]
    return ("{" + ", ".join(parts) + "}").encode()


@dataclass
class Api:
    client: FlaskClient
    rw: RewardWorld
    connection: Any

    @property
    def dbs(self) -> Session:
        return self.rw.w.dbs

    def post(self, path: str, body: bytes, bearer: str | None = None, **kw: Any) -> TestResponse:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        kw.setdefault("content_type", "application/json")
        return self.client.post(path, data=body, headers=headers, **kw)

    def bearer(self, tip_id: uuid.UUID) -> str:
        response = self.post(
            "/api/v1/session", json.dumps({"token": self.rw.tokens[tip_id]}).encode()
        )
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["access_token"])

    def undone(self) -> Any:
        return undone(self.connection, self.dbs)


@pytest.fixture
def api(public_app: Flask, world: World, connection: Any) -> Api:
    from core.audit.services import SYSTEM_ACTOR

    load_demo_facilities(world.dbs, world.clock, SYSTEM_ACTOR)
    world.dbs.flush()
    limiter_of(public_app).enabled = False
    return Api(public_app.test_client(), RewardWorld(world), connection)


def check_api(verdicts: Verdicts, what: str, response: TestResponse, **kw: Any) -> int:
    """A clear answer, and for an error the API's error object (never an HTML page)."""
    status = verdicts.check(what, response, **kw)
    if status >= 400:
        body = response.get_json(silent=True)
        if not (isinstance(body, dict) and {"code", "message"} <= set(body.get("error", {}))):
            verdicts.fail(f"{what}: {status} without the API's error object")
    return status


@pytest.fixture
def bearers(api: Api) -> dict[str, str]:
    """Credentials for a tip that takes messages, one that takes an objection and one with
    an open reward offer (and the tokens of the last)."""
    plain = api.rw.submit()
    concluded = api.rw.concluded(TipState.UNSUBSTANTIATED)
    offered, _ = api.rw.to_state(RewardState.OFFERED)
    return {
        "messages": api.bearer(plain),
        "objection": api.bearer(concluded),
        "reward": api.bearer(offered),
        "reward_token": api.rw.tokens[offered],
    }


def test_tip_text_and_choices(api: Api, verdicts: Verdicts) -> None:
    division = api.rw.w.own
    for item in STRINGS:
        base = {"category": "fire", "division": division}
        with api.undone():
            body = raw_json(base, dict.fromkeys(TEXT_KEYS, item))
            # The description after enough words for its minimum.
            body = body.replace(b'"description": "', f'"description": "{PREFIX}'.encode(), 1)
            check_api(verdicts, f"POST /tips text {item.id}", api.post("/api/v1/tips", body))
        with api.undone():
            body = raw_json(base, {"description": item})
            check_api(verdicts, f"POST /tips description {item.id}", api.post("/api/v1/tips", body))
        body = raw_json(
            {"description": PREFIX * 2},
            {"category": item, "division": item, "relationship": item, "facility_id": item},
        )
        if (
            check_api(verdicts, f"POST /tips choices {item.id}", api.post("/api/v1/tips", body))
            < 400
        ):
            verdicts.fail(f"POST /tips choices {item.id}: hostile choices were taken")
        body = raw_json(
            {"description": PREFIX * 2, "category": "fire", "division": division}, {item.id: item}
        )
        check_api(verdicts, f"POST /tips unknown key {item.id}", api.post("/api/v1/tips", body))
    tried("API POST /tips: text, choices, unknown keys", len(STRINGS) * (len(TEXT_KEYS) + 6))


def test_tip_multipart_files_and_names(api: Api, verdicts: Verdicts) -> None:
    tip = json.dumps({"description": PREFIX * 2, "category": "fire", "division": api.rw.w.own})
    ctype = "multipart/form-data; boundary=qingling-hostile"
    png = next(f for f in corpus.files() if f.id == "png-ok").data
    for item in corpus.files():
        with api.undone():
            body = multipart(
                [], [("tip", b"tip.json", tip.encode()), ("files", item.name.encode(), item.data)]
            )
            response = api.post("/api/v1/tips", body, content_type=ctype)
            if item.data == b"":
                check_api(verdicts, f"API file {item.id}", response)
            elif item.accepted:
                check_api(verdicts, f"API file {item.id}", response, allowed=frozenset({201}))
            else:
                assert isinstance(item.expect, frozenset)
                check_api(verdicts, f"API file {item.id}", response, allowed=item.expect)
    names = [n for n in (*FILE_NAMES, *STRINGS) if n.value]
    for hostile_name in names:
        with api.undone():
            body = multipart([("tip", tip.encode())], [("files", hostile_name.utf8, png)])
            check_api(
                verdicts,
                f"API file name {hostile_name.id}",
                api.post("/api/v1/tips", body, content_type=ctype),
            )
    for text in STRINGS:
        body = multipart([("tip", text.utf8)])
        check_api(
            verdicts, f"API tip part {text.id}", api.post("/api/v1/tips", body, content_type=ctype)
        )
    count = 0
    for shape, content_type, body in corpus.malformed_multipart([("tip", tip.encode())]):
        with api.undone():
            check_api(
                verdicts,
                f"API multipart {shape}",
                api.post("/api/v1/tips", body, content_type=content_type),
            )
        count += 1
    tried("API POST /tips multipart: files", len(corpus.files()))
    tried("API POST /tips multipart: file names", len(names))
    tried("API POST /tips multipart: tip part", len(STRINGS))
    tried("API POST /tips multipart: malformed", count)


def test_session_and_bearer(api: Api, verdicts: Verdicts) -> None:
    for item in STRINGS:
        body = raw_json({}, {"token": item})
        if check_api(verdicts, f"POST /session {item.id}", api.post("/api/v1/session", body)) < 400:
            verdicts.fail(f"POST /session {item.id}: a hostile token opened a session")
        if item.encodable and "\n" not in item.value and "\r" not in item.value:
            response = api.client.get(
                "/api/v1/tip", headers={"Authorization": f"Bearer {item.value}"}
            )
            if check_api(verdicts, f"GET /tip bearer {item.id}", response) < 400:
                verdicts.fail(f"GET /tip bearer {item.id}: a hostile credential was taken")
            response = api.client.get("/api/v1/tip", headers={"Authorization": item.value})
            check_api(verdicts, f"GET /tip authorization {item.id}", response)
    tried("API POST /session", len(STRINGS))
    tried(
        "API Authorization header",
        2 * len([s for s in STRINGS if s.encodable and not set(s.value) & {"\r", "\n"}]),
    )


def test_reporter_operations(api: Api, bearers: dict[str, str], verdicts: Verdicts) -> None:
    operations = (
        ("/api/v1/tip/messages", "body", bearers["messages"]),
        ("/api/v1/tip/objection", "reason", bearers["objection"]),
        ("/api/v1/reward/decline", "token", bearers["reward"]),
    )
    for item in STRINGS:
        for path, key, bearer in operations:
            with api.undone():
                response = api.post(path, raw_json({}, {key: item}), bearer=bearer)
                status = check_api(verdicts, f"POST {path} {item.id}", response)
                if key == "token" and status < 400:
                    verdicts.fail(f"POST {path} {item.id}: a hostile token was taken")
                if status < 400 and path.endswith("messages"):
                    body = response.get_json()
                    if item.value.strip() and not any(
                        item.value.strip() in m["body"] for m in body["messages"]
                    ):
                        verdicts.fail(f"POST {path} {item.id}: the message came back changed")
        for method in ("bank_transfer", "in_person"):
            with api.undone():
                body = raw_json(
                    {"method": method, "token": bearers["reward_token"]},
                    {"account_name": item, "bank": item, "account_number": item},
                )
                check_api(
                    verdicts,
                    f"POST /reward/claim {method} {item.id}",
                    api.post("/api/v1/reward/claim", body, bearer=bearers["reward"]),
                )
        with api.undone():
            body = raw_json({"account_name": "张三"}, {"method": item, "token": item})
            status = check_api(
                verdicts,
                f"POST /reward/claim method {item.id}",
                api.post("/api/v1/reward/claim", body, bearer=bearers["reward"]),
            )
            if status < 400:
                verdicts.fail(f"POST /reward/claim {item.id}: a hostile claim was taken")
    tried("API POST /tip/messages, /tip/objection, /reward/decline", len(STRINGS) * 3)
    tried("API POST /reward/claim", len(STRINGS) * 8)


def test_facility_search_and_documents(api: Api, verdicts: Verdicts) -> None:
    for item in STRINGS:
        if item.encodable:
            response = api.client.get("/api/v1/facilities", query_string={"q": item.value})
            check_api(verdicts, f"GET /facilities {item.id}", response)
    for path in ("/api/v1/meta", "/api/v1/openapi.json"):
        check_api(verdicts, f"GET {path}", api.client.get(path), allowed=frozenset({200}))
    tried("API GET /facilities?q", len([s for s in STRINGS if s.encodable]))


def _shapes(key: str) -> list[tuple[str, bytes, str]]:
    """(id, body, Content-Type) of JSON bodies hostile in shape, around ``key``."""
    j = "application/json"
    return [
        ("deep-array", deep_json(100_000, key), j),
        (
            "deep-object",
            (f'{{"{key}": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}").encode(),
            j,
        ),
        ("deep-top", b"[" * 200_000 + b"]" * 200_000, j),
        ("nan", f'{{"{key}": NaN, "division": NaN, "facility_id": NaN}}'.encode(), j),
        ("infinity", f'{{"{key}": Infinity, "division": -Infinity}}'.encode(), j),
        ("huge-int", f'{{"{key}": {"9" * 4000}, "division": {"9" * 4000}}}'.encode(), j),
        ("huge-float", f'{{"{key}": 1e999999, "division": 1e400, "facility_id": 2.5}}'.encode(), j),
        ("negative", f'{{"{key}": -1, "division": -1, "facility_id": 0}}'.encode(), j),
        ("bool", f'{{"{key}": true, "division": true, "facility_id": false}}'.encode(), j),
        ("null", f'{{"{key}": null, "division": null}}'.encode(), j),
        ("array", f'{{"{key}": ["a", "b"], "division": [1]}}'.encode(), j),
        ("object", f'{{"{key}": {{"$ne": null}}, "division": {{"$gt": 0}}}}'.encode(), j),
        (
            "duplicate-keys",
            f'{{"{key}": "a", "{key}": "b", "division": 1, "division": 2}}'.encode(),
            j,
        ),
        ("proto", f'{{"__proto__": {{"admin": true}}, "{key}": "x"}}'.encode(), j),
        ("many-keys", json.dumps({f"k{i}": i for i in range(20_000)}).encode(), j),
        ("long-key", json.dumps({"k" * 100_000: 1}).encode(), j),
        ("bom", b"\xef\xbb\xbf" + json.dumps({key: "x"}).encode(), j),
        ("utf-16", json.dumps({key: "消防"}).encode("utf-16"), j),
        ("utf-32", json.dumps({key: "消防"}).encode("utf-32"), j),
        ("invalid-utf8", b'{"' + key.encode() + b'": "\xff\xfe\xc0\x80"}', j),
        ("nul-bytes", b'{"' + key.encode() + b'": "a"}\x00\x00', j),
        ("trailing", json.dumps({key: "x"}).encode() + b" garbage", j),
        ("empty", b"", j),
        ("whitespace", b" \n\t ", j),
        ("scalar", b'"just a string"', j),
        ("number", b"42", j),
        ("unterminated", f'{{"{key}": "abc'.encode(), j),
        ("single-quotes", f"{{'{key}': 'x'}}".encode(), j),
        ("comments", f'{{/* c */ "{key}": "x" // c\n}}'.encode(), j),
        ("charset-latin1", json.dumps({key: "x"}).encode(), "application/json; charset=latin-1"),
        ("charset-bogus", json.dumps({key: "x"}).encode(), "application/json; charset=x-evil"),
        ("vendor-json", json.dumps({key: "x"}).encode(), "application/vnd.api+json"),
        ("text-plain", json.dumps({key: "x"}).encode(), "text/plain"),
        ("form", f"{key}=x".encode(), "application/x-www-form-urlencoded"),
        ("no-type", json.dumps({key: "x"}).encode(), ""),
        (
            "xml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
            "application/xml",
        ),
    ]


def test_json_hostile_in_shape(api: Api, bearers: dict[str, str], verdicts: Verdicts) -> None:
    bearer_for = {
        "/api/v1/tip/messages": bearers["messages"],
        "/api/v1/tip/objection": bearers["objection"],
        "/api/v1/reward/claim": bearers["reward"],
        "/api/v1/reward/decline": bearers["reward"],
    }
    count = 0
    for path, keys in BODIES.items():
        for shape, body, content_type in _shapes(keys[0]):
            with api.undone():
                response = api.post(
                    path, body, bearer=bearer_for.get(path), content_type=content_type
                )
                check_api(verdicts, f"POST {path} {shape}", response)
            count += 1
    tried("API JSON hostile in shape (every operation)", count)
