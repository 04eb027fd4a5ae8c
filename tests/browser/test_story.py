"""The whole story in Chromium, through the pages of both sites, from the reporter's photo to
the reward paid (issue 9, part 4):

1. a reporter files a tip with a photo, JavaScript off, and keeps the token;
2. a triage officer logs in with password and TOTP, accepts the tip, starts the verification and
   asks the reporter a question; the reporter answers (JavaScript off);
3. the officer concludes (substantiated) and opens a hazard case from the tip;
4. a case officer records the plan with the five in place and the rectification, and submits
   it; a second case officer accepts it, which closes the case (销号);
5. time passes to the re-check (回头看), which passes; the reporter's objection window is over;
6. finance records the penalty decision and calculates the reward, a second person approves it
   and offers it;
7. the reporter claims it with the token (JavaScript off); finance opens the payment details and
   records the payment; the reporter sees the reward paid.

What is not done through the pages, and why:
- The staff accounts (with TOTP seeds and personal keys) and their key-group grants are made
  through the services before the story starts, as an administrator and a key-group member
  would have done beforehand; the shipped judgment-standard catalogue and the demo facilities
  are loaded the same way (``qingling demo`` does it on a real instance).
- Time. Both sites of this story run on a clock that is the real time plus an offset
  (:class:`ShiftedClock`), served on their own loopback ports over the browser instance's
  database. After the case is closed the offset jumps forward to the day before the re-check
  falls due (``case_recheck_days`` − 1, 89 days by default), which also ends the reporter's
  objection window (``objection_days``, 10): without it finance could not offer the reward.
  Nothing else is shortcut: no row is written or backdated by the test; the TOTP codes are
  those an authenticator app shows at the sites' time. The staff sessions opened before the
  jump have expired by then, so everyone logs in again.

Screenshots (``story-NN-*.png``) go to the test artifacts.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect
from sqlalchemy import select

from cases.models import CaseState, HazardCase
from cases.standards.services import load_shipped_standards
from core import db
from core.accounts.models import Role
from core.audit.models import AuditRecord
from core.clock import SystemClock, local
from core.keys import services as keys
from intake import services as intake_services
from intake.models import TipState
from rewards.models import PaymentMethod, Reward, RewardState
from tests.browser.conftest import (
    Sites,
    StaffMember,
    jpeg,
    make_staff,
    no_js_page,
    served,
    totp_code,
)
from triage import services as triage

pytestmark = pytest.mark.browser

# Keep other browser tests out of this division: the triage officer finds the story's report as
# the division's only one.
DIVISION = "锦丰镇"
FACILITY = "锦丰镇康乐养老院"
PASSWORD = "granite willow forty lantern 63"
DESCRIPTION = (
    "The night shift locks the fire exit on the second floor of the east building with a "
    "padlock, and the corridor is full of old mattresses."
)
QUESTION = "Is the fire exit locked every night, and since when?"
ANSWER = "Every night since the summer, from nine in the evening until six in the morning."
CONCLUSION = "Checked on site at night: the exit was padlocked and the corridor blocked. Fined."
ITEM = "民政部办公厅 2023-11-27/4(1)"
CASE_TEXT = "Fire exit on the second floor padlocked at night; corridor blocked with mattresses."
ACCOUNT = "6222 0200 1234 5678 903"
TOKEN = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


class ShiftedClock:
    """The real time plus an offset that the story moves forward (both sites share it)."""

    def __init__(self) -> None:
        self._offset = dt.timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, days: int) -> None:
        with self._lock:
            self._offset += dt.timedelta(days=days)

    def today(self) -> dt.date:
        return local(self.now()).date()


@dataclass(frozen=True)
class Story:
    sites: Sites
    clock: ShiftedClock
    public_url: str
    staff_url: str
    staff: dict[str, StaffMember]
    artifacts: Path
    failed: list[str]  # every 5xx response any page of the story got


@pytest.fixture(scope="module")
def story(sites: Sites, recovery_sheet: keys.RecoverySheet, artifacts: Path) -> Iterator[Story]:
    """Both sites on a shared :class:`ShiftedClock` over the browser instance's database, and
    the cast: a triage officer and two case officers of 锦丰镇, a finance officer (member of
    the finance key group) and a finance approver."""
    import public_site
    import staff_site

    with db.unit_of_work(sites.sessions) as session:
        load_shipped_standards(session, SystemClock())
    cast = {
        "triage": make_staff(
            sites, recovery_sheet, "story-triage", PASSWORD, {Role.TRIAGE_OFFICER},
            division=DIVISION, groups=("division",),
        ),
        "case-a": make_staff(
            sites, recovery_sheet, "story-case-a", PASSWORD, {Role.CASE_OFFICER},
            division=DIVISION,
        ),
        "case-b": make_staff(
            sites, recovery_sheet, "story-case-b", PASSWORD, {Role.CASE_OFFICER},
            division=DIVISION,
        ),
        "finance": make_staff(
            sites, recovery_sheet, "story-finance", PASSWORD, {Role.FINANCE_OFFICER},
            groups=(keys.FINANCE,),
        ),
        "approver": make_staff(
            sites, recovery_sheet, "story-approver", PASSWORD, {Role.FINANCE_APPROVER},
        ),
    }  # fmt: skip
    clock = ShiftedClock()
    with served(
        public_site.create_app(sites.settings, session_factory=sites.sessions, clock=clock),
        staff_site.create_app(sites.settings, session_factory=sites.sessions, clock=clock),
    ) as (public_url, staff_url):
        yield Story(
            sites=sites,
            clock=clock,
            public_url=public_url,
            staff_url=staff_url,
            staff=cast,
            artifacts=artifacts,
            failed=[],
        )


# ---------------------------------------------------------------- helpers


def watch(page: Page, story: Story) -> Page:
    def on_response(response: Response) -> None:
        if response.status >= 500:
            story.failed.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    return page


def shot(page: Page, story: Story, name: str) -> None:
    page.screenshot(path=str(story.artifacts / f"story-{name}.png"), full_page=True)


def reporter_page(browser: Browser, story: Story) -> Page:
    """A phone-sized page with JavaScript off (Tor Browser at "Safest"), Chinese first."""
    return watch(no_js_page(browser), story)


def staff_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    return context


def submit(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def staff_login(page: Page, story: Story, who: str, landing: str) -> None:
    """Log in through the login page (in English) with the password and the TOTP code an
    authenticator shows at the sites' time; then open ``landing``."""
    member = story.staff[who]
    watch(page, story)
    page.goto(story.staff_url + landing)
    assert "/login" in page.url, page.url
    submit(page, "form.lang button[name=lang][value=en]")
    page.fill("#login-form [name=username]", member.username)
    page.fill("#login-form [name=password]", member.password)
    submit(page, "#login-submit")
    assert "/login/totp" in page.url, page.url
    page.fill("#totp-form [name=code]", totp_code(member.totp_secret, story.clock.now()))
    submit(page, "#totp-submit")
    if "/account/recovery-code" in page.url:  # first login: the recovery code, shown once
        submit(page, "#recovery-code-submit")
        submit(page, "#recovery-done")
    page.goto(story.staff_url + landing)
    assert page.url == story.staff_url + landing, page.url


