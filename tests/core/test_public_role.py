"""Privilege separation: the public site runs on PostgreSQL as a role of its own
(``qingling db public-role``, ``core/dbroles.py``, migration 0007).

On PostgreSQL a private schema is built by the real migrations, the role is created by the
command's statements, and the public site (``create_app`` with a ``QINGLING_DATABASE_URL`` for
that role) takes a real tip with a photo, shows its status, takes the reporter's answer and
objection, replaces the token and takes a reward claim; the audit chain the role appended to
blind still verifies. Then, connected as that role: no staff table can be read (accounts and
roles, staff sessions, personal keys, grants, TOTP seeds, the audit trail, ...), nor the staff
columns of shared tables, and a tip's or a reward's state cannot be changed beyond the
reporter's own steps — nor, for a tip filed since migration 0008, by those steps without the
reporter proof derived from that tip's data key. The checks of the statements themselves run on
SQLite too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, func, inspect, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core import db, dbroles, migrate
from core.accounts import services as accounts
from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.models import AuditRecord
from core.audit.services import REPORTER_ACTOR, SYSTEM_ACTOR
from core.cli import main
from core.clock import FakeClock
from core.keys import services as keys
from core.keys.pins import KeyPins
from core.settings import SPECS, Settings
from crypto import tokens
from intake import errors as intake_errors
from intake import services as intake_services
from intake.access import ReporterAccess
from intake.models import (
    Channel,
    MessageAuthor,
    Relationship,
    Tip,
    TipCategory,
    TipMessage,
    TipState,
)
from intake.wechat.models import Photo, PhotoState
from migrations import load_models
from public_site import create_app
from public_site.limits import limiter_of
from registry.models import Division
from registry.services import load_default_divisions
from rewards import services as rewards
from rewards.models import PaymentMethod, Reward, RewardKind, RewardState
from tests.conftest import DEFAULT_PASSWORD, ON_POSTGRES, TEST_DATABASE_URL, csrf_token
from tests.intake.test_media import identifying_jpeg
from tests.public_site.conftest import TOKEN_RE
from triage import services as triage
from triage.deadlines import local_date

DESCRIPTION = "三楼配电间门口堆满纸箱，应急灯不亮，夜班只有一名护工。"
ANSWER = "是三楼东侧的配电间，纸箱是上周送来的尿不湿。"
OBJECTION = "整改只是把纸箱挪到了楼梯间，隐患还在。"
QUESTION = "请问是哪一层的配电间？"
CONCLUSION = "经现场核查属实，已责令立即清理并更换应急灯。"
INSUFFICIENT_PRIVILEGE = "42501"


def postgres_only(test: Any) -> Any:
    return pytest.mark.postgres(
        pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")(test)
    )


# ---------------------------------------------------------------- the statements (any database)


def _columns() -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.columns} for t in load_models().sorted_tables}


def test_every_table_is_granted_or_staff_only() -> None:
    """A new table must be classified: the public site gets nothing until someone decides."""
    tables = set(_columns()) | {"alembic_version"}
    granted = [a.table for a in dbroles.PUBLIC_ACCESS]
    assert len(granted) == len(set(granted))
    assert not set(granted) & dbroles.STAFF_ONLY
    assert set(granted) | dbroles.STAFF_ONLY == tables


def test_every_granted_column_exists_and_no_sequence_is_needed() -> None:
    columns = _columns()
    metadata = load_models()
    for access in dbroles.PUBLIC_ACCESS:
        for kind in (access.select, access.insert, access.update):
            if kind != dbroles.ALL:
                assert set(kind) <= columns[access.table], (access.table, kind)
        if access.insert:
            # The grants include no sequence: a table the role inserts into must not number
            # its rows from one (the audit chain is numbered inside qingling_audit_append).
            key = list(metadata.tables[access.table].primary_key.columns)
            assert not (len(key) == 1 and key[0].autoincrement is True), access.table
            assert not (
                len(key) == 1 and key[0].autoincrement == "auto" and key[0].type.python_type is int
            ), access.table


def test_the_staff_secrets_are_not_granted() -> None:
    grants = {a.table: a for a in dbroles.PUBLIC_ACCESS}
    for table in ("users", "staff_sessions", "personal_keys", "group_grants", "audit_records"):
        assert table not in grants
    assert "contact_phone" not in grants["facilities"].select
    assert "description" not in grants["hazard_cases"].select
    assert "actor_label" not in grants["tip_transitions"].select
    assert not {"decided_at", "conclusion", "concluded_at", "reward_right"} & set(
        grants["tips"].update
    )
    assert not {"amount_fen", "paid_on", "approved_by_id"} & set(grants["rewards"].update)


def test_the_command_prints_one_transaction() -> None:
    result = CliRunner().invoke(main, ["db", "public-role", "qingling_public"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("BEGIN;\n")
    assert out.endswith("COMMIT;\n")
    assert 'CREATE ROLE "qingling_public" LOGIN' in out
    assert 'REVOKE ALL ON ALL TABLES IN SCHEMA "public" FROM "qingling_public";' in out
    assert 'GRANT SELECT ON TABLE "public"."divisions" TO "qingling_public";' in out
    assert (
        'GRANT SELECT ("id", "name", "address", "division_id", "facility_type_id", "status") '
        'ON TABLE "public"."facilities"'
    ) in out
    assert "qingling_audit_append" in out
    assert "PASSWORD" not in out  # set in psql with \password, never on a command line
    assert "search_path" not in out  # only for a schema other than public
    other = CliRunner().invoke(main, ["db", "public-role", "pub", "--schema", "qingling"])
    assert other.exit_code == 0, other.output
    assert "SET search_path = %I" in other.output
    assert '"qingling"."tips"' in other.output


@pytest.mark.parametrize(
    "name", ["Public", "postgres", "pg_monitor", "1abc", "a-b", 'x"; DROP ROLE y; --', "a" * 64]
)
def test_the_command_refuses_a_bad_role_name(name: str) -> None:
    result = CliRunner().invoke(main, ["db", "public-role", name])
    assert result.exit_code == 2
    assert "lower-case letters" in result.output
    with pytest.raises(dbroles.RoleNameError):
        dbroles.public_role_statements(name)


def test_apply_refuses_sqlite(tmp_path: Path) -> None:
    env = {
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
        "QINGLING_DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}",
    }
    result = CliRunner().invoke(main, ["db", "public-role", "qingling_public", "--apply"], env=env)
    assert result.exit_code == 1
    assert "needs PostgreSQL" in result.output


# ---------------------------------------------------------------- a deployment on PostgreSQL


@dataclass
class Deployment:
    """A private schema at the migrations' head, the staff side on the owner's connection, and
    the public site's role."""

    settings: Settings  # the owner's (staff side)
    public_settings: Settings  # QINGLING_DATABASE_URL for the role
    owner: Engine
    role_engine: Engine  # connected as the role, for the direct checks
    role: str
    schema: str
    clock: FakeClock
    division: int = 0
    recovery: keys.RecoveryAuthority | None = None
    staff_ids: dict[str, int] = field(default_factory=dict)
    staff_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    def session(self) -> Session:
        return db.make_session_factory(self.owner)()

    def unit(self) -> Any:
        return db.unit_of_work(db.make_session_factory(self.owner))

    def staff(self, session: Session, name: str) -> tuple[Session, FakeClock, Settings, User]:
        user = session.get(User, self.staff_ids[name])
        assert user is not None
        return session, self.clock, self.settings, user


