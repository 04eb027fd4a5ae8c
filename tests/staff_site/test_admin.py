"""The account administration pages: who may see them and what each administrator may do."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit.models import AuditRecord
from registry.models import Division
from tests.conftest import csrf_token


def division_id(dbs: Session, name: str) -> int:
    value = dbs.scalar(select(Division.id).where(Division.name == name))
    assert value is not None
    return value


@pytest.fixture
def client(staff_client: FlaskClient) -> FlaskClient:
    with staff_client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return staff_client


@pytest.fixture
def people(make_user: Any, dbs: Session) -> dict[str, User]:
    yangshe = division_id(dbs, "杨舍镇")
    tangqiao = division_id(dbs, "塘桥镇")
    return {
        "city": make_user("city.admin", Role.ADMINISTRATOR, totp=True),
        "yangshe": make_user("yangshe.admin", Role.ADMINISTRATOR, division_id=yangshe, totp=True),
        "yangshe_user": make_user("yangshe.triage", Role.TRIAGE_OFFICER, division_id=yangshe),
        "tangqiao_user": make_user("tangqiao.case", Role.CASE_OFFICER, division_id=tangqiao),
        "auditor": make_user("the.auditor", Role.AUDITOR, totp=True),
    }


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users/new", "/admin/users/1"])
def test_anonymous_is_sent_to_login(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_other_roles_get_403(client: FlaskClient, people: dict[str, User], login: Any) -> None:
    login(client, people["auditor"])
    target = people["yangshe_user"].id
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    assert client.get(f"/admin/users/{target}").status_code == 403
    token = csrf_token(client, "/")
    assert (
        client.post(f"/admin/users/{target}/disable", data={"csrf_token": token}).status_code == 403
    )
    assert people["yangshe_user"].active


def test_city_admin_lists_everyone_and_creates_a_user(
    client: FlaskClient, people: dict[str, User], login: Any, dbs: Session
) -> None:
    login(client, people["city"])
    listing = page(client.get("/admin/users"))
    for name in ("yangshe.triage", "tangqiao.case", "the.auditor"):
        assert name in listing
    form = page(client.get("/admin/users/new"))
    assert 'type="checkbox"' in form
    assert 'value="supervisor"' in form
    assert ">Whole city<" in form

    response = client.post(
        "/admin/users/new",
        data={
            "username": "New.Officer",
            "display_name": "New Officer",
            "roles": ["triage_officer", "case_officer"],
            "division": str(division_id(dbs, "塘桥镇")),
            "csrf_token": csrf_token(client, "/admin/users/new"),
        },
    )
    assert response.status_code == 201
    match = re.search(r'id="new-passphrase">([^<]+)<', page(response))
    assert match
    user = dbs.scalar(select(User).where(User.username == "new.officer"))
    assert user is not None
    assert user.must_change_password
    assert user.role_set == {Role.TRIAGE_OFFICER, Role.CASE_OFFICER}
    details = " ".join(dbs.scalars(select(AuditRecord.details)))
    assert match.group(1) not in details


def test_city_admin_edits_disables_and_resets(
    client: FlaskClient, people: dict[str, User], login: Any, dbs: Session
) -> None:
    login(client, people["city"])
    target = people["tangqiao_user"]
    edit = f"/admin/users/{target.id}"
    token = csrf_token(client, edit)
    response = client.post(
        edit,
        data={
            "display_name": "Tangqiao Case Officer",
            "roles": ["case_officer", "triage_officer"],
            "division": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    dbs.refresh(target)
    assert target.display_name == "Tangqiao Case Officer"
    assert target.division_id is None
    assert target.role_set == {Role.CASE_OFFICER, Role.TRIAGE_OFFICER}

    assert client.post(f"{edit}/disable", data={"csrf_token": token}).status_code == 303
    dbs.refresh(target)
    assert not target.active
    assert client.post(f"{edit}/enable", data={"csrf_token": token}).status_code == 303
    dbs.refresh(target)
    assert target.active

    reset = client.post(f"{edit}/reset-password", data={"csrf_token": token})
    assert reset.status_code == 200
    assert 'id="new-passphrase"' in page(reset)
    dbs.refresh(target)
    assert target.must_change_password


def test_admin_cannot_disable_themselves(
    client: FlaskClient, people: dict[str, User], login: Any, dbs: Session
) -> None:
    me = people["city"]
    login(client, me)
    token = csrf_token(client, "/admin/users")
    assert (
        client.post(f"/admin/users/{me.id}/disable", data={"csrf_token": token}).status_code == 409
    )
    response = client.post(
        f"/admin/users/{me.id}",
        data={
            "display_name": "Me",
            "roles": ["auditor"],
            "division": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert "cannot disable your own account or remove your own administrator role" in page(response)
    dbs.refresh(me)
    assert me.active
    assert me.has_role(Role.ADMINISTRATOR)


def test_division_admin_sees_only_their_division(
    client: FlaskClient, people: dict[str, User], login: Any
) -> None:
    login(client, people["yangshe"])
    listing = page(client.get("/admin/users"))
    assert "yangshe.triage" in listing
    assert "tangqiao.case" not in listing
    assert "city.admin" not in listing
    other = people["tangqiao_user"].id
    assert client.get(f"/admin/users/{other}").status_code == 403
    token = csrf_token(client, "/admin/users")
    assert (
        client.post(f"/admin/users/{other}/disable", data={"csrf_token": token}).status_code == 403
    )
    assert (
        client.post(f"/admin/users/{other}/reset-password", data={"csrf_token": token}).status_code
        == 403
    )
    assert (
        client.post(
            f"/admin/users/{people['city'].id}",
            data={
                "display_name": "X",
                "roles": ["administrator"],
                "division": "",
                "csrf_token": token,
            },
        ).status_code
        == 403
    )
    assert people["tangqiao_user"].active


def test_division_admin_cannot_grant_city_scope(
    client: FlaskClient, people: dict[str, User], login: Any, dbs: Session
) -> None:
    admin = people["yangshe"]
    login(client, admin)
    form = page(client.get("/admin/users/new"))
    assert "Whole city" not in form
    assert "塘桥镇" not in form
    assert "杨舍镇" in form
    token = csrf_token(client, "/admin/users/new")
    # A forged "whole city" choice is not among the offered ones…
    response = client.post(
        "/admin/users/new",
        data={
            "username": "sneaky.city",
            "display_name": "Sneaky",
            "roles": ["triage_officer"],
            "division": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    # …and a city-wide role is refused by the service.
    response = client.post(
        "/admin/users/new",
        data={
            "username": "sneaky.supervisor",
            "display_name": "Sneaky",
            "roles": ["supervisor"],
            "division": str(admin.division_id),
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert "Only a city-wide administrator" in page(response)
    target = people["yangshe_user"]
    response = client.post(
        f"/admin/users/{target.id}",
        data={
            "display_name": "Yangshe Triage",
            "roles": ["triage_officer"],
            "division": "",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400
    assert dbs.scalar(select(User).where(User.username.like("sneaky%"))) is None
    dbs.refresh(target)
    assert target.division_id == admin.division_id

    # Inside the division it works.
    response = client.post(
        "/admin/users/new",
        data={
            "username": "yangshe.case",
            "display_name": "Yangshe Case",
            "roles": ["case_officer"],
            "division": str(admin.division_id),
            "csrf_token": token,
        },
    )
    assert response.status_code == 201