def writers_are_not_blocked(story: Story) -> None:
    """No request of the sites left a transaction open: a writer gets SQLite's write lock."""
    path = story.sites.settings.database_url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, timeout=3, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")  # "database is locked" after 3 s otherwise
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def open_status(page: Page, story: Story, token: str) -> None:
    page.goto(story.public_url + "/status")
    page.fill("#token", token)
    submit(page, "button[type=submit].btn")
    assert page.url.endswith("/status/report"), page.url


# ---------------------------------------------------------------- the story


def reporter_files_a_tip(browser: Browser, story: Story, tmp_path: Path) -> str:
    page = reporter_page(browser, story)
    page.goto(story.public_url + "/")
    submit(page, "nav a[href$='/report']")
    page.fill("#description", DESCRIPTION)
    page.check("input[name=category][value=fire]")
    page.select_option("#division", label=DIVISION)
    page.fill("#facility_query", "康乐")
    submit(page, "button[name=search]")
    page.check(f"ul.hits label:has-text('{FACILITY}') input")
    page.check("input[name=relationship][value=employee]")
    page.set_input_files("#files", str(jpeg(tmp_path / "IMG_20260312_2214.jpg")))
    shot(page, story, "01-report")
    submit(page, "button[name=send]")
    token = page.locator("#token").inner_text().strip()
    assert TOKEN.match(token), token
    assert token not in page.url
    shot(page, story, "02-receipt")
    page.context.close()
    return token