def _owner_engine(schema: str) -> Engine:
    return create_engine(
        TEST_DATABASE_URL,
        hide_parameters=True,
        connect_args={"options": f"-csearch_path={schema}"},
    )


def _make_staff(dep: Deployment, name: str, roles: set[Role], group: str) -> None:
    assert dep.recovery is not None
    with dep.unit() as session:
        user = accounts.create_user(
            session,
            dep.clock,
            dep.settings,
            SYSTEM_ACTOR,
            username=name,
            display_name=name.title(),
            password=DEFAULT_PASSWORD,
            roles=roles,
            division_id=None,
        )
        dep.staff_keys[name] = accounts.personal_key_with_password(
            session, dep.clock, dep.settings, user, password=DEFAULT_PASSWORD
        )
        found = keys.find_group(session, group)
        assert found is not None
        keys.grant(session, dep.clock, dep.settings, dep.recovery, found, grantee=user)
        dep.staff_ids[name] = user.id


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not ON_POSTGRES:
        pytest.skip("needs PostgreSQL")
    from tests.conftest import make_settings

    suffix = secrets.token_hex(4)
    schema, role, password = f"pubrole_{suffix}", f"qingling_pub_{suffix}", secrets.token_hex(16)
    admin = create_engine(TEST_DATABASE_URL, hide_parameters=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    owner = _owner_engine(schema)
    role_url = make_url(TEST_DATABASE_URL).set(username=role, password=password)
    role_engine: Engine | None = None
    try:
        migrate.upgrade(owner)
        with owner.begin() as conn:
            dbroles.apply(conn, dbroles.public_role_statements(role, schema))
            # The test's own password (an operator types it in psql with \password).
            conn.execute(text(f"ALTER ROLE {role} PASSWORD '{password}'"))
        settings = make_settings(tmp_path_factory.mktemp("public-role"), TEST_DATABASE_URL)
        public_settings = settings.with_changes(
            database_url=role_url.render_as_string(hide_password=False)
        )
        role_engine = create_engine(role_url, hide_parameters=True)
        dep = Deployment(settings, public_settings, owner, role_engine, role, schema, FakeClock())
        with dep.unit() as session:
            load_default_divisions(session, dep.clock, SYSTEM_ACTOR)
            intake_services.initialise_token_params(session, dep.clock, calibrate=False)
            sheet, _ = keys.init_recovery(session, dep.clock, settings, SYSTEM_ACTOR)
            division = session.scalar(select(Division.id).where(Division.name == "杨舍镇"))
            assert division is not None
            dep.division = division
        dep.recovery = keys.RecoveryAuthority(sheet.private_key)
        _make_staff(dep, "triage", {Role.TRIAGE_OFFICER}, keys.CITY_TRIAGE)
        _make_staff(dep, "officer", {Role.FINANCE_OFFICER}, keys.FINANCE)
        _make_staff(dep, "approver", {Role.FINANCE_APPROVER}, keys.FINANCE)
        yield dep
    finally:
        if role_engine is not None:
            role_engine.dispose()
        owner.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        with admin.begin() as conn:  # the role exists unless setting up failed before it
            if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


@pytest.fixture
def site(deployment: Deployment) -> Iterator[tuple[Flask, FlaskClient]]:
    """The public site as production runs it: its own engine, from its own settings."""
    app = create_app(deployment.public_settings, clock=deployment.clock)
    limiter_of(app).enabled = False
    try:
        yield app, app.test_client()
    finally:
        app.extensions["qingling.sessions"].kw["bind"].dispose()


def _denied(engine: Engine, sql: str, **params: Any) -> str:
    """Run ``sql`` as the role (rolled back): it must be refused with insufficient_privilege;
    the error's message."""
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text(sql), params)
    error = caught.value.orig
    assert getattr(error, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, (sql, str(error))
    return str(error)


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _submit(client: FlaskClient, division: int) -> str:
    data: dict[str, Any] = {
        "csrf_token": csrf_token(client, "/report"),
        "description": DESCRIPTION,
        "category": "fire",
        "division": str(division),
        "location": "三楼配电间",
        "facility_id": "",
        "facility_name": "夕阳红托老所",
        "observed_when": "昨晚十点",
        "relationship": "employee",
        "contact": "",
        "real_name": "",
        "files": [(io.BytesIO(identifying_jpeg()), "IMG_0001.jpg")],
    }
    response = client.post("/report", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    found = TOKEN_RE.search(response.get_data(as_text=True))
    assert found
    return found.group(1)


def _enter(client: FlaskClient, token: str) -> None:
    response = client.post(
        "/status", data={"csrf_token": csrf_token(client, "/status"), "token": token}
    )
    assert response.status_code == 303


def _post_on_status(client: FlaskClient, path: str, **data: str) -> None:
    response = client.post(path, data={"csrf_token": csrf_token(client, "/status/report"), **data})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def _tip_of(dep: Deployment, token: str) -> uuid.UUID:
    with dep.session() as session:
        return intake_services.unlock_with_token(session, dep.settings, token).tip_id


def _offered_reward(dep: Deployment) -> tuple[uuid.UUID, str]:
    """A tip filed through the services and driven by staff to an offered reward."""
    tip_id, token = _filed(dep)
    with dep.unit() as session:
        args = dep.staff(session, "triage")
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        triage.conclude(
            *args,
            tip_id,
            personal_key=dep.staff_keys["triage"],
            outcome=TipState.SUBSTANTIATED,
            text=CONCLUSION,
        )
    dep.clock.advance(days=11)
    with dep.unit() as session:
        reward_id = session.scalar(select(Reward.id).where(Reward.tip_id == tip_id))
        assert reward_id is not None
        rewards.record_penalty_decision(
            *dep.staff(session, "officer"),
            reward_id,
            decision=rewards.PenaltyDecision(
                RewardKind.HAZARD,
                penalties_fen=(3_000_000,),
                decision_number="张民罚决字〔2026〕88号",
                decision_date=local_date(dep.clock.now()),
            ),
        )
        rewards.calculate(*dep.staff(session, "officer"), reward_id)
    with dep.unit() as session:
        rewards.approve(*dep.staff(session, "approver"), reward_id)
    with dep.unit() as session:
        rewards.offer(*dep.staff(session, "officer"), reward_id)
    return tip_id, token


@postgres_only
def test_the_public_site_works_as_its_own_role(
    deployment: Deployment, site: tuple[Flask, FlaskClient]
) -> None:
    dep = deployment
    app, client = site
    with app.extensions["qingling.sessions"]() as session:
        assert session.scalar(text("SELECT current_user")) == dep.role
    with dep.session() as session:
        records_before = audit.count_records(session)

    # A tip with a photo, its status, an officer's question and the reporter's answer.
    token = _submit(client, dep.division)
    tip_id = _tip_of(dep, token)
    _enter(client, token)
    assert DESCRIPTION in _page(client, "/status/report")
    with dep.unit() as session:
        args = dep.staff(session, "triage")
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        triage.ask_reporter(*args, tip_id, personal_key=dep.staff_keys["triage"], body=QUESTION)
    assert QUESTION in _page(client, "/status/report")
    _post_on_status(client, "/status/messages", body=ANSWER)
    # The officer concludes; the reporter objects within the window.
    with dep.unit() as session:
        triage.conclude(
            *dep.staff(session, "triage"),
            tip_id,
            personal_key=dep.staff_keys["triage"],
            outcome=TipState.SUBSTANTIATED,
            text=CONCLUSION,
        )
    assert CONCLUSION in _page(client, "/status/report")
    _post_on_status(client, "/status/objection", reason=OBJECTION)
    with dep.session() as session:
        tip = session.get(Tip, tip_id)
        assert tip is not None
        assert (tip.state, tip.objected_at is not None) == (TipState.RECHECKING, True)
        authors = session.scalars(
            select(TipMessage.author).where(TipMessage.tip_id == tip_id).order_by(TipMessage.seq)
        ).all()
        assert authors == [MessageAuthor.OFFICER, MessageAuthor.REPORTER]
        assert len(intake_services.open_with_token(session, dep.settings, token).attachments) == 1

    # The token is replaced: the old one stops working, the new one opens the tip.
    replaced = client.post(
        "/status/token",
        data={"csrf_token": csrf_token(client, "/status/token"), "token": token},
    )
    assert replaced.status_code == 200
    new_token = TOKEN_RE.search(replaced.get_data(as_text=True))
    assert new_token
    assert _tip_of(dep, new_token.group(1)) == tip_id
    with dep.session() as session, pytest.raises(intake_errors.UnknownToken):
        intake_services.unlock_with_token(session, dep.settings, token)

    # A reward offered by finance is claimed on the site.
    reward_tip, reward_token = _offered_reward(dep)
    client = app.test_client()  # another reporter
    _enter(client, reward_token)
    assert "/reward/claim" in _page(client, "/status/report")
    claimed = client.post(
        "/reward/claim",
        data={
            "csrf_token": csrf_token(client, "/reward/claim"),
            "method": PaymentMethod.BANK_TRANSFER.value,
            "account_name": "张三",
            "bank": "中国工商银行张家港支行",
            "account_number": "6222 0211 0203 4567 890",
            "token": reward_token,
        },
    )
    assert claimed.status_code == 200, claimed.get_data(as_text=True)[:500]
    with dep.session() as session:
        reward = session.scalar(select(Reward).where(Reward.tip_id == reward_tip))
        assert reward is not None
        assert reward.state is RewardState.CLAIMED

    # The role appended to the chain without reading it; the chain still verifies.
    with dep.session() as session:
        assert audit.verify(session).ok
        reporter_actions = set(
            session.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.actor_label == "reporter", AuditRecord.actor_id.is_(None)
                )
            )
        )
        assert audit.count_records(session) > records_before
    assert {
        "tip.received",
        "tip.reporter_replied",
        "tip.object",
        "tip.token_replaced",
        "reward.claim",
    } <= reporter_actions


