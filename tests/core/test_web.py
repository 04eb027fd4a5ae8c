"""What both sites share (core.web): security headers, cookie flags, error pages and JSON errors,
and the language switch."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import gettext
from werkzeug.test import TestResponse

from core.web import CSP

SITES = ["public", "staff"]


@pytest.fixture(params=SITES)
def app(request: pytest.FixtureRequest) -> Flask:
    fixture = "public_app" if request.param == "public" else "staff_app"
    result: Flask = request.getfixturevalue(fixture)
    return result


def form_page(client: FlaskClient) -> TestResponse:
    """A page of this site with a form: the public home page, the staff login page."""
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.get_data(as_text=True)
    return response


def csrf_of(page: TestResponse) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert match
    return match.group(1)


def html_lang(page: TestResponse) -> str:
    match = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", page.get_data(as_text=True))
    assert match, "no lang attribute on <html>"
    return match.group(1)


def set_cookies(response: TestResponse) -> list[SimpleCookie]:
    responses = [*response.history, response]
    cookies = []
    for r in responses:
        for header in r.headers.getlist("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            cookies.append(jar)
    return cookies


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("path", ["/", "/static/qingling.css", "/no-such-page"])
def test_security_headers(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    response.close()  # a static file response holds the file open until closed
    h = response.headers
    csp = h["Content-Security-Policy"]
    assert csp == CSP
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert re.fullmatch(r"max-age=\d{8,}; includeSubDomains", h["Strict-Transport-Security"])
    assert h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    if path != "/static/qingling.css":
        assert h["Cache-Control"] == "no-store"


def test_pages_load_nothing_from_another_host(app: Flask) -> None:
    page = form_page(app.test_client()).get_data(as_text=True)
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', page):
        assert not re.match(r"(?i)^(https?:)?//", url), url
    assert "<script>" not in page
    assert "style=" not in page


# ---------------------------------------------------------------- cookies


def test_cookie_flags(app: Flask) -> None:
    response = form_page(app.test_client())
    cookies = set_cookies(response)
    assert cookies, "a page with a form sets the session cookie"
    side = app.extensions["qingling.side"]
    for jar in cookies:
        for name, morsel in jar.items():
            assert name == f"__Host-ql_{side}"
            assert morsel["secure"] is True
            assert morsel["httponly"] is True
            assert morsel["samesite"] == "Strict"
            assert morsel["path"] == "/"
            assert not morsel["domain"], "__Host- cookies carry no Domain"


def test_the_two_sites_use_different_cookie_names(public_app: Flask, staff_app: Flask) -> None:
    public_name = public_app.config["SESSION_COOKIE_NAME"]
    staff_name = staff_app.config["SESSION_COOKIE_NAME"]
    assert public_name != staff_name
    assert public_name.startswith("__Host-")
    assert staff_name.startswith("__Host-")
    assert public_app.config["SECRET_KEY"] != staff_app.config["SECRET_KEY"]


# ---------------------------------------------------------------- errors


def add_failing_routes(app: Flask) -> None:
    def boom() -> str:
        raise RuntimeError("secret detail from the reporter: 4F-XYZ")

    app.add_url_rule("/test-boom", "test_boom", boom)
    app.add_url_rule("/api/v1/test-boom", "test_api_boom", boom)


def test_404_page_is_html(app: Flask) -> None:
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert html_lang(response) == "zh-CN"
    with app.test_request_context("/"):
        title = gettext("Page not found")  # in the default language, whatever the catalogue
    assert f"<h1>{title}</h1>" in response.get_data(as_text=True)


def test_404_under_api_is_json(app: Flask) -> None:
    response = app.test_client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]
    assert body["error"]["fields"] == {}


def test_405_keeps_the_allow_header(app: Flask) -> None:
    response = app.test_client().delete("/static/qingling.css")
    response.close()
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_500_page_shows_a_reference_and_no_detail(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    add_failing_routes(app)
    response = app.test_client().get("/test-boom")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "4F-XYZ" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert response.headers["X-Frame-Options"] == "DENY"
    references = [r.getMessage() for r in caplog.records if "internal error ref=" in r.getMessage()]
    assert references
    reference = re.search(r"ref=(\w+)", references[-1])
    assert reference
    assert reference.group(1) in text


def test_500_under_api_is_json(app: Flask) -> None:
    add_failing_routes(app)
    response = app.test_client().get("/api/v1/test-boom")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == "server_error"
    assert body["error"]["message"]
    assert re.fullmatch(r"[0-9a-f]{8}", body["error"]["reference"])
    assert "4F-XYZ" not in response.get_data(as_text=True)


def test_public_500_logs_no_exception_message(
    public_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    add_failing_routes(public_app)
    public_app.test_client().get("/test-boom?q=search-term-77")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    logged += "\n".join(str(r.exc_info) for r in caplog.records if r.exc_info)
    assert "internal error" in logged
    assert "4F-XYZ" not in logged
    assert "search-term-77" not in logged


# ---------------------------------------------------------------- language


def switch_language(client: FlaskClient, lang: str, next_path: str = "/") -> TestResponse:
    token = csrf_of(form_page(client))
    return client.post("/language", data={"csrf_token": token, "lang": lang, "next": next_path})


def test_default_language_is_chinese(app: Flask) -> None:
    page = form_page(app.test_client())
    assert html_lang(page) == "zh-CN"
    # The switch offers the other language, labelled in that language.
    assert 'value="en"' in page.get_data(as_text=True)
    assert "English" in page.get_data(as_text=True)


def test_language_switch(app: Flask) -> None:
    client = app.test_client()
    response = switch_language(client, "en")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    with client.session_transaction() as s:
        assert s["lang"] == "en"
    page = form_page(client)
    assert html_lang(page) == "en"
    assert 'value="zh_CN"' in page.get_data(as_text=True)
    assert "中文" in page.get_data(as_text=True)

    switch_language(client, "zh_CN")
    with client.session_transaction() as s:
        assert s["lang"] == "zh_CN"
    assert html_lang(form_page(client)) == "zh-CN"


def test_language_switch_ignores_unknown_language(app: Flask) -> None:
    client = app.test_client()
    switch_language(client, "en")
    switch_language(client, "fr")
    with client.session_transaction() as s:
        assert s["lang"] == "en"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil"]
)
def test_language_switch_never_redirects_off_site(app: Flask, target: str) -> None:
    response = switch_language(app.test_client(), "en", target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
