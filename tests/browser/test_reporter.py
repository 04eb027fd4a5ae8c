"""The reporter's journey in Chromium with JavaScript disabled (Tor Browser at "Safest"): file a
tip with a photo after finding the facility, keep the token (read from the page and saved as a
text file), come back later in a fresh browser context and read the status; and answer an
officer's question (asked through the triage services) on the status page."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser
from sqlalchemy import select

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from intake import services
from intake.models import Channel, TipCategory
from registry.models import Division
from tests.browser.conftest import Sites, no_js_page
from triage import services as triage

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


@pytest.fixture(scope="module")
def intake_ready(sites: Sites, recovery_sheet: keys.RecoverySheet) -> Sites:
    """The browser instance after `qingling keys init-recovery` and the demo facilities."""
    return sites


def photo(path: Path) -> Path:
    image = Image.new("RGB", (320, 240), (200, 60, 40))
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


def test_file_a_tip_keep_the_token_and_read_the_status_without_javascript(
    browser: Browser, intake_ready: Sites, tmp_path: Path, artifacts: Path
) -> None:
    sites = intake_ready
    page = no_js_page(browser)
    page.goto(sites.public_url + "/")
    page.click("text=English")
    page.click("nav >> text=Report a hazard")
    assert page.url.endswith("/report")

    page.fill("#description", "The fire exit on the second floor is blocked; one carer at night.")
    page.check("input[name=category][value=fire]")
    page.select_option("#division", label="Yangshe Town")
    page.fill("#facility_query", "夕阳红")
    page.click("button[name=search]")
    assert "/report/search" in page.url
    assert page.input_value("#description").startswith("The fire exit")  # kept
    page.check("text=夕阳红托老所")
    page.check("input[name=relationship][value=employee]")
    page.set_input_files("#files", str(photo(tmp_path / "IMG_20251127_2130.jpg")))
    page.screenshot(path=str(artifacts / "reporter-form.png"), full_page=True)
    page.click("button[name=send]")

    token = page.locator("#token").inner_text().strip()
    assert TOKEN.match(token), token
    assert token not in page.url
    page.screenshot(path=str(artifacts / "reporter-receipt.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("text=Save as a text file")
    download = download_info.value
    assert download.suggested_filename == "qingling-token.txt"
    assert token not in download.url
    saved = Path(download.path()).read_text("utf-8")
    assert token in saved
    page.context.close()

    with db.unit_of_work(sites.sessions) as session:
        tip = services.open_with_token(session, sites.settings, token)
        assert [(a.name, a.scrubbed) for a in tip.attachments] == [("photo-1.jpg", True)]
        assert tip.facility_id is not None

    # Later, in a fresh browser: the token from the text file opens the status.
    page = no_js_page(browser)
    page.goto(sites.public_url + "/status")
    kept = next(word for word in saved.split() if TOKEN.match(word))
    page.fill("#token", kept.lower())  # case does not matter
    page.click("button[type=submit].btn")
    assert page.url.endswith("/status/report")
    body = page.locator("main").inner_text()
    assert "已收到" in body or "Received" in body
    assert "The fire exit on the second floor is blocked" in body
    assert "夕阳红托老所" in body
    page.screenshot(path=str(artifacts / "reporter-status.png"), full_page=True)
    page.click(".logout button")
    assert page.url.endswith("/status")
    page.goto(sites.public_url + "/status/report")
    assert page.url.endswith("/status")
    page.context.close()


QUESTION = "Which staircase is blocked, the east or the west one?"
ANSWER = "The east staircase, next to the kitchen.\nThe mattresses are still there."
PASSWORD = "correct horse battery staple 42"


def test_answer_an_officers_question_without_javascript(
    browser: Browser, intake_ready: Sites, artifacts: Path, recovery_sheet: keys.RecoverySheet
) -> None:
    sites = intake_ready
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        division = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
        assert division is not None
        receipt = services.receive_tip(
            session,
            clock,
            sites.settings,
            services.TipSubmission(
                description="The fire exit on the ground floor is locked with a chain at night.",
                category=TipCategory.FIRE,
                division_id=division,
                facility_name="无名托老所",
                channel=Channel.WEB,
            ),
        )
        token, tip_id = receipt.token.display, receipt.tip_id
        officer = accounts.create_user(
            session,
            clock,
            sites.settings,
            SYSTEM_ACTOR,
            username="browser-triage-city",
            display_name="Triage officer",
            password=PASSWORD,
            roles={Role.TRIAGE_OFFICER},
            division_id=None,
        )
        key = accounts.personal_key_with_password(
            session, clock, sites.settings, officer, password=PASSWORD
        )
        city = keys.find_group(session, keys.CITY_TRIAGE)
        assert city is not None
        authority = keys.RecoveryAuthority(recovery_sheet.private_key)
        keys.grant(session, clock, sites.settings, authority, city, grantee=officer)
        args = (session, clock, sites.settings, officer)
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        triage.ask_reporter(*args, tip_id, personal_key=key, body=QUESTION)

    page = no_js_page(browser)
    page.goto(sites.public_url + "/status")
    page.click("text=English")
    page.fill("#token", token)
    page.click("button[type=submit].btn")
    assert page.url.endswith("/status/report")
    main = page.locator("main")
    assert "Being verified" in main.inner_text()
    assert QUESTION in main.inner_text()
    assert "An officer has asked you a question" in main.inner_text()
    page.fill("#body", ANSWER)
    page.screenshot(path=str(artifacts / "reporter-answer.png"), full_page=True)
    page.click("button[name=send]")
    assert page.url.endswith("/status/report")
    text = main.inner_text()
    assert "Your message was sent." in text
    assert "An officer has asked you a question" not in text
    thread = page.locator("ol.thread li").all_inner_texts()
    assert len(thread) == 2
    assert QUESTION in thread[0]
    assert "The east staircase, next to the kitchen." in thread[1]
    assert page.input_value("#body") == ""
    page.context.close()

    with db.unit_of_work(sites.sessions) as session:
        status = triage.reporter_status(
            session,
            clock,
            sites.settings,
            services.unlock_with_token(session, sites.settings, token),
        )
        assert [m.body for m in status.messages] == [QUESTION, ANSWER]
        assert status.awaiting_reply is False