#: Staff columns of tables the role reads in part.
STAFF_COLUMNS = [
    ("facilities", "contact_phone"),
    ("facilities", "legal_rep"),
    ("hazard_cases", "description"),
    ("hazard_cases", "created_by_id"),
    ("tip_transitions", "actor_label"),
    ("reward_transitions", "actor_id"),
]


@postgres_only
@pytest.mark.parametrize("table", sorted(dbroles.STAFF_ONLY))
def test_the_role_cannot_read_a_staff_table(deployment: Deployment, table: str) -> None:
    # The names come from dbroles.STAFF_ONLY, not from input.
    message = _denied(deployment.role_engine, f"SELECT count(*) FROM {table}")  # noqa: S608
    assert "permission denied" in message


@postgres_only
@pytest.mark.parametrize(("table", "column"), STAFF_COLUMNS)
def test_the_role_cannot_read_a_staff_column(
    deployment: Deployment, table: str, column: str
) -> None:
    # The names come from STAFF_COLUMNS, not from input.
    _denied(deployment.role_engine, f"SELECT {column} FROM {table} LIMIT 1")  # noqa: S608


@postgres_only
def test_the_accounts_and_secrets_are_out_of_reach(deployment: Deployment) -> None:
    """The named examples: accounts, staff sessions, wrapped keys, grants, TOTP seeds, the
    audit trail and its head."""
    engine = deployment.role_engine
    for sql in (
        "SELECT username, password_verifier FROM users",
        "SELECT totp_seed_enc FROM users",
        "SELECT token_hash, personal_key_enc FROM staff_sessions",
        "SELECT password_wrapped, recovery_wrapped FROM personal_keys",
        "SELECT sealed FROM group_grants",
        "SELECT sealed FROM group_escrows",
        "SELECT details FROM audit_records",
        "SELECT max(seq) FROM audit_records",
        "SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1",
        "SELECT body_enc FROM tip_notes",
        "UPDATE users SET active = false",
        "DELETE FROM staff_sessions",
        "DELETE FROM audit_records",
        "UPDATE audit_records SET details = '{}'",
        (
            "INSERT INTO audit_records (seq, at, actor_label, action, object_type, details, "
            "prev_hash, hash) VALUES (1, now(), 'x', 'x', 'x', '{}', 'x', 'x')"
        ),
    ):
        _denied(engine, sql)


