"""The divisions pages, through the staff app with real sessions and CSRF tokens."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.audit.models import AuditRecord
from registry.models import Division
from tests.conftest import csrf_token

INDEX = "/admin/divisions/"


def _english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def _division(dbs: Session, name: str) -> Division:
    return dbs.scalars(select(Division).where(Division.name == name)).one()


def _form(division: Division, **changes: str) -> dict[str, str]:
    form = {
        "name": division.name,
        "name_en": division.name_en,
        "kind": division.kind.value,
        "code": division.code or "",
        "management_area": division.management_area,
        "sort_order": str(division.sort_order),
    }
    if division.active:
        form["active"] = "y"
    form.update(changes)
    return form


def _admin(staff_client: FlaskClient, make_user: Any, login: Any) -> FlaskClient:
    return _english(login(staff_client, make_user("cityadmin", Role.ADMINISTRATOR)))


def test_anonymous_is_sent_to_log_in(staff_client: FlaskClient) -> None:
    for path in (INDEX, INDEX + "new", INDEX + "1/edit"):
        response = staff_client.get(path)
        assert response.status_code in {302, 303}, path
        assert "login" in response.headers["Location"]


def test_other_roles_are_refused(staff_client: FlaskClient, make_user: Any, login: Any) -> None:
    client = login(staff_client, make_user("auditor", Role.AUDITOR, Role.SUPERVISOR))
    for path in (INDEX, INDEX + "new", INDEX + "1/edit"):
        assert client.get(path).status_code == 403, path


def test_list_shows_management_areas_and_status(
    staff_client: FlaskClient, make_user: Any, login: Any
) -> None:
    client = _admin(staff_client, make_user, login)
    response = client.get(INDEX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for name in (
        "杨舍镇",
        "金港街道",
        "常阴沙现代农业示范园区",
        "张家港保税区",
        "张家港经济技术开发区",
    ):
        assert name in page
    assert page.count("/edit") == 11
    assert 'class="table-scroll"' in page
    assert "320582003" in page


def test_administrator_edits_a_division_and_the_change_shows(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _admin(staff_client, make_user, login)
    leyu = _division(dbs, "乐余镇")
    edit = f"{INDEX}{leyu.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert 'value="乐余镇"' in page
    data = _form(
        leyu, management_area="乐余某某园区", code="320582106", csrf_token=csrf_token(client, edit)
    )
    response = client.post(edit, data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(INDEX)
    page = client.get(INDEX).get_data(as_text=True)
    assert "乐余某某园区" in page
    assert "320582106" in page
    assert "Division 乐余镇 was saved." in page
    record = dbs.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
    assert record.action == "division.updated"
    assert record.actor_label == "cityadmin"
    assert {c["field"] for c in json.loads(record.details)["changes"]} == {
        "code",
        "management_area",
    }


def test_deactivating_shows_inactive(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _admin(staff_client, make_user, login)
    daxin = _division(dbs, "大新镇")
    edit = f"{INDEX}{daxin.id}/edit"
    data = _form(daxin, csrf_token=csrf_token(client, edit))
    del data["active"]
    assert client.post(edit, data=data).status_code == 303
    dbs.expire_all()
    assert _division(dbs, "大新镇").active is False
    assert "inactive" in client.get(INDEX).get_data(as_text=True)


def test_administrator_adds_a_division(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _admin(staff_client, make_user, login)
    new = INDEX + "new"
    data = {
        "name": "双山香山旅游度假区",
        "name_en": "Shuangshan-Xiangshan Resort",
        "kind": "other",
        "code": "",
        "management_area": "",
        "sort_order": "120",
        "active": "y",
        "csrf_token": csrf_token(client, new),
    }
    response = client.post(new, data=data)
    assert response.status_code == 303
    assert "双山香山旅游度假区" in client.get(INDEX).get_data(as_text=True)
    assert _division(dbs, "双山香山旅游度假区").code is None


def test_errors_are_shown_next_to_the_field(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _admin(staff_client, make_user, login)
    houcheng = _division(dbs, "后塍街道")
    edit = f"{INDEX}{houcheng.id}/edit"
    token = csrf_token(client, edit)

    response = client.post(edit, data=_form(houcheng, code="12345", csrf_token=token))
    assert response.status_code == 400  # refused, shown again
    assert "Enter exactly 9 digits, or leave empty." in response.get_data(as_text=True)

    response = client.post(edit, data=_form(houcheng, name="德积街道", csrf_token=token))
    assert response.status_code == 400  # refused, shown again
    assert "A division with this name already exists." in response.get_data(as_text=True)

    response = client.post(edit, data=_form(houcheng, code="320582003", csrf_token=token))
    assert response.status_code == 400  # refused, shown again
    assert "A division with this code already exists." in response.get_data(as_text=True)

    dbs.expire_all()
    unchanged = _division(dbs, "后塍街道")
    assert unchanged.code is None


def test_a_post_without_csrf_token_is_refused(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _admin(staff_client, make_user, login)
    deji = _division(dbs, "德积街道")
    response = client.post(f"{INDEX}{deji.id}/edit", data=_form(deji, name_en="Changed"))
    assert response.status_code == 400
    dbs.expire_all()
    assert _division(dbs, "德积街道").name_en == "Deji Street"


def test_division_scoped_administrator_is_refused(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    tangqiao = _division(dbs, "塘桥镇")
    user = make_user("localadmin", Role.ADMINISTRATOR, division_id=tangqiao.id)
    client = _english(login(staff_client, user))
    page = client.get(INDEX).get_data(as_text=True)
    assert "塘桥镇" in page
    assert "/edit" not in page  # read-only list
    edit = f"{INDEX}{tangqiao.id}/edit"
    assert client.get(edit).status_code == 403
    assert client.get(INDEX + "new").status_code == 403
    token = csrf_token(client, INDEX)
    response = client.post(edit, data=_form(tangqiao, name_en="Changed", csrf_token=token))
    assert response.status_code == 403
    dbs.expire_all()
    assert _division(dbs, "塘桥镇").name_en == "Tangqiao Town"
