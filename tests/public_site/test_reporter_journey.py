"""The reporter's whole journey, on the web pages (in both languages) and through the JSON API:
submit with photos → receipt → status → an officer accepts, starts the verification and asks a
question (played through the triage services) → the reporter answers → the officer concludes →
the reporter objects within the window. Then the refusals: an objection after the window, a
second objection, a message on a closed report; a script payload shown escaped; the token in no
header, cookie or log line (issue 4 item 3)."""

from __future__ import annotations

import html
import logging
import re
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from core.keys import services as keys
from intake import services
from intake.models import MessageAuthor, TipState
from tests.conftest import csrf_token
from tests.intake.test_media import CANARIES, identifying_jpeg
from tests.public_site.conftest import (
    Ready,
    enter_token,
    post_tip,
    set_language,
    tip_fields,
    token_of,
)
from tests.public_site.test_api import bearer, tip_json
from tests.triage.conftest import CONCLUSION, World, division_ids
from triage import services as triage

QUESTION = "请问被堵住的是哪一层的消防通道？"
ANSWER = "是二楼东侧的消防通道，堆满了旧床垫。"
OBJECTION = "现场照片显示杂物至今未清理，结论与事实不符。"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'

#: What the pages say, by language (the catalogue's Chinese first).
TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "received": "已收到",
        "verifying": "核查中",
        "concluded": "核查已办结",
        "rechecking": "根据您的异议复核中",
        "confirmed": "属实",
        "question_waits": "办理人员向您提出了一个问题，请在下方回答。",
        "sent": "您的消息已发送。",
        "objected": "您的异议已收到，您的举报将被重新核查。",
        "window_closed": "对该结论提出异议的期限已过。",
        "already_objected": "已经对该结论提出过异议。",
        "closed": "该举报已办结，不能再发送消息。",
        "empty": "请写下您的消息。",
    },
    "en": {
        "received": "Received",
        "verifying": "Being verified",
        "concluded": "Verification concluded",
        "rechecking": "Being checked again after your objection",
        "confirmed": "Confirmed",
        "question_waits": "An officer has asked you a question. Please answer it below.",
        "sent": "Your message was sent.",
        "objected": "Your objection was received. Your report will be checked again.",
        "window_closed": "The time to object to this conclusion has ended.",
        "already_objected": "An objection to this conclusion has already been made.",
        "closed": "This report is closed; no more messages can be sent.",
        "empty": "Write your message.",
    },
}


@pytest.fixture
def world(ready: Ready, make_user: Any) -> World:
    """The triage side of the ready instance: officers made on demand, keys granted by the
    recovery key (as ``tests/triage/conftest.py`` does)."""
    own, other = division_ids(ready.dbs)
    return World(
        ready.dbs,
        ready.clock,
        ready.settings,
        make_user,
        keys.RecoveryAuthority(ready.sheet.private_key),
        own,
        other,
    )


def page_text(response: TestResponse) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def errors_of(response: TestResponse) -> list[str]:
    return re.findall(r'<p class="error-text">([^<]*)</p>', response.get_data(as_text=True))


def status_page(client: FlaskClient) -> TestResponse:
    response = client.get("/status/report")
    assert response.status_code == 200
    return response


def send_reply(client: FlaskClient, body: str) -> TestResponse:
    return client.post(
        "/status/messages",
        data={"csrf_token": csrf_token(client, "/status/report"), "body": body},
    )


def send_objection(client: FlaskClient, reason: str) -> TestResponse:
    return client.post(
        "/status/objection",
        data={"csrf_token": csrf_token(client, "/status/report"), "reason": reason},
    )


def tip_of(ready: Ready, token: str) -> uuid.UUID:
    return services.open_with_token(ready.dbs, ready.settings, token).id


def officer_asks(world: World, tip_id: uuid.UUID, question: str = QUESTION) -> None:
    """The city triage officer accepts, starts the verification and asks a question."""
    triage.accept(*world.args(), tip_id)
    triage.start_verification(*world.args(), tip_id)
    triage.ask_reporter(*world.args(), tip_id, personal_key=world.city.key, body=question)