def _tip_in(dep: Deployment, state: TipState) -> uuid.UUID:
    """A tip filed through the services and driven by the staff side to ``state``."""
    with dep.unit() as session:
        recipients = keys.tip_recipients(session, dep.settings, dep.division, KeyPins(None))
        tip_id = intake_services.submit_tip(
            session,
            dep.clock,
            dep.settings,
            recipients,
            intake_services.TipSubmission(
                description="走廊灭火器全部过期。",
                category=TipCategory.FIRE,
                division_id=dep.division,
                relationship=Relationship.RESIDENT,
                channel=Channel.WEB,
            ),
            [],
        ).tip_id
    if state is TipState.SUBMITTED:
        return tip_id
    with dep.unit() as session:
        args = dep.staff(session, "triage")
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        if state is TipState.SUBSTANTIATED:
            triage.conclude(
                *args,
                tip_id,
                personal_key=dep.staff_keys["triage"],
                outcome=TipState.SUBSTANTIATED,
                text=CONCLUSION,
            )
    return tip_id


@postgres_only
def test_the_role_cannot_change_a_tip_beyond_the_reporters_steps(deployment: Deployment) -> None:
    dep = deployment
    engine = dep.role_engine
    submitted = _tip_in(dep, TipState.SUBMITTED)
    concluded = _tip_in(dep, TipState.SUBSTANTIATED)
    for tip_id in (submitted, concluded):
        for sql in (
            # Columns outside the reporter's steps: no grant at all.
            "UPDATE tips SET decided_at = now() WHERE id = :id",
            "UPDATE tips SET conclusion = 'unsubstantiated' WHERE id = :id",
            "UPDATE tips SET division_id = division_id WHERE id = :id",
            "UPDATE tips SET reward_right = true WHERE id = :id",
            "DELETE FROM tips WHERE id = :id",
            "DELETE FROM tip_tokens WHERE tip_id = :id",
            # A state the reporter cannot bring about, through the granted column.
            "UPDATE tips SET state = 'closed' WHERE id = :id",
            "UPDATE tips SET state = 'accepted' WHERE id = :id",
            "UPDATE tips SET state = 'duplicate' WHERE id = :id",
            # The objection's columns without the objection, or a question reopened.
            "UPDATE tips SET due_at = now() + interval '1 year' WHERE id = :id",
            "UPDATE tips SET awaiting_reply_since = now() WHERE id = :id",
        ):
            _denied(engine, sql, id=tip_id)
    # Rechecking without an objection, or outside the window.
    _denied(engine, "UPDATE tips SET state = 'rechecking' WHERE id = :id", id=concluded)
    _denied(
        engine,
        "UPDATE tips SET state = 'rechecking', objected_at = objection_due_at, "
        "objection_enc = '\\x00', recheck_due_at = now() WHERE id = :id",
        id=concluded,
    )
    _denied(
        engine,
        "UPDATE tips SET state = 'rechecking', objected_at = now(), objection_enc = '\\x00', "
        "recheck_due_at = now() WHERE id = :id",
        id=submitted,
    )
    # A new tip arrives as submitted, never further along.
    _denied(
        engine,
        "INSERT INTO tips (id, state, category, channel, submitted_at, reward_right, "
        "division_id, description_enc, location_enc, facility_name_enc, observed_when_enc, "
        "relationship_enc, contact_enc, real_name_enc) SELECT :id, 'closed', 'fire', 'web', "
        "date_trunc('hour', now()), false, id, '\\x00', '\\x00', '\\x00', '\\x00', '\\x00', "
        "'\\x00', '\\x00' FROM divisions LIMIT 1",
        id=uuid.uuid4(),
    )
    with dep.session() as session:
        states = {
            t.id: t.state
            for t in session.scalars(select(Tip).where(Tip.id.in_([submitted, concluded])))
        }
    assert states == {submitted: TipState.SUBMITTED, concluded: TipState.SUBSTANTIATED}


