"""Token entry, the reporter session, the status page, replacing the token, logout, and the
rate limits (issue 4 items 2, 3 and 6)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import tokens
from intake import services
from intake.models import ReporterSession
from tests.conftest import csrf_token
from tests.public_site.conftest import (
    Ready,
    count_rows,
    enter_token,
    post_tip,
    set_language,
    tip_fields,
    token_of,
)


@pytest.fixture
def token(client: FlaskClient, ready: Ready) -> str:
    return token_of(post_tip(client, tip_fields(ready.division())))


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts token derivations (the expensive KDF)."""
    calls: list[int] = []
    real = tokens.derive_token_secret

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens, "derive_token_secret", counting)
    return calls


@pytest.mark.parametrize(("lang", "state"), [("zh_CN", "已收到"), ("en", "Received")])
def test_token_entry_opens_the_status_page(
    client: FlaskClient, token: str, lang: str, state: str
) -> None:
    set_language(client, lang)
    response = enter_token(client, token.lower().replace("-", " "))
    assert response.status_code == 303
    assert response.headers["Location"] == "/status/report"
    for value in response.headers.getlist("Set-Cookie"):
        assert token not in value
        assert token.replace("-", "") not in value
    page = client.get("/status/report")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert state in text
    assert "二楼消防通道被杂物堵死" in text
    assert page.headers["Cache-Control"] == "no-store"


def test_a_wrong_token_gets_the_same_answer_after_the_same_work(
    client: FlaskClient, token: str, ready: Ready, dbs: Session, derivations: list[int]
) -> None:
    set_language(client, "en")
    never_issued = tokens.generate_token().display
    answers = []
    for attempt in (never_issued, tokens.generate_token().display):
        derivations.clear()
        response = enter_token(client, attempt)
        answers.append((response.status_code, _errors(response.get_data(as_text=True))))
        assert derivations == [1]  # the KDF ran although no tip has this token
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    assert "No report matches this tracking token." in answers[0][1]
    assert count_rows(dbs)["reporter_sessions"] == 0
    # A typo is caught by the check symbol, before any derivation.
    derivations.clear()
    typo = token[:-1] + ("0" if token[-1] != "0" else "1")
    response = enter_token(client, typo)
    assert response.status_code == 400
    assert derivations == []
    # The real token works, with one derivation.
    assert enter_token(client, token).status_code == 303
    assert derivations == [1]


def _errors(page: str) -> list[str]:
    import re

    return re.findall(r'<p class="error-text">([^<]*)</p>', page)


def test_the_session_holds_no_token_and_no_key_in_the_clear(
    client: FlaskClient, token: str, dbs: Session
) -> None:
    enter_token(client, token)
    with client.session_transaction() as flask_session:
        value = flask_session["rs"]
    row = dbs.scalar(select(ReporterSession))
    assert row is not None
    assert row.value_hash == services.session_value_hash(value)
    access = services.unlock_with_token(
        dbs, client.application.extensions["qingling.settings"], token
    )
    assert access.data_key not in row.data_key_enc


def test_the_session_ends_after_20_idle_minutes(
    client: FlaskClient, token: str, ready: Ready, dbs: Session
) -> None:
    enter_token(client, token)
    ready.clock.advance(minutes=19)
    assert client.get("/status/report").status_code == 200  # and the deadline moves on
    ready.clock.advance(minutes=19)
    assert client.get("/status/report").status_code == 200
    ready.clock.advance(minutes=21)
    response = client.get("/status/report")
    assert response.status_code == 303
    assert response.headers["Location"] == "/status"
    assert count_rows(dbs)["reporter_sessions"] == 0


def test_logout_deletes_the_session(client: FlaskClient, token: str, dbs: Session) -> None:
    enter_token(client, token)
    assert count_rows(dbs)["reporter_sessions"] == 1
    response = client.post(
        "/status/logout", data={"csrf_token": csrf_token(client, "/status/report")}
    )
    assert response.status_code == 303
    assert count_rows(dbs)["reporter_sessions"] == 0
    assert client.get("/status/report").status_code == 303


def test_replacing_the_token(client: FlaskClient, token: str, ready: Ready, dbs: Session) -> None:
    enter_token(client, token)
    page = client.get("/status/token")
    assert page.status_code == 200
    response = client.post(
        "/status/token", data={"csrf_token": csrf_token(client, "/status/token"), "token": token}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new = token_of(response)
    assert new != token
    with pytest.raises(services.errors.UnknownToken):
        services.open_with_token(dbs, ready.settings, token)
    assert services.open_with_token(dbs, ready.settings, new).content.description
    # Another tip's token cannot be used to replace this one.
    other = token_of(post_tip(client, tip_fields(ready.division())))
    refused = client.post(
        "/status/token", data={"csrf_token": csrf_token(client, "/status/token"), "token": other}
    )
    assert refused.status_code == 400
    assert services.open_with_token(dbs, ready.settings, other)


def test_status_without_a_session_goes_to_token_entry(client: FlaskClient) -> None:
    assert client.get("/status/report").status_code == 303
    assert client.get("/status/token").status_code == 303


def test_token_entry_is_rate_limited_with_retry_after(
    limited_client: FlaskClient, ready: Ready
) -> None:
    set_language(limited_client, "en")
    statuses = [enter_token(limited_client, tokens.generate_token().display) for _ in range(11)]
    assert [r.status_code for r in statuses[:10]] == [404] * 10
    refused = statuses[10]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "Too many requests" in refused.get_data(as_text=True)


def test_token_entry_has_an_overall_limit(
    limited_client: FlaskClient, ready: Ready, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many addresses together hit the overall limit (each one stays under its own)."""
    from public_site import limits

    app = limited_client.application
    counter = iter(range(10_000))
    monkeypatch.setattr(limits, "anonymous_key", lambda *_: f"address-{next(counter)}")
    limit = int(limits.TOKEN_ENTRIES_OVERALL.split()[0])
    client = app.test_client()
    form = {"csrf_token": csrf_token(client, "/status"), "token": "x"}
    codes = [client.post("/status", data=form).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [400] * limit
    assert codes[limit] == 429


def test_submissions_are_rate_limited(limited_client: FlaskClient, ready: Ready) -> None:
    fields = tip_fields(ready.division(), description="")
    codes = [post_tip(limited_client, fields).status_code for _ in range(6)]
    assert codes == [400] * 5 + [429]