def officer_concludes(world: World, tip_id: uuid.UUID) -> None:
    triage.conclude(
        *world.args(),
        tip_id,
        personal_key=world.city.key,
        outcome=TipState.SUBSTANTIATED,
        text=CONCLUSION,
    )


def submit_and_enter(client: FlaskClient, ready: Ready) -> tuple[str, uuid.UUID]:
    photos = [(identifying_jpeg(), "IMG_20251127_2130.jpg"), (identifying_jpeg(), "b.jpg")]
    receipt = post_tip(client, tip_fields(ready.division()), photos)
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "no-store"
    token = token_of(receipt)
    assert enter_token(client, token).status_code == 303
    return token, tip_of(ready, token)


# ---------------------------------------------------------------- the web journey


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_whole_journey_on_the_web(
    client: FlaskClient, ready: Ready, world: World, lang: str
) -> None:
    text = TEXTS[lang]
    set_language(client, lang)
    token, tip_id = submit_and_enter(client, ready)
    stored = services.open_with_token(ready.dbs, ready.settings, token)
    assert [a.scrubbed for a in stored.attachments] == [True, True]

    page = page_text(status_page(client))
    assert text["received"] in page
    assert "二楼消防通道被杂物堵死" in page
    assert text["question_waits"] not in page
    assert 'action="/status/objection"' not in status_page(client).get_data(as_text=True)

    officer_asks(world, tip_id)
    response = status_page(client)
    page = page_text(response)
    assert text["verifying"] in page
    assert QUESTION in page
    assert text["question_waits"] in page
    deadline = triage.reporter_status(
        ready.dbs, ready.clock, ready.settings, world.access(tip_id)
    ).deadline
    assert deadline is not None
    assert deadline.isoformat() in page  # the verification's last day

    answered = send_reply(client, "  " + ANSWER + "\n")
    assert answered.status_code == 303
    assert answered.headers["Location"] == "/status/report"
    response = status_page(client)
    page = page_text(response)
    flashes = re.findall(
        r'<p class="notice" role="status">([^<]*)</p>', response.get_data(as_text=True)
    )
    assert flashes == [text["sent"]]  # the flash, which carries no content
    assert page.index(QUESTION) < page.index(ANSWER)
    assert text["question_waits"] not in page
    assert text["sent"] not in page_text(status_page(client))
    thread = triage.reporter_status(
        ready.dbs, ready.clock, ready.settings, world.access(tip_id)
    ).messages
    assert [(m.author, m.body) for m in thread] == [
        (MessageAuthor.OFFICER, QUESTION),
        (MessageAuthor.REPORTER, ANSWER),
    ]

    officer_concludes(world, tip_id)
    response = status_page(client)
    page = page_text(response)
    assert text["concluded"] in page
    assert text["confirmed"] in page
    assert CONCLUSION in page
    assert 'action="/status/objection"' in response.get_data(as_text=True)
    objection_deadline = world.tip(tip_id).objection_due_at
    assert objection_deadline is not None

    ready.clock.advance(days=9)
    assert enter_token(client, token).status_code == 303  # the session had timed out
    objected = send_objection(client, OBJECTION)
    assert objected.status_code == 303
    assert objected.headers["Location"] == "/status/report"
    response = status_page(client)
    page = page_text(response)
    assert text["objected"] in page
    assert OBJECTION not in page  # the objection is stored, not echoed
    assert text["rechecking"] in page
    assert 'action="/status/objection"' not in response.get_data(as_text=True)
    assert world.tip(tip_id).state is TipState.RECHECKING

    again = send_objection(client, OBJECTION)
    assert again.status_code == 409
    assert errors_of(again) == [text["already_objected"]]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_objection_after_the_window_is_refused_clearly(
    client: FlaskClient, ready: Ready, world: World, lang: str
) -> None:
    set_language(client, lang)
    token, tip_id = submit_and_enter(client, ready)
    officer_asks(world, tip_id)
    officer_concludes(world, tip_id)
    ready.clock.advance(days=11)
    enter_token(client, token)
    page = status_page(client).get_data(as_text=True)
    assert 'action="/status/objection"' not in page
    refused = send_objection(client, OBJECTION)
    assert refused.status_code == 409
    assert errors_of(refused) == [TEXTS[lang]["window_closed"]]
    assert OBJECTION in refused.get_data(as_text=True)  # the text is kept in the form
    assert world.tip(tip_id).state is TipState.SUBSTANTIATED
    assert world.tip(tip_id).objection_enc is None