@postgres_only
def test_the_role_cannot_write_as_an_officer(deployment: Deployment) -> None:
    dep = deployment
    engine = dep.role_engine
    tip_id = _tip_in(dep, TipState.SUBSTANTIATED)
    with dep.session() as session:
        officer = dep.staff_ids["triage"]
        assert session.get(User, officer) is not None
    # A message in the officer's name (to fish for the reporter's identity).
    _denied(
        engine,
        "INSERT INTO tip_messages (id, tip_id, seq, author, author_id, created_at, body_enc) "
        "VALUES (:mid, :id, 99, 'officer', NULL, date_trunc('hour', now()), '\\x00')",
        mid=uuid.uuid4(),
        id=tip_id,
    )
    # History rows of a step the reporter did not take.
    _denied(
        engine,
        "INSERT INTO tip_transitions (id, tip_id, seq, from_state, to_state, actor_id, "
        "actor_label, at) VALUES (:tid, :id, 99, 'substantiated', 'closed', :officer, "
        "'triage', now())",
        tid=uuid.uuid4(),
        id=tip_id,
        officer=officer,
    )
    _denied(
        engine,
        "INSERT INTO tip_transitions (id, tip_id, seq, from_state, to_state, actor_id, "
        "actor_label, at) VALUES (:tid, :id, 99, 'substantiated', 'rechecking', NULL, "
        "'reporter', now())",
        tid=uuid.uuid4(),
        id=tip_id,
    )
    # An audit record in a staff member's name.
    _denied(
        engine,
        "SELECT qingling_audit_append(now(), 'triage', 'tip.read', 'tip', :id, '{}')",
        id=str(tip_id),
    )


@postgres_only
def test_the_role_cannot_change_a_reward_beyond_claim_and_decline(
    deployment: Deployment,
) -> None:
    dep = deployment
    engine = dep.role_engine
    tip_id, _token = _offered_reward(dep)
    with dep.session() as session:
        reward_id = session.scalar(select(Reward.id).where(Reward.tip_id == tip_id))
    for sql in (
        "UPDATE rewards SET amount_fen = 99999999 WHERE id = :id",
        "UPDATE rewards SET paid_on = current_date WHERE id = :id",
        "UPDATE rewards SET state = 'paid' WHERE id = :id",
        "UPDATE rewards SET state = 'approved' WHERE id = :id",
        "UPDATE rewards SET state = 'claimed' WHERE id = :id",  # without the sealed details
        "UPDATE rewards SET state = 'declined', declined_at = claim_deadline WHERE id = :id",
        "DELETE FROM rewards WHERE id = :id",
        (
            "INSERT INTO reward_transitions (id, reward_id, seq, action, from_state, to_state, "
            "actor_label, at) VALUES (gen_random_uuid(), :id, 99, 'record_payment', 'claimed', "
            "'paid', 'reporter', now())"
        ),
    ):
        _denied(engine, sql, id=reward_id)
    with dep.session() as session:
        reward = session.get(Reward, reward_id)
        assert reward is not None
        assert reward.state is RewardState.OFFERED


# ---------------------------------------------------------------- the reporter proof (0008)

#: Reporter steps as the role would write them directly (``:id`` is the tip), each within what
#: 0007's rules allow for any tip in the right state; only the reporter proof tells them apart.
CLAIM = (
    "UPDATE rewards SET state = 'claimed', claimed_at = offered_at, "
    "payment_method = 'bank_transfer', payment_enc = '\\x00', claim_key_sealed = '\\x00', "
    "claim_group_id = (SELECT min(id) FROM key_groups), claim_group_version = 1 "
    "WHERE tip_id = :id"
)
CLAIM_ROW = (
    "INSERT INTO reward_transitions (id, reward_id, seq, action, from_state, to_state, "
    "actor_label, at) SELECT gen_random_uuid(), id, 99, 'claim', 'offered', 'claimed', "
    "'reporter', now() FROM rewards WHERE tip_id = :id"
)
DECLINE = "UPDATE rewards SET state = 'declined', declined_at = offered_at WHERE tip_id = :id"
OBJECT = (
    "UPDATE tips SET state = 'rechecking', objected_at = date_trunc('hour', concluded_at), "
    "objection_enc = decode(repeat('00', 95), 'hex'), recheck_due_at = objection_due_at, "
    "due_at = objection_due_at WHERE id = :id"
)
OBJECTION_ROW = (
    "INSERT INTO tip_transitions (id, tip_id, seq, from_state, to_state, actor_id, "
    "actor_label, at) VALUES (gen_random_uuid(), :id, 99, 'substantiated', 'rechecking', NULL, "
    "'reporter', date_trunc('hour', now()))"
)
ANSWER = "UPDATE tips SET awaiting_reply_since = NULL WHERE id = :id"
MESSAGE = (
    "INSERT INTO tip_messages (id, tip_id, seq, author, author_id, created_at, body_enc) "
    "VALUES (gen_random_uuid(), :id, 99, 'reporter', NULL, date_trunc('hour', now()), "
    "decode(repeat('00', 95), 'hex'))"
)
NEW_TOKEN = "UPDATE tip_tokens SET wrapped_key = wrapped_key WHERE tip_id = :id"
#: The steps by the kind of tip they need: an offered reward, or a conclusion.
OFFER_STEPS = {"claim": (CLAIM, CLAIM_ROW), "decline": (DECLINE,)}
CONCLUSION_STEPS = {
    "objection": (OBJECT, OBJECTION_ROW),
    "answer": (ANSWER,),
    "message": (MESSAGE,),
    "new token": (NEW_TOKEN,),
}
_PRESENT = "SELECT set_config('qingling.reporter_proof', :proof, true)"


def _attempt(
    dep: Deployment, statements: tuple[str, ...], tip_id: uuid.UUID, proof: str | None
) -> DBAPIError | None:
    """``statements`` as the role in one transaction, after presenting ``proof`` (hex; None:
    no proof at all), each changing one row; rolled back. The error, or None if all passed."""
    with dep.role_engine.connect() as conn:
        try:
            if proof is not None:
                conn.execute(text(_PRESENT), {"proof": proof})
            for sql in statements:
                assert conn.execute(text(sql), {"id": tip_id}).rowcount == 1, sql
        except DBAPIError as exc:
            return exc
        finally:
            conn.rollback()
    return None


