"""The reporter's journey in Chromium with JavaScript disabled (Tor Browser at "Safest"): file a
tip with a photo after finding the facility, keep the token (read from the page and saved as a
text file), come back later in a fresh browser context and read the status."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from core import db
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from intake import services
from registry.services import load_demo_facilities
from tests.browser.conftest import Sites

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


@pytest.fixture(scope="module")
def intake_ready(sites: Sites) -> Sites:
    """The browser instance after `qingling keys init-recovery` and the demo facilities."""
    with db.unit_of_work(sites.sessions) as session:
        if keys.find_group(session, keys.RECOVERY) is None:
            keys.init_recovery(session, SystemClock(), sites.settings, SYSTEM_ACTOR)
        load_demo_facilities(session, SystemClock(), SYSTEM_ACTOR)
    return sites


def photo(path: Path) -> Path:
    image = Image.new("RGB", (320, 240), (200, 60, 40))
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


def no_js_page(browser: Browser) -> Page:
    context = browser.new_context(
        java_script_enabled=False,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


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
