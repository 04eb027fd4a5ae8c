"""The staff site's pages, and the "service unavailable" page of both sites, under axe-core: no
serious or critical violation of the WCAG 2.x A/AA rules and axe's best practices, in Chinese
and in English, on a desk-sized screen and on a phone (390×844). axe is evaluated through the
DevTools protocol, so each page is checked with its Content-Security-Policy in force (see
test_accessibility.py's docstring); each page's full result goes to the test artifacts as JSON,
with a screenshot.

The pages are brought to the states a staff member meets, with data made through the services
in 南丰镇 (which no other browser test uses): a report under verification with a question, the
reporter's answer and an internal note; a substantiated one whose hazard case has a
rectification plan and whose reward is calculated. Each logged-in journey has its own account
(a TOTP code is accepted once per account and time step). The accounts that browse hold every
role whose pages are checked, so the navigation shows all its links.

The 503 page: a second public site and staff site are served on loopback over a PostgreSQL URL
whose port nothing listens on, so every query is refused at once, as when the database server
is down (core/web.py's ``database_unavailable``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, ViewportSize
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import services as cases
from cases.standards.services import load_shipped_standards
from core import db
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.clock import SystemClock, local
from core.keys import services as keys
from core.web import DATABASE_RETRY_AFTER
from intake import services as intake_services
from intake.models import Channel, TipCategory, TipState
from registry.models import Division, Facility
from rewards import services as rewards
from rewards.models import Reward, RewardKind
from tests.browser.conftest import (
    Sites,
    StaffMember,
    axe_violations,
    make_staff,
    served,
    totp_code,
)
from tests.browser.test_accessibility import english
from tests.browser.test_story import ShiftedClock, Story, staff_login
from triage import services as triage

pytestmark = pytest.mark.browser

DIVISION = "南丰镇"  # no other browser test uses it: their counts stay as they expect
FACILITY = "南丰镇永联颐养中心"
PASSWORD = "lantern orchard sixty meadow 41"
ITEM = "民政部办公厅 2023-11-27/4(1)"
QUESTION = "Which floor is the blocked exit on?"
ANSWER = "The second floor, at the end of the west corridor."
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Every role whose pages are checked (the finance approver's pages are the finance officer's).
BROWSING = {
    Role.TRIAGE_OFFICER,
    Role.CASE_OFFICER,
    Role.FINANCE_OFFICER,
    Role.ADMINISTRATOR,
    Role.AUDITOR,
}
# Where nothing listens: every connection is refused at once (tests/faults uses it too).
UNREACHABLE = "postgresql+psycopg://qingling@127.0.0.1:1/qingling"


@dataclass(frozen=True)
class Office:
    """The staff site with its cast (for test_story's ``staff_login``) and the records the
    pages show."""

    story: Story
    asked_tip: str  # under verification: a question, the reporter's answer, a note
    concluded_tip: str  # substantiated, with a case opened from it
    case: str  # rectifying, with a plan
    reward: str  # calculated
    facility: int


def enrol_cast(sites: Sites, sheet: keys.RecoverySheet) -> dict[str, StaffMember]:
    """The officers who make the records, and one browsing account per logged-in journey."""
    cast = {
        "triage": make_staff(
            sites, sheet, "a11y-staff-triage", PASSWORD, {Role.TRIAGE_OFFICER},
            division=DIVISION, groups=("division",),
        ),
        "case": make_staff(
            sites, sheet, "a11y-staff-case", PASSWORD, {Role.CASE_OFFICER}, division=DIVISION
        ),
        "finance": make_staff(
            sites, sheet, "a11y-staff-finance", PASSWORD, {Role.FINANCE_OFFICER},
            groups=(keys.FINANCE,),
        ),
    }  # fmt: skip
    for name in ("login-zh", "login-en"):  # their first login shows the recovery-code pages
        cast[name] = make_staff(
            sites, sheet, f"a11y-staff-{name}", PASSWORD, {Role.TRIAGE_OFFICER},
            division=DIVISION, groups=("division",),
        )  # fmt: skip
    for name in ("desk-zh", "phone-en", "phone-zh"):
        cast[name] = make_staff(
            sites, sheet, f"a11y-staff-{name}", PASSWORD, BROWSING, division=DIVISION,
            groups=("division", keys.FINANCE),
        )  # fmt: skip
    return cast


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == f"a11y-staff-{username}"))
    assert found is not None, username
    return found


@pytest.fixture(scope="module")
def office(sites: Sites, recovery_sheet: keys.RecoverySheet, artifacts: Path) -> Office:
    """Two reports in 南丰镇 carried through the services (see the module docstring)."""
    cast = enrol_cast(sites, recovery_sheet)
    now = SystemClock()
    settings = sites.settings
    with db.unit_of_work(sites.sessions) as session:
        load_shipped_standards(session, now)
        division = session.scalar(select(Division.id).where(Division.name == DIVISION))
        facility = session.scalar(select(Facility.id).where(Facility.name == FACILITY))
        assert division is not None
        assert facility is not None
        officer = user(session, "triage")
        key = accounts.personal_key_with_password(
            session, now, settings, officer, password=PASSWORD
        )
        receipts = []
        for text in (
            "The fire exit of the west building is blocked with beds every night.",
            "The smoke detectors in the dining hall have had no batteries for months.",
        ):
            tip = intake_services.TipSubmission(
                description=text, category=TipCategory.FIRE, division_id=division,
                facility_id=facility, location="West building", channel=Channel.WEB,
            )  # fmt: skip
            receipts.append(intake_services.receive_tip(session, now, settings, tip))
        asked, concluded = (receipt.tip_id for receipt in receipts)
        for tip_id in (asked, concluded):
            triage.accept(session, now, settings, officer, tip_id)
            triage.start_verification(session, now, settings, officer, tip_id)
        triage.ask_reporter(session, now, settings, officer, asked, personal_key=key, body=QUESTION)
        triage.add_note(
            session, now, settings, officer, asked, personal_key=key,
            body="Call the facility's director before the visit.",
        )  # fmt: skip
        triage.conclude(
            session, now, settings, officer, concluded, personal_key=key,
            outcome=TipState.SUBSTANTIATED, text="Checked on site: no batteries. Fined.",
        )  # fmt: skip
        case_id = cases.open_case_from_tip(
            session, now, settings, officer, concluded, personal_key=key,
            standard_items=[ITEM], description="Smoke detectors in the dining hall without power.",
        )  # fmt: skip
    with db.unit_of_work(sites.sessions) as session:
        access = intake_services.unlock_with_token(session, settings, receipts[0].token.display)
        triage.reporter_reply(session, now, settings, access, ANSWER)
        cases.submit_plan(
            session, now, settings, user(session, "case"), case_id,
            plan=cases.PlanData(
                responsibility="The director of the home.",
                measures="Replace the batteries and test every detector each month.",
                funds_fen=80_000,
                deadline=local(now.now()).date() + dt.timedelta(days=20),
                contingency_plan="A fire watch in the dining hall until the work is done.",
            ),
        )  # fmt: skip
        reward = session.scalar(select(Reward).where(Reward.tip_id == concluded))
        assert reward is not None
        finance = user(session, "finance")
        rewards.record_penalty_decision(
            session, now, settings, finance, reward.id,
            decision=rewards.PenaltyDecision(
                RewardKind.HAZARD, penalties_fen=(500_000,),
                decision_number="张民罚决字〔2026〕91号", decision_date=local(now.now()).date(),
            ),
        )  # fmt: skip
        rewards.calculate(session, now, settings, finance, reward.id)
        reward_id = reward.id
    return Office(
        story=Story(
            sites=sites, clock=ShiftedClock(), public_url=sites.public_url,
            staff_url=sites.staff_url, staff=cast, artifacts=artifacts, failed=[],
        ),
        asked_tip=str(asked), concluded_tip=str(concluded), case=str(case_id),
        reward=str(reward_id), facility=facility,
    )  # fmt: skip


# ---------------------------------------------------------------- steps
# Each brings the page to the state named in JOURNEYS, where axe checks it.

Step = Callable[[Page, Office], None]


def goto(path: str | Callable[[Office], str], status: int = 200) -> Step:
    def step(page: Page, office: Office) -> None:
        where = path if isinstance(path, str) else path(office)
        response = page.goto(office.story.staff_url + where)
        assert response is not None
        assert response.status == status, (where, response.status)
        assert page.url == office.story.staff_url + where, page.url  # not sent to the login

    return step


def chinese(page: Page, office: Office) -> None:
    with page.expect_navigation():
        page.locator("form.lang button[name=lang][value=zh_CN]").click()
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def in_english(page: Page, office: Office) -> None:
    english(page)
    assert page.locator("html").get_attribute("lang") == "en"


def login_page(page: Page, office: Office) -> None:
    page.goto(office.story.staff_url + "/")
    assert "/login" in page.url, page.url


def password_sent(who: str, password: str = PASSWORD) -> Step:
    def step(page: Page, office: Office) -> None:
        page.fill("#login-form [name=username]", office.story.staff[who].username)
        page.fill("#login-form [name=password]", password)
        with page.expect_navigation():
            page.click("#login-submit")

    return step


def refused(page: Page, office: Office) -> None:
    assert page.locator("#login-error").count() == 1


def totp_step(page: Page, office: Office) -> None:
    assert "/login/totp" in page.url, page.url


def code_sent(who: str) -> Step:
    """The TOTP step done: a first login goes on to the recovery-code page."""

    def step(page: Page, office: Office) -> None:
        page.fill("#totp-form [name=code]", totp_code(office.story.staff[who].totp_secret))
        with page.expect_navigation():
            page.click("#totp-submit")
        assert "/account/recovery-code" in page.url, page.url

    return step


def recovery_code_shown(page: Page, office: Office) -> None:
    with page.expect_navigation():
        page.click("#recovery-code-submit")
    assert page.locator("#recovery-done").count() == 1


def logged_in(who: str) -> Step:
    def step(page: Page, office: Office) -> None:
        staff_login(page, office.story, who, "/")  # in English (test_story)

    return step


def user_refused(page: Page, office: Office) -> None:
    """The new-account form sent empty: the server's errors at their fields."""
    with page.expect_navigation():
        page.click("#user-submit")
    assert page.locator("#user-form .has-error").count() > 0


JOURNEYS: list[tuple[ViewportSize, list[tuple[str, Step]]]] = [
    (
        DESKTOP,
        [
            ("login-zh", login_page),
            ("login-refused-zh", password_sent("login-zh", "not the password")),
            ("login-refused-zh", refused),
            ("totp-zh", password_sent("login-zh")),
            ("totp-zh", totp_step),
            ("recovery-code-zh", code_sent("login-zh")),
            ("recovery-code-shown-zh", recovery_code_shown),
        ],
    ),
    (
        PHONE,
        [
            ("login-en-phone", login_page),
            ("login-en-phone", in_english),
            ("totp-en-phone", password_sent("login-en")),
            ("totp-en-phone", totp_step),
            ("recovery-code-en-phone", code_sent("login-en")),
        ],
    ),
    (
        DESKTOP,
        [
            ("home-zh", logged_in("desk-zh")),
            ("home-zh", chinese),
            ("triage-queue-zh", goto("/triage/")),
            ("tip-asked-zh", goto(lambda o: f"/triage/tips/{o.asked_tip}")),
            ("tip-concluded-zh", goto(lambda o: f"/triage/tips/{o.concluded_tip}")),
            ("cases-zh", goto("/cases/")),
            ("case-zh", goto(lambda o: f"/cases/{o.case}")),
            ("registry-zh", goto("/registry/")),
            ("facility-zh", goto(lambda o: f"/registry/{o.facility}")),
            ("dashboard-zh", goto("/dashboard/")),
            ("rewards-zh", goto("/rewards/")),
            ("reward-zh", goto(lambda o: f"/rewards/{o.reward}")),
            ("users-zh", goto("/admin/users")),
            ("user-refused-zh", goto("/admin/users/new")),
            ("user-refused-zh", user_refused),
            ("audit-zh", goto("/audit/")),
            ("standards-zh", goto("/standards/")),
            ("account-zh", goto("/account")),
            ("not-found-zh", goto("/no-such-page", 404)),
        ],
    ),
    (
        PHONE,
        [
            ("home-en-phone", logged_in("phone-en")),
            ("triage-queue-en-phone", goto("/triage/")),
            ("tip-asked-en-phone", goto(lambda o: f"/triage/tips/{o.asked_tip}")),
            ("case-en-phone", goto(lambda o: f"/cases/{o.case}")),
            ("cases-en-phone", goto("/cases/")),
            ("dashboard-en-phone", goto("/dashboard/")),
            ("reward-en-phone", goto(lambda o: f"/rewards/{o.reward}")),
            ("user-refused-en-phone", goto("/admin/users/new")),
            ("user-refused-en-phone", user_refused),
            ("audit-en-phone", goto("/audit/")),
            ("not-found-en-phone", goto("/no-such-page", 404)),
        ],
    ),
    (
        PHONE,
        [
            ("home-zh-phone", logged_in("phone-zh")),
            ("home-zh-phone", chinese),
            ("tip-concluded-zh-phone", goto(lambda o: f"/triage/tips/{o.concluded_tip}")),
            ("case-zh-phone", goto(lambda o: f"/cases/{o.case}")),
            ("rewards-zh-phone", goto("/rewards/")),
            ("registry-zh-phone", goto("/registry/")),
        ],
    ),
]


def test_staff_pages_have_no_serious_accessibility_violations(
    browser: Browser, office: Office, axe_source: str, artifacts: Path
) -> None:
    problems: list[str] = []
    checked: list[str] = []
    for viewport, journey in JOURNEYS:
        context = browser.new_context(locale="zh-CN", viewport=viewport)
        context.set_default_timeout(15_000)
        page = context.new_page()
        for i, (name, step) in enumerate(journey):
            step(page, office)
            if i + 1 == len(journey) or journey[i + 1][0] != name:  # the page's last step
                problems += axe_violations(page, axe_source, f"staff-{name}", artifacts)
                checked.append(name)
        context.close()
    names = [name for _, journey in JOURNEYS for name, _ in journey]
    assert checked == list(dict.fromkeys(names))
    assert office.story.failed == []
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the 503 page


@dataclass(frozen=True)
class Outage:
    public_url: str
    staff_url: str


@pytest.fixture(scope="module")
def outage(sites: Sites) -> Iterator[Outage]:
    """Both sites served as ``sites`` serves them, on a database that refuses every
    connection."""
    import public_site
    import staff_site

    settings = dataclasses.replace(sites.settings, database_url=UNREACHABLE)
    with served(public_site.create_app(settings), staff_site.create_app(settings)) as urls:
        yield Outage(*urls)


def assert_unavailable(response: Response | None, lang: str) -> None:
    assert response is not None
    assert response.status == 503, (response.url, response.status)
    assert response.headers.get("retry-after") == str(DATABASE_RETRY_AFTER)
    assert response.frame.page.locator("html").get_attribute("lang") == lang


def public_unavailable(page: Page, outage: Outage) -> None:
    """The report form needs the divisions from the database."""
    assert_unavailable(page.goto(outage.public_url + "/report"), "zh-CN")


def public_unavailable_english(page: Page, outage: Outage) -> None:
    english(page)  # the language switch needs no database
    assert_unavailable(page.reload(), "en")


def staff_unavailable(lang: str) -> Callable[[Page, Outage], None]:
    """The login page needs no database; the password's check does."""

    def step(page: Page, outage: Outage) -> None:
        response = page.goto(outage.staff_url + "/login")
        assert response is not None
        assert response.status == 200
        page.fill("#login-form [name=username]", "a11y-staff-nobody")
        page.fill("#login-form [name=password]", PASSWORD)
        with page.expect_navigation() as navigation:
            page.click("#login-submit")
        assert_unavailable(navigation.value, lang)

    return step


def staff_unavailable_english(page: Page, outage: Outage) -> None:
    english(page)  # to the login page (the 503 answered a POST), in English
    assert "/login" in page.url, page.url
    staff_unavailable("en")(page, outage)


OUTAGE: list[tuple[str, ViewportSize, list[Callable[[Page, Outage], None]]]] = [
    ("public-unavailable-zh", PHONE, [public_unavailable]),
    ("public-unavailable-en", PHONE, [public_unavailable, public_unavailable_english]),
    ("staff-unavailable-zh", DESKTOP, [staff_unavailable("zh-CN")]),
    ("staff-unavailable-en-phone", PHONE, [staff_unavailable("zh-CN"), staff_unavailable_english]),
]


def test_the_service_unavailable_pages_have_no_serious_accessibility_violations(
    browser: Browser, outage: Outage, axe_source: str, artifacts: Path
) -> None:
    problems: list[str] = []
    for name, viewport, steps in OUTAGE:
        context = browser.new_context(locale="zh-CN", viewport=viewport)
        context.set_default_timeout(15_000)
        page = context.new_page()
        for step in steps:
            step(page, outage)
        assert page.locator("section.error h1").count() == 1
        problems += axe_violations(page, axe_source, name, artifacts)
        context.close()
    assert not problems, "\n".join(problems)
