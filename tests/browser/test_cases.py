"""One hazard case through the closed loop in Chromium: a case officer enters a case found by
an inspection (item picker, composite rule on the case page), records the plan with the five
in place and a progress update with a photo, and submits it for acceptance; a second officer
accepts it with evidence, which closes the case and sets the re-check date; the first officer
records the re-check. Phone-sized pages, Chinese first; screenshots go to the test
artifacts."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from cases.models import CaseState, HazardCase
from cases.standards.services import load_shipped_standards
from core import db
from core.accounts import services as accounts
from core.accounts.models import Role
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock, local
from core.keys import services as keys
from crypto import totp
from registry.models import Division, Facility
from tests.browser.conftest import Sites

pytestmark = pytest.mark.browser

PASSWORD = "copper meadow seventy harbour 29"
ITEM = "民政部办公厅 2023-11-27/4(1)"
DESCRIPTION = "Inspection: the east stairway on the second floor is blocked with furniture."


def code_now(secret: str) -> str:
    return totp.code_at(totp.from_base32(secret), dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def officers(sites: Sites, recovery_sheet: keys.RecoverySheet) -> dict[str, str]:
    """Two case officers of 杨舍镇 (TOTP enrolled) and the shipped catalogue loaded (the demo
    facilities come with ``recovery_sheet``); username → TOTP secret."""
    clock = SystemClock()
    secrets: dict[str, str] = {}
    with db.unit_of_work(sites.sessions) as session:
        load_shipped_standards(session, clock)
        division = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
        assert division is not None
        for username in ("browser-case-a", "browser-case-b"):
            officer = accounts.create_user(
                session,
                clock,
                sites.settings,
                SYSTEM_ACTOR,
                username=username,
                display_name=username.replace("browser-case-", "Officer ").upper(),
                password=PASSWORD,
                roles={Role.CASE_OFFICER},
                division_id=division,
            )
            secrets[username] = accounts.enrol_totp_seed(session, clock, sites.settings, officer)
            accounts.personal_key_with_password(
                session, clock, sites.settings, officer, password=PASSWORD
            )
    return secrets


def photo(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def new_context(browser: Browser) -> BrowserContext:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    context.set_default_timeout(15_000)
    return context


def login(page: Page, sites: Sites, username: str, secret: str) -> None:
    page.goto(sites.staff_url + "/cases/")
    assert "/login" in page.url
    with page.expect_navigation():
        page.locator("form.lang button[name=lang][value=en]").click()
    page.fill("#login-form [name=username]", username)
    page.fill("#login-form [name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    page.fill("#totp-form [name=code]", code_now(secret))
    with page.expect_navigation():
        page.click("#totp-submit")
    if "/account/recovery-code" in page.url:  # first login: the recovery code, once
        with page.expect_navigation():
            page.click("#recovery-code-submit")
        with page.expect_navigation():
            page.click("#recovery-done")
        page.goto(sites.staff_url + "/cases/")
    assert page.url.rstrip("/").endswith("/cases"), page.url


def submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.click(button)


def test_one_case_from_opening_to_closure_and_recheck(
    browser: Browser, sites: Sites, artifacts: Path, officers: dict[str, str], tmp_path: Path
) -> None:
    today = local(dt.datetime.now(dt.UTC)).date()
    with sites.sessions() as session:
        facility = session.scalar(select(Facility.id).where(Facility.name == "夕阳红托老所"))
    assert facility is not None
    failed: list[str] = []

    # Officer A enters the case and runs the rectification.
    a_context = new_context(browser)
    a = a_context.new_page()
    a.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    login(a, sites, "browser-case-a", officers["browser-case-a"])
    a.goto(sites.staff_url + "/dashboard/")
    rechecked_cell = a.locator('#state-table tr[data-state="rechecked"] td')
    rechecked_before = int(rechecked_cell.inner_text())
    a.goto(sites.staff_url + "/cases/")
    submit(a, "#new-case")
    a.select_option("#source", "inspection")
    a.fill("#facility", str(facility))
    a.select_option("#category", "elderly_care_safety")
    a.fill("#discovered_on", today.isoformat())
    item = a.locator(f'input[name=standard_items][value="{ITEM}"]')
    item.locator("xpath=ancestor::details[1]/summary").click()
    item.check()
    a.select_option("#place_class", "crowded")
    a.fill("#description", DESCRIPTION)
    a.screenshot(path=str(artifacts / "cases-new.png"), full_page=True)
    submit(a, "#new-case-submit")
    expect(a.locator("#case-state")).to_have_attribute("data-state", "open")
    expect(a.locator("#composite")).to_be_visible()
    expect(a.locator("#case-items")).to_contain_text(ITEM)
    case_url = a.url

    deadline = (today + dt.timedelta(days=30)).isoformat()
    a.fill("#plan-responsibility", "Director Zhang; the maintenance team.")
    a.fill("#plan-measures", "Clear the stairway and fix the self-closing fire door.")
    a.fill("#plan-funds", "3200.00")
    a.fill("#plan-deadline", deadline)
    a.fill("#plan-contingency_plan", "A staff member stays on the floor until it is done.")
    submit(a, "#plan-submit")
    expect(a.locator("#case-state")).to_have_attribute("data-state", "rectifying")
    expect(a.locator("#current-plan")).to_contain_text("¥3,200.00")
    expect(a.locator("#case-deadline")).to_have_text(deadline)

    a.fill("#progress-note", "Furniture removed; the door closer is ordered.")
    a.set_input_files("#progress-files", str(photo(tmp_path / "stairway.jpg")))
    submit(a, "#progress-submit")
    expect(a.locator("#case-timeline")).to_contain_text("Furniture removed")
    expect(a.locator("#case-timeline a.evidence-link")).to_have_text("stairway.jpg")

    a.fill("#submit-note", "Stairway clear, door closer replaced.")
    submit(a, "#submit-submit")
    expect(a.locator("#case-state")).to_have_attribute("data-state", "awaiting_acceptance")
    expect(a.locator("#accept-by-another")).to_be_visible()
    expect(a.locator("#form-accept")).to_have_count(0)

    # Officer B accepts with evidence: the case is closed and the re-check scheduled.
    b_context = new_context(browser)
    b = b_context.new_page()
    b.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    login(b, sites, "browser-case-b", officers["browser-case-b"])
    b.goto(case_url)
    b.fill("#accept-note", "Checked on site: stairway clear, door closes by itself.")
    b.set_input_files("#accept-files", str(photo(tmp_path / "accepted.jpg")))
    submit(b, "#accept-submit")
    expect(b.locator("#case-state")).to_have_attribute("data-state", "closed")
    due = today + dt.timedelta(days=sites.settings.case_recheck_days)
    expect(b.locator("#case-recheck-due")).to_have_text(due.isoformat())
    b.screenshot(path=str(artifacts / "cases-closed.png"), full_page=True)
    b_context.close()

    # Officer A records the re-check (回头看).
    a.goto(case_url)
    a.fill("#recheck-note", "Re-check: the stairway is still clear.")
    submit(a, "#recheck-submit")
    expect(a.locator("#case-state")).to_have_attribute("data-state", "rechecked")
    kinds = a.locator("#case-timeline > li").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds == ["opened", "plan", "progress", "submission", "acceptance", "recheck"]
    a.screenshot(path=str(artifacts / "cases-rechecked.png"), full_page=True)
    # The dashboard counts the case as re-checked now.
    a.goto(sites.staff_url + "/dashboard/")
    expect(rechecked_cell).to_have_text(str(rechecked_before + 1))
    a.screenshot(path=str(artifacts / "cases-dashboard.png"), full_page=True)
    a_context.close()

    assert failed == []
    with sites.sessions() as session:
        case = session.scalars(
            select(HazardCase).where(HazardCase.description == DESCRIPTION)
        ).one()
        assert case.state is CaseState.RECHECKED
        assert case.accepted_by_id != case.submitted_by_id
        actions = session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.object_id == str(case.id))
            .order_by(AuditRecord.seq)
        ).all()
    assert actions == [
        "case.opened",
        "case.plan",
        "case.progress",
        "case.submit",
        "case.accept",
        "case.recheck_ok",
    ]
