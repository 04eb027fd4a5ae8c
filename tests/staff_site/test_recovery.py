"""Recovery codes and forgotten passwords through the staff site's forms; the personal key in
the session after a real login; the administrator's reset page says what it costs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import services as accounts
from core.accounts.models import Role, StaffSession, User
from core.clock import FakeClock
from core.keys import personal
from core.settings import Settings
from crypto import totp
from tests.conftest import DEFAULT_PASSWORD, csrf_token
from tests.staff_site.test_auth import english, post_code, post_login, text

NEW_PASSWORD = "violet anchor tundra meadow 77"


@pytest.fixture
def client(staff_client: FlaskClient) -> FlaskClient:
    return english(staff_client)


def log_in(client: FlaskClient, clock: FakeClock, username: str, secret: str, password: str) -> Any:
    assert post_login(client, username, password).status_code == 303
    return post_code(client, "/login/totp", totp.code_at(totp.from_base32(secret), clock.now()))


def test_first_login_offers_a_recovery_code_shown_once(
    client: FlaskClient, make_user: Any, dbs: Session, clock: FakeClock, settings: Settings
) -> None:
    user: User = make_user("wang.li", Role.TRIAGE_OFFICER)
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    dbs.flush()
    done = log_in(client, clock, "wang.li", secret, DEFAULT_PASSWORD)
    assert done.headers["Location"] == "/account/recovery-code?next=/"

    # The full session holds the personal key, encrypted under the cookie's value.
    with client.session_transaction() as flask_session:
        cookie_value = flask_session["sid"]
    row = accounts.find_session(dbs, clock, settings, cookie_value)
    assert row is not None
    assert row.personal_key_enc is not None
    expected = accounts.personal_key_with_password(
        dbs, clock, settings, user, password=DEFAULT_PASSWORD
    )
    assert accounts.session_personal_key(row, cookie_value) == expected

    page = client.get("/account/recovery-code?next=/")
    assert page.status_code == 200
    assert 'id="recovery-code-form"' in text(page)
    assert not personal.has_recovery_code(dbs, user.id)
    shown = client.post(
        "/account/recovery-code?next=/",
        data={"csrf_token": csrf_token(client, "/account/recovery-code")},
    )
    assert shown.status_code == 200
    match = re.search(r'id="recovery-code">([0-9A-Z-]+)<', text(shown))
    assert match
    code = match.group(1)
    assert len(code.split("-")) == 8
    assert personal.has_recovery_code(dbs, user.id)
    assert personal.unlock_with_recovery_code(dbs, settings, user, code) == expected
    # Not shown again: the page offers only a new code, and says the old one would stop working.
    again = client.get("/account/recovery-code")
    assert code not in text(again)
    assert 'id="recovery-replace-warning"' in text(again)
    assert "You have a recovery code" in text(client.get("/account"))


def test_a_session_without_the_personal_key_is_told_to_log_in_again(
    client: FlaskClient, make_user: Any, login: Any
) -> None:
    user = make_user("wang.li", Role.TRIAGE_OFFICER, totp=True)
    login(client, user)  # the fixture opens a session without the key
    response = client.post(
        "/account/recovery-code", data={"csrf_token": csrf_token(client, "/account/recovery-code")}
    )
    assert response.status_code == 303
    assert "Log out and log in again" in text(client.get(response.headers["Location"]))


def recover_form(client: FlaskClient, code: str, totp_code: str) -> Any:
    return client.post(
        "/login/recover",
        data={
            "username": "wang.li",
            "recovery_code": code,
            "code": totp_code,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": csrf_token(client, "/login/recover"),
        },
    )


def test_forgotten_password_with_the_recovery_code(
    client: FlaskClient, make_user: Any, dbs: Session, clock: FakeClock, settings: Settings
) -> None:
    user: User = make_user("wang.li", Role.TRIAGE_OFFICER)
    secret = accounts.set_totp_seed_for_tests(dbs, clock, settings, user)
    code = accounts.new_recovery_code(dbs, clock, settings, user, password=DEFAULT_PASSWORD)
    dbs.flush()
    login_page = client.get("/login")
    assert 'href="/login/recover"' in text(login_page)
    seed = totp.from_base32(secret)

    wrong = recover_form(client, personal.generate_recovery_code(), totp.code_at(seed, clock.now()))
    assert wrong.status_code == 401
    assert "recovery code or authenticator code is wrong" in text(wrong)

    done = recover_form(client, code.lower(), totp.code_at(seed, clock.now()))
    assert done.status_code == 200
    match = re.search(r'id="recovery-code">([0-9A-Z-]+)<', text(done))
    assert match
    assert match.group(1) != code
    # The new password works; the grants (the same personal key) survive.
    clock.advance(seconds=30)
    assert log_in(client, clock, "wang.li", secret, NEW_PASSWORD).status_code == 303
    dbs.expire_all()  # the requests changed the rows in their own sessions
    assert accounts.personal_key_with_password(
        dbs, clock, settings, user, password=NEW_PASSWORD
    ) == personal.unlock_with_recovery_code(dbs, settings, user, match.group(1))


def test_admin_reset_page_says_the_user_leaves_every_key_group(
    client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    admin = make_user("the.admin", Role.ADMINISTRATOR, totp=True)
    target = make_user("wang.li", Role.TRIAGE_OFFICER)
    login(client, admin)
    form = client.get(f"/admin/users/{target.id}")
    assert 'id="reset-key-hint"' in text(form)
    done = client.post(
        f"/admin/users/{target.id}/reset-password",
        data={"csrf_token": csrf_token(client, f"/admin/users/{target.id}")},
    )
    assert done.status_code == 200
    assert 'id="reset-key-warning"' in text(done)
    assert "no longer a member of any key group" in text(done)
    row = personal.personal_key_of(dbs, target.id)
    assert row is not None
    assert row.version == 2
    assert not dbs.scalars(select(StaffSession).where(StaffSession.user_id == target.id)).all()
