"""The public pages under axe-core (the npm package, pinned in package.json and installed by
`make test` / `make test-browser` with ``npm ci``): no serious or critical violation of the
WCAG 2.x A/AA rules and axe's best practices, in Chinese and in English, on a phone-sized
screen. Each page's full result (every impact) goes to the test artifacts as JSON.

How axe gets into the page: the public site's Content-Security-Policy forbids inline scripts,
and Playwright's ``add_script_tag(path=...)`` inserts the file's content as an inline script,
which the CSP would block. The test evaluates axe's source through the DevTools protocol
(``page.evaluate``) instead: script the test tool runs is not subject to the page's CSP, so the
page is checked exactly as it is served, with its CSP in force (no ``bypass_csp``) — a CSP
violation caused by the page itself would still show up.

Axe needs JavaScript, so these contexts run it; the pages themselves are the same server-made
HTML a reporter with JavaScript off gets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.clock import FakeClock, SystemClock
from core.keys import services as keys
from intake import services as intake_services
from intake.models import Channel, TipCategory, TipState
from registry.models import Division
from rewards import services as rewards
from rewards.models import Reward, RewardKind
from tests.browser.conftest import Sites, axe_violations, jpeg, make_staff, run_axe
from triage import services as triage
from triage.deadlines import local_date

pytestmark = pytest.mark.browser

PASSWORD = "willow harbour ninety copper 58"
DIVISION = "乐余镇"  # not 塘桥镇 (test_triage counts its new reports) nor the story's 锦丰镇
QUESTION = "Is the side door locked during the day as well?"


@dataclass(frozen=True)
class Reporters:
    """Tokens of two reports made for these checks."""

    asked: str  # a question from an officer waits on its status page
    offered: str  # a reward is offered on its status page


@pytest.fixture(scope="module")
def reporters(sites: Sites, recovery_sheet: keys.RecoverySheet) -> Reporters:
    """Two reports in 乐余镇 carried through the services: one with an officer's question, one
    concluded 30 days ago (its objection window over) whose reward is offered."""
    make_staff(
        sites, recovery_sheet, "a11y-triage", PASSWORD, {Role.TRIAGE_OFFICER},
        division=DIVISION, groups=("division",),
    )  # fmt: skip
    make_staff(
        sites, recovery_sheet, "a11y-finance", PASSWORD, {Role.FINANCE_OFFICER},
        groups=(keys.FINANCE,),
    )  # fmt: skip
    make_staff(sites, recovery_sheet, "a11y-approver", PASSWORD, {Role.FINANCE_APPROVER})
    past = FakeClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    now = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        division = session.scalar(select(Division.id).where(Division.name == DIVISION))
        assert division is not None
        triage_user = session.scalar(select(User).where(User.username == "a11y-triage"))
        assert triage_user is not None
        key = accounts.personal_key_with_password(
            session, now, sites.settings, triage_user, password=PASSWORD
        )
        asked = intake_services.receive_tip(
            session, now, sites.settings,
            intake_services.TipSubmission(
                description="The side door of the care home is chained at night.",
                category=TipCategory.FIRE, division_id=division, channel=Channel.WEB,
            ),
        )  # fmt: skip
        offered = intake_services.receive_tip(
            session, past, sites.settings,
            intake_services.TipSubmission(
                description="The kitchen gas pipe is taped together with plastic.",
                category=TipCategory.GAS, division_id=division, channel=Channel.WEB,
            ),
        )  # fmt: skip
        for tip_id, clock in ((asked.tip_id, now), (offered.tip_id, past)):
            triage.accept(session, clock, sites.settings, triage_user, tip_id)
            triage.start_verification(session, clock, sites.settings, triage_user, tip_id)
        triage.ask_reporter(
            session, now, sites.settings, triage_user, asked.tip_id, personal_key=key,
            body=QUESTION,
        )  # fmt: skip
        triage.conclude(
            session, past, sites.settings, triage_user, offered.tip_id, personal_key=key,
            outcome=TipState.SUBSTANTIATED, text="Checked on site: the pipe was replaced.",
        )  # fmt: skip
    with db.unit_of_work(sites.sessions) as session:
        reward = session.scalar(select(Reward).where(Reward.tip_id == offered.tip_id))
        assert reward is not None
        finance = session.scalar(select(User).where(User.username == "a11y-finance"))
        approver = session.scalar(select(User).where(User.username == "a11y-approver"))
        assert finance is not None
        assert approver is not None
        rewards.record_penalty_decision(
            session, past, sites.settings, finance, reward.id,
            decision=rewards.PenaltyDecision(
                RewardKind.HAZARD, penalties_fen=(1_000_000,),
                decision_number="张民罚决字〔2026〕77号", decision_date=local_date(past.now()),
            ),
        )  # fmt: skip
        rewards.calculate(session, past, sites.settings, finance, reward.id)
        rewards.approve(session, past, sites.settings, approver, reward.id)
        rewards.offer(session, now, sites.settings, finance, reward.id)
    return Reporters(asked.token.display, offered.token.display)


def english(page: Page) -> None:
    with page.expect_navigation():
        page.locator("form.lang button[name=lang][value=en]").click()


def enter_token(page: Page, sites: Sites, token: str) -> None:
    page.goto(sites.public_url + "/status")
    page.fill("#token", token)
    with page.expect_navigation():
        page.click("button[type=submit].btn")
    assert page.url.endswith("/status/report"), page.url


# The pages checked, as short journeys in a fresh phone-sized context each: every step brings
# the page to the state named and axe checks it there.
Step = Callable[[Page, Sites, Reporters, Path], None]


def goto(path: str, status: int = 200) -> Step:
    def step(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
        response = page.goto(sites.public_url + path)
        assert response is not None
        assert response.status == status, (path, response.status)

    return step


def in_english(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    english(page)
    assert page.locator("html").get_attribute("lang") == "en"


def facility_search(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    """The form after a facility search, with the registry's matches to choose from."""
    page.fill("#facility_query", "敬老院")
    with page.expect_navigation():
        page.click("button[name=search]")
    assert page.locator("ul.hits li").count() > 0