def triage_accepts_and_asks(page: Page, story: Story) -> str:
    staff_login(page, story, "triage", "/triage/")
    rows = page.locator("tr[data-tip]")
    expect(rows).to_have_count(1)  # the division's only report
    tip_id = rows.first.get_attribute("data-tip")
    assert tip_id is not None
    shot(page, story, "03-triage-queue")
    # The photo is shown decrypted. Streaming it leaves no transaction open: it once did, and
    # every writer (this officer's next step included) waited until Python's garbage collector
    # happened to free the leaked session; with the collector off that is certain to show.
    gc.disable()
    try:
        submit(page, f'tr[data-tip="{tip_id}"] a')
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        writers_are_not_blocked(story)
    finally:
        gc.enable()
    expect(page.locator("#tip-description")).to_have_text(DESCRIPTION)
    expect(page.locator("#content .attachments")).to_contain_text("photo-1.jpg")
    assert page.locator("#content img.photo").evaluate("img => img.naturalWidth") == 320
    submit(page, "#accept-submit")
    expect(page.locator("#tip-state")).to_have_text("Accepted")
    submit(page, "#start_verification-submit")
    expect(page.locator("#tip-state")).to_have_text("Verifying")
    page.fill("#ask-body", QUESTION)
    submit(page, "#ask-submit")
    expect(page.locator("#thread")).to_contain_text(QUESTION)
    shot(page, story, "04-triage-asked")
    return tip_id


def reporter_answers(browser: Browser, story: Story, token: str) -> None:
    page = reporter_page(browser, story)
    open_status(page, story, token)
    expect(page.locator("#messages")).to_contain_text(QUESTION)
    page.fill("#body", ANSWER)
    submit(page, "button[name=send]")
    expect(page.locator("#messages ol.thread li")).to_have_count(2)
    expect(page.locator("#messages ol.thread li").last).to_contain_text(ANSWER)
    shot(page, story, "05-reporter-answered")
    page.context.close()


def triage_concludes_and_opens_a_case(page: Page, story: Story, tip_id: str) -> str:
    page.goto(f"{story.staff_url}/triage/tips/{tip_id}")
    expect(page.locator("#thread")).to_contain_text(ANSWER)
    page.select_option("#conclude-outcome", "substantiated")
    page.fill("#conclude-text", CONCLUSION)
    submit(page, "#conclude-submit")
    expect(page.locator("#tip-state")).to_have_text("Substantiated")
    page.fill("#case-standard_items", ITEM)
    page.fill("#case-description", CASE_TEXT)
    submit(page, "#case-open_case")
    link = page.locator("#case-opened a")
    expect(link).to_be_visible()
    shot(page, story, "06-triage-case-opened")
    return link.inner_text().strip()


def case_officer_rectifies(page: Page, story: Story, case_id: str, tmp_path: Path) -> None:
    staff_login(page, story, "case-a", "/cases/")
    submit(page, f'tr[data-case="{case_id}"] a')
    expect(page.locator("#case-state")).to_have_attribute("data-state", "open")
    expect(page.locator("#case-facility")).to_contain_text(FACILITY)
    expect(page.locator("#case-items")).to_contain_text(ITEM)
    deadline = (story.clock.today() + dt.timedelta(days=20)).isoformat()
    page.fill("#plan-responsibility", "The director of the home; the night-shift lead.")
    page.fill("#plan-measures", "Remove the padlock, clear the corridor, train the night shift.")
    page.fill("#plan-funds", "1500.00")
    page.fill("#plan-deadline", deadline)
    page.fill("#plan-contingency_plan", "A carer stays by the exit every night until it is done.")
    submit(page, "#plan-submit")
    expect(page.locator("#case-state")).to_have_attribute("data-state", "rectifying")
    page.fill("#progress-note", "Padlock removed, mattresses taken away.")
    page.set_input_files("#progress-files", str(jpeg(tmp_path / "exit.jpg", (40, 120, 60))))
    submit(page, "#progress-submit")
    expect(page.locator("#case-timeline a.evidence-link")).to_have_text("exit.jpg")
    page.fill("#submit-note", "The exit opens freely; the night shift is trained.")
    submit(page, "#submit-submit")
    expect(page.locator("#case-state")).to_have_attribute("data-state", "awaiting_acceptance")
    shot(page, story, "07-case-submitted")