def test_an_objection_before_a_conclusion_is_refused(
    client: FlaskClient, ready: Ready, world: World
) -> None:
    set_language(client, "en")
    _, tip_id = submit_and_enter(client, ready)
    refused = send_objection(client, OBJECTION)
    assert refused.status_code == 409
    assert errors_of(refused) == ["An objection is not possible for this report now."]
    assert world.tip(tip_id).state is TipState.SUBMITTED


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_empty_reply_is_a_form_error_and_nothing_is_stored(
    client: FlaskClient, ready: Ready, world: World, lang: str
) -> None:
    set_language(client, lang)
    _, tip_id = submit_and_enter(client, ready)
    refused = send_reply(client, "   ")
    assert refused.status_code == 400
    assert errors_of(refused) == [TEXTS[lang]["empty"]]
    status = triage.reporter_status(ready.dbs, ready.clock, ready.settings, world.access(tip_id))
    assert status.messages == ()


def test_no_message_on_a_closed_report(client: FlaskClient, ready: Ready, world: World) -> None:
    set_language(client, "en")
    token, tip_id = submit_and_enter(client, ready)
    world.drive(tip_id, TipState.CLOSED)
    enter_token(client, token)
    page = status_page(client).get_data(as_text=True)
    assert 'action="/status/messages"' not in page
    refused = send_reply(client, ANSWER)
    assert refused.status_code == 409
    assert errors_of(refused) == [TEXTS["en"]["closed"]]


def test_not_accepted_and_duplicate_texts(client: FlaskClient, ready: Ready, world: World) -> None:
    set_language(client, "en")
    _, tip_id = submit_and_enter(client, ready)
    world.drive(tip_id, TipState.NOT_ACCEPTED)
    page = page_text(status_page(client))
    assert "Not accepted" in page
    assert "It is outside this bureau's remit." in page
    assert "不属于民政部门职责。" in page  # the officer's text

    client.post("/status/logout", data={"csrf_token": csrf_token(client, "/status/report")})
    _, second = submit_and_enter(client, ready)
    world.drive(second, TipState.DUPLICATE)
    page = page_text(status_page(client))
    assert "Already being handled" in page
    assert "The matter you reported is already being handled under an earlier report." in page


def test_an_extension_and_its_reason_are_shown(
    client: FlaskClient, ready: Ready, world: World
) -> None:
    set_language(client, "en")
    _, tip_id = submit_and_enter(client, ready)
    world.drive(tip_id, TipState.VERIFYING)
    triage.extend_verification(
        *world.args(), tip_id, personal_key=world.city.key, days=20, reason="需要现场复测。"
    )
    page = page_text(status_page(client))
    assert "by 20 days" in page
    assert "需要现场复测。" in page


def test_a_script_in_a_reply_is_shown_escaped(
    client: FlaskClient, ready: Ready, world: World
) -> None:
    _, tip_id = submit_and_enter(client, ready)
    officer_asks(world, tip_id, question=SCRIPT)
    assert send_reply(client, SCRIPT).status_code == 303
    raw = status_page(client).get_data(as_text=True)
    assert "<script>" not in raw
    assert "<img src=x" not in raw
    assert raw.count(str(escape(SCRIPT))) == 2  # the question and the answer


