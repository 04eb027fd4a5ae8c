"""A triage officer's day in Chromium: log in with password and TOTP, find a new report in the
queue, accept it, ask the reporter a question; the reporter answers on the public status page
(JavaScript off); the officer reads the answer, starts the verification and concludes the report
as substantiated. Screenshots go to the test artifacts."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from crypto import totp
from intake import services as intake_services
from intake.models import Channel, TipCategory, TipState
from registry.models import Division
from tests.browser.conftest import Sites, no_js_page
from triage import services as triage

pytestmark = pytest.mark.browser

PASSWORD = "quiet orchard ninety lantern 17"
DESCRIPTION = "The fire door on the third floor is wedged open and the alarm is switched off."
QUESTION = "Is the alarm off all day, or only at night?"
ANSWER = "Only at night, from about ten o'clock."
CONCLUSION = "Checked on site: the fire door was wedged open and the alarm disabled. Fixed."


def code_now(secret: str) -> str:
    return totp.code_at(totp.from_base32(secret), dt.datetime.now(dt.UTC))


def set_up(sites: Sites, sheet: keys.RecoverySheet) -> tuple[str, str, str]:
    """A division triage officer (TOTP enrolled, granted the division's key group) and a new
    tip in that division filed through intake; the officer's TOTP secret, the token and the
    tip id."""
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        division = session.scalar(select(Division.id).where(Division.name == "塘桥镇"))
        assert division is not None
        officer = accounts.create_user(
            session,
            clock,
            sites.settings,
            SYSTEM_ACTOR,
            username="browser-triage-tangqiao",
            display_name="Tangqiao triage",
            password=PASSWORD,
            roles={Role.TRIAGE_OFFICER},
            division_id=division,
        )
        secret = accounts.enrol_totp_seed(session, clock, sites.settings, officer)
        accounts.personal_key_with_password(
            session, clock, sites.settings, officer, password=PASSWORD
        )
        group = keys.find_group(session, keys.division_slug(division))
        assert group is not None
        keys.grant(
            session,
            clock,
            sites.settings,
            keys.RecoveryAuthority(sheet.private_key),
            group,
            grantee=officer,
        )
        receipt = intake_services.receive_tip(
            session,
            clock,
            sites.settings,
            intake_services.TipSubmission(
                description=DESCRIPTION,
                category=TipCategory.FIRE,
                division_id=division,
                facility_name="Sunset care home",
                channel=Channel.WEB,
            ),
        )
    return secret, receipt.token.display, str(receipt.tip_id)


def english(page: Page) -> None:
    with page.expect_navigation():
        page.locator("form.lang button[name=lang][value=en]").click()


def staff_login(page: Page, sites: Sites, secret: str) -> None:
    page.goto(sites.staff_url + "/triage/")
    assert "/login" in page.url
    english(page)
    page.fill("#login-form [name=username]", "browser-triage-tangqiao")
    page.fill("#login-form [name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    assert "/login/totp" in page.url, page.url
    page.fill("#totp-form [name=code]", code_now(secret))
    with page.expect_navigation():
        page.click("#totp-submit")
    if "/account/recovery-code" in page.url:  # first login: the recovery code, once
        with page.expect_navigation():
            page.click("#recovery-code-submit")
        with page.expect_navigation():
            page.click("#recovery-done")
    assert "/triage/" in page.url, page.url


def reporter_answers(browser: Browser, sites: Sites, token: str, artifacts: Path) -> None:
    page = no_js_page(browser)
    page.goto(sites.public_url + "/status")
    page.click("text=English")
    page.fill("#token", token)
    page.click("button[type=submit].btn")
    assert page.url.endswith("/status/report")
    assert QUESTION in page.locator("main").inner_text()
    page.fill("#body", ANSWER)
    page.click("button[name=send]")
    assert "Your message was sent." in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts / "triage-reporter-answered.png"), full_page=True)
    page.context.close()


def test_officer_accepts_asks_and_concludes_after_the_reporters_answer(
    browser: Browser, sites: Sites, artifacts: Path, recovery_sheet: keys.RecoverySheet
) -> None:
    secret, token, tip_id = set_up(sites, recovery_sheet)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    failed: list[str] = []
    page = context.new_page()
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    staff_login(page, sites, secret)

    # The queue: the new report, in a table that scrolls on a phone.
    row = page.locator(f'tr[data-tip="{tip_id}"]')
    expect(row).to_be_visible()
    expect(page.locator("#state-counts [data-state=submitted]")).to_have_text("1")
    page.screenshot(path=str(artifacts / "triage-queue.png"), full_page=True)
    with page.expect_navigation():
        row.locator("a").click()
    expect(page.locator("#tip-description")).to_have_text(DESCRIPTION)

    with page.expect_navigation():
        page.click("#accept-submit")
    expect(page.locator(".notice").first).to_contain_text("The report is accepted.")
    expect(page.locator("#tip-state")).to_have_text("Accepted")

    page.fill("#ask-body", QUESTION)
    with page.expect_navigation():
        page.click("#ask-submit")
    expect(page.locator(".notice").first).to_contain_text("Your question is sent")
    expect(page.locator("#thread")).to_contain_text(QUESTION)
    page.screenshot(path=str(artifacts / "triage-question-sent.png"), full_page=True)

    # The queue shows the open question.
    page.goto(sites.staff_url + "/triage/?unanswered=y")
    expect(page.locator(f'tr[data-tip="{tip_id}"]')).to_contain_text("question unanswered")

    reporter_answers(browser, sites, token, artifacts)

    page.goto(f"{sites.staff_url}/triage/tips/{tip_id}")
    expect(page.locator("#thread")).to_contain_text(ANSWER)
    with page.expect_navigation():
        page.click("#start_verification-submit")
    expect(page.locator("#tip-state")).to_have_text("Verifying")
    page.select_option("#conclude-outcome", "substantiated")
    page.fill("#conclude-text", CONCLUSION)
    with page.expect_navigation():
        page.click("#conclude-submit")
    expect(page.locator(".notice").first).to_contain_text("The verification is concluded")
    expect(page.locator("#tip-state")).to_have_text("Substantiated")
    expect(page.locator("#conclusion-text")).to_have_text(CONCLUSION)
    expect(page.locator("#form-case")).to_be_visible()
    page.screenshot(path=str(artifacts / "triage-concluded.png"), full_page=True)
    assert not failed, failed
    context.close()

    with db.unit_of_work(sites.sessions) as session:
        access = intake_services.unlock_with_token(session, sites.settings, token)
        status = triage.reporter_status(session, SystemClock(), sites.settings, access)
        assert status.conclusion_text == CONCLUSION
        assert status.outcome is TipState.SUBSTANTIATED
        assert [m.body for m in status.messages] == [QUESTION, ANSWER]
        done = session.scalars(
            select(AuditRecord.action).where(AuditRecord.object_id == str(uuid.UUID(tip_id)))
        ).all()
        for action in ("tip.read", "tip.accept", "tip.message_sent", "tip.conclude"):
            assert action in done, action
