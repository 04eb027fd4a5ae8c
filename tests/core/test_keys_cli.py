"""``qingling keys …`` on a freshly initialised data directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core import db
from core.audit.models import AuditRecord
from core.keys import services as keys
from core.keys.models import GroupKey
from core.settings import load
from tests.conftest import DEFAULT_PASSWORD
from tests.core.conftest import run


@pytest.fixture
def env(cli_instance: dict[str, str]) -> dict[str, str]:
    return cli_instance


def members(env: dict[str, str]) -> dict[str, list[str]]:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            return {
                keys.group_label(session, g): sorted(m.username for m in keys.members(session, g))
                for g in keys.list_groups(session)
            }
    finally:
        engine.dispose()


def audit_details(env: dict[str, str]) -> str:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            return " ".join(session.scalars(select(AuditRecord.details)))
    finally:
        engine.dispose()


def recovery_key(output: str) -> str:
    block = output.split("recovery key:", 1)[1].split("\n\n", 1)[0]
    return "-".join(block.split())


def create_user(env: dict[str, str], username: str, *roles: str) -> None:
    args = ["create-user", "--username", username, "--name", username.title()]
    for role in roles:
        args += ["--role", role]
    result = run(env, *args, stdin=f"{DEFAULT_PASSWORD}\n{DEFAULT_PASSWORD}\n")
    assert result.exit_code == 0, result.output


def test_init_recovery_prints_the_key_once_and_refuses_twice(env: dict[str, str]) -> None:
    result = run(env, "keys", "init-recovery")
    assert result.exit_code == 0, result.output
    assert "QINGLING RECOVERY KEY (shown once)" in result.output
    assert "triage:city" in result.output
    assert "triage:杨舍镇" in result.output
    key_text = recovery_key(result.output)
    private = keys.parse_recovery_key(key_text)
    assert re.search(r"fingerprint:\s+[0-9A-Z]{4}(-[0-9A-Z]{4}){7}", result.output)
    details = audit_details(env)
    assert private.hex() not in details
    assert key_text not in details

    again = run(env, "keys", "init-recovery")
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert "RECOVERY KEY (shown once)" not in again.output

    listing = run(env, "keys", "fingerprints")
    assert listing.exit_code == 0, listing.output
    assert listing.output.count("signature OK") >= 4
    assert "SIGNATURE BAD" not in listing.output
    assert run(env, "keys", "add-groups").output.strip() == "no group was missing"


def test_fingerprints_flag_a_bad_signature(env: dict[str, str]) -> None:
    assert run(env, "keys", "init-recovery").exit_code == 0
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            key = session.scalars(select(GroupKey).order_by(GroupKey.id.desc())).first()
            assert key is not None
            key.signature = key.signature[:-1] + bytes([key.signature[-1] ^ 1])
    finally:
        engine.dispose()
    listing = run(env, "keys", "fingerprints")
    assert listing.exit_code == 1
    assert "SIGNATURE BAD" in listing.output


def test_grant_with_the_recovery_key_then_by_a_member_then_revoke(
    env: dict[str, str], tmp_path: Path
) -> None:
    sheet = run(env, "keys", "init-recovery")
    key_text = recovery_key(sheet.output)
    create_user(env, "city.one", "triage_officer")
    create_user(env, "city.two", "triage_officer")
    create_user(env, "money", "finance_officer")

    granted = run(
        env, "keys", "grant", "city.one", "triage:city", "--recovery-key-file", "-", stdin=key_text
    )
    assert granted.exit_code == 0, granted.output
    assert "city.one is now a member of triage:city (version 1)" in granted.output

    key_file = tmp_path / "recovery.txt"
    key_file.write_text(key_text.lower())
    wrong_role = run(
        env, "keys", "grant", "money", "triage:city", "--recovery-key-file", str(key_file)
    )
    assert wrong_role.exit_code == 1
    assert "do not fit" in wrong_role.output

    by_member = run(
        env,
        "keys",
        "grant",
        "city.two",
        "triage:city",
        "--member",
        "city.one",
        stdin=f"{DEFAULT_PASSWORD}\n",
    )
    assert by_member.exit_code == 0, by_member.output
    assert members(env)["triage:city"] == ["city.one", "city.two"]

    wrong_password = run(
        env,
        "keys",
        "revoke",
        "city.two",
        "triage:city",
        "--member",
        "city.one",
        stdin="not the password at all\n",
    )
    assert wrong_password.exit_code == 1
    assert members(env)["triage:city"] == ["city.one", "city.two"]

    revoked = run(
        env,
        "keys",
        "revoke",
        "city.two",
        "triage:city",
        "--member",
        "city.one",
        stdin=f"{DEFAULT_PASSWORD}\n",
    )
    assert revoked.exit_code == 0, revoked.output
    assert "now at version 2" in revoked.output
    assert members(env)["triage:city"] == ["city.one"]
    assert DEFAULT_PASSWORD not in audit_details(env)

    neither = run(env, "keys", "grant", "city.two", "triage:city")
    assert neither.exit_code == 2
    assert "--member" in neither.output
    unknown = run(env, "keys", "grant", "city.two", "payroll", "--recovery-key-file", str(key_file))
    assert unknown.exit_code == 2
    assert "no key group 'payroll'" in unknown.output
    not_the_key = run(
        env, "keys", "grant", "city.two", "triage:city", "--recovery-key-file", "-", stdin="00" * 32
    )
    assert not_the_key.exit_code == 1
    assert "not the current recovery key" in not_the_key.output


def test_rotate_a_group_and_the_recovery_key(env: dict[str, str]) -> None:
    sheet = run(env, "keys", "init-recovery")
    old_key = recovery_key(sheet.output)
    rotated = run(env, "keys", "rotate", "finance")
    assert rotated.exit_code == 0, rotated.output
    assert "finance: now at version 2" in rotated.output

    refused = run(env, "keys", "rotate", "recovery")
    assert refused.exit_code == 2
    new_sheet = run(env, "keys", "rotate", "recovery", "--recovery-key-file", "-", stdin=old_key)
    assert new_sheet.exit_code == 0, new_sheet.output
    new_key = recovery_key(new_sheet.output)
    assert new_key != old_key
    create_user(env, "money", "finance_officer")
    stale = run(env, "keys", "grant", "money", "finance", "--recovery-key-file", "-", stdin=old_key)
    assert stale.exit_code == 1
    fresh = run(env, "keys", "grant", "money", "finance", "--recovery-key-file", "-", stdin=new_key)
    assert fresh.exit_code == 0, fresh.output
    assert members(env)["finance"] == ["money"]