def test_the_reward_area_is_absent_while_there_is_no_offer(
    client: FlaskClient, ready: Ready
) -> None:
    set_language(client, "en")
    submit_and_enter(client, ready)
    page = status_page(client).get_data(as_text=True).lower()
    assert "reward" not in page


def test_messages_and_objections_need_a_session(client: FlaskClient, ready: Ready) -> None:
    for path, field in (("/status/messages", "body"), ("/status/objection", "reason")):
        response = client.post(path, data={"csrf_token": csrf_token(client, "/status"), field: "x"})
        assert response.status_code == 303
        assert response.headers["Location"] == "/status"


def test_messages_are_rate_limited(limited_client: FlaskClient, ready: Ready) -> None:
    from public_site import limits

    limiter_of_app = limited_client.application.extensions["qingling.limiter"]
    limiter_of_app.enabled = False
    token = token_of(post_tip(limited_client, tip_fields(ready.division())))
    enter_token(limited_client, token)
    limiter_of_app.enabled = True
    allowed = int(limits.MESSAGES.split()[0])
    codes = [send_reply(limited_client, f"补充 {n}").status_code for n in range(allowed + 1)]
    assert codes == [303] * allowed + [429]
    assert limits.ROUTE_LIMITS["reporter.object_to_conclusion"][0].limit == limits.MESSAGES
    assert limits.ROUTE_LIMITS["api.send_message"][0].limit == limits.MESSAGES
    assert limits.ROUTE_LIMITS["api.object_to_conclusion"][0].limit == limits.MESSAGES


# ---------------------------------------------------------------- the API journey


