"""The catalogue pages through the staff app (real sessions, CSRF tokens), and the two
includes the case pages use."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cases.standards import schema
from cases.standards import services as standards
from cases.standards.models import Standard, StandardStatus
from core.accounts.models import Role
from core.audit.models import AuditRecord
from core.clock import FakeClock
from tests.conftest import csrf_token

INDEX = "/standards/"
UPLOAD = "/standards/upload"
DOWNLOAD = "/standards/catalogue.json"


@pytest.fixture(autouse=True)
def loaded(dbs: Session, clock: FakeClock) -> None:
    standards.load_shipped_standards(dbs, clock)
    dbs.flush()


def _english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def _client(staff_client: FlaskClient, make_user: Any, login: Any, *roles: Role) -> FlaskClient:
    return _english(login(staff_client, make_user("user" + str(len(roles)), *roles)))


def _id(dbs: Session, code: str) -> int:
    return dbs.scalars(select(Standard.id).where(Standard.code == code)).one()


def test_anonymous_is_sent_to_log_in(staff_client: FlaskClient, dbs: Session) -> None:
    for path in (INDEX, UPLOAD, DOWNLOAD, f"/standards/{_id(dbs, 'GB 35181-2017')}"):
        response = staff_client.get(path)
        assert response.status_code in {302, 303}, path
        assert "login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("role", "access"),
    [
        (Role.TRIAGE_OFFICER, (True, False)),
        (Role.CASE_OFFICER, (True, False)),
        (Role.SUPERVISOR, (True, False)),
        (Role.ADMINISTRATOR, (True, True)),
        (Role.AUDITOR, (False, False)),
        (Role.FINANCE_OFFICER, (False, False)),
        (Role.FINANCE_APPROVER, (False, False)),
    ],
)
def test_page_access_by_role(
    *,
    staff_client: FlaskClient,
    make_user: Any,
    login: Any,
    dbs: Session,
    role: Role,
    access: tuple[bool, bool],
) -> None:
    reads, edits = access
    client = _english(login(staff_client, make_user("someone", role)))
    detail = f"/standards/{_id(dbs, 'GB 45067-2024')}"
    for path in (INDEX, detail, DOWNLOAD):
        assert client.get(path).status_code == (200 if reads else 403), path
    assert client.get(UPLOAD).status_code == (200 if edits else 403)
    if reads:
        page = client.get(detail).get_data(as_text=True)
        assert ("Mark as superseded" in page) == edits
        assert ("Upload a standard version" in client.get(INDEX).get_data(as_text=True)) == edits
    if not edits:
        token = csrf_token(client, "/")
        response = client.post(
            f"{detail}/supersede",
            data={"csrf_token": token, "superseded_on": "2026-12-01", "superseded_by": ""},
        )
        assert response.status_code == 403
        upload = client.post(
            UPLOAD,
            data={"csrf_token": token, "file": (io.BytesIO(b"{}"), "x.json")},
            content_type="multipart/form-data",
        )
        assert upload.status_code == 403
        assert dbs.get(Standard, _id(dbs, "GB 45067-2024")).status is StandardStatus.CURRENT  # type: ignore[union-attr]


def test_index_flags_superseded_and_unverified(
    staff_client: FlaskClient, make_user: Any, login: Any
) -> None:
    client = _client(staff_client, make_user, login, Role.CASE_OFFICER)
    page = client.get(INDEX).get_data(as_text=True)
    row = re.search(r'<tr data-code="GB 35181-2017">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "superseded" in row.group(1)
    assert "by GB 35181-2025 from 2025-11-01" in row.group(1)
    assert "25 not fully verified" in row.group(1)
    empty = re.search(r'<tr data-code="GB/T 35796-2017">(.*?)</tr>', page, re.S)
    assert empty is not None
    assert "no item list" in empty.group(1)
    assert 'class="table-scroll"' in page
    assert "<script" not in page


def test_detail_shows_items_with_their_marks_and_the_rule(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.TRIAGE_OFFICER)
    path = f"/standards/{_id(dbs, 'GB 35181-2017')}"
    page = client.get(path).get_data(as_text=True)
    assert 'data-code="GB 35181-2017/7.3.8" data-verification="unverified"' in page
    assert 'class="badge danger">unverified' in page
    assert 'id="composite-rules"' in page
    assert "6 or more" in page
    assert "any composite element" in page
    assert "7.5<sup>?</sup>" in page
    # The filter keeps only what is not fully verified.
    only = client.get(path + "?unverified=1").get_data(as_text=True)
    assert "GB 35181-2017/7.3.8" in only
    assert 'data-code="GB 35181-2017/7.3.7"' not in only


def test_the_current_fire_standard_says_its_items_are_missing(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.CASE_OFFICER)
    page = client.get(f"/standards/{_id(dbs, 'GB 35181-2025')}").get_data(as_text=True)
    assert 'id="gaps"' in page
    assert "30 direct elements" in page
    assert 'id="composite-rules"' not in page
    empty = client.get(f"/standards/{_id(dbs, 'GB/T 35796-2017')}").get_data(as_text=True)
    assert 'id="no-items"' in empty


def test_upload_page_shows_every_problem_and_changes_nothing(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    data = {
        "format": schema.FORMAT,
        "version": "x",
        "standards": [
            {
                "code": "X 1-2026",
                "title": "X",
                "domain": "fire",
                "status": "current",
                "verification": "verified",
                "items": [
                    {
                        "code": "X 1-2026/1",
                        "kind": "weird",
                        "clause": "1",
                        "text": "一",
                        "verification": "verified",
                    },
                    {
                        "code": "X 1-2026/1",
                        "kind": "direct",
                        "clause": "1",
                        "text": "一",
                        "verification": "verified",
                    },
                ],
            }
        ],
    }
    response = client.post(
        UPLOAD,
        data={
            "csrf_token": csrf_token(client, UPLOAD),
            "file": (io.BytesIO(json.dumps(data).encode()), "x.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="problems"' in page
    assert "“kind” is “weird”; use one of: direct, composite, exclusion, other." in page
    assert "The item code “X 1-2026/1” appears more than once." in page
    assert dbs.scalar(select(Standard).where(Standard.code == "X 1-2026")) is None

    bad = client.post(
        UPLOAD,
        data={
            "csrf_token": csrf_token(client, UPLOAD),
            "file": (io.BytesIO(b"{oops"), "x.json"),
        },
        content_type="multipart/form-data",
    )
    assert "The file is not valid JSON (line 1, column 2)." in bad.get_data(as_text=True)


def test_upload_page_loads_a_file(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    exported = client.get(DOWNLOAD)
    assert exported.headers["Content-Disposition"] == 'attachment; filename="standards.json"'
    data = json.loads(exported.get_data(as_text=True))
    gas = next(s for s in data["standards"] if s["code"] == "建城规〔2023〕4号")
    gas["items"][0]["verification"] = "partial"
    response = client.post(
        UPLOAD,
        data={
            "csrf_token": csrf_token(client, UPLOAD),
            "file": (io.BytesIO(json.dumps({**data, "standards": [gas]}).encode()), "gas.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page = client.get(INDEX).get_data(as_text=True)
    assert "0 standards added, 1 updated, 0 items added, 1 items corrected." in page
    assert dbs.scalars(select(AuditRecord).where(AuditRecord.action == "standards.uploaded")).one()


def test_supersede_form(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    path = f"/standards/{_id(dbs, 'GB 38600-2019')}"
    empty = client.post(path + "/supersede", data={"csrf_token": csrf_token(client, path)})
    assert empty.status_code == 400
    assert "Enter the date the successor took effect." in empty.get_data(as_text=True)
    response = client.post(
        path + "/supersede",
        data={
            "csrf_token": csrf_token(client, path),
            "superseded_on": "2026-12-01",
            "superseded_by": "GB 38600-2026",
        },
    )
    assert response.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "The standard is now marked as superseded." in page
    assert "Successor: GB 38600-2026 (not in the catalogue)" in page
    assert "Mark as superseded" not in page
    record = dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "standard.superseded")
    ).one()
    assert json.loads(record.details)["superseded_by"] == "GB 38600-2026"


# ---------------------------------------------------------------- includes


def _render(app: Flask, template: str, **context: Any) -> str:
    from flask_babel import force_locale

    with app.test_request_context("/"), force_locale("en"):
        return render_template(template, **context)


def test_composite_include_renders_the_result_and_its_steps(staff_app: Flask, dbs: Session) -> None:
    codes = [f"GB 35181-2017/7.3.{n}" for n in (1, 2, 3)]
    html = _render(
        staff_app,
        "staff_site/standards/_composite.html",
        composite=standards.evaluate_composite(dbs, codes, "crowded"),
    )
    assert "Major hazard" in html
    assert "3 of 3 elements" in html
    assert "Crowded place (人员密集场所)" in html
    assert html.count("<li>") >= 8
    assert "superseded standard" in html
    not_applicable = _render(
        staff_app,
        "staff_site/standards/_composite.html",
        composite=standards.evaluate_composite(dbs, ["GB 45067-2024/4.6a"], None),
    )
    assert "Not applicable to the selected items." in not_applicable


def test_composite_include_translates_each_sentence_and_its_labels(
    staff_app: Flask, dbs: Session
) -> None:
    from flask_babel import gettext
    from markupsafe import escape

    codes = [f"GB 35181-2017/7.3.{n}" for n in (1, 2)]
    result = standards.evaluate_composite(dbs, codes, "crowded")
    with staff_app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        html = render_template("staff_site/standards/_composite.html", composite=result)
        for sentence in result.explanation:
            assert isinstance(sentence, standards.Sentence)
            params = {
                k: gettext(v.msgid) if isinstance(v, standards.Sentence) else v
                for k, v in sentence.params.items()
            }
            assert f"<li>{escape(gettext(sentence.msgid, **params))}</li>" in html


def test_item_picker_groups_by_standard_and_keeps_the_selection(
    staff_app: Flask, dbs: Session
) -> None:
    items = standards.list_items(dbs, include_superseded=True)
    selected = {"GB 35181-2017/7.3.1", "GB 45067-2024/4.6a"}
    html = _render(
        staff_app, "staff_site/standards/_item_picker.html", items=items, selected=selected
    )
    assert html.count('type="checkbox" name="standard_items"') == len(items)
    assert html.count("<details") == len({i.standard_code for i in items})
    assert html.count("<details open>") == 2  # the two standards with a selected item
    assert len(re.findall(r'value="GB 35181-2017/7\.3\.1" checked', html)) == 1
    assert len(re.findall(r'value="GB 35181-2017/7\.3\.2" checked', html)) == 0
    assert html.count("</fieldset></details>") == html.count("<details")
    assert "This standard is superseded" in html
    assert "<script" not in html
    empty = _render(staff_app, "staff_site/standards/_item_picker.html", items=[], selected=set())
    assert "The catalogue has no items to choose from." in empty
