"""Rule set versions: which is in force on a day, adding and withdrawing versions (audited),
and who may read or change them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import Forbidden
from registry.models import Division
from rewards.rules import QuoteInput, calculate, rule_set_in_force, services
from rewards.rules.errors import (
    NoRuleSetInForce,
    RuleSetDateTaken,
    RuleSetExists,
    RuleSetInvalid,
    RuleSetNotFound,
    RuleSetNotInForce,
    RuleSetNotWithdrawable,
)
from rewards.rules.models import RuleSetRecord
from rewards.rules.services import (
    add_rule_set,
    get_rule_set,
    list_rule_sets,
    shipped_rule_sets,
    view_rule_set,
    withdraw_rule_set,
)
from tests.conftest import build_user

TODAY = dt.date(2026, 11, 1)  # the FakeClock's day in Asia/Shanghai


def document(rule_set_id: str, series: str, effective_from: str, **changes: Any) -> str:
    """A copy of the shipped national set under another id, series and date."""
    base = next(rs for rs in shipped_rule_sets() if rs.id == "national-2018")
    doc: dict[str, Any] = json.loads(base.body)
    doc.update(id=rule_set_id, series=series, effective_from=effective_from, **changes)
    return json.dumps(doc, ensure_ascii=False)


@pytest.fixture
def admin(dbs: Session, clock: FakeClock) -> Any:
    return build_user(dbs, clock, "rules_admin", Role.ADMINISTRATOR)


def test_default_is_the_national_set(dbs: Session) -> None:
    assert rule_set_in_force(dbs, TODAY).id == "national-2018"
    assert rule_set_in_force(dbs, dt.date(2018, 1, 4)).id == "national-2018"
    assert rule_set_in_force(dbs, TODAY, "national").id == "national-2018"
    assert rule_set_in_force(dbs, TODAY, "national-2018").id == "national-2018"
    assert rule_set_in_force(dbs, TODAY, "taizhou").id == "taizhou-2020"


def test_nothing_in_force_before_the_first_version(dbs: Session) -> None:
    with pytest.raises(NoRuleSetInForce) as caught:
        rule_set_in_force(dbs, dt.date(2018, 1, 3))
    assert caught.value.params == {"rule_set": "national", "date": "2018-01-03"}
    with pytest.raises(RuleSetNotInForce):
        rule_set_in_force(dbs, dt.date(2020, 11, 19), "taizhou-2020")


def test_unknown_rule_set(dbs: Session) -> None:
    with pytest.raises(RuleSetNotFound):
        rule_set_in_force(dbs, TODAY, "atlantis")
    with pytest.raises(RuleSetNotFound):
        get_rule_set(dbs, "atlantis")


def test_a_new_version_replaces_the_old_one_from_its_first_day(
    dbs: Session, clock: FakeClock, admin: Any
) -> None:
    added = add_rule_set(
        dbs,
        clock,
        admin,
        document("national-2027", "national", "2027-01-01", hazard_penalty={
            "percent": "17.5", "min_fen": 400000, "max_fen": 40000000, "verification": "unverified",
        }),
    )  # fmt: skip
    assert added.id == "national-2027"
    assert rule_set_in_force(dbs, dt.date(2026, 12, 31)).id == "national-2018"
    in_2027 = rule_set_in_force(dbs, dt.date(2027, 1, 1))
    assert in_2027.id == "national-2027"
    # 17.5 % of ¥30,000 = ¥5,250.
    quote = calculate(in_2027, QuoteInput(kind="hazard", penalties_fen=(3000000,)))
    assert (quote.amount_fen, quote.rule_set) == (525000, "national-2027")
    # Asking for the old version by id on a day it no longer applies is refused.
    with pytest.raises(RuleSetNotInForce):
        rule_set_in_force(dbs, dt.date(2027, 2, 1), "national-2018")
    # Without the database only the shipped set is known.
    assert rule_set_in_force(None, dt.date(2027, 2, 1)).id == "national-2018"


def test_effective_until_ends_the_series(dbs: Session, clock: FakeClock, admin: Any) -> None:
    add_rule_set(
        dbs,
        clock,
        admin,
        document("pilot-2026", "pilot", "2026-01-01", effective_until="2026-06-30"),
    )
    assert rule_set_in_force(dbs, dt.date(2026, 6, 30), "pilot").id == "pilot-2026"
    with pytest.raises(NoRuleSetInForce):
        rule_set_in_force(dbs, dt.date(2026, 7, 1), "pilot")
    statuses = {v.rule_set.id: v.status for v in list_rule_sets(dbs, admin, TODAY)}
    assert statuses["pilot-2026"] == "expired"


def test_adding_is_audited_and_stored_as_validated(
    dbs: Session, clock: FakeClock, admin: Any
) -> None:
    add_rule_set(dbs, clock, admin, document("local-2026", "local", "2026-03-01"))
    row = dbs.get(RuleSetRecord, "local-2026")
    assert row is not None
    assert (row.series, row.effective_from, row.created_by_id) == (
        "local",
        dt.date(2026, 3, 1),
        admin.id,
    )
    assert json.loads(row.body)["id"] == "local-2026"
    audit = dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "reward_rule_set.added")
    ).one()
    assert (audit.object_type, audit.object_id, audit.actor_id) == (
        "reward_rule_set",
        "local-2026",
        admin.id,
    )
    details = json.loads(audit.details)
    assert details["series"] == "local"
    assert details["body_sha256"] == row.body_sha256


def test_an_invalid_document_adds_nothing(dbs: Session, clock: FakeClock, admin: Any) -> None:
    with pytest.raises(RuleSetInvalid):
        add_rule_set(dbs, clock, admin, document("bad-2026", "bad", "2026-02-30"))
    assert dbs.get(RuleSetRecord, "bad-2026") is None
    assert not dbs.scalars(
        select(AuditRecord).where(AuditRecord.object_type == "reward_rule_set")
    ).all()


@pytest.mark.parametrize(
    ("rule_set_id", "series", "day", "error"),
    [
        ("national-2018", "national", "2027-01-01", RuleSetExists),  # a shipped id
        ("national", "other", "2027-01-01", RuleSetExists),  # the name of a series
        ("other-2027", "taizhou-2020", "2027-01-01", RuleSetExists),  # series = another's id
        ("national-2018b", "national", "2018-01-04", RuleSetDateTaken),  # same first day
    ],
)
def test_conflicts_are_refused(  # noqa: PLR0917 - pytest passes fixtures and parameters
    dbs: Session,
    clock: FakeClock,
    admin: Any,
    rule_set_id: str,
    series: str,
    day: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        add_rule_set(dbs, clock, admin, document(rule_set_id, series, day))


def test_an_added_id_cannot_be_added_again(dbs: Session, clock: FakeClock, admin: Any) -> None:
    add_rule_set(dbs, clock, admin, document("local-2027", "local", "2027-01-01"))
    with pytest.raises(RuleSetExists):
        add_rule_set(dbs, clock, admin, document("local-2027", "local", "2028-01-01"))


def test_withdraw_a_future_version(dbs: Session, clock: FakeClock, admin: Any) -> None:
    add_rule_set(dbs, clock, admin, document("national-2027", "national", "2027-01-01"))
    withdraw_rule_set(dbs, clock, admin, "national-2027")
    assert rule_set_in_force(dbs, dt.date(2027, 6, 1)).id == "national-2018"
    with pytest.raises(RuleSetNotInForce):
        rule_set_in_force(dbs, dt.date(2027, 6, 1), "national-2027")
    view = view_rule_set(dbs, admin, "national-2027", TODAY)
    assert view.status == "withdrawn"
    audit = dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "reward_rule_set.withdrawn")
    ).one()
    assert audit.object_id == "national-2027"
    # Twice is refused, and the id stays taken; a corrected version needs a new id.
    with pytest.raises(RuleSetNotWithdrawable):
        withdraw_rule_set(dbs, clock, admin, "national-2027")
    with pytest.raises(RuleSetExists):
        add_rule_set(dbs, clock, admin, document("national-2027", "national", "2027-01-01"))
    add_rule_set(dbs, clock, admin, document("national-2027b", "national", "2027-01-01"))
    assert rule_set_in_force(dbs, dt.date(2027, 6, 1)).id == "national-2027b"


def test_a_version_in_force_or_shipped_cannot_be_withdrawn(
    dbs: Session, clock: FakeClock, admin: Any
) -> None:
    add_rule_set(dbs, clock, admin, document("local-2026", "local", "2026-11-01"))  # today
    with pytest.raises(RuleSetNotWithdrawable):
        withdraw_rule_set(dbs, clock, admin, "local-2026")
    with pytest.raises(RuleSetNotWithdrawable):
        withdraw_rule_set(dbs, clock, admin, "national-2018")
    with pytest.raises(RuleSetNotFound):
        withdraw_rule_set(dbs, clock, admin, "atlantis")


def test_statuses(dbs: Session, clock: FakeClock, admin: Any) -> None:
    add_rule_set(dbs, clock, admin, document("national-2026", "national", "2026-05-01"))
    add_rule_set(dbs, clock, admin, document("national-2027", "national", "2027-01-01"))
    views = {v.rule_set.id: v for v in list_rule_sets(dbs, admin, TODAY)}
    assert views["national-2018"].status == "superseded"
    assert views["national-2026"].status == "in_force"
    assert views["national-2027"].status == "future"
    assert views["taizhou-2020"].status == "in_force"
    assert views["national-2018"].version.origin == "shipped"
    assert views["national-2026"].version.origin == "admin"


@pytest.mark.parametrize(
    "role", [Role.ADMINISTRATOR, Role.FINANCE_OFFICER, Role.FINANCE_APPROVER, Role.SUPERVISOR]
)
def test_readers(dbs: Session, clock: FakeClock, role: Role) -> None:
    user = build_user(dbs, clock, f"reader_{role.value}", role)
    assert {v.rule_set.id for v in list_rule_sets(dbs, user, TODAY)} >= {
        "national-2018",
        "taizhou-2020",
    }
    assert view_rule_set(dbs, user, "taizhou-2020", TODAY).status == "in_force"


@pytest.mark.parametrize("role", [Role.TRIAGE_OFFICER, Role.CASE_OFFICER, Role.AUDITOR])
def test_others_may_not_read(dbs: Session, clock: FakeClock, role: Role) -> None:
    user = build_user(dbs, clock, f"other_{role.value}", role)
    with pytest.raises(Forbidden):
        list_rule_sets(dbs, user, TODAY)
    with pytest.raises(Forbidden):
        view_rule_set(dbs, user, "national-2018", TODAY)


def test_only_city_scope_administrators_change(dbs: Session, clock: FakeClock, admin: Any) -> None:
    division = dbs.scalars(select(Division)).first()
    assert division is not None
    local_admin = build_user(dbs, clock, "local_admin", Role.ADMINISTRATOR, division_id=division.id)
    finance = build_user(dbs, clock, "finance_1", Role.FINANCE_OFFICER, Role.FINANCE_APPROVER)
    inactive = build_user(dbs, clock, "gone_admin", Role.ADMINISTRATOR, active=False)
    for user in (local_admin, finance, inactive):
        with pytest.raises(Forbidden):
            add_rule_set(dbs, clock, user, document("local-2027", "local", "2027-01-01"))
    add_rule_set(dbs, clock, admin, document("local-2027", "local", "2027-01-01"))
    for user in (local_admin, finance):
        with pytest.raises(Forbidden):
            withdraw_rule_set(dbs, clock, user, "local-2027")


def test_the_database_refuses_what_a_concurrent_check_missed(
    dbs: Session, clock: FakeClock, admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two administrators adding at the same moment both pass the check in Python; the primary
    key and the unique index on (series, first day) refuse the second, as a conflict."""
    add_rule_set(dbs, clock, admin, document("race-2027", "race", "2027-01-01"))
    shipped_only = services.all_versions(None)
    monkeypatch.setattr(services, "all_versions", lambda session: shipped_only)
    with pytest.raises(RuleSetExists):
        add_rule_set(dbs, clock, admin, document("race-2027", "race", "2028-01-01"))
    with pytest.raises(RuleSetDateTaken) as caught:
        add_rule_set(dbs, clock, admin, document("race-2027b", "race", "2027-01-01"))
    assert caught.value.params["rule_set"] == "race-2027"
    monkeypatch.undo()
    # The session is still usable and holds exactly the first version.
    assert [r.id for r in dbs.scalars(select(RuleSetRecord))] == ["race-2027"]