def _refused_for_the_proof(error: DBAPIError | None) -> None:
    assert error is not None
    assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, str(error.orig)
    assert "reporter proof" in str(error.orig)


def _filed(dep: Deployment) -> tuple[uuid.UUID, str]:
    """A tip filed through the services: its id and token."""
    with dep.unit() as session:
        recipients = keys.tip_recipients(session, dep.settings, dep.division, KeyPins(None))
        receipt = intake_services.submit_tip(
            session,
            dep.clock,
            dep.settings,
            recipients,
            intake_services.TipSubmission(
                description="楼道里的电动车整夜充电，插线板冒烟。",
                category=TipCategory.FIRE,
                division_id=dep.division,
                relationship=Relationship.RESIDENT,
                channel=Channel.WEB,
            ),
            [],
        )
    return receipt.tip_id, receipt.token.display


def _concluded(dep: Deployment) -> tuple[uuid.UUID, str]:
    """A tip concluded by the staff side, inside its objection window: its id and token."""
    tip_id, token = _filed(dep)
    with dep.unit() as session:
        args = dep.staff(session, "triage")
        triage.accept(*args, tip_id)
        triage.start_verification(*args, tip_id)
        triage.conclude(
            *args,
            tip_id,
            personal_key=dep.staff_keys["triage"],
            outcome=TipState.SUBSTANTIATED,
            text=CONCLUSION,
        )
    return tip_id, token


def _proof(dep: Deployment, token: str) -> str:
    """The reporter proof of the token's tip, in hex, derived from the tip's data key."""
    with dep.session() as session:
        access = intake_services.unlock_with_token(session, dep.settings, token)
        stored = session.scalar(select(Tip.reporter_proof_sha256).where(Tip.id == access.tip_id))
    proof = tokens.reporter_proof(access.data_key, access.tip_id)
    assert stored == hashlib.sha256(proof).digest()
    return proof.hex()


@postgres_only
@pytest.mark.parametrize("step", [*OFFER_STEPS, *CONCLUSION_STEPS])
def test_a_reporter_step_needs_the_proof_of_that_tip(deployment: Deployment, step: str) -> None:
    """Without a proof, with a malformed, a wrong or another tip's proof the role is refused;
    with the proof derived from the tip's own data key the same statements pass."""
    dep = deployment
    if step in OFFER_STEPS:
        tip_id, token = _offered_reward(dep)
        statements = OFFER_STEPS[step]
    else:
        tip_id, token = _concluded(dep)
        statements = CONCLUSION_STEPS[step]
    _other_tip, other_token = _filed(dep)
    right = _proof(dep, token)
    for wrong in (
        None,
        "",
        "not a proof",
        right.upper(),  # the same bytes, not as the service writes them
        right[:-2],
        secrets.token_hex(32),
        hashlib.sha256(bytes.fromhex(right)).hexdigest(),  # the stored hash itself
        _proof(dep, other_token),
    ):
        _refused_for_the_proof(_attempt(dep, statements, tip_id, wrong))
    assert _attempt(dep, statements, tip_id, right) is None
    # Everything above was rolled back: the tip and its reward are as the staff left them.
    with dep.session() as session:
        tip = session.get(Tip, tip_id)
        assert tip is not None
        assert tip.state is TipState.SUBSTANTIATED
        assert session.scalar(select(func.count()).where(TipMessage.tip_id == tip_id)) == 0
        if step in OFFER_STEPS:
            state = session.scalar(select(Reward.state).where(Reward.tip_id == tip_id))
            assert state is RewardState.OFFERED


@postgres_only
def test_the_proof_holds_for_its_transaction_and_every_statement(deployment: Deployment) -> None:
    dep = deployment
    tip_id, token = _concluded(dep)
    right = _proof(dep, token)
    with dep.role_engine.connect() as conn:
        # Checked on each statement: a proof changed after the first write stops the second.
        conn.execute(text(_PRESENT), {"proof": right})
        assert conn.execute(text(OBJECT), {"id": tip_id}).rowcount == 1
        conn.execute(text(_PRESENT), {"proof": secrets.token_hex(32)})
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text(OBJECTION_ROW), {"id": tip_id})
        _refused_for_the_proof(caught.value)
        conn.rollback()
        # Transaction-local: a committed transaction's proof is gone from the next one on the
        # same (pooled) connection.
        conn.execute(text(_PRESENT), {"proof": right})
        conn.commit()
        assert conn.scalar(text("SELECT current_setting('qingling.reporter_proof', true)")) in (
            None,
            "",
        )
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text(MESSAGE), {"id": tip_id})
        _refused_for_the_proof(caught.value)
        conn.rollback()


@postgres_only
def test_a_tip_without_a_stored_hash_keeps_the_rules_of_0007(deployment: Deployment) -> None:
    """A tip stored before migration 0008 has no hash: the reporter's steps pass without a
    proof (as before), and every other step is refused as before."""
    dep = deployment
    offered, _ = _offered_reward(dep)
    concluded, _ = _concluded(dep)
    with dep.unit() as session:  # the owner, as the migration leaves an old tip
        session.execute(
            text("UPDATE tips SET reporter_proof_sha256 = NULL WHERE id IN (:a, :b)"),
            {"a": offered, "b": concluded},
        )
    for statements in OFFER_STEPS.values():
        assert _attempt(dep, statements, offered, None) is None
    for statements in CONCLUSION_STEPS.values():
        assert _attempt(dep, statements, concluded, None) is None
    for sql, tip_id in (
        ("UPDATE tips SET state = 'closed' WHERE id = :id", concluded),
        ("UPDATE rewards SET state = 'paid' WHERE tip_id = :id", offered),
        ("UPDATE rewards SET state = 'claimed' WHERE tip_id = :id", offered),
    ):
        _denied(dep.role_engine, sql, id=tip_id)


