"""Staff login through real forms: password, TOTP, enrolment, throttling, replay, logout."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.clock import FakeClock
from core.settings import Settings
from crypto import totp
from tests.conftest import DEFAULT_PASSWORD, csrf_token


def english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


@pytest.fixture
def client(staff_client: FlaskClient) -> FlaskClient:
    return english(staff_client)


def post_login(client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )


def post_code(client: FlaskClient, path: str, code: str) -> Any:
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, path)})


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_anonymous_visitor_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert 'id="login-form"' in text(page)
    assert 'name="username"' in text(page)


def test_login_with_password_then_totp(
    client: FlaskClient,
    make_user: Any,
    dbs: Session,
    clock: FakeClock,
    settings: Settings,
) -> None:
    user: User = make_user("wang.li", Role.TRIAGE_OFFICER)
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    dbs.flush()
    response = post_login(client, "wang.li")
    assert response.status_code == 303
    assert "/login/totp" in response.headers["Location"]
    # The pending session does not open staff pages.
    assert client.get("/").status_code == 302
    with client.session_transaction() as flask_session:
        pending_value = flask_session["sid"]

    code = totp.code_at(totp.from_base32(secret), clock.now())
    response = post_code(client, "/login/totp", code)
    assert response.status_code == 303
    # No recovery code yet: the recovery-code page comes first, then where the user was going.
    assert response.headers["Location"] == "/account/recovery-code?next=/"
    with client.session_transaction() as flask_session:
        assert flask_session["sid"] != pending_value  # renewed after the second factor
    home = client.get("/")
    assert home.status_code == 200
    assert "Wang.Li" in text(home)


def test_wrong_password_same_message_as_unknown_user(client: FlaskClient, make_user: Any) -> None:
    make_user("wang.li")
    wrong = post_login(client, "wang.li", "not the password 12")
    unknown = post_login(client, "no.such.user")
    assert wrong.status_code == unknown.status_code == 401
    message = "The user name or password is wrong."
    assert message in text(wrong)
    assert message in text(unknown)
    assert 'id="login-error"' in text(wrong)
    with client.session_transaction() as flask_session:
        assert "sid" not in flask_session


def test_throttling_message(client: FlaskClient, make_user: Any, settings: Settings) -> None:
    make_user("wang.li")
    for _ in range(settings.login_max_failures):
        assert post_login(client, "wang.li", "not the password 12").status_code == 401
    locked = post_login(client, "wang.li")  # the right password, too late
    assert locked.status_code == 429
    assert re.search(r"Try again in \d+ minutes", text(locked))


def test_failures_are_committed_by_the_request(
    client: FlaskClient, make_user: Any, dbs: Session, settings: Settings
) -> None:
    """A failed login's throttling rows survive the request (it answers 401, not an error)."""
    from sqlalchemy import func, select

    from core.accounts.models import LoginFailure

    make_user("wang.li")
    post_login(client, "wang.li", "not the password 12")
    assert dbs.scalar(select(func.count()).select_from(LoginFailure)) == 2


def test_enrolment_flow(client: FlaskClient, make_user: Any, clock: FakeClock) -> None:
    make_user("wang.li", Role.AUDITOR)
    response = post_login(client, "wang.li")
    assert response.status_code == 303
    assert "/login/enrol" in response.headers["Location"]
    # The TOTP page sends a user without an app to enrolment.
    assert "/login/enrol" in client.get("/login/totp").headers["Location"]
    page = text(client.get("/login/enrol"))
    assert re.search(r'id="totp-qr"><svg ', page)
    assert "data:" not in page
    assert "<script" not in page
    assert "style=" not in page
    match = re.search(r'id="totp-secret">([A-Z2-7]{32})<', page)
    assert match
    secret = match.group(1)
    assert secret in text(client.get("/login/enrol"))  # the same seed on reload

    wrong = post_code(client, "/login/enrol", "12345")
    assert wrong.status_code == 401
    assert 'id="enrol-error"' in text(wrong)
    code = totp.code_at(totp.from_base32(secret), clock.now())
    response = post_code(client, "/login/enrol", code)
    assert response.status_code == 303
    assert client.get("/").status_code == 200
    assert client.get("/login/enrol").status_code == 302  # nothing pending any more


