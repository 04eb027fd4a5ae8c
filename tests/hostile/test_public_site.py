"""The hostile corpus through every public form: the tip form (every text field, the choices,
the facility search, file names, file contents, malformed multipart), the token file, token
entry, the reporter's messages and objection, replacing the token, the reward claim and
decline, and the language switch. Every answer is a success or a clear 4xx, never a 500, and
no page carries injected markup (the conftest's :class:`Verdicts`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from intake.models import TipState
from public_site.limits import limiter_of
from registry.services import load_demo_facilities
from rewards.models import RewardState
from tests.conftest import csrf_token
from tests.hostile import corpus
from tests.hostile.conftest import Verdicts, undone
from tests.hostile.corpus import FILE_NAMES, STRINGS, multipart, tried
from tests.rewards.conftest import RewardWorld
from tests.triage.conftest import World, world

__all__ = ["world"]

TEXT_FIELDS = ("location", "facility_name", "observed_when", "contact", "real_name")
CHOICE_FIELDS = ("category", "division", "facility_id", "relationship")
#: Enough words for the description's minimum length, before the payload.
PREFIX = "二楼消防通道被杂物堵死。"


@dataclass
class Public:
    app: Flask
    rw: RewardWorld
    connection: Any

    @property
    def dbs(self) -> Session:
        return self.rw.w.dbs

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def reporter(self, tip_id: uuid.UUID) -> FlaskClient:
        """A client with a reporter session for ``tip_id``."""
        client = self.client()
        response = client.post(
            "/status",
            data={"csrf_token": csrf_token(client, "/status"), "token": self.rw.tokens[tip_id]},
        )
        assert response.status_code == 303, response.status_code
        return client

    def undone(self) -> Any:
        return undone(self.connection, self.dbs)


@pytest.fixture
def public(public_app: Flask, world: World, connection: Any) -> Public:
    from core.audit.services import SYSTEM_ACTOR

    load_demo_facilities(world.dbs, world.clock, SYSTEM_ACTOR)
    world.dbs.flush()
    limiter_of(public_app).enabled = False
    return Public(public_app, RewardWorld(world), connection)


def encoded(fields: list[tuple[str, bytes]]) -> bytes:
    """An ``application/x-www-form-urlencoded`` body of raw bytes (lone surrogates and all)."""
    return b"&".join(
        quote_from_bytes(name.encode()).encode() + b"=" + quote_from_bytes(value).encode()
        for name, value in fields
    )


def post_form(client: FlaskClient, path: str, fields: list[tuple[str, bytes]]) -> TestResponse:
    return client.post(path, data=encoded(fields), content_type="application/x-www-form-urlencoded")


def post_multipart(
    client: FlaskClient,
    path: str,
    fields: list[tuple[str, bytes]],
    files: list[tuple[str, bytes, bytes]] = (),  # type: ignore[assignment]
) -> TestResponse:
    return client.post(
        path,
        data=multipart(fields, files),
        content_type="multipart/form-data; boundary=qingling-hostile",
    )


def tip_form(token: str, division: int, /, **changes: bytes) -> list[tuple[str, bytes]]:
    values = {
        "csrf_token": token.encode(),
        "description": PREFIX.encode(),
        "category": b"fire",
        "division": str(division).encode(),
        "facility_id": b"",
        "facility_name": "无名托老所".encode(),
        "location": "后门旁".encode(),
        "observed_when": "上周三".encode(),
        "relationship": b"employee",
        "contact": b"",
        "real_name": b"",
    }
    values.update(changes)
    return list(values.items())


def follow(client: FlaskClient, response: TestResponse) -> TestResponse | None:
    location = response.headers.get("Location")
    if response.status_code in {302, 303} and location and location.startswith("/"):
        return client.get(location)
    return None


# ---------------------------------------------------------------- the tip form


def test_every_text_field_of_the_tip_form(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    division = public.rw.w.own
    for item in STRINGS:
        # Every text field carries the payload at once; the description after enough words.
        fields = tip_form(
            token,
            division,
            description=PREFIX.encode() + item.utf8,
            **dict.fromkeys(TEXT_FIELDS, item.utf8),
        )
        with public.undone():
            verdicts.check(f"tip form text {item.id}", post_multipart(client, "/report", fields))
        # The payload alone as the description (too short, too long, only spaces, …).
        with public.undone():
            verdicts.check(
                f"tip form description {item.id}",
                post_multipart(client, "/report", tip_form(token, division, description=item.utf8)),
            )
    tried("public tip form: text fields", len(STRINGS) * (len(TEXT_FIELDS) + 2))


def test_the_choices_and_the_honeypot_of_the_tip_form(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    for item in STRINGS:
        fields = tip_form(token, public.rw.w.own, **dict.fromkeys(CHOICE_FIELDS, item.utf8))
        status = verdicts.check(
            f"tip form choices {item.id}", post_multipart(client, "/report", fields)
        )
        if item.value.strip() and status < 400:
            verdicts.fail(f"tip form choices {item.id}: a hostile choice was taken ({status})")
        with public.undone():
            honeypot = tip_form(token, public.rw.w.own, extra_notes_2=item.utf8)
            verdicts.check(
                f"tip form honeypot {item.id}", post_multipart(client, "/report", honeypot)
            )
    tried("public tip form: choices and honeypot", len(STRINGS) * (len(CHOICE_FIELDS) + 1))


def test_the_facility_search(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    for item in STRINGS:
        fields = tip_form(token, public.rw.w.own, facility_query=item.utf8)
        verdicts.check(f"facility search {item.id}", post_form(client, "/report/search", fields))
    tried("public facility search", len(STRINGS))


def test_hostile_file_names(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    png = next(f for f in corpus.files() if f.id == "png-ok").data
    for item in (*FILE_NAMES, *STRINGS):
        if not item.value:
            continue  # a part without a file name is an empty file input, not a file
        fields = tip_form(token, public.rw.w.own)
        with public.undone():
            response = post_multipart(client, "/report", fields, [("files", item.utf8, png)])
            verdicts.check(f"file name {item.id}", response)
    tried("public tip form: file names", len(FILE_NAMES) + len([s for s in STRINGS if s.value]))


def test_hostile_files(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    for item in corpus.files():
        fields = tip_form(token, public.rw.w.own)
        with public.undone():
            response = post_multipart(
                client, "/report", fields, [("files", item.name.encode(), item.data)]
            )
            if item.data == b"":
                # An empty part with a name is what a browser sends for an empty file.
                verdicts.check(f"file {item.id}", response)
                continue
            if item.accepted:
                verdicts.check(f"file {item.id}", response, allowed=frozenset({200}))
                if 'id="token"' not in response.get_data(as_text=True):
                    verdicts.fail(f"file {item.id}: accepted without a receipt")
            else:
                assert isinstance(item.expect, frozenset)
                verdicts.check(f"file {item.id}", response, allowed=item.expect)
    tried("public tip form: files", len(corpus.files()))


def test_malformed_multipart(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/report")
    fields = tip_form(token, public.rw.w.own)
    count = 0
    for name, content_type, body in corpus.malformed_multipart(fields):
        with public.undone():
            response = client.post("/report", data=body, content_type=content_type)
            verdicts.check(f"multipart {name}", response)
        count += 1
    tried("public tip form: malformed multipart", count)


# ---------------------------------------------------------------- tokens


def test_token_entry_replacement_and_the_token_file(public: Public, verdicts: Verdicts) -> None:
    tip_id = public.rw.submit()
    client = public.client()
    token = csrf_token(client, "/status")
    reporter = public.reporter(tip_id)
    reporter_token = csrf_token(reporter, "/status/token")
    for item in STRINGS:
        response = post_form(
            client, "/status", [("csrf_token", token.encode()), ("token", item.utf8)]
        )
        if verdicts.check(f"token entry {item.id}", response) < 400:
            verdicts.fail(f"token entry {item.id}: a hostile token opened a session")
        response = post_form(
            client, "/report/token.txt", [("csrf_token", token.encode()), ("token", item.utf8)]
        )
        status = verdicts.check(f"token file {item.id}", response)
        if status == 200 and item.id not in {"confusable-token", "confusable-fullwidth-token"}:
            verdicts.fail(f"token file {item.id}: a hostile text made a token file")
        if "\r" in response.headers.get("Content-Disposition", "") + "\n".join(
            response.headers.keys()
        ):
            verdicts.fail(f"token file {item.id}: a header was injected")
        with public.undone():
            response = post_form(
                reporter,
                "/status/token",
                [("csrf_token", reporter_token.encode()), ("token", item.utf8)],
            )
            if verdicts.check(f"token replacement {item.id}", response) < 400:
                verdicts.fail(f"token replacement {item.id}: replaced with a hostile token")
    tried("public token entry, token file, token replacement", len(STRINGS) * 3)


# ---------------------------------------------------------------- the reporter's texts


def _reporter_texts(
    public: Public, verdicts: Verdicts, tip_id: uuid.UUID, path: str, field_name: str
) -> None:
    reporter = public.reporter(tip_id)
    token = csrf_token(reporter, "/status/report")
    for item in STRINGS:
        with public.undone():
            response = post_form(
                reporter, path, [("csrf_token", token.encode()), (field_name, item.utf8)]
            )
            verdicts.check(f"{path} {item.id}", response)
            shown = follow(reporter, response)
            if shown is not None:
                verdicts.check(f"{path} {item.id}, the status page after", shown)


def test_reporter_messages(public: Public, verdicts: Verdicts) -> None:
    tip_id = public.rw.submit()
    _reporter_texts(public, verdicts, tip_id, "/status/messages", "body")
    tried("public reporter message", len(STRINGS))


def test_reporter_objection(public: Public, verdicts: Verdicts) -> None:
    tip_id = public.rw.concluded(TipState.UNSUBSTANTIATED)
    _reporter_texts(public, verdicts, tip_id, "/status/objection", "reason")
    tried("public reporter objection", len(STRINGS))


# ---------------------------------------------------------------- rewards


@pytest.fixture
def offered(public: Public) -> tuple[FlaskClient, str]:
    tip_id, _ = public.rw.to_state(RewardState.OFFERED)
    return public.reporter(tip_id), public.rw.tokens[tip_id]


def test_reward_claim(public: Public, offered: tuple[FlaskClient, str], verdicts: Verdicts) -> None:
    reporter, token = offered
    csrf = csrf_token(reporter, "/reward/claim").encode()
    for item in STRINGS:
        for method in (b"bank_transfer", b"in_person"):
            with public.undone():
                fields = [
                    ("csrf_token", csrf),
                    ("method", method),
                    ("account_name", item.utf8),
                    ("bank", item.utf8),
                    ("account_number", item.utf8),
                    ("token", token.encode()),
                ]
                verdicts.check(
                    f"claim {method!r} {item.id}", post_form(reporter, "/reward/claim", fields)
                )
        with public.undone():
            fields = [
                ("csrf_token", csrf),
                ("method", item.utf8),
                ("account_name", "张三".encode()),
                ("token", item.utf8),
            ]
            response = post_form(reporter, "/reward/claim", fields)
            if verdicts.check(f"claim method/token {item.id}", response) < 400:
                verdicts.fail(f"claim method/token {item.id}: a hostile claim was taken")
    tried("public reward claim", len(STRINGS) * 5)


def test_reward_decline(
    public: Public, offered: tuple[FlaskClient, str], verdicts: Verdicts
) -> None:
    reporter, _ = offered
    csrf = csrf_token(reporter, "/reward/decline").encode()
    for item in STRINGS:
        with public.undone():
            fields = [("csrf_token", csrf), ("confirm", item.utf8), ("token", item.utf8)]
            response = post_form(reporter, "/reward/decline", fields)
            if verdicts.check(f"decline {item.id}", response) < 400:
                verdicts.fail(f"decline {item.id}: declined with a hostile token")
    tried("public reward decline", len(STRINGS) * 2)


# ---------------------------------------------------------------- the rest


def test_language_switch_and_the_wechat_consent_page(public: Public, verdicts: Verdicts) -> None:
    client = public.client()
    token = csrf_token(client, "/").encode()
    for item in STRINGS:
        response = post_form(
            client, "/language", [("csrf_token", token), ("lang", item.utf8), ("next", item.utf8)]
        )
        verdicts.check(f"language {item.id}", response)
        location = response.headers.get("Location", "")
        if (location and not location.startswith("/")) or location.startswith("//"):
            verdicts.fail(f"language {item.id}: redirected off the site to {location[:60]!r}")
        if any(ch in location for ch in "\r\n"):
            verdicts.fail(f"language {item.id}: a header was injected")
        if item.encodable:
            verdicts.check(
                f"wechat consent {item.id}",
                client.get(
                    "/wechat/subscribed",
                    query_string=dict.fromkeys(
                        ("reserved", "openid", "action", "scene", "template_id"), item.value
                    ),
                ),
                empty_4xx=True,
            )
    tried("public language switch (lang, next)", len(STRINGS) * 2)
    tried("public WeChat consent page (query string)", len([s for s in STRINGS if s.encodable]))
