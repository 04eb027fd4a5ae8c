"""The registry's staff pages, through the staff app with real sessions and CSRF tokens."""

from __future__ import annotations

import codecs
import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from registry.models import Facility, FacilityTypeRecord
from tests.conftest import csrf_token
from tests.registry.conftest import credit_code, division_id, facility_named, type_id

MakeFacility = Any
INDEX = "/registry/"


def _english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def _client(
    staff_client: FlaskClient,
    make_user: Any,
    login: Any,
    name: str,
    *roles: Role,
    division: int | None = None,
) -> FlaskClient:
    return _english(login(staff_client, make_user(name, *roles, division_id=division)))


@pytest.fixture
def two(make_facility: MakeFacility) -> tuple[Facility, Facility]:
    return (
        make_facility(
            "杨舍页面养老院", beds_total=30, key_supervision=True, equipment="电梯|1|梯1|2026-10-01"
        ),
        make_facility("塘桥页面养老院", "塘桥镇"),
    )


def test_anonymous_is_sent_to_log_in(staff_client: FlaskClient) -> None:
    for path in (INDEX, INDEX + "new", INDEX + "1", INDEX + "import", INDEX + "types/"):
        response = staff_client.get(path)
        assert response.status_code in {302, 303}, path
        assert "login" in response.headers["Location"]