def test_the_whole_journey_through_the_api(
    client: FlaskClient, ready: Ready, world: World, dbs: Session
) -> None:
    import io
    import json

    body = {
        "tip": (io.BytesIO(json.dumps(tip_json(ready.division())).encode()), "tip.json"),
        "files": [(io.BytesIO(identifying_jpeg()), "IMG_0001.jpg")],
    }
    created = client.post("/api/v1/tips", data=body, content_type="multipart/form-data")
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["token"]
    tip_id = tip_of(ready, token)
    auth = bearer(client, token)

    tip = client.get("/api/v1/tip", headers=auth).get_json()
    assert (tip["state"], tip["can_object"], tip["messages"]) == ("received", False, [])
    assert tip["state_label"] == {"zh_CN": "已收到", "en": "Received"}
    assert tip["deadline"] is None

    officer_asks(world, tip_id)
    tip = client.get("/api/v1/tip", headers=auth).get_json()
    assert tip["state"] == "verifying"
    assert tip["awaiting_reply"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", tip["deadline"])
    assert [(m["author"], m["body"]) for m in tip["messages"]] == [("officer", QUESTION)]

    sent = client.post("/api/v1/tip/messages", headers=auth, json={"body": ANSWER})
    assert sent.status_code == 201
    assert sent.headers["Location"] == "/api/v1/tip"
    assert sent.get_json()["awaiting_reply"] is False
    assert [m["body"] for m in sent.get_json()["messages"]] == [QUESTION, ANSWER]

    officer_concludes(world, tip_id)
    tip = client.get("/api/v1/tip", headers=auth).get_json()
    assert (tip["state"], tip["outcome"], tip["conclusion_text"]) == (
        "concluded",
        "substantiated",
        CONCLUSION,
    )
    assert tip["can_object"] is True
    assert tip["objection_deadline"] is not None

    objected = client.post("/api/v1/tip/objection", headers=auth, json={"reason": OBJECTION})
    assert objected.status_code == 204
    assert objected.get_data() == b""
    tip = client.get("/api/v1/tip", headers=auth).get_json()
    assert (tip["state"], tip["can_object"]) == ("rechecking", False)
    assert tip["objected_on"] is not None
    assert world.tip(tip_id).state is TipState.RECHECKING

    again = client.post("/api/v1/tip/objection", headers=auth, json={"reason": OBJECTION})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"]
    assert "Set-Cookie" not in again.headers


def test_api_objection_after_the_window_is_a_409_with_a_clear_message(
    client: FlaskClient, ready: Ready, world: World
) -> None:
    token = client.post("/api/v1/tips", json=tip_json(ready.division())).get_json()["token"]
    tip_id = tip_of(ready, token)
    officer_asks(world, tip_id)
    officer_concludes(world, tip_id)
    ready.clock.advance(days=11)
    auth = bearer(client, token)
    refused = client.post("/api/v1/tip/objection", headers=auth, json={"reason": OBJECTION})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == TEXTS["zh_CN"]["window_closed"]
    assert world.tip(tip_id).state is TipState.SUBSTANTIATED


@pytest.mark.parametrize(
    ("path", "payload", "status", "field"),
    [
        ("/api/v1/tip/messages", {"body": "   "}, 422, "body"),
        ("/api/v1/tip/messages", {"body": "x" * 10_001}, 422, "body"),
        ("/api/v1/tip/messages", {"body": "a\x00b"}, 422, "body"),
        ("/api/v1/tip/messages", {"body": 5}, 422, "body"),
        ("/api/v1/tip/messages", {"body": "ok", "extra": 1}, 422, "extra"),
        ("/api/v1/tip/messages", {}, 422, "body"),
        ("/api/v1/tip/objection", {"reason": 5}, 422, "reason"),
        ("/api/v1/tip/objection", {"reason": "no conclusion yet"}, 409, None),
    ],
)
def test_api_bad_messages_and_objections(  # noqa: PLR0917 - fixtures and parameters
    client: FlaskClient,
    ready: Ready,
    world: World,
    path: str,
    payload: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    token = client.post("/api/v1/tips", json=tip_json(ready.division())).get_json()["token"]
    tip_id = tip_of(ready, token)
    response = client.post(path, headers=bearer(client, token), json=payload)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    if field is not None:
        assert field in error["fields"]
    access = world.access(tip_id)
    assert triage.reporter_status(ready.dbs, ready.clock, ready.settings, access).messages == ()


def test_api_messages_need_the_bearer_not_the_cookie(client: FlaskClient, ready: Ready) -> None:
    token = token_of(post_tip(client, tip_fields(ready.division())))
    enter_token(client, token)  # a web session cookie in this client
    for path, key in (("/api/v1/tip/messages", "body"), ("/api/v1/tip/objection", "reason")):
        response = client.post(path, json={key: ANSWER})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = client.post(path, headers={"Authorization": "Bearer nope"}, json={key: "x"})
        assert wrong.status_code == 401


# ---------------------------------------------------------------- the token stays out


def test_the_token_reaches_no_header_cookie_or_log(
    client: FlaskClient, ready: Ready, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[TestResponse] = []
    set_language(client, "en")
    receipt = post_tip(client, tip_fields(ready.division()), [(identifying_jpeg(), "a.jpg")])
    token = token_of(receipt)
    responses.append(receipt)
    responses.append(enter_token(client, token))
    tip_id = tip_of(ready, token)
    officer_asks(world, tip_id)
    responses.append(status_page(client))
    responses.append(send_reply(client, ANSWER))
    responses.append(status_page(client))
    officer_concludes(world, tip_id)
    responses.append(send_objection(client, OBJECTION))
    responses.append(status_page(client))
    api_token = client.post("/api/v1/tips", json=tip_json(ready.division())).get_json()["token"]
    auth = bearer(client, api_token)
    responses.append(client.post("/api/v1/tip/messages", headers=auth, json={"body": ANSWER}))
    responses.append(client.get("/api/v1/tip", headers=auth))

    forms = {token, token.replace("-", ""), api_token, api_token.replace("-", "")}
    for response in responses:
        for name, value in response.headers.items():
            for form in forms:
                assert form not in value, f"token in the {name} header"
    for cookie in client._cookies.values():
        for form in forms:
            assert form not in cookie.value
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for secret in (*forms, ANSWER, OBJECTION, auth["Authorization"].split()[1]):
        assert secret not in logged
    assert all(CANARIES[0] not in r.get_data() for r in responses)