def test_replayed_code_is_refused(
    client: FlaskClient,
    make_user: Any,
    dbs: Session,
    clock: FakeClock,
    settings: Settings,
) -> None:
    user = make_user("wang.li")
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    dbs.flush()
    code = totp.code_at(totp.from_base32(secret), clock.now())
    post_login(client, "wang.li")
    assert post_code(client, "/login/totp", code).status_code == 303

    other = english(client.application.test_client())
    post_login(other, "wang.li")
    replay = post_code(other, "/login/totp", code)
    assert replay.status_code == 401
    assert "This code has already been used" in text(replay)
    assert other.get("/").status_code == 302


def test_logout_ends_every_session(
    client: FlaskClient, staff_app: Flask, make_user: Any, login: Any
) -> None:
    user = make_user("wang.li", totp=True)
    login(client, user)
    second = login(english(staff_app.test_client()), user)
    assert client.get("/").status_code == 200
    assert second.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert second.get("/").status_code == 302
    assert "You are logged out." in text(client.get("/login"))


def test_logout_needs_the_csrf_token(client: FlaskClient, make_user: Any, login: Any) -> None:
    login(client, make_user("wang.li", totp=True))
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_must_change_password_then_change_it(
    client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    user = make_user("wang.li", totp=True)
    user.must_change_password = True
    login(client, user)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    page = text(client.get("/account"))
    assert 'id="suggested-passphrase"' in page
    assert 'id="must-change"' in page

    token = csrf_token(client, "/account")
    weak = client.post(
        "/account",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": "password1234",
            "confirm_password": "password1234",
            "csrf_token": token,
        },
    )
    assert weak.status_code == 400
    assert "too common" in text(weak)
    wrong = client.post(
        "/account",
        data={
            "current_password": "not it at all 12",
            "new_password": "a much better phrase 93",
            "confirm_password": "a much better phrase 93",
            "csrf_token": token,
        },
    )
    assert wrong.status_code == 400
    assert "Your current password is wrong." in text(wrong)
    done = client.post(
        "/account",
        data={
            "current_password": DEFAULT_PASSWORD,
            "new_password": "a much better phrase 93",
            "confirm_password": "a much better phrase 93",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    assert client.get("/").status_code == 200
    dbs.refresh(user)
    assert not user.must_change_password


def test_idle_session_leads_back_to_login(
    client: FlaskClient, make_user: Any, login: Any, clock: FakeClock, settings: Settings
) -> None:
    login(client, make_user("wang.li", totp=True))
    assert client.get("/").status_code == 200
    clock.advance(minutes=settings.session_idle_minutes + 1)
    assert client.get("/").status_code == 302


def test_cancelling_a_pending_login_keeps_other_sessions(
    client: FlaskClient, make_user: Any, login: Any
) -> None:
    """Knowing the password alone does not let anyone log the user out elsewhere."""
    user = make_user("wang.li", totp=True)
    logged_in = login(english(client.application.test_client()), user)
    post_login(client, "wang.li")
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/login/totp")})
    assert response.status_code == 303
    assert client.get("/login/totp").status_code == 302
    assert logged_in.get("/").status_code == 200


def test_address_throttling_honours_the_trusted_proxy(
    settings: Settings, session_factory: Any, clock: FakeClock, make_user: Any
) -> None:
    import staff_site

    app = staff_site.create_app(
        settings.with_changes(proxy_count=1), session_factory=session_factory, clock=clock
    )
    client = english(app.test_client())
    make_user("wang.li")
    make_user("li.na")

    def attempt(username: str, forwarded_for: str, password: str) -> int:
        token = csrf_token(client, "/login")
        return int(
            client.post(
                "/login",
                data={"username": username, "password": password, "csrf_token": token},
                headers={"X-Forwarded-For": forwarded_for},
            ).status_code
        )

    for i in range(settings.login_max_failures):
        assert attempt(f"guess{i}", "192.0.2.10", "not the password 12") == 401
    assert attempt("wang.li", "192.0.2.10", DEFAULT_PASSWORD) == 429
    assert attempt("li.na", "192.0.2.11", DEFAULT_PASSWORD) == 303