def test_auditor_sees_no_registry(
    staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(staff_client, make_user, login, "auditor", Role.AUDITOR)
    for path in (INDEX, f"{INDEX}{two[0].id}", INDEX + "types/"):
        assert client.get(path).status_code == 403, path


def test_supervisor_reads_everything_and_changes_nothing(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(staff_client, make_user, login, "supervisor", Role.SUPERVISOR)
    page = client.get(INDEX).get_data(as_text=True)
    assert "杨舍页面养老院" in page
    assert "塘桥页面养老院" in page
    assert "2 facilities." in page
    assert 'id="add-facility"' not in page
    detail = client.get(f"{INDEX}{two[0].id}").get_data(as_text=True)
    assert 'id="tips-count">0' in detail
    assert "key supervision" in detail
    assert 'id="edit-facility"' not in detail
    assert "Elevator" in detail
    assert "overdue" in detail
    assert 'id="case-count">0' in detail  # supervisors read cases
    for path in (INDEX + "new", f"{INDEX}{two[0].id}/edit", INDEX + "import"):
        assert client.get(path).status_code == 403, path


def test_list_filters_and_phone_friendly_table(
    staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(staff_client, make_user, login, "triage", Role.TRIAGE_OFFICER)
    page = client.get(INDEX, query_string={"key": "yes"}).get_data(as_text=True)
    assert "杨舍页面养老院" in page
    assert "塘桥页面养老院" not in page
    assert 'class="table-scroll"' in page
    page = client.get(INDEX, query_string={"q": "塘桥"}).get_data(as_text=True)
    assert "杨舍页面养老院" not in page
    assert "塘桥页面养老院" in page
    assert client.get(INDEX, query_string={"page": "0"}).status_code == 400


def test_division_officer_sees_and_edits_their_division_only(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(
        staff_client,
        make_user,
        login,
        "officer",
        Role.CASE_OFFICER,
        division=division_id(dbs, "杨舍镇"),
    )
    page = client.get(INDEX).get_data(as_text=True)
    assert "杨舍页面养老院" in page
    assert "塘桥页面养老院" not in page
    assert client.get(f"{INDEX}{two[1].id}").status_code == 403
    assert client.get(f"{INDEX}{two[1].id}/edit").status_code == 403
    detail = client.get(f"{INDEX}{two[0].id}").get_data(as_text=True)
    assert 'id="edit-facility"' in detail


def _facility_form(client: FlaskClient, path: str, **changes: str) -> dict[str, str]:
    """The form on ``path`` as the browser would send it, with ``changes``."""
    page = client.get(path).get_data(as_text=True)
    form: dict[str, str] = dict(
        re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', page)
    )
    form["csrf_token"] = csrf_token(client, path)
    for name in re.findall(r'<input[^>]*name="([a-z_]+)"', page):
        form.setdefault(name, "")
    for name, body in re.findall(r'<select[^>]*name="([a-z_]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(
            r'<option[^>]*selected[^>]*value="([^"]*)"|<option value="([^"]*)" selected', body
        )
        form[name] = next((g for g in chosen.groups() if g is not None), "") if chosen else ""
    form.pop("key_supervision", None)
    if 'name="key_supervision" type="checkbox" value="y" checked' in page or re.search(
        r'checked[^>]*name="key_supervision"|name="key_supervision"[^>]*checked', page
    ):
        form["key_supervision"] = "y"
    form.update(changes)
    return form


def test_add_a_facility_through_the_form(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, types: None
) -> None:
    client = _client(staff_client, make_user, login, "admin", Role.ADMINISTRATOR)
    form = _facility_form(
        client,
        INDEX + "new",
        name="表单新建养老院",
        division=str(division_id(dbs, "凤凰镇")),
        facility_type=str(type_id(dbs, "elderly_care_home")),
        credit_code=credit_code(300),
        beds_total="25",
        has_sprinklers="True",
        filing_date="2024-03-01",
    )
    response = client.post(INDEX + "new", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    facility = facility_named(dbs, "表单新建养老院")
    assert facility.beds_total == 25
    assert facility.has_sprinklers is True
    assert response.headers["Location"].endswith(f"{INDEX}{facility.id}")
    page = client.get(f"{INDEX}{facility.id}").get_data(as_text=True)
    assert "Change history" in page
    assert "added" in page
    assert "Sprinklers: — → Yes" in page


def test_edit_errors_come_back_next_to_the_fields(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(staff_client, make_user, login, "admin", Role.ADMINISTRATOR)
    path = f"{INDEX}{two[0].id}/edit"
    form = _facility_form(
        client, path, beds_total="三十", beds_nursing="", credit_code="91350100M000100Y44"
    )
    response = client.post(path, data=form)
    assert response.status_code == 400  # refused, shown again
    page = response.get_data(as_text=True)
    assert "Write a number." in page
    assert "check character" in page
    assert 'value="三十"' in page  # the input is kept
    assert two[0].beds_total == 30
    # A good edit saves and shows in the history, old → new.
    form = _facility_form(client, path, beds_total="35")
    assert client.post(path, data=form).status_code == 303
    dbs.refresh(two[0])
    assert two[0].beds_total == 35
    assert two[0].key_supervision is True  # the checkbox came back as it was
    page = client.get(f"{INDEX}{two[0].id}").get_data(as_text=True)
    assert "Beds: 30 → 35" in page


def test_equipment_pages(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = _client(
        staff_client,
        make_user,
        login,
        "officer",
        Role.CASE_OFFICER,
        division=division_id(dbs, "杨舍镇"),
    )
    facility = two[0]
    path = f"{INDEX}{facility.id}/equipment/new"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "kind": "boiler",
            "quantity": "1",
            "registration_no": "锅-77",
            "next_inspection_on": "2027-08-01",
        },
    )
    assert response.status_code == 303
    dbs.refresh(facility)
    boiler = next(e for e in facility.equipment if e.registration_no == "锅-77")
    edit = f"{INDEX}{facility.id}/equipment/{boiler.id}/edit"
    assert "锅-77" in client.get(edit).get_data(as_text=True)
    response = client.post(
        edit,
        data={
            "csrf_token": csrf_token(client, edit),
            "kind": "boiler",
            "quantity": "2",
            "registration_no": "=1+1",
            "next_inspection_on": "",
        },
    )
    assert response.status_code == 400  # refused, shown again
    assert "registration number" in response.get_data(as_text=True)
    remove = f"{INDEX}{facility.id}/equipment/{boiler.id}/remove"
    assert client.post(remove).status_code == 400  # no CSRF token
    response = client.post(remove, data={"csrf_token": csrf_token(client, f"{INDEX}{facility.id}")})
    assert response.status_code == 303
    dbs.refresh(facility)
    assert all(e.registration_no != "锅-77" for e in facility.equipment)
    other = f"{INDEX}{two[1].id}/equipment/new"
    assert client.get(other).status_code == 403


def test_import_through_the_upload_form(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, types: None
) -> None:
    client = _client(staff_client, make_user, login, "admin", Role.ADMINISTRATOR)
    path = INDEX + "import"
    body = (
        "机构名称,所属镇（街道、园区）,机构类型,床位数,备注\r\n"
        "上传养老院,杨舍镇,养老机构,40,x\r\n"
        "上传坏行养老院,杨舍镇,养老机构,四十,\r\n"
    ).encode("gbk")
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "file": (io.BytesIO(body), "名册.csv"),
            "default_division": "",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="rows-created">1' in page
    assert 'id="rows-rejected"><span class="badge danger">1' in page
    assert "GBK" in page
    assert "备注" in page  # the ignored column is named
    assert 'data-row="3"' in page
    assert "床位数: Write a number." in page
    assert facility_named(dbs, "上传养老院").beds_total == 40
    # A file that cannot be read: the form again, with the reason.
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "file": (io.BytesIO(b""), "empty.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "The file is empty." in response.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_downloads(
    staff_client: FlaskClient, make_user: Any, login: Any, two: Any, fmt: str
) -> None:
    client = _client(staff_client, make_user, login, "finance", Role.FINANCE_OFFICER)
    token = csrf_token(client, INDEX)
    response = client.post(
        INDEX + "export", data={"csrf_token": token, "fmt": fmt, "q": "杨舍", "key": ""}
    )
    assert response.status_code == 200
    assert f".{fmt}" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    if fmt == "csv":
        assert response.data.startswith(codecs.BOM_UTF8)
        text = response.data.decode("utf-8-sig")
        assert "杨舍页面养老院" in text
        assert "塘桥页面养老院" not in text
    else:
        sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
        assert sheet.cell(row=2, column=1).value == "杨舍页面养老院"
        assert sheet.max_row == 2
    assert client.post(INDEX + "export", data={"fmt": fmt}).status_code == 400  # no CSRF


def test_facility_types_pages(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, types: None
) -> None:
    admin = _client(staff_client, make_user, login, "admin", Role.ADMINISTRATOR)
    page = admin.get(INDEX + "types/").get_data(as_text=True)
    assert "养老机构" in page
    assert "婚姻登记机关" in page
    path = INDEX + "types/new"
    response = admin.post(
        path,
        data={
            "csrf_token": csrf_token(admin, path),
            "code": "rehab_aids",
            "name_zh": "康复辅具机构",
            "name_en": "Rehabilitation aids",
            "note": "",
            "sort_order": "95",
            "active": "y",
        },
    )
    assert response.status_code == 303
    kind = dbs.scalars(
        select(FacilityTypeRecord).where(FacilityTypeRecord.code == "rehab_aids")
    ).one()
    edit = f"{INDEX}types/{kind.id}/edit"
    response = admin.post(
        edit,
        data={
            "csrf_token": csrf_token(admin, edit),
            "code": "Bad Code",
            "name_zh": "康复辅具机构",
            "sort_order": "95",
        },
    )
    assert response.status_code == 400  # refused, shown again
    assert "lower-case letters" in response.get_data(as_text=True)


def test_division_administrator_may_not_edit_types(
    dbs: Session, staff_client: FlaskClient, make_user: Any, login: Any, types: None
) -> None:
    client = _client(
        staff_client,
        make_user,
        login,
        "townadmin",
        Role.ADMINISTRATOR,
        division=division_id(dbs, "杨舍镇"),
    )
    assert client.get(INDEX + "types/new").status_code == 403
    assert 'id="add-type"' not in client.get(INDEX + "types/").get_data(as_text=True)


def test_chinese_is_the_default_language(
    staff_client: FlaskClient, make_user: Any, login: Any, two: Any
) -> None:
    client = login(staff_client, make_user("zhong", Role.SUPERVISOR))
    page = client.get(f"{INDEX}{two[0].id}").get_data(as_text=True)
    assert "杨舍镇" in page
    assert "养老机构" in page