def second_officer_accepts(page: Page, story: Story, case_id: str, tmp_path: Path) -> None:
    staff_login(page, story, "case-b", f"/cases/{case_id}")
    page.fill("#accept-note", "Checked at night: the exit is open and the corridor clear.")
    page.set_input_files("#accept-files", str(jpeg(tmp_path / "accepted.jpg", (40, 60, 120))))
    submit(page, "#accept-submit")
    expect(page.locator("#case-state")).to_have_attribute("data-state", "closed")
    due = story.clock.today() + dt.timedelta(days=story.sites.settings.case_recheck_days)
    expect(page.locator("#case-recheck-due")).to_have_text(due.isoformat())
    shot(page, story, "08-case-closed")


def recheck_passes(page: Page, story: Story, case_id: str) -> None:
    staff_login(page, story, "case-a", f"/cases/{case_id}")
    page.fill("#recheck-note", "Re-check: the exit is still open at night.")
    submit(page, "#recheck-submit")
    expect(page.locator("#case-state")).to_have_attribute("data-state", "rechecked")
    shot(page, story, "09-case-rechecked")


def finance_calculates(page: Page, story: Story, tip_id: str) -> str:
    staff_login(page, story, "finance", "/rewards/")
    row = page.locator("tr[data-reward]", has_text=tip_id[:8])
    expect(row).to_have_count(1)
    reward_id = row.get_attribute("data-reward")
    assert reward_id is not None
    submit(page, f'tr[data-reward="{reward_id}"] td:first-child a')
    expect(page.locator("#reward-state")).to_have_text("Awaiting penalty decision")
    page.select_option("#decision-kind", "hazard")
    page.fill("#decision-fines", "20000.00\n10000.00")
    page.fill("#decision-decision_number", "张民罚决字〔2026〕415号")
    page.fill("#decision-decision_date", story.clock.today().isoformat())
    submit(page, "#decision-submit")
    expect(page.locator("#decision")).to_contain_text("¥20,000.00 + ¥10,000.00")
    submit(page, "#calculate-submit")
    expect(page.locator("#reward-state")).to_have_text("Calculated")
    expect(page.locator("#reward-amount")).to_have_text("¥4,500.00")
    expect(page.locator("#form-approve")).to_have_count(0)  # a second person approves
    shot(page, story, "10-reward-calculated")
    return reward_id


def approver_approves_and_offers(page: Page, story: Story, reward_id: str) -> None:
    staff_login(page, story, "approver", f"/rewards/{reward_id}")
    expect(page.locator("#form-approve")).to_contain_text("¥4,500.00")
    submit(page, "#approve-submit")
    expect(page.locator("#reward-state")).to_have_text("Approved")
    expect(page.locator("#offer-after")).to_have_count(0)  # the objection window is over
    submit(page, "#offer-submit")
    expect(page.locator("#reward-state")).to_have_text("Offered")
    shot(page, story, "11-reward-offered")


def reporter_claims(browser: Browser, story: Story, token: str) -> None:
    page = reporter_page(browser, story)
    open_status(page, story, token)
    expect(page.locator("#handling")).to_contain_text(CONCLUSION)
    expect(page.locator("#reward-amount")).to_have_text("¥4,500.00")
    shot(page, story, "12-reporter-offer")
    submit(page, "#claim-link")
    assert page.url.endswith("/reward/claim"), page.url
    page.check("input[name=method][value=bank_transfer]")
    page.fill("#account_name", "李四")
    page.fill("#bank", "中国农业银行张家港锦丰支行")
    page.fill("#account_number", ACCOUNT)
    page.fill("#token", token.lower().replace("-", " "))  # as typed on a phone
    shot(page, story, "13-reporter-claim")
    submit(page, "#claim-submit")
    expect(page.locator("#claimed-method")).to_be_visible()
    assert ACCOUNT.replace(" ", "") not in page.content()
    shot(page, story, "14-reporter-claimed")
    page.context.close()


