"""A reporter claims a reward in Chromium with JavaScript disabled (Tor Browser at "Safest"),
on a phone-sized screen: the offer is on the status page, the claim is made with the tracking
token and bank details, and after finance records the payment the reporter, back in a fresh
browser, sees the reward paid. The tip is carried to the offer through the services: concluded
a month ago (so the objection window is over), calculated and approved by two people in
finance. Screenshots go to the test artifacts."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock, SystemClock
from core.keys import services as keys
from intake import services as intake_services
from intake.models import Channel, TipCategory, TipState
from registry.models import Division
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardKind, RewardState
from tests.browser.conftest import Sites, no_js_page
from triage import services as triage
from triage.deadlines import local_date

pytestmark = pytest.mark.browser

PASSWORD = "amber kettle seventy harbour 31"
ACCOUNT = "6217 0000 1234 5678 901"


def make_staff(
    sites: Sites, name: str, role: Role, group: str | None, sheet: keys.RecoverySheet
) -> tuple[int, bytes]:
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        user = accounts.create_user(
            session, clock, sites.settings, SYSTEM_ACTOR, username=name,
            display_name=name.title(), password=PASSWORD, roles={role}, division_id=None,
        )  # fmt: skip
        key = accounts.personal_key_with_password(
            session, clock, sites.settings, user, password=PASSWORD
        )
        if group is not None:
            found = keys.find_group(session, group)
            assert found is not None
            keys.grant(
                session, clock, sites.settings, keys.RecoveryAuthority(sheet.private_key), found,
                grantee=user,
            )  # fmt: skip
        return user.id, key


def offered_reward(sites: Sites, sheet: keys.RecoverySheet) -> tuple[str, uuid.UUID]:
    """A tip concluded 30 days ago whose reward is now offered; the token and the reward id."""
    past = FakeClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    triage_id, triage_key = make_staff(
        sites, "browser-rewards-triage", Role.TRIAGE_OFFICER, keys.CITY_TRIAGE, sheet
    )
    officer_id, _ = make_staff(
        sites, "browser-rewards-officer", Role.FINANCE_OFFICER, keys.FINANCE, sheet
    )
    approver_id, _ = make_staff(
        sites, "browser-rewards-approver", Role.FINANCE_APPROVER, keys.FINANCE, sheet
    )
    with db.unit_of_work(sites.sessions) as session:
        division = session.scalar(select(Division.id).where(Division.name == "凤凰镇"))
        assert division is not None
        receipt = intake_services.receive_tip(
            session,
            past,
            sites.settings,
            intake_services.TipSubmission(
                description="The boiler room door of the care home is chained shut.",
                category=TipCategory.SPECIAL_EQUIPMENT,
                division_id=division,
                channel=Channel.WEB,
            ),
        )
    tip_id = receipt.tip_id
    with db.unit_of_work(sites.sessions) as session:
        officer = session.get(User, triage_id)
        assert officer is not None
        args = (session, past, sites.settings, officer)
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        triage.conclude(
            *args, tip_id, personal_key=triage_key, outcome=TipState.SUBSTANTIATED,
            text="Checked on site: the door was chained. Fined and fixed.",
        )  # fmt: skip
    with db.unit_of_work(sites.sessions) as session:
        reward = session.scalar(select(Reward).where(Reward.tip_id == tip_id))
        assert reward is not None
        finance = session.get(User, officer_id)
        approver = session.get(User, approver_id)
        assert finance is not None
        assert approver is not None
        rewards.record_penalty_decision(
            session, past, sites.settings, finance, reward.id,
            decision=rewards.PenaltyDecision(
                RewardKind.HAZARD, penalties_fen=(2_000_000, 1_000_000),
                decision_number="张民罚决字〔2026〕301号", decision_date=local_date(past.now()),
            ),
        )  # fmt: skip
        rewards.calculate(session, past, sites.settings, finance, reward.id)
        rewards.approve(session, past, sites.settings, approver, reward.id)
        rewards.offer(session, SystemClock(), sites.settings, finance, reward.id)
        return receipt.token.display, reward.id


def enter(page: Page, sites: Sites, token: str) -> None:
    page.goto(sites.public_url + "/status")
    page.click("text=English")
    page.fill("#token", token)
    page.click("button[type=submit].btn")
    assert page.url.endswith("/status/report"), page.url


def test_the_reporter_claims_with_the_token_and_later_sees_it_paid(
    browser: Browser, sites: Sites, artifacts: Path, recovery_sheet: keys.RecoverySheet
) -> None:
    token, reward_id = offered_reward(sites, recovery_sheet)

    page = no_js_page(browser)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    enter(page, sites, token)
    area = page.locator("#reward")
    expect(area).to_contain_text("¥4,500.00")
    expect(page.locator("#reward-deadline")).to_contain_text("days left")
    page.screenshot(path=str(artifacts / "rewards-offer.png"), full_page=True)

    page.click("#claim-link")
    assert page.url.endswith("/reward/claim")
    page.check("input[name=method][value=bank_transfer]")
    page.fill("#account_name", "Zhang San")
    page.fill("#bank", "ICBC Zhangjiagang")
    page.fill("#account_number", ACCOUNT)
    page.fill("#token", token.lower())
    page.screenshot(path=str(artifacts / "rewards-claim-form.png"), full_page=True)
    page.click("#claim-submit")
    expect(page.locator("h1")).to_have_text("Your reward is claimed")
    expect(page.locator("#claimed-method")).to_have_text("Bank transfer to an account I give")
    assert ACCOUNT.replace(" ", "") not in page.content()
    page.click("text=Back to your report")
    expect(page.locator("#reward-state")).to_contain_text("You claimed the reward on")
    page.context.close()

    # Finance opens the details (with the officer's key) and records the payment.
    with db.unit_of_work(sites.sessions) as session:
        officer = session.scalar(select(User).where(User.username == "browser-rewards-officer"))
        assert officer is not None
        key = accounts.personal_key_with_password(
            session, SystemClock(), sites.settings, officer, password=PASSWORD
        )
        details = rewards.open_payment_details(
            session, SystemClock(), sites.settings, officer, reward_id, personal_key=key
        )
        assert (details.method, details.account_name, details.account_number) == (
            PaymentMethod.BANK_TRANSFER,
            "Zhang San",
            ACCOUNT.replace(" ", ""),
        )
        rewards.record_payment(
            session, SystemClock(), sites.settings, officer, reward_id,
            payment=rewards.Payment("记-BROWSER-1", local_date(dt.datetime.now(dt.UTC)), 450_000),
        )  # fmt: skip

    later = no_js_page(browser)
    later.on(
        "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None
    )
    enter(later, sites, token)
    expect(later.locator("#reward-state")).to_contain_text("The reward was paid on")
    expect(later.locator("#reward-amount")).to_have_text("¥4,500.00")
    later.screenshot(path=str(artifacts / "rewards-paid.png"), full_page=True)
    later.context.close()
    assert not failed, failed
    with sites.sessions() as session:
        reward = session.get(Reward, reward_id)
        assert reward is not None
        assert reward.state is RewardState.PAID
