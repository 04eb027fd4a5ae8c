"""The reward rule set pages, through the staff app with real sessions and CSRF tokens."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.audit.models import AuditRecord
from registry.models import Division
from rewards.rules.models import RuleSetRecord
from rewards.rules.services import shipped_rule_sets
from tests.conftest import csrf_token

INDEX = "/reward-rules/"
NEW = "/reward-rules/new"


def _english(client: FlaskClient) -> FlaskClient:
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def _client(
    staff_client: FlaskClient, make_user: Any, login: Any, *roles: Role, **kw: Any
) -> FlaskClient:
    return _english(login(staff_client, make_user("rules_user", *roles, **kw)))


def document(
    rule_set_id: str, series: str = "local", effective_from: str = "2027-01-01", **changes: Any
) -> str:
    base = next(rs for rs in shipped_rule_sets() if rs.id == "national-2018")
    doc: dict[str, Any] = json.loads(base.body)
    doc.update(id=rule_set_id, series=series, effective_from=effective_from, **changes)
    return json.dumps(doc, ensure_ascii=False)


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_anonymous_is_sent_to_log_in(staff_client: FlaskClient) -> None:
    for path in (INDEX, NEW, INDEX + "national-2018", INDEX + "national-2018/download"):
        response = staff_client.get(path)
        assert response.status_code in {302, 303}, path
        assert "login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.TRIAGE_OFFICER, Role.CASE_OFFICER, Role.AUDITOR])
def test_other_roles_are_refused(
    staff_client: FlaskClient, make_user: Any, login: Any, role: Role
) -> None:
    client = _client(staff_client, make_user, login, role)
    for path in (INDEX, NEW, INDEX + "national-2018", INDEX + "national-2018/download"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize(
    "role", [Role.ADMINISTRATOR, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.SUPERVISOR]
)
def test_readers_see_the_list_with_dates(
    staff_client: FlaskClient, make_user: Any, login: Any, role: Role
) -> None:
    client = _client(staff_client, make_user, login, role)
    response = client.get(INDEX)
    assert response.status_code == 200
    page = _text(response)
    assert 'data-rule-set="national-2018"' in page
    assert 'data-rule-set="taizhou-2020"' in page
    assert "2018-01-04" in page
    assert "2020-11-20" in page
    assert 'data-status="in_force"' in page
    assert (NEW in page) is (role == Role.ADMINISTRATOR)


def test_rule_set_page_shows_the_rules(
    staff_client: FlaskClient, make_user: Any, login: Any
) -> None:
    client = _client(staff_client, make_user, login, Role.FINANCE_OFFICER)
    page = _text(client.get(INDEX + "national-2018"))
    assert "15% of the administrative penalty" in page
    assert "at least ¥3,000.00" in page
    assert "at most ¥300,000.00" in page
    assert "¥60,000.00" in page
    assert 'data-exclusion="media_exposed"' in page
    assert "安监总财〔2018〕19号" in page
    assert 'id="withdraw"' not in page
    assert client.get(INDEX + "atlantis").status_code == 404


def test_rule_set_page_in_chinese(staff_client: FlaskClient, make_user: Any, login: Any) -> None:
    client = login(staff_client, make_user("zh_reader", Role.FINANCE_OFFICER))
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "zh_Hans_CN"
    page = _text(client.get(INDEX + "national-2018"))
    assert "安全生产领域举报奖励（国家标准）" in page


def test_download_gives_the_json(staff_client: FlaskClient, make_user: Any, login: Any) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    response = client.get(INDEX + "taizhou-2020/download")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data(as_text=True))["id"] == "taizhou-2020"
    assert "attachment" in response.headers["Content-Disposition"]


def test_preview_quote(staff_client: FlaskClient, make_user: Any, login: Any) -> None:
    client = _client(staff_client, make_user, login, Role.FINANCE_OFFICER)
    page = _text(
        client.get(
            INDEX + "national-2018", query_string={"kind": "hazard", "penalties": "150000\n20000"}
        )
    )
    assert 'id="quote"' in page
    assert "Reward: ¥25,500.00" in page
    assert "¥150,000.00 + ¥20,000.00 = ¥170,000.00" in page
    page = _text(
        client.get(
            INDEX + "national-2018",
            query_string={"kind": "concealed_accident", "grade": "特别重大", "deaths": "9"},
        )
    )
    assert "Reward: ¥300,000.00" in page
    page = _text(
        client.get(INDEX + "national-2018", query_string={"kind": "hazard", "penalties": "1.234"})
    )
    assert 'id="quote-problem"' in page
    assert "at most two decimals" in page
    page = _text(
        client.get(
            INDEX + "taizhou-2020",
            query_string={"kind": "concealed_accident", "grade": "特别重大", "deaths": "1"},
        )
    )
    assert "sets no amount for a 特别重大 accident" in page


def test_admin_adds_a_version_by_pasting(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    token = csrf_token(client, NEW)
    response = client.post(NEW, data={"csrf_token": token, "document": document("local-2027")})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/reward-rules/local-2027")
    assert dbs.get(RuleSetRecord, "local-2027") is not None
    audit = dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "reward_rule_set.added")
    ).one()
    assert audit.object_id == "local-2027"
    page = _text(client.get(INDEX + "local-2027"))
    assert "Rule set local-2027 was added." in page
    assert 'data-status="future"' in page
    assert 'id="withdraw"' in page


def test_admin_adds_a_version_by_uploading(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    token = csrf_token(client, NEW)
    body = ("\ufeff" + document("upload-2027", series="uploaded")).encode("utf-8")
    response = client.post(
        NEW,
        data={"csrf_token": token, "file": (io.BytesIO(body), "rules.json", "application/json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert dbs.get(RuleSetRecord, "upload-2027") is not None


def test_invalid_document_shows_every_problem(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    token = csrf_token(client, NEW)
    bad = json.loads(document("Bad Id"))
    bad["hazard_penalty"]["min_fen"] = 3000.5
    response = client.post(NEW, data={"csrf_token": token, "document": json.dumps(bad)})
    assert response.status_code == 400
    page = _text(response)
    problems = re.search(r'id="rule-set-problems">(.*?)</div>', page, re.S)
    assert problems is not None
    assert "<code>id</code>" in problems.group(1)
    assert "<code>hazard_penalty.min_fen</code>: expected a whole number of fen" in problems.group(
        1
    )
    assert not dbs.scalars(select(RuleSetRecord)).all()
    assert not dbs.scalars(
        select(AuditRecord).where(AuditRecord.object_type == "reward_rule_set")
    ).all()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"document": "{not json"}, "not valid JSON (line 1, column 2)"),
        ({}, "Upload a file or paste the JSON."),
        (
            {"document": document("x-2027")},
            "A reward rule set or series named national-2018 already exists.",
        ),
    ],
)
def test_other_refusals(
    staff_client: FlaskClient, make_user: Any, login: Any, data: dict[str, str], message: str
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    if "x-2027" in data.get("document", ""):
        data = {
            "document": document("national-2018", series="national", effective_from="2030-01-01")
        }
    data["csrf_token"] = csrf_token(client, NEW)
    response = client.post(NEW, data=data)
    assert response.status_code in {400, 409}
    assert message in _text(response)


def test_both_file_and_text_is_refused(
    staff_client: FlaskClient, make_user: Any, login: Any
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    token = csrf_token(client, NEW)
    response = client.post(
        NEW,
        data={
            "csrf_token": token,
            "document": document("a-2027"),
            "file": (io.BytesIO(document("b-2027").encode()), "rules.json"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Upload a file or paste the JSON, not both." in _text(response)


def test_post_without_csrf_is_refused(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    response = client.post(NEW, data={"document": document("nocsrf-2027")})
    assert response.status_code == 400
    assert dbs.get(RuleSetRecord, "nocsrf-2027") is None


def test_non_administrators_cannot_add(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(
        staff_client, make_user, login, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.SUPERVISOR
    )
    token = csrf_token(client, INDEX + "national-2018")  # the logout form's token
    response = client.post(NEW, data={"csrf_token": token, "document": document("fin-2027")})
    assert response.status_code == 403
    assert dbs.get(RuleSetRecord, "fin-2027") is None


def test_division_administrator_cannot_add(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    division = dbs.scalars(select(Division)).first()
    assert division is not None
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR, division_id=division.id)
    assert client.get(NEW).status_code == 403
    assert NEW not in _text(client.get(INDEX))


def test_admin_withdraws_a_future_version(
    staff_client: FlaskClient, make_user: Any, login: Any, dbs: Session
) -> None:
    client = _client(staff_client, make_user, login, Role.ADMINISTRATOR)
    token = csrf_token(client, NEW)
    assert (
        client.post(NEW, data={"csrf_token": token, "document": document("oops-2027")}).status_code
        == 303
    )
    page_path = INDEX + "oops-2027"
    token = csrf_token(client, page_path)
    # Without the confirmation box: refused, nothing changes.
    response = client.post(page_path + "/withdraw", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Tick the box to confirm." in _text(response)
    row = dbs.get(RuleSetRecord, "oops-2027")
    assert row is not None
    assert row.withdrawn_at is None
    response = client.post(page_path + "/withdraw", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 303
    withdrawn_at = dbs.scalar(
        select(RuleSetRecord.withdrawn_at).where(RuleSetRecord.id == "oops-2027")
    )
    assert withdrawn_at is not None
    page = _text(client.get(page_path))
    assert 'data-status="withdrawn"' in page
    assert 'id="withdraw"' not in page
    # A shipped version cannot be withdrawn.
    response = client.post(
        INDEX + "national-2018/withdraw", data={"csrf_token": token, "confirm": "y"}
    )
    assert response.status_code == 409