def sent_empty(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    """The form sent without a description or category: the errors at their fields (the
    browser's own check of required fields is switched off to reach the server's)."""
    page.evaluate("document.querySelector('form.tip-form').noValidate = true")
    page.fill("#description", "")
    with page.expect_navigation():
        page.click("button[name=send]")
    assert page.locator(".has-error").count() > 0


def sent(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    page.fill("#description", "The emergency lights in the corridor have not worked for weeks.")
    page.check("input[name=category][value=fire]")
    page.select_option("#division", label=DIVISION)
    page.check("input[name=relationship][value=resident]")
    page.set_input_files("#files", str(jpeg(tmp / "corridor.jpg")))
    with page.expect_navigation():
        page.click("button[name=send]")
    assert page.locator("#token").count() == 1


def without_csrf_token(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    """The "form expired" page: the facility search sent without its CSRF token."""
    page.evaluate("document.querySelector('form.tip-form input[name=csrf_token]').remove()")
    with page.expect_navigation():
        page.click("button[name=search]")
    assert page.locator("section.error").count() == 1


def status_with_question(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    enter_token(page, sites, who.asked)
    assert QUESTION in page.locator("#messages").inner_text()


def status_with_offer(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    enter_token(page, sites, who.offered)
    assert page.locator("#claim-link").count() == 1


def claim_form(page: Page, sites: Sites, who: Reporters, tmp: Path) -> None:
    with page.expect_navigation():
        page.click("#claim-link")
    assert page.url.endswith("/reward/claim"), page.url


JOURNEYS: list[list[tuple[str, Step]]] = [
    [("home-zh", goto("/")), ("home-en", in_english)],
    [("report-zh", goto("/report")), ("report-search", facility_search)],
    [("report-en", goto("/report")), ("report-en", in_english), ("report-errors", sent_empty)],
    [("receipt", goto("/report")), ("receipt", sent)],
    [("token-entry-zh", goto("/status")), ("token-entry-en", in_english)],
    [("status-question", status_with_question)],
    [("status-offer", status_with_offer), ("claim", claim_form)],
    [("statistics-zh", goto("/statistics")), ("statistics-en", in_english)],
    [("privacy-zh", goto("/privacy")), ("privacy-en", in_english)],
    [("error-404", goto("/no-such-page", 404)), ("error-405", goto("/status/messages", 405))],
    [("error-form-expired", goto("/report")), ("error-form-expired", without_csrf_token)],
]


def test_public_pages_have_no_serious_accessibility_violations(
    *,
    browser: Browser,
    sites: Sites,
    reporters: Reporters,
    axe_source: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    problems: list[str] = []
    checked: list[str] = []
    for journey in JOURNEYS:
        context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
        context.set_default_timeout(15_000)
        page = context.new_page()
        for i, (name, step) in enumerate(journey):
            step(page, sites, reporters, tmp_path)
            last = i + 1 == len(journey) or journey[i + 1][0] != name
            if last:  # a step may take several moves to reach its page
                problems += axe_violations(page, axe_source, name, artifacts)
                checked.append(name)
        context.close()
    assert checked == list(dict.fromkeys(name for journey in JOURNEYS for name, _ in journey))
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_defect_planted_in_a_page(
    page: Page, sites: Sites, axe_source: str, artifacts: Path
) -> None:
    """The harness itself: a text box without a label and grey-on-grey text, added to the
    privacy page by the test, are reported (so a passing check means something), and the page's
    own contrast is measured (not skipped)."""
    page.goto(sites.public_url + "/privacy")
    clean = run_axe(page, axe_source)
    assert "color-contrast" in {rule["id"] for rule in clean["passes"]}
    page.evaluate(
        """() => {
            const main = document.querySelector('main');
            main.append(document.createElement('input'));
            const faint = document.createElement('p');
            faint.textContent = 'faint';
            faint.style.color = '#ccc';
            main.append(faint);
        }"""
    )
    found = {v["id"]: v["impact"] for v in run_axe(page, axe_source)["violations"]}
    assert found.get("label") == "critical", found
    assert found.get("color-contrast") == "serious", found