@postgres_only
def test_the_role_cannot_set_or_change_the_stored_hash(deployment: Deployment) -> None:
    dep = deployment
    tip_id, token = _concluded(dep)
    right = _proof(dep, token)
    for sql in (
        "UPDATE tips SET reporter_proof_sha256 = NULL WHERE id = :id",
        "UPDATE tips SET reporter_proof_sha256 = sha256('x') WHERE id = :id",
        "UPDATE tips SET reporter_proof_sha256 = reporter_proof_sha256 WHERE id = :id",
    ):
        # No column grant: refused whatever the proof.
        error = _attempt(dep, (sql,), tip_id, right)
        assert error is not None
        assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    insert = (
        "INSERT INTO tips (id, state, category, channel, submitted_at, reward_right, "
        "division_id, description_enc, location_enc, facility_name_enc, observed_when_enc, "
        "relationship_enc, contact_enc, real_name_enc, reporter_proof_sha256) SELECT :id, "
        "'submitted', 'fire', 'web', date_trunc('hour', now()), false, id, {enc}, {enc}, "
        "{enc}, {enc}, {enc}, {enc}, {enc}, {hash} FROM divisions LIMIT 1"
    )
    enc = "decode(repeat('00', 95), 'hex')"
    # A new tip must carry a hash (of 32 bytes: the CHECK constraint) ...
    error = _attempt(dep, (insert.format(enc=enc, hash="NULL"),), uuid.uuid4(), None)
    assert error is not None
    assert getattr(error.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    assert "hash of its reporter proof" in str(error.orig)
    # ... which the role may write then (intake's INSERT grant covers the column).
    assert _attempt(dep, (insert.format(enc=enc, hash="sha256('x')"),), uuid.uuid4(), None) is None


@postgres_only
def test_the_services_present_the_proof_as_the_role(deployment: Deployment) -> None:
    """The reporter's decline through the service on the role's own connection (the site's
    claim, answer, objection and token replacement are in the test of the whole site above);
    the same service with another tip's data key is refused by the database."""
    dep = deployment
    tip_id, token = _offered_reward(dep)
    role_sessions = db.make_session_factory(dep.role_engine)
    with dep.session() as session:
        access = intake_services.unlock_with_token(session, dep.settings, token)
    other_tip, other_token = _filed(dep)
    with dep.session() as session:
        other = intake_services.unlock_with_token(session, dep.settings, other_token)
    # A host that never saw the token has no data key for the tip; any other key is no proof.
    forged = ReporterAccess(tip_id, other.data_key)
    with pytest.raises(DBAPIError) as caught, db.unit_of_work(role_sessions) as session:
        rewards.decline_reward(session, dep.clock, dep.public_settings, forged, token_text=token)
    _refused_for_the_proof(caught.value)
    with db.unit_of_work(role_sessions) as session:
        rewards.decline_reward(session, dep.clock, dep.public_settings, access, token_text=token)
    with dep.session() as session:
        state = session.scalar(select(Reward.state).where(Reward.tip_id == tip_id))
        assert state is RewardState.DECLINED
    assert other_tip != tip_id


@postgres_only
def test_the_migration_downgrades_to_the_guards_of_0007(deployment: Deployment) -> None:
    """Down to 0007 in a schema of its own: the column and the check functions go, 0007's
    function bodies come back word for word (no reporter proof), the token trigger goes; and up
    again."""
    from alembic import command

    schema = f"proofdown_{secrets.token_hex(4)}"
    admin = create_engine(TEST_DATABASE_URL, hide_parameters=True)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    owner = _owner_engine(schema)
    sources = (
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = :schema AND p.proname LIKE 'qingling%'"
    )
    try:
        migrate.upgrade(owner)
        cfg = migrate.alembic_config()
        with owner.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        with owner.connect() as conn:
            functions = {
                r.proname: r.prosrc for r in conn.execute(text(sources), {"schema": schema})
            }
            triggers = set(
                conn.scalars(
                    text(
                        "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = :schema AND NOT t.tgisinternal"
                    ),
                    {"schema": schema},
                )
            )
        assert "reporter_proof_sha256" not in {
            c["name"] for c in inspect(owner).get_columns("tips", schema=schema)
        }
        assert set(functions) == {
            "qingling_audit_append",
            "qingling_tips_reporter_guard",
            "qingling_rewards_reporter_guard",
            "qingling_tip_transitions_reporter_guard",
            "qingling_reward_transitions_reporter_guard",
            "qingling_tip_messages_reporter_guard",
        }
        assert "qingling_tip_tokens_reporter_guard" not in triggers
        for source in functions.values():
            assert "reporter_proof" not in source
        assert "only object to a conclusion" in functions["qingling_tips_reporter_guard"]
        migrate.upgrade(owner)
        with owner.connect() as conn:
            functions = {
                r.proname: r.prosrc for r in conn.execute(text(sources), {"schema": schema})
            }
        assert "qingling_reporter_proof_ok" in functions
        assert "reporter proof" in functions["qingling_rewards_reporter_guard"]
    finally:
        owner.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


#: Text that JSON escapes: quotes, backslashes, control characters, non-ASCII, a surrogate pair.
AWKWARD = 'say "清零"\\ \n\t\r\b\f \x01\x1f \x7f \u2028 / 😀 é'


@postgres_only
def test_the_role_appends_to_the_chain_blind(deployment: Deployment) -> None:
    """Through ``core.audit.services.record``: no number or hash comes back, the hash the
    database computed is the one Python verifies, a staff actor is refused."""
    dep = deployment
    with db.unit_of_work(db.make_session_factory(dep.role_engine)) as session:
        clock = FakeClock(dt.datetime(2026, 11, 3, 4, 5, 6, 789012, tzinfo=dt.UTC))
        made = audit.record(
            session, clock, REPORTER_ACTOR, "test.awkward", "tip", AWKWARD[:20], {"x": AWKWARD}
        )
        assert made is None
        assert audit.record(session, clock, SYSTEM_ACTOR, "test.system", "tip") is None
        with pytest.raises(ValueError, match="no staff member"):
            audit.record(session, clock, audit.Actor(1, "triage"), "test.staff", "tip")
    with dep.session() as session:
        assert audit.verify(session).ok
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(2)).all()
        assert [r.action for r in last] == ["test.system", "test.awkward"]
        assert last[1].at == dt.datetime(2026, 11, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
        assert last[1].actor_id is None
        assert json.loads(last[1].details) == {"x": AWKWARD}
        assert last[1].object_id == AWKWARD[:20]


@postgres_only
def test_the_statements_can_run_again(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade the operator runs the command again: nothing fails, nothing widens."""
    dep = deployment
    owner_url = make_url(TEST_DATABASE_URL).update_query_dict(
        {"options": f"-csearch_path={dep.schema}"}
    )
    env = {
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
        "QINGLING_DATABASE_URL": owner_url.render_as_string(hide_password=False),
    }
    monkeypatch.chdir(tmp_path)  # no stray .env
    result = CliRunner().invoke(main, ["db", "public-role", dep.role, "--apply"], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"role {dep.role}: public-site privileges granted on schema {dep.schema}" in (
        result.output
    )
    _denied(dep.role_engine, "SELECT count(*) FROM users")
    with dep.role_engine.connect() as conn:
        assert (conn.scalar(select(func.count()).select_from(Division)) or 0) >= 1
        privileges = conn.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
    assert tuple(privileges) == (False, False, False, False)


@postgres_only
def test_the_migration_pins_the_search_path(deployment: Deployment) -> None:
    """Every function of migrations 0007 and 0008 resolves names in its schema, then pg_temp,
    so a temporary table of the role's cannot stand in for the audit trail or the tips; the
    functions the role calls are its own to call, not everyone's."""
    with deployment.owner.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.proname, p.proconfig, p.prosecdef FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = :schema AND p.proname LIKE 'qingling%'"
            ),
            {"schema": deployment.schema},
        ).all()
        assert {r.proname for r in rows} >= {
            "qingling_audit_append",
            "qingling_tips_reporter_guard",
            "qingling_tip_tokens_reporter_guard",
            "qingling_reporter_proof_ok",
            "qingling_reporter_proof_matches",
        }
        for row in rows:
            assert row.proconfig == [f"search_path={deployment.schema}, pg_temp"], row
        assert [r.proname for r in rows if r.prosecdef] == ["qingling_audit_append"]
        for function in dbroles.PUBLIC_FUNCTIONS:
            for grantee, allowed in (("public", False), (deployment.role, True)):
                granted = conn.scalar(
                    text("SELECT has_function_privilege(:grantee, :fn, 'EXECUTE')"),
                    {"grantee": grantee, "fn": f"{deployment.schema}.{function}"},
                )
                assert granted is allowed, (function, grantee)
    assert inspect(deployment.owner).has_table("audit_records", schema=deployment.schema)


