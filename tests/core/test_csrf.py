"""Every route of both sites that changes something refuses a request without a CSRF token, and
every staff route but the login page and static files refuses an anonymous visitor.

The routes are taken from the apps' URL maps, so a new form is covered the moment it is registered.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import gettext
from werkzeug.routing import Rule

from core.accounts.models import Role

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Endpoints that take unsafe requests without a CSRF token, each with the reason. (None yet; the
# WeChat push endpoint, authenticated by its signature, will be the first.)
CSRF_EXEMPT: dict[str, str] = {
    # The JSON API reads and sets no cookie: calls are anonymous or carry a bearer credential,
    # which a browser never adds to a cross-site request (tests/public_site/test_api.py checks
    # that a logged-in web cookie gets a 401 from the API).
    "api.create_tip": "JSON API: no cookies, anonymous",
    "api.create_session": "JSON API: no cookies, anonymous",
    "api.send_message": "JSON API: no cookies, bearer credential",
    "api.object_to_conclusion": "JSON API: no cookies, bearer credential",
    "api.claim_reward": "JSON API: no cookies, bearer credential",
    "api.decline_reward": "JSON API: no cookies, bearer credential",
    "wechat.push": "WeChat server push: no cookies, authenticated by signature/msg_signature",
}

# Staff endpoints an anonymous visitor may reach.
# (auth.recover: a forgotten password, proved by the recovery code and the authenticator app.)
# (cases.print_css: the print stylesheet of the escalation records, a static file.)
STAFF_ANONYMOUS = {"static", "language.switch", "auth.login", "auth.recover", "cases.print_css"}


def dummy_values(rule: Rule) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__  # private: no public accessor
        if converter in {"IntegerConverter", "DatabaseInt"}:
            values[name] = 1
        elif converter == "UUIDConverter":
            values[name] = uuid.UUID(int=1)
        elif converter == "AnyConverter":
            values[name] = sorted(rule._converters[name].items)[0]  # type: ignore[attr-defined]
        else:
            values[name] = "x1"
    return values


def url_for_rule(app: Flask, rule: Rule) -> str:
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, dummy_values(rule), method=next(iter(rule.methods or {})))


def unsafe_routes(app: Flask) -> list[tuple[Rule, str]]:
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in CSRF_EXEMPT
        for method in sorted((rule.methods or set()) & UNSAFE)
    ]


def assert_csrf_refused(app: Flask, client: FlaskClient, rule: Rule, method: str) -> None:
    url = url_for_rule(app, rule)
    response = client.open(url, method=method, data={"anything": "1"})
    assert response.status_code == 400, f"{method} {url} ({rule.endpoint}) without a CSRF token"
    with app.test_request_context("/"):
        expected = gettext("Form expired")
    assert expected in response.get_data(as_text=True), f"{method} {url}: not a CSRF refusal"


@pytest.fixture
def staff_admin_client(staff_app: Flask, make_user: Any, login: Any) -> FlaskClient:
    """A staff client logged in (password and TOTP done) as a city-wide user with every role."""
    user = make_user("csrf-all-roles", *Role, totp=True)
    client = staff_app.test_client()
    login(client, user)
    assert client.get("/").status_code == 200, "the logged-in fixture user reaches the home page"
    return client


def test_public_unsafe_routes_require_csrf(public_app: Flask) -> None:
    routes = unsafe_routes(public_app)
    assert any(rule.endpoint == "language.switch" for rule, _ in routes)
    client = public_app.test_client()
    client.get("/")  # a session cookie exists, as for a real visitor
    for rule, method in routes:
        assert_csrf_refused(public_app, client, rule, method)


def test_staff_unsafe_routes_require_csrf(
    staff_app: Flask, staff_admin_client: FlaskClient
) -> None:
    routes = unsafe_routes(staff_app)
    endpoints = {rule.endpoint for rule, _ in routes}
    assert "language.switch" in endpoints
    assert len(endpoints) > 3, f"the staff site has forms: {sorted(endpoints)}"
    for rule, method in routes:
        assert_csrf_refused(staff_app, staff_admin_client, rule, method)


def test_csrf_token_of_one_site_is_refused_by_the_other(
    public_app: Flask, staff_app: Flask
) -> None:
    public = public_app.test_client()
    page = public.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    staff = staff_app.test_client()
    staff.get("/", follow_redirects=True)
    response = staff.post("/language", data={"csrf_token": token.group(1), "lang": "en"})
    assert response.status_code == 400


def login_token(client: FlaskClient) -> str:
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "the login page has a form with a CSRF token"
    return match.group(1)


def refused_anonymously(response: Any) -> bool:
    if response.status_code in {401, 403}:
        return True
    if response.status_code in {302, 303}:
        return "login" in response.headers.get("Location", "")
    return False


def test_staff_routes_refuse_anonymous_visitors(staff_app: Flask) -> None:
    client = staff_app.test_client()
    token = login_token(client)
    checked = 0
    for rule in staff_app.url_map.iter_rules():
        if rule.endpoint in STAFF_ANONYMOUS:
            continue
        url = url_for_rule(staff_app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            data = {"csrf_token": token} if method in UNSAFE else None
            response = client.open(url, method=method, data=data)
            assert refused_anonymously(response), (
                f"anonymous {method} {url} ({rule.endpoint}) gave {response.status_code}"
            )
            checked += 1
    assert checked >= 3


def test_public_site_has_no_staff_routes(public_app: Flask) -> None:
    endpoints = {rule.endpoint for rule in public_app.url_map.iter_rules()}
    assert not any(e.startswith(("auth.", "admin.", "audit.", "divisions.")) for e in endpoints)
    assert all(rule.rule != "/login" for rule in public_app.url_map.iter_rules())
