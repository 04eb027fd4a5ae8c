"""The case pages through the staff app: the list (roles, scope, filters, pages), a new case,
every action posted as a real form with its CSRF token (files too), evidence downloads, the
printable escalation records and the administrator's public examples."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cases.models import CaseEvidence, CaseState, HazardCase
from core.accounts import services as accounts
from staff_site.views import cases as cases_view
from tests.cases.conftest import ITEM, OTHER_ITEM, CaseWorld, png_bytes

LIST = "/cases/"


def sign_in(app: Flask, cw: CaseWorld, name: str) -> FlaskClient:
    """A client with a full session for the case world's ``name``, in English."""
    client = app.test_client()
    cookie = accounts.open_session(cw.dbs, cw.clock, cw.settings, cw.user(name))
    cw.dbs.flush()
    with client.session_transaction() as flask_session:
        flask_session["sid"] = cookie
        flask_session["lang"] = "en"
    return client


def case_url(case_id: uuid.UUID) -> str:
    return f"/cases/{case_id}"


def token_of(client: FlaskClient, path: str) -> str:
    """The session's CSRF token, from any form of the page (one token per session)."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="[^"]*csrf_token"[^>]*value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post(
    client: FlaskClient,
    case_id: uuid.UUID,
    path: str,
    name: str,
    files: list[tuple[bytes, str]] = (),  # type: ignore[assignment]
    **fields: Any,
) -> Any:
    token = token_of(client, case_url(case_id))
    data: dict[str, Any] = {f"{name}-csrf_token": token}
    data.update({f"{name}-{k}": v for k, v in fields.items()})
    if files:
        data[f"{name}-files"] = [(io.BytesIO(content), filename) for content, filename in files]
    return client.post(f"{case_url(case_id)}/{path}", data=data, content_type="multipart/form-data")


def follow(client: FlaskClient, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))


def row_ids(page: str) -> list[str]:
    return re.findall(r'data-case="([0-9a-f-]{36})"', page)


def test_list_needs_a_reading_role_and_shows_the_scope(
    staff_app: Flask, case_world: CaseWorld
) -> None:
    cw = case_world
    own = cw.open()
    other = cw.open(by="officer_other", division_id=cw.w.other, facility_id=cw.facility_other)
    response = staff_app.test_client().get(LIST)
    assert response.status_code in {302, 303}
    for name in ("administrator", "auditor"):
        assert sign_in(staff_app, cw, name).get(LIST).status_code == 403, name
    page = sign_in(staff_app, cw, "officer").get(LIST).get_data(as_text=True)
    assert row_ids(page) == [str(own)]
    assert 'id="new-case"' in page
    assert "夕阳红托老所" in page
    for name in ("supervisor", "finance_approver", "officer_city"):
        page = sign_in(staff_app, cw, name).get(LIST).get_data(as_text=True)
        assert set(row_ids(page)) == {str(own), str(other)}, name
    page = sign_in(staff_app, cw, "triage_other").get(LIST).get_data(as_text=True)
    assert row_ids(page) == [str(other)]
    assert 'id="new-case"' not in page


def test_list_filters_and_pages(
    staff_app: Flask, case_world: CaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    cw = case_world
    late = cw.open()
    cw.plan(late, days=1)
    others = [cw.open() for _ in range(3)]
    elsewhere = cw.open(by="officer_other", division_id=cw.w.other, facility_id=cw.facility_other)
    cw.clock.advance(days=3)
    client = sign_in(staff_app, cw, "supervisor")
    page = client.get(LIST, query_string={"overdue": "y"}).get_data(as_text=True)
    assert row_ids(page) == [str(late)]
    assert "badge danger" in page
    page = client.get(LIST, query_string={"state": "rectifying"}).get_data(as_text=True)
    assert row_ids(page) == [str(late)]
    page = client.get(LIST, query_string={"division": str(cw.w.other)}).get_data(as_text=True)
    assert row_ids(page) == [str(elsewhere)]
    assert client.get(LIST, query_string={"state": "nonsense"}).status_code == 400
    monkeypatch.setattr("cases.services.reading.PER_PAGE", 2)
    seen: list[str] = []
    page = client.get(LIST).get_data(as_text=True)
    while True:
        seen += row_ids(page)
        match = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
        if not match:
            break
        page = client.get(match.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert sorted(seen) == sorted(str(c) for c in (late, *others, elsewhere))


def test_new_case_form(staff_app: Flask, case_world: CaseWorld) -> None:
    cw = case_world
    client = sign_in(staff_app, cw, "officer")
    page = client.get("/cases/new").get_data(as_text=True)
    assert 'name="standard_items"' in page  # the catalogue's item picker
    assert "<script" not in page
    token = token_of(client, "/cases/new")
    fields = {
        "csrf_token": token,
        "source": "inspection",
        "division": str(cw.w.own),
        "facility": str(cw.facility_own),
        "category": "fire",
        "discovered_on": cw.today.isoformat(),
        "standard_items": [ITEM, OTHER_ITEM],
        "place_class": "crowded",
        "description": "二楼疏散通道被占用。",
        "deadline": "",
    }
    refused = client.post("/cases/new", data={**fields, "standard_items": ["NOPE-1"]})
    assert refused.status_code == 400
    assert "NOPE-1" in refused.get_data(as_text=True)
    assert cw.dbs.scalar(select(HazardCase.id)) is None
    response = client.post("/cases/new", data=fields)
    page = follow(client, response)
    case = cw.dbs.scalars(select(HazardCase)).one()
    assert case.standard_items == [ITEM, OTHER_ITEM]
    assert case.place_class == "crowded"
    assert response.headers["Location"].endswith(case_url(case.id))
    assert "The hazard case is opened." in page
    assert 'id="composite"' in page  # the composite rule's evaluation
    # Another division is not offered to a division officer, and refused if posted.
    response = client.post("/cases/new", data={**fields, "division": str(cw.w.other)})
    assert response.status_code == 400
    assert sign_in(staff_app, cw, "supervisor").get("/cases/new").status_code == 403


def test_the_whole_loop_through_the_pages(staff_app: Flask, case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open(standard_items=[OTHER_ITEM], place_class="crowded")
    officer = sign_in(staff_app, cw, "officer")
    officer2 = sign_in(staff_app, cw, "officer2")
    deadline = (cw.today + dt.timedelta(days=20)).isoformat()

    page = officer.get(case_url(case_id)).get_data(as_text=True)
    assert 'id="no-plan"' in page
    assert "<script" not in page
    # A plan missing one of the five is refused on the form.
    response = post(officer, case_id, "plan", "plan", responsibility="院长", measures="清理",
                    funds="", deadline=deadline, contingency_plan="值守")  # fmt: skip
    assert response.status_code == 400
    page = follow(officer, post(officer, case_id, "plan", "plan", responsibility="院长张某",
                  measures="清理通道", funds="12500.5", deadline=deadline,
                  contingency_plan="专人值守"))  # fmt: skip
    assert "¥12,500.50" in page
    assert cw.case(case_id).state is CaseState.RECTIFYING
    page = follow(officer, post(officer, case_id, "enforcement", "enforce", kind="seal",
                  target="二楼东侧库房", start_on=cw.today.isoformat(), end_on="", note=""))  # fmt: skip
    assert "二楼东侧库房" in page
    measure = re.search(r'id="measure-(\d+)"', page)
    assert measure
    page = follow(officer, post(officer, case_id, "progress", "progress", note="杂物已清一半。",
                  files=[(png_bytes(), "进度.png")]))  # fmt: skip
    assert "杂物已清一半。" in page
    assert "进度.png" in page
    page = follow(officer, post(officer, case_id, "submit", "submit", note="整改完成。"))
    assert cw.case(case_id).state is CaseState.AWAITING_ACCEPTANCE
    assert 'id="accept-by-another"' in page
    assert 'id="form-accept"' not in page
    # The rectifier cannot accept, even by posting the form.
    response = post(officer2, case_id, "accept", "accept", note="合格。")
    assert response.status_code == 400  # no evidence file
    assert "Attach at least one evidence file." in response.get_data(as_text=True)
    response = post(officer, case_id, "accept", "accept", note="自己验收。",
                    files=[(png_bytes(), "a.png")])  # fmt: skip
    assert response.status_code == 409
    assert "someone other than the officer" in response.get_data(as_text=True)
    page = follow(officer2, post(officer2, case_id, "accept", "accept", note="验收合格。",
                  files=[(png_bytes(), "验收.png")]))  # fmt: skip
    case = cw.case(case_id)
    assert case.state is CaseState.CLOSED
    assert case.recheck_due_on is not None
    assert case.recheck_due_on.isoformat() in page
    page = follow(officer, post(officer, case_id, f"enforcement/{measure.group(1)}/end",
                  "end_enforcement", end_on=cw.today.isoformat()))  # fmt: skip
    assert "until lifted" not in page
    # Evidence downloads: photos inline, nosniff.
    evidence = cw.dbs.scalars(select(CaseEvidence).where(CaseEvidence.filename == "验收.png")).one()
    response = sign_in(staff_app, cw, "finance_officer").get(
        f"{case_url(case_id)}/evidence/{evidence.id}"
    )
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.data == evidence.data
    assert (
        sign_in(staff_app, cw, "officer_other")
        .get(f"{case_url(case_id)}/evidence/{evidence.id}")
        .status_code
        == 403
    )
    # Relapse, then the loop again to the re-check.
    relapse_deadline = (cw.today + dt.timedelta(days=10)).isoformat()
    page = follow(officer, post(officer, case_id, "relapse", "relapse", note="再次堆放杂物。",
                  deadline=relapse_deadline))  # fmt: skip
    assert cw.case(case_id).relapse_count == 1
    follow(officer, post(officer, case_id, "submit", "submit", note="再次整改完成。"))
    follow(officer2, post(officer2, case_id, "accept", "accept", note="合格。",
           files=[(png_bytes(), "b.png")]))  # fmt: skip
    page = follow(officer, post(officer, case_id, "recheck", "recheck", note="回头看通过。"))
    assert cw.case(case_id).state is CaseState.RECHECKED
    assert 'data-state="rechecked"' in page
    kinds = re.findall(r'<li data-kind="([a-z_]+)"', page)
    assert kinds[0] == "opened"
    assert kinds.count("relapse") == 1
    assert kinds[-1] == "recheck"


def test_a_refused_action_in_the_wrong_state(staff_app: Flask, case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    officer = sign_in(staff_app, cw, "officer")
    response = post(officer, case_id, "recheck", "recheck", note="回头看。")
    assert response.status_code == 409
    assert "This step is not possible" in response.get_data(as_text=True)
    response = post(sign_in(staff_app, cw, "triage_own"), case_id, "progress", "progress", note="x")
    assert response.status_code == 403


def test_escalation_and_printable_records(staff_app: Flask, case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.plan(case_id, days=2)
    supervisor = sign_in(staff_app, cw, "supervisor")
    page = supervisor.get(case_url(case_id)).get_data(as_text=True)
    assert 'id="form-interview"' not in page
    cw.clock.advance(days=3)
    supervisor = sign_in(staff_app, cw, "supervisor")  # the earlier session has timed out
    page = supervisor.get(case_url(case_id)).get_data(as_text=True)
    assert 'id="case-overdue"' in page
    assert 'id="form-interview"' in page
    assert 'id="form-plan"' not in page  # supervisors do not rectify
    page = follow(supervisor, post(supervisor, case_id, "interviews", "interview",
                  held_on=cw.today.isoformat(), conducted_by="李科长", interviewee="院长张某",
                  attendees="王某", content="要求立即整改。", commitments="十日内完成。"))  # fmt: skip
    page = follow(supervisor, post(supervisor, case_id, "circulars", "circular",
                  number="张民通〔2026〕3号", issued_on=cw.today.isoformat(),
                  scope="各区镇民政办", text="予以通报。"))  # fmt: skip
    links = re.findall(r'href="(/cases/[0-9a-f-]+/(?:interviews|circulars)/\d+)"', page)
    assert len(links) == 2
    reader = sign_in(staff_app, cw, "triage_own")
    for link in links:
        response = reader.get(link)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "<script" not in text
        assert "/cases/print.css" in text
        assert 'class="nav"' not in text
    interview_page = reader.get(links[0]).get_data(as_text=True)
    assert "院长张某" in interview_page
    assert "十日内完成。" in interview_page
    circular_page = reader.get(links[1]).get_data(as_text=True)
    assert "张民通〔2026〕3号" in circular_page
    assert sign_in(staff_app, cw, "officer_other").get(links[0]).status_code == 403
    css = staff_app.test_client().get("/cases/print.css")
    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert "@media print" in css.get_data(as_text=True)
    # Only supervisors post escalation records.
    response = post(sign_in(staff_app, cw, "officer"), case_id, "circulars", "circular",
                    number="x", issued_on=cw.today.isoformat(), scope="y", text="z")  # fmt: skip
    assert response.status_code == 403


def test_public_examples_page(staff_app: Flask, case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.CLOSED)
    admin = sign_in(staff_app, cw, "administrator")
    page = admin.get("/cases/public-examples").get_data(as_text=True)
    assert f'id="case-{case_id}"' in page
    assert "疏散通道堆放杂物" not in page  # the administrator does not read the description
    assert admin.get(case_url(case_id)).status_code == 403
    name = f"public-{case_id.hex}"
    token = token_of(admin, "/cases/public-examples")
    response = admin.post(
        f"{case_url(case_id)}/public-example",
        data={f"{name}-csrf_token": token, f"{name}-public": "y", f"{name}-summary": "整改示范。"},
    )
    follow(admin, response)
    case = cw.case(case_id)
    assert (case.public_example, case.public_summary) == (True, "整改示范。")
    assert sign_in(staff_app, cw, "supervisor").get("/cases/public-examples").status_code == 403


def test_yuan() -> None:
    assert cases_view.yuan(0) == "¥0.00"
    assert cases_view.yuan(1_250_050) == "¥12,500.50"
    assert cases_view.yuan(-5) == "-¥0.05"
