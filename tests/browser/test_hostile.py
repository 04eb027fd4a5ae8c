"""Every stored value is shown escaped (issue 9, part 3), in Chromium.

Script payloads from the hostile corpus (tests/hostile/corpus.py) are stored the way an
attacker stores them: a tip filed through the public form in the browser, a tip and a
reporter's message sent to the JSON API, a spreadsheet uploaded to the registry import by a
case officer, and the texts staff type for others to read (a question to the reporter, a case,
its plan, a division's name, a public example). Then every page that shows them is opened: the
triage queue and tip pages, the case page, the facility page and the registry list, the import
report, the dashboard, the audit page (with the payloads in its search form too), the public
status page and the public statistics.

On each page, in two browser contexts:

* one with the Content-Security-Policy bypassed, so that a payload inserted unescaped would
  really run: no dialog opens (``alert``), ``window.__pwned`` stays undefined and no element
  carries the corpus's ``data-pwned`` marker;
* one with the CSP in force: no ``securitypolicyviolation`` event fires and the console reports
  no CSP violation (an unescaped ``<script>`` or ``onerror`` would be blocked and reported).

And the payloads are on the page as text (so the test looks where they are shown).

The test runs on an instance of its own (same set-up as the conftest's ``sites``), so the
hostile data never shows up in the other browser tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page
from sqlalchemy import select
from werkzeug.serving import make_server

from cases import services as cases
from cases.models import CaseSource
from cases.standards.services import load_shipped_standards
from core import db
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock, local
from core.keys import services as keys
from core.settings import load
from intake.models import TipCategory
from registry.models import Division, DivisionKind, Facility
from registry.services import load_demo_facilities
from registry.services.divisions import DivisionData, create_division
from tests.browser.conftest import (
    Sites,
    StaffMember,
    browser_env,
    make_staff,
    serve,
    totp_code,
)
from tests.hostile.corpus import MARK, PWNED, STRINGS

pytestmark = pytest.mark.browser

#: The corpus's payloads that would run if inserted unescaped.
PAYLOADS = [item.value for item in STRINGS if "script" in item.tags]
#: All of them in one text (fits every long field), and short ones for short fields.
ALL = " ".join(PAYLOADS)
SHORT = [p for p in PAYLOADS if len(p) <= 55]
PASSWORD = "amber kettle seven harbour lantern 42"
DIVISION = "锦丰镇"  # where the hostile tips and cases go
#: What shows that a page holds the payloads as text.
SEEN = "__pwned"

#: Set before any page script: CSP violations are collected in ``window.__csp``.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def local_today() -> dt.date:
    """Today in Asia/Shanghai, as the case services count days."""
    return local(dt.datetime.now(dt.UTC)).date()


# ---------------------------------------------------------------- an instance of its own


@pytest.fixture(scope="module")
def hostile_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    import public_site
    import staff_site
    from core.cli import main

    data_dir = tmp_path_factory.mktemp("hostile-instance")
    env = browser_env(data_dir)
    cli_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QINGLING_")}
    cli_env.update(env)
    result = CliRunner().invoke(main, ["init"], env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    settings = load(env, dotenv=False)
    engine = db.make_engine(settings)
    sessions = db.make_session_factory(engine)
    public = make_server(
        "127.0.0.1", 0, public_site.create_app(settings, session_factory=sessions), threaded=True
    )
    staff = make_server(
        "127.0.0.1", 0, staff_site.create_app(settings, session_factory=sessions), threaded=True
    )
    threads = [serve(public), serve(staff)]
    try:
        yield Sites(
            settings=settings,
            engine=engine,
            sessions=sessions,
            public_url=f"http://127.0.0.1:{public.server_port}",
            staff_url=f"http://127.0.0.1:{staff.server_port}",
        )
    finally:
        for server in (public, staff):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=10)
        engine.dispose()


@dataclass
class Hostile:
    sites: Sites
    staff: dict[str, StaffMember]
    tokens: list[str] = field(default_factory=list)
    case_id: str = ""
    facility_id: int = 0


@pytest.fixture(scope="module")
def hostile(hostile_sites: Sites) -> Hostile:
    sites = hostile_sites
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        sheet, _ = keys.init_recovery(session, clock, sites.settings, SYSTEM_ACTOR)
        load_demo_facilities(session, clock, SYSTEM_ACTOR)
        load_shipped_standards(session, clock)
    people = {
        "triage": ({Role.TRIAGE_OFFICER}, None, (keys.CITY_TRIAGE,)),
        "officer": ({Role.CASE_OFFICER}, None, ()),
        "supervisor": ({Role.SUPERVISOR}, None, ()),
        "auditor": ({Role.AUDITOR}, None, ()),
        "admin": ({Role.ADMINISTRATOR}, None, ()),
    }
    staff = {
        name: make_staff(sites, sheet, f"hostile-{name}", PASSWORD, roles, groups=groups)
        for name, (roles, _division, groups) in people.items()
    }
    return Hostile(sites, staff)


# ---------------------------------------------------------------- watching a page


@dataclass
class Watch:
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def watched(context: BrowserContext) -> Watch:
    watch = Watch()

    def on_dialog(dialog: Dialog) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_page(page: Page) -> None:
        page.on("dialog", on_dialog)
        page.on("console", lambda m: _console(watch, m))

    context.on("page", on_page)
    context.add_init_script(WATCH_CSP)
    return watch


def _console(watch: Watch, message: ConsoleMessage) -> None:
    if "Content Security Policy" in message.text or "Refused to" in message.text:
        watch.console.append(message.text)


@dataclass
class Pair:
    """The same signed-in person in a CSP-bypassing context and in a normal one."""

    open_ctx: BrowserContext
    strict_ctx: BrowserContext
    open_watch: Watch
    strict_watch: Watch

    def close(self) -> None:
        self.open_ctx.close()
        self.strict_ctx.close()


def pair(browser: Browser) -> Pair:
    kwargs: dict[str, Any] = {"locale": "zh-CN", "viewport": {"width": 1280, "height": 900}}
    open_ctx = browser.new_context(bypass_csp=True, **kwargs)
    strict_ctx = browser.new_context(**kwargs)
    for ctx in (open_ctx, strict_ctx):
        ctx.set_default_timeout(15_000)
    return Pair(open_ctx, strict_ctx, watched(open_ctx), watched(strict_ctx))


def share_cookies(p: Pair) -> None:
    """The strict context uses the session the open one signed in with."""
    p.strict_ctx.add_cookies(p.open_ctx.cookies())  # type: ignore[arg-type]


def check_page(p: Pair, url: str, problems: list[str], *, shows: bool = True) -> None:
    """Open ``url`` in both contexts and record what shows a payload ran or was blocked."""
    for ctx, watch, strict in (
        (p.open_ctx, p.open_watch, False),
        (p.strict_ctx, p.strict_watch, True),
    ):
        page = ctx.new_page()
        response = page.goto(url)
        where = f"{url} ({'CSP' if strict else 'no CSP'})"
        if response is None or response.status >= 500:
            problems.append(f"{where}: {None if response is None else response.status}")
        page.wait_for_load_state("load")
        if page.evaluate(f"typeof {PWNED}") != "undefined":
            problems.append(f"{where}: a payload ran ({PWNED} = {page.evaluate(PWNED)!r})")
        marked = page.locator(f"[{MARK}]").count()
        if marked:
            problems.append(f"{where}: {marked} injected elements")
        violations = page.evaluate("window.__csp || []")
        if violations:
            problems.append(f"{where}: CSP reported {violations[:3]}")
        shown = page.locator("body").inner_text() + page.evaluate(
            "Array.from(document.querySelectorAll('input, textarea'), e => e.value).join(' ')"
        )
        if shows and SEEN not in shown:
            problems.append(f"{where}: the stored payloads are not on the page")
        page.close()
        if watch.dialogs:
            problems.append(f"{where}: dialogs {watch.dialogs[:3]}")
            watch.dialogs.clear()
        if watch.console:
            problems.append(f"{where}: console {watch.console[:2]}")
            watch.console.clear()


def staff_login(p: Pair, sites: Sites, member: StaffMember) -> None:
    page = p.open_ctx.new_page()
    page.goto(sites.staff_url + "/login")
    page.fill("#login-form [name=username]", member.username)
    page.fill("#login-form [name=password]", member.password)
    with page.expect_navigation():
        page.click("#login-submit")
    assert "/login/totp" in page.url, page.url
    page.fill("#totp-form [name=code]", totp_code(member.totp_secret))
    with page.expect_navigation():
        page.click("#totp-submit")
    if "/account/recovery-code" in page.url:  # first login: the recovery code, once
        with page.expect_navigation():
            page.click("#recovery-code-submit")
        with page.expect_navigation():
            page.click("#recovery-done")
    assert "/login" not in page.url, page.url
    page.close()
    share_cookies(p)


# ---------------------------------------------------------------- storing the payloads


def file_tip_in_the_browser(p: Pair, sites: Sites) -> str:
    page = p.open_ctx.new_page()
    page.goto(sites.public_url + "/report")
    page.fill("#description", "二楼消防通道被杂物堵死。" + ALL)
    page.check("input[name=category][value=fire]")
    page.select_option("#division", label=DIVISION)
    page.fill("#location", SHORT[0] + " " + SHORT[1])
    page.fill("#facility_name", SHORT[2])
    page.fill("#observed_when", SHORT[3])
    page.fill("#contact", SHORT[4])
    page.fill("#real_name", SHORT[5])
    page.check("input[name=relationship][value=employee]")
    with page.expect_navigation():
        page.click("button[name=send]")
    token = page.locator("#token").inner_text().strip()
    page.close()
    return token


def api(sites: Sites, path: str, body: dict[str, Any], bearer: str | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the test's own server on loopback
        sites.public_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {bearer}"} if bearer else {}),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def file_tip_through_the_api(sites: Sites, division_id: int) -> str:
    created = api(
        sites,
        "/api/v1/tips",
        {
            "description": "燃气管道漏气。" + ALL,
            "category": "gas",
            "division": division_id,
            "location": SHORT[6],
            "facility_name": SHORT[7],
            "observed_at": SHORT[8],
            "contact": SHORT[9],
            "real_name": SHORT[0],
        },
    )
    token = str(created["token"])
    session = api(sites, "/api/v1/session", {"token": token})
    api(sites, "/api/v1/tip/messages", {"body": ALL}, bearer=session["access_token"])
    return token


def import_in_the_browser(p: Pair, sites: Sites, tmp_path: Path, problems: list[str]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["机构名称", "所属镇（街道、园区）", "机构类型", "地址", "联系人", "备注", "床位数"]
    )
    for number, payload in enumerate(PAYLOADS):
        writer.writerow(
            [
                f"敌意{number}号" + payload[:150],
                DIVISION,
                "elderly_care_home",
                payload[:290],
                payload[:50],
                payload,
                "x",
            ]
        )
        writer.writerow(
            [
                f"敌意好{number}号" + payload[:150],
                DIVISION,
                "elderly_care_home",
                payload[:290],
                "",
                "",
                "10",
            ]
        )
    path = tmp_path / "'\"><img src=x data-pwned=1 onerror=alert(1)>.csv"
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    page = p.open_ctx.new_page()
    page.goto(sites.staff_url + "/registry/import")
    page.set_input_files("#import-form input[type=file]", str(path))
    with page.expect_navigation():
        page.click("#import-submit")
    # The import report is the answer to the upload: check it where it is.
    if page.evaluate(f"typeof {PWNED}") != "undefined" or page.locator(f"[{MARK}]").count():
        problems.append("import report: a payload ran or was inserted")
    if SEEN not in page.locator("body").inner_text():
        problems.append("import report: the rejected rows' payloads are not shown")
    if p.open_watch.dialogs:
        problems.append(f"import report: dialogs {p.open_watch.dialogs}")
    page.close()


def ask_in_the_browser(p: Pair, sites: Sites, tip_id: str) -> None:
    page = p.open_ctx.new_page()
    page.goto(f"{sites.staff_url}/triage/tips/{tip_id}")
    page.fill("#form-ask textarea[name=ask-body]", ALL)
    with page.expect_navigation():
        page.click("#form-ask button[type=submit]")
    page.close()


def staff_texts(sites: Sites, division_id: int) -> tuple[str, int]:
    """A case with the payloads in its description and plan, a division named with one, and
    a closed public example whose summary holds them; (case id, a hostile facility's id)."""
    clock = SystemClock()
    with db.unit_of_work(sites.sessions) as session:
        officer = session.scalar(select(User).where(User.username == "hostile-officer"))
        admin = session.scalar(select(User).where(User.username == "hostile-admin"))
        assert officer is not None
        assert admin is not None
        facility = session.scalar(
            select(Facility).where(Facility.name.like("敌意好%")).order_by(Facility.id)
        )
        assert facility is not None, "the registry import created no facility"
        case_id = cases.open_case(
            session, clock, sites.settings, officer,
            cases.NewCase(
                source=CaseSource.INSPECTION, division_id=division_id, facility_id=facility.id,
                category=TipCategory.FIRE, discovered_on=local_today() - dt.timedelta(days=1),
                standard_items=["GB 35181-2017/7.3.1"], description=ALL,
            ),
        )  # fmt: skip
        cases.submit_plan(
            session, clock, sites.settings, officer, case_id,
            plan=cases.PlanData(
                responsibility=ALL[:2000], measures=ALL, funds_fen=100_000,
                deadline=local_today() + dt.timedelta(days=30), contingency_plan=ALL,
            ),
        )  # fmt: skip
        create_division(
            session, clock, admin,
            DivisionData(name="<img src=x data-pwned=1 onerror=alert(9)>", kind=DivisionKind.OTHER),
        )  # fmt: skip
        return str(case_id), facility.id


# ---------------------------------------------------------------- the test


def test_no_stored_payload_runs_on_any_page(
    browser: Browser, hostile: Hostile, tmp_path: Path, artifacts: Path
) -> None:
    sites = hostile.sites
    problems: list[str] = []
    with db.unit_of_work(sites.sessions) as session:
        division_id = session.scalar(select(Division.id).where(Division.name == DIVISION))
        assert division_id is not None

    # The public site and the API.
    reporter = pair(browser)
    web_token = file_tip_in_the_browser(reporter, sites)
    api_token = file_tip_through_the_api(sites, division_id)

    # The registry import, by a case officer.
    officer = pair(browser)
    staff_login(officer, sites, hostile.staff["officer"])
    import_in_the_browser(officer, sites, tmp_path, problems)
    case_id, facility_id = staff_texts(sites, division_id)

    # Triage: the tips, and a question to each reporter.
    triage = pair(browser)
    staff_login(triage, sites, hostile.staff["triage"])
    with db.unit_of_work(sites.sessions) as session:
        from intake.models import Tip

        tip_ids = [
            str(t) for t in session.scalars(select(Tip.id).where(Tip.division_id == division_id))
        ]
    assert len(tip_ids) == 2, tip_ids
    for tip_id in tip_ids:
        ask_in_the_browser(triage, sites, tip_id)
    check_page(triage, sites.staff_url + "/triage/", problems, shows=False)
    for tip_id in tip_ids:
        check_page(triage, f"{sites.staff_url}/triage/tips/{tip_id}", problems)

    # The case officer's pages.
    check_page(officer, f"{sites.staff_url}/cases/{case_id}", problems)
    check_page(officer, f"{sites.staff_url}/cases/", problems, shows=False)
    check_page(officer, f"{sites.staff_url}/registry/{facility_id}", problems)
    check_page(officer, f"{sites.staff_url}/registry/?q=敌意", problems)

    # The supervisor's dashboard (the hostile division's name is in its charts and tables).
    supervisor = pair(browser)
    staff_login(supervisor, sites, hostile.staff["supervisor"])
    check_page(supervisor, f"{sites.staff_url}/dashboard/", problems, shows=False)
    check_page(supervisor, f"{sites.staff_url}/cases/{case_id}", problems)

    # The audit page, with the payloads in its search fields too.
    auditor = pair(browser)
    staff_login(auditor, sites, hostile.staff["auditor"])
    check_page(auditor, f"{sites.staff_url}/audit/", problems, shows=False)
    from urllib.parse import urlencode

    query = urlencode(
        {"actor": SHORT[0], "action": SHORT[1], "object_type": SHORT[2], "object_id": SHORT[3]}
    )
    check_page(auditor, f"{sites.staff_url}/audit/?{query}", problems)

    # The public status pages (the reporter's words and the officer's question) and statistics.
    for token in (web_token, api_token):
        page = reporter.open_ctx.new_page()
        page.goto(sites.public_url + "/status")
        page.fill("#token", token)
        with page.expect_navigation():
            page.click("button[type=submit].btn")
        page.close()
        share_cookies(reporter)
        check_page(reporter, sites.public_url + "/status/report", problems)
    check_page(reporter, sites.public_url + "/statistics/", problems, shows=False)
    check_page(reporter, sites.public_url + "/report", problems, shows=False)  # the division list

    page = triage.strict_ctx.new_page()
    page.goto(f"{sites.staff_url}/triage/tips/{tip_ids[0]}")
    page.screenshot(path=str(artifacts / "hostile-triage-tip.png"), full_page=True)
    page.close()
    for p in (reporter, officer, triage, supervisor, auditor):
        p.close()
    assert not problems, "\n".join(problems)
