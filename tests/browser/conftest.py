"""Both sites served on loopback for Debian's Chromium, driven through Playwright.

The data directory is initialised as ``qingling init`` does it (secrets on disk, migrations, the
divisions) with a real SQLite file and the real clock; each site runs in a thread with Werkzeug's
``make_server``. Playwright's own browser download is never used: the browser is
``/usr/bin/chromium`` (Debian's package ``chromium``), and its absence fails the tests rather than
skipping them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from core import db
from core.accounts import services as accounts
from core.accounts.models import Role
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.keys import services as keys
from core.settings import Settings, load
from crypto import totp
from registry.models import Division
from registry.services import load_demo_facilities

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sites:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    public_url: str
    staff_url: str


def browser_env(data_dir: Path) -> dict[str, str]:
    return {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": "",
        "QINGLING_ARGON2_MEMORY_KIB": "1024",  # fast, still a real Argon2id
        "QINGLING_ARGON2_ITERATIONS": "1",
        "QINGLING_LOG_LEVEL": "WARNING",
    }


def serve(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="browser-site", daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def served(*apps: Flask) -> Iterator[list[str]]:
    """Each app served on its own loopback port by a thread, as ``sites`` serves both sites;
    their base URLs, in order. The servers stop on leaving."""
    servers = [make_server("127.0.0.1", 0, app, threaded=True) for app in apps]
    threads = [serve(server) for server in servers]
    try:
        yield [f"http://127.0.0.1:{server.server_port}" for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=10)


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    import public_site
    import staff_site
    from core.cli import main

    data_dir = tmp_path_factory.mktemp("browser-instance")
    env = browser_env(data_dir)
    # Unset every other QINGLING_* variable for the CLI run (None removes it).
    cli_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QINGLING_")}
    cli_env.update(env)
    result = CliRunner().invoke(main, ["init"], env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    settings = load(env, dotenv=False)
    settings.require_secrets("public")
    settings.require_secrets("staff")
    assert settings.database_url.startswith("sqlite:///")

    engine = db.make_engine(settings)
    sessions = db.make_session_factory(engine)
    try:
        with served(
            public_site.create_app(settings, session_factory=sessions),
            staff_site.create_app(settings, session_factory=sessions),
        ) as (public_url, staff_url):
            yield Sites(
                settings=settings,
                engine=engine,
                sessions=sessions,
                public_url=public_url,
                staff_url=staff_url,
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    base = Path(os.environ.get("QINGLING_TEST_ARTIFACTS") or REPO / "test-artifacts")
    path = base / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); "
            "browser tests never skip"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def browser_no_js_page(browser: Browser) -> Iterator[Page]:
    """A page with JavaScript disabled, as in Tor Browser at "Safest"."""
    ctx = browser.new_context(java_script_enabled=False, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx.new_page()
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def recovery_sheet(sites: Sites) -> keys.RecoverySheet:
    """The browser instance after `qingling keys init-recovery` (and the demo facilities): its
    recovery sheet, shown once and kept here for every browser test that needs a group key."""
    with db.unit_of_work(sites.sessions) as session:
        sheet, _ = keys.init_recovery(session, SystemClock(), sites.settings, SYSTEM_ACTOR)
        load_demo_facilities(session, SystemClock(), SYSTEM_ACTOR)
    return sheet


def no_js_page(browser: Browser) -> Page:
    """A phone-sized page with JavaScript disabled (Tor Browser at "Safest"), downloads on."""
    context = browser.new_context(
        java_script_enabled=False,
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


# ---------------------------------------------------------------- shared helpers
# Used by test_story.py, test_accessibility.py and test_accessibility_staff.py (the earlier
# tests keep their own copies).


@dataclass(frozen=True)
class StaffMember:
    """A staff account made for a browser test: what its person types to log in."""

    username: str
    password: str
    totp_secret: str


def totp_code(secret: str, at: dt.datetime | None = None) -> str:
    """The code the member's authenticator app shows at ``at`` (now by default)."""
    return totp.code_at(totp.from_base32(secret), at or dt.datetime.now(dt.UTC))


def make_staff(
    sites: Sites,
    sheet: keys.RecoverySheet,
    username: str,
    password: str,
    roles: set[Role],
    *,
    division: str | None = None,
    groups: tuple[str, ...] = (),
) -> StaffMember:
    """A staff account with TOTP enrolled and its personal key made, granted the key groups
    ``groups`` (slugs; ``"division"`` for the triage group of ``division``) by the recovery
    key, as an administrator would set it up before the test's story begins."""
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        division_id = None
        if division is not None:
            division_id = session.scalar(select(Division.id).where(Division.name == division))
            assert division_id is not None, division
        user = accounts.create_user(
            session, clock, sites.settings, SYSTEM_ACTOR, username=username,
            display_name=username.replace("-", " ").title(), password=password, roles=roles,
            division_id=division_id,
        )  # fmt: skip
        secret = accounts.enrol_totp_seed(session, clock, sites.settings, user)
        accounts.personal_key_with_password(session, clock, sites.settings, user, password=password)
        authority = keys.RecoveryAuthority(sheet.private_key)
        for name in groups:
            slug = keys.division_slug(division_id) if name == "division" and division_id else name
            group = keys.find_group(session, slug)
            assert group is not None, slug
            keys.grant(session, clock, sites.settings, authority, group, grantee=user)
    return StaffMember(username, password, secret)


def jpeg(path: Path, colour: tuple[int, int, int] = (200, 60, 40)) -> Path:
    """A small JPEG photo carrying a camera make in its EXIF (which intake must strip)."""
    image = Image.new("RGB", (320, 240), colour)
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


# ---------------------------------------------------------------- axe-core
# How axe gets into a page, and why not with ``add_script_tag``: test_accessibility.py's
# docstring.

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# The rule tags checked: WCAG 2.0/2.1/2.2 levels A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(
            f"{AXE} is missing: run `make test-browser` (it installs package-lock.json's "
            "axe-core with `npm ci`); browser tests never skip"
        )
    return AXE.read_text("utf-8")


def run_axe(page: Page, source: str) -> dict[str, Any]:
    """axe's result for the page as it is now (violations in full, passes by rule only)."""
    page.evaluate(source)  # through DevTools: not subject to the page's CSP
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        TAGS,
    )
    return result


def axe_violations(page: Page, source: str, name: str, artifacts: Path) -> list[str]:
    """Run axe on the page; every violation is written to ``a11y-<name>.json``, with a
    screenshot beside it; the serious and critical ones come back, one line per rule and
    element."""
    result = run_axe(page, source)
    assert len(result["passes"]) > 10, "axe checked almost nothing"
    violations = result["violations"]
    (artifacts / f"a11y-{name}.json").write_text(
        json.dumps(violations, ensure_ascii=False, indent=1), "utf-8"
    )
    page.screenshot(path=str(artifacts / f"a11y-{name}.png"), full_page=True)
    return [
        f"{name}: {v['impact']} {v['id']} ({v['help']}) at {node['target']}"
        for v in violations
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]