# ---------------------------------------------------------------- timed work on the public host


def _role_env(dep: Deployment, data_dir: Path) -> dict[str, str]:
    """The environment of the public host: its own database URL, only the public secrets."""
    env = {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_DATABASE_URL": dep.public_settings.database_url,
        "QINGLING_ARGON2_MEMORY_KIB": "64",
        "QINGLING_ARGON2_ITERATIONS": "1",
    }
    for spec in SPECS:
        value = getattr(dep.settings, spec.name)
        if spec.secret == "public" and value:
            env[spec.variable] = value.hex()
    return env


@postgres_only
def test_the_public_host_runs_the_wechat_job_and_no_other(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`qingling jobs run-due --only wechat` as the role: a photo whose MediaId expired is
    given up (updated, audited blind); the staff jobs are out of the role's reach."""
    dep = deployment
    monkeypatch.chdir(tmp_path)  # no stray .env
    tip_id = _tip_in(dep, TipState.SUBMITTED)
    photo_id = uuid.uuid4()
    # The command runs on the system clock; the module's fake clock moves on by eleven days with
    # every offered reward, so "a day ago" is a day before the earlier of the two.
    day_ago = min(dep.clock.now(), dt.datetime.now(dt.UTC)) - dt.timedelta(days=1)
    with dep.unit() as session:
        session.add(
            Photo(
                id=photo_id,
                tip_id=tip_id,
                position=0,
                state=PhotoState.PENDING,
                media_id_enc=b"\0" * 40,
                media_expires_at=day_ago,
                attempts=0,
                next_attempt_at=day_ago,
            )
        )
    env = _role_env(dep, tmp_path / "instance")
    done = CliRunner().invoke(main, ["jobs", "run-due", "--only", "wechat"], env=env)
    assert done.exit_code == 0, (done.output, done.exception)
    assert "wechat photos: 0 stored, 1 lost, 0 still waiting" in done.output
    assert "tips marked overdue" not in done.output
    with dep.session() as session:
        photo = session.get(Photo, photo_id)
        assert photo is not None
        assert (photo.state, photo.media_id_enc) == (PhotoState.FAILED, None)
        last = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())).first()
        assert last is not None
        assert (last.action, last.actor_label) == ("tip.wechat_photo_lost", "system")
        assert audit.verify(session).ok
    # Every job, as the role: the triage job's first query reads the staff accounts.
    refused = CliRunner().invoke(main, ["jobs", "run-due"], env=env)
    assert refused.exit_code != 0
    assert isinstance(refused.exception, DBAPIError)
    assert getattr(refused.exception.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE


def test_run_due_only_runs_the_named_jobs(cli_instance: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["jobs", "run-due", "--only", "wechat"], env=cli_instance)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wechat: expired 0 conversation(s)")
    assert "tips marked overdue" not in result.output
    both = CliRunner().invoke(
        main, ["jobs", "run-due", "--only", "triage", "--only", "rewards"], env=cli_instance
    )
    assert both.exit_code == 0, both.output
    assert "tips marked overdue: 0" in both.output
    assert "wechat" not in both.output
    unknown = CliRunner().invoke(main, ["jobs", "run-due", "--only", "payroll"], env=cli_instance)
    assert unknown.exit_code == 2
