"""End to end in Chromium: both home pages, the language switch, and a staff member's first login
(password, TOTP enrolment, staff home page). Screenshots go to the test artifacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Sites

pytestmark = pytest.mark.browser


def html_lang(page: Page) -> str | None:
    return page.locator("html").get_attribute("lang")


def switch_language(page: Page, lang: str) -> None:
    with page.expect_navigation():
        page.locator(f"form.lang button[name=lang][value={lang}]").click()


def test_public_home_and_language_switch(page: Page, sites: Sites, artifacts: Path) -> None:
    messages: list[str] = []
    failed: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    response = page.goto(sites.public_url + "/")
    assert response is not None
    assert response.status == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert html_lang(page) == "zh-CN"
    expect(page.locator("main h1").first).to_be_visible()
    page.screenshot(path=str(artifacts / "public-home-zh.png"), full_page=True)

    switch_language(page, "en")
    assert html_lang(page) == "en"
    assert page.url.rstrip("/") == sites.public_url
    expect(page.locator("form.lang button[value=zh_CN]")).to_have_text("中文")
    page.screenshot(path=str(artifacts / "public-home-en.png"), full_page=True)

    switch_language(page, "zh_CN")
    assert html_lang(page) == "zh-CN"
    # No CSP violation or other error on the page (an inline script or style would show here),
    # and every resource loaded (the browser's own guess at /favicon.ico aside).
    assert not [f for f in failed if not f.endswith("/favicon.ico")], failed
    errors = [m for m in messages if m.startswith("error") and "Failed to load resource" not in m]
    assert not errors, errors


def test_public_page_works_without_javascript(browser_no_js_page: Page, sites: Sites) -> None:
    page = browser_no_js_page
    page.goto(sites.public_url + "/")
    switch_language(page, "en")
    assert html_lang(page) == "en"


STAFF_PASSWORD = "amber kettle seven harbour lantern 42"


def create_staff_user(sites: Sites, username: str) -> None:
    from core import db
    from core.accounts import services as accounts
    from core.accounts.models import Role
    from core.audit.services import SYSTEM_ACTOR
    from core.clock import SystemClock

    with db.unit_of_work(sites.sessions) as session:
        accounts.create_user(
            session,
            SystemClock(),
            sites.settings,
            SYSTEM_ACTOR,
            username=username,
            display_name="Browser Tester",
            password=STAFF_PASSWORD,
            roles={Role.SUPERVISOR, Role.AUDITOR},
            division_id=None,
        )


def current_code(secret: str) -> str:
    from crypto import totp

    return totp.code_at(totp.from_base32(secret), dt.datetime.now(dt.UTC))


def test_staff_login_with_password_and_totp_enrolment(
    page: Page, sites: Sites, artifacts: Path
) -> None:
    response = page.goto(sites.staff_url + "/")
    assert response is not None
    assert response.status == 200
    assert "/login" in page.url, "an anonymous visitor is sent to the login page"
    assert html_lang(page) == "zh-CN"
    page.screenshot(path=str(artifacts / "staff-login-zh.png"), full_page=True)
    switch_language(page, "en")
    assert html_lang(page) == "en"
    assert "/login" in page.url
    page.screenshot(path=str(artifacts / "staff-login-en.png"), full_page=True)

    create_staff_user(sites, "browser.tester")

    # A wrong password first: refused, still on the login page.
    page.fill("#login-form [name=username]", "browser.tester")
    page.fill("#login-form [name=password]", "not the password at all")
    with page.expect_navigation():
        page.click("#login-submit")
    expect(page.locator("#login-error")).to_be_visible()
    assert "/login" in page.url

    page.fill("#login-form [name=username]", "browser.tester")
    page.fill("#login-form [name=password]", STAFF_PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    assert "/login/enrol" in page.url, "a user without TOTP is sent to the enrolment page"
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    assert len(secret.replace(" ", "")) >= 16
    page.screenshot(path=str(artifacts / "staff-enrol.png"), full_page=True)

    page.fill("#enrol-form [name=code]", current_code(secret))
    with page.expect_navigation():
        page.click("#enrol-submit")
    # First login: the recovery code is made and shown once, then the staff home page.
    assert "/account/recovery-code" in page.url, f"landed on {page.url}"
    with page.expect_navigation():
        page.click("#recovery-code-submit")
    recovery_code = page.locator("#recovery-code").inner_text().strip()
    assert len(recovery_code.replace("-", "")) == 32
    page.screenshot(path=str(artifacts / "staff-recovery-code.png"), full_page=True)
    with page.expect_navigation():
        page.click("#recovery-done")
    assert page.url.rstrip("/") == sites.staff_url, f"landed on {page.url}"
    assert html_lang(page) == "en"
    body = page.locator("body").inner_text()
    assert "Browser Tester" in body or "browser.tester" in body
    page.screenshot(path=str(artifacts / "staff-home.png"), full_page=True)

    # The session cookie is the staff site's own, with the strict flags.
    cookies = {c["name"]: c for c in page.context.cookies(sites.staff_url)}
    cookie = cookies["__Host-ql_staff"]
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"
