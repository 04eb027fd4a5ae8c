"""``qingling create-user`` and ``qingling demo`` on a freshly initialised data directory."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core import db
from core.accounts.models import Role, User
from core.audit.models import AuditRecord
from core.settings import load
from registry.models import Division
from tests.conftest import DEFAULT_PASSWORD
from tests.core.conftest import run


@pytest.fixture
def env(cli_instance: dict[str, str]) -> dict[str, str]:
    return cli_instance


def users(env: dict[str, str]) -> dict[str, User]:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            found = {u.username: u for u in session.scalars(select(User))}
            for u in found.values():
                _ = u.roles  # loaded before the session closes
            return found
    finally:
        engine.dispose()


def division_id(env: dict[str, str], name: str) -> int:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            value = session.scalar(select(Division.id).where(Division.name == name))
            assert value is not None
            return value
    finally:
        engine.dispose()


def audit_details(env: dict[str, str]) -> str:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            return " ".join(session.scalars(select(AuditRecord.details)))
    finally:
        engine.dispose()


def test_create_user_with_prompted_password(env: dict[str, str]) -> None:
    result = run(
        env,
        "create-user",
        "--username",
        "Wang.Li",
        "--name",
        "Wang Li",
        "--role",
        "triage_officer",
        "--role",
        "case_officer",
        "--division",
        "杨舍镇",
        stdin=f"{DEFAULT_PASSWORD}\n{DEFAULT_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user wang.li" in result.output
    assert DEFAULT_PASSWORD not in result.stdout
    user = users(env)["wang.li"]
    assert user.role_set == {Role.TRIAGE_OFFICER, Role.CASE_OFFICER}
    assert user.division_id == division_id(env, "杨舍镇")
    assert user.totp_seed_enc is None
    assert DEFAULT_PASSWORD not in audit_details(env)


def test_create_user_with_generated_password_and_division_by_id(env: dict[str, str]) -> None:
    tangqiao = division_id(env, "塘桥镇")
    result = run(
        env,
        "create-user",
        "--username",
        "li.na",
        "--name",
        "Li Na",
        "--role",
        "administrator",
        "--division",
        str(tangqiao),
        "--generate-password",
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"password \(shown once\): (\S+)", result.output)
    assert match
    assert len(match.group(1).split("-")) == 7
    code = re.search(r"recovery code \(shown once, for li.na alone\): (\S+)", result.output)
    assert code
    assert len(code.group(1).split("-")) == 8
    assert code.group(1) not in audit_details(env)
    assert users(env)["li.na"].division_id == tangqiao


def test_city_scope_when_no_division(env: dict[str, str]) -> None:
    result = run(
        env,
        "create-user",
        "--username",
        "boss",
        "--name",
        "Boss",
        "--role",
        "supervisor",
        "--generate-password",
    )
    assert result.exit_code == 0, result.output
    assert users(env)["boss"].division_id is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "wizard", "--generate-password"], None, "wizard"),
        (
            ["--role", "auditor", "--division", "Atlantis", "--generate-password"],
            None,
            "no division 'Atlantis'",
        ),
        (["--role", "auditor"], "short\nshort\n", "at least 12 characters"),
        (["--role", "auditor"], f"{DEFAULT_PASSWORD}\nsomething else 12\n", "do not match"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    env: dict[str, str], args: list[str], stdin: str | None, message: str
) -> None:
    result = run(env, "create-user", "--username", "bad.one", "--name", "Bad", *args, stdin=stdin)
    assert result.exit_code != 0
    assert message.lower() in result.output.lower()
    assert "bad.one" not in users(env)


def test_duplicate_user_is_refused(env: dict[str, str]) -> None:
    args = [
        "create-user",
        "--username",
        "twice",
        "--name",
        "Twice",
        "--role",
        "auditor",
        "--generate-password",
    ]
    assert run(env, *args).exit_code == 0
    again = run(env, *args)
    assert again.exit_code == 1
    assert "already taken" in again.output


def test_demo_prints_credentials_once(env: dict[str, str]) -> None:
    first = run(env, "demo")
    assert first.exit_code == 0, first.output
    names = re.findall(r"user name:\s+(\S+)", first.output)
    secrets = re.findall(r"TOTP secret:\s+([A-Z2-7]{32})", first.output)
    passwords = re.findall(r"password:\s+(\S+)", first.output)
    assert len(names) == len(secrets) == len(passwords) == 8
    assert all(
        uri.startswith("otpauth://totp/") for uri in re.findall(r"TOTP URI:\s+(\S+)", first.output)
    )
    created = users(env)
    roles = set().union(*(created[n].role_set for n in names))
    assert roles == set(Role)
    assert created["demo.triage.yangshe"].division_id == division_id(env, "杨舍镇")
    assert created["demo.triage"].division_id is None
    assert all(created[n].totp_enrolled_at is not None for n in names)
    details = audit_details(env)
    assert not any(p in details for p in passwords)
    assert not any(s in details for s in secrets)
    # Each account's recovery code, and the instance's recovery key, printed once.
    codes = re.findall(r"recovery code:\s+(\S+)", first.output)
    assert len(codes) == 8
    assert all(len(c.split("-")) == 8 for c in codes)
    assert not any(c in details for c in codes)
    assert first.output.count("QINGLING RECOVERY KEY") == 1
    assert "demo.triage.yangshe → triage:杨舍镇" in first.output
    assert_demo_members(env)

    second = run(env, "demo")
    assert second.exit_code == 0, second.output
    assert "already exist" in second.output
    assert not any(p in second.output for p in passwords)
    assert not any(s in second.output for s in secrets)
    assert not any(c in second.output for c in codes)
    assert "RECOVERY KEY" not in second.output


def assert_demo_members(env: dict[str, str]) -> None:
    """The demo triage officers and finance staff hold their groups' keys."""
    from core.keys import services as keys

    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            found = {
                group.slug: sorted(m.username for m in keys.members(session, group))
                for group in keys.list_groups(session)
            }
            yangshe = keys.resolve_group(session, "triage:杨舍镇").slug
    finally:
        engine.dispose()
    assert found["triage:city"] == ["demo.triage"]
    assert found[yangshe] == ["demo.triage.yangshe"]
    assert found["finance"] == ["demo.approver", "demo.finance"]
    assert found["recovery"] == []