def finance_pays(page: Page, story: Story, reward_id: str) -> None:
    page.goto(f"{story.staff_url}/rewards/{reward_id}")
    expect(page.locator("#reward-state")).to_have_text("Claimed")
    submit(page, "#details-submit")
    expect(page.locator("#account-number")).to_have_text(ACCOUNT.replace(" ", ""))
    expect(page.locator("#account-name")).to_have_text("李四")
    page.goto(f"{story.staff_url}/rewards/{reward_id}")  # the details are not kept on the page
    expect(page.locator("#account-number")).to_have_count(0)
    page.fill("#payment-voucher_number", "记-2026-0415")
    expect(page.locator("#payment-paid_on")).to_have_value(story.clock.today().isoformat())
    expect(page.locator("#payment-amount")).to_have_value("4500.00")
    submit(page, "#payment-submit")
    expect(page.locator("#reward-state")).to_have_text("Paid")
    shot(page, story, "15-reward-paid")


def reporter_sees_it_paid(browser: Browser, story: Story, token: str) -> None:
    page = reporter_page(browser, story)
    page.goto(story.public_url + "/status")
    submit(page, "form.lang button[name=lang][value=en]")
    open_status(page, story, token)
    paid = f"The reward was paid on {story.clock.today().isoformat()}."
    expect(page.locator("#reward-state")).to_contain_text(paid)
    expect(page.locator("#reward-amount")).to_have_text("¥4,500.00")
    shot(page, story, "16-reporter-paid")
    page.context.close()


def test_from_the_reporters_photo_to_the_reward_paid(
    browser: Browser, story: Story, tmp_path: Path
) -> None:
    settings = story.sites.settings
    token = reporter_files_a_tip(browser, story, tmp_path)

    triage_context = staff_context(browser)
    officer = triage_context.new_page()
    tip_id = triage_accepts_and_asks(officer, story)
    reporter_answers(browser, story, token)
    case_id = triage_concludes_and_opens_a_case(officer, story, tip_id)
    triage_context.close()

    for step in (case_officer_rectifies, second_officer_accepts):
        context = staff_context(browser)
        step(context.new_page(), story, case_id, tmp_path)
        context.close()

    # Time passes: to the day before the re-check falls due, past the objection window.
    assert settings.case_recheck_days - 1 > settings.objection_days
    story.clock.advance(days=settings.case_recheck_days - 1)
    context = staff_context(browser)
    recheck_passes(context.new_page(), story, case_id)
    context.close()

    finance_context = staff_context(browser)
    finance = finance_context.new_page()
    reward_id = finance_calculates(finance, story, tip_id)
    approver_context = staff_context(browser)
    approver_approves_and_offers(approver_context.new_page(), story, reward_id)
    approver_context.close()
    reporter_claims(browser, story, token)
    finance_pays(finance, story, reward_id)
    finance_context.close()
    reporter_sees_it_paid(browser, story, token)
    assert story.failed == []

    # What the pages did is what the database holds.
    with db.unit_of_work(story.sites.sessions) as session:
        access = intake_services.unlock_with_token(session, settings, token)
        status = triage.reporter_status(session, story.clock, settings, access)
        assert status.outcome is TipState.SUBSTANTIATED
        assert status.conclusion_text == CONCLUSION
        assert [m.body for m in status.messages] == [QUESTION, ANSWER]
        case = session.get(HazardCase, uuid.UUID(case_id))
        assert case is not None
        assert case.tip_id == uuid.UUID(tip_id)
        assert case.state is CaseState.RECHECKED
        assert case.accepted_by_id != case.submitted_by_id
        reward = session.get(Reward, uuid.UUID(reward_id))
        assert reward is not None
        assert reward.state is RewardState.PAID
        assert reward.payment_method is PaymentMethod.BANK_TRANSFER
        assert reward.approved_by_id != reward.calculated_by_id
        assert reward.paid_amount_fen == reward.amount_fen == 450_000
        trail = set(
            session.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.object_id.in_([tip_id, case_id, reward_id])
                )
            )
        )
    for action in ("tip.accept", "tip.message_sent", "tip.conclude", "case.opened", "case.plan"):
        assert action in trail, action
    for action in ("case.accept", "case.recheck_ok"):
        assert action in trail, action
