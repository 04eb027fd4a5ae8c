"""The reporter proof: a proof of the tip's token that PostgreSQL checks.

Written by hand. ``tips.reporter_proof_sha256`` holds SHA-256 of
``crypto.tokens.reporter_proof(data key, tip id)`` (HKDF-SHA256 of the tip's data key), stored
by intake. Only whoever unwrapped the data key with the token (or intake, which made it) can
compute the proof; the services that act for the reporter present it for their transaction with
``set_config('qingling.reporter_proof', hex, true)`` (``intake.access.present_reporter_proof``).

On PostgreSQL the guards of migration 0007 are replaced so that a role which cannot read
``users`` (the public site's) needs the matching proof for every reporter step on a tip: an
``UPDATE`` of the tip or of its reward, an ``INSERT`` of a message or of a tip or reward history
row; and, new here, an ``UPDATE`` of the tip's token row (replacing the token), so a compromised
public host cannot lock reporters out either. A tip whose hash is NULL (stored before this
migration) keeps 0007's rules alone. The role must give a new tip a hash of 32 bytes and may
never change one (no column grant, and the trigger). ``docs/deployment.md`` "Database roles"
says what this closes and what it does not.

The check is :func:`qingling_reporter_proof_ok` (and ``..._matches`` for a hash at hand), run as
the invoker: the role reads ``tips`` whole anyway, and the hash of a 256-bit HKDF output tells it
nothing it could use. ``EXECUTE`` is revoked from PUBLIC and granted to the role by ``qingling db
public-role``. Every function pins ``search_path`` like 0007's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 23:40:00.000000
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Raised as insufficient_privilege (42501), like a missing grant (as in 0007).
_DENY = "USING ERRCODE = 'insufficient_privilege'"

_COLUMN = "reporter_proof_sha256"
_CHECK = "ck_tips_reporter_proof_length"
_CHECK_SQL = f"{_COLUMN} IS NULL OR length({_COLUMN}) = 32"

# Whether the transaction's proof (hex, set by the service) hashes to ``p_stored``; a NULL hash
# (a tip stored before 0008) needs none. Text that is not 64 hex digits is no proof.
_PROOF_MATCHES = """
CREATE FUNCTION qingling_reporter_proof_matches(p_stored bytea) RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = {path}
AS $fn$
DECLARE
    v_given text;
BEGIN
    IF p_stored IS NULL THEN
        RETURN true;
    END IF;
    v_given := current_setting('qingling.reporter_proof', true);
    IF v_given IS NULL OR v_given !~ '^[0-9a-f]{{64}}$' THEN
        RETURN false;
    END IF;
    RETURN sha256(decode(v_given, 'hex')) = p_stored;
END
$fn$
"""

_PROOF_OK = """
CREATE FUNCTION qingling_reporter_proof_ok(p_tip_id uuid) RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = {path}
AS $fn$
DECLARE
    v_stored bytea;
BEGIN
    SELECT reporter_proof_sha256 INTO v_stored FROM tips WHERE id = p_tip_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    RETURN qingling_reporter_proof_matches(v_stored);
END
$fn$
"""

_TIPS_GUARD = """
CREATE OR REPLACE FUNCTION qingling_tips_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.state <> 'submitted' OR NEW.reward_right THEN
            RAISE EXCEPTION 'a new tip is submitted, without a reward right' {deny};
        END IF;
        IF NEW.reporter_proof_sha256 IS NULL OR octet_length(NEW.reporter_proof_sha256) <> 32
        THEN
            RAISE EXCEPTION 'a new tip carries the hash of its reporter proof' {deny};
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.reporter_proof_sha256 IS DISTINCT FROM OLD.reporter_proof_sha256 THEN
        RAISE EXCEPTION 'the hash of the reporter proof is fixed at intake' {deny};
    END IF;
    IF NOT qingling_reporter_proof_matches(OLD.reporter_proof_sha256) THEN
        RAISE EXCEPTION 'a reporter step on this tip needs its reporter proof' {deny};
    END IF;
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        -- The reporter's objection: once, inside the window, with its text.
        IF NOT (
            OLD.state IN ('substantiated', 'partly_substantiated', 'unsubstantiated')
            AND NEW.state = 'rechecking'
            AND OLD.objected_at IS NULL
            AND NEW.objected_at IS NOT NULL
            AND OLD.objection_due_at IS NOT NULL
            AND NEW.objected_at < OLD.objection_due_at
            AND NEW.objection_enc IS NOT NULL
            AND NEW.recheck_due_at IS NOT NULL
        ) THEN
            RAISE EXCEPTION 'the reporter may only object to a conclusion' {deny};
        END IF;
    ELSIF NEW.objected_at IS DISTINCT FROM OLD.objected_at
        OR NEW.objection_enc IS DISTINCT FROM OLD.objection_enc
        OR NEW.recheck_due_at IS DISTINCT FROM OLD.recheck_due_at
        OR NEW.due_at IS DISTINCT FROM OLD.due_at
        OR NEW.overdue_since IS DISTINCT FROM OLD.overdue_since
        OR (NEW.awaiting_reply_since IS NOT NULL
            AND NEW.awaiting_reply_since IS DISTINCT FROM OLD.awaiting_reply_since)
    THEN
        RAISE EXCEPTION 'the reporter may only answer an open question' {deny};
    END IF;
    RETURN NEW;
END
$fn$
"""

_REWARDS_GUARD = """
CREATE OR REPLACE FUNCTION qingling_rewards_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NEW.tip_id IS DISTINCT FROM OLD.tip_id OR NOT qingling_reporter_proof_ok(OLD.tip_id) THEN
        RAISE EXCEPTION 'a reporter step on this reward needs the tip''s reporter proof' {deny};
    END IF;
    IF OLD.state = 'offered' AND OLD.claim_deadline IS NOT NULL
        AND NEW.state = 'claimed'
        AND NEW.claimed_at IS NOT NULL AND NEW.claimed_at < OLD.claim_deadline
        AND NEW.payment_method IS NOT NULL
        AND NEW.payment_enc IS NOT NULL AND NEW.claim_key_sealed IS NOT NULL
        AND NEW.declined_at IS NOT DISTINCT FROM OLD.declined_at
    THEN
        RETURN NEW;
    END IF;
    IF OLD.state = 'offered' AND OLD.claim_deadline IS NOT NULL
        AND NEW.state = 'declined'
        AND NEW.declined_at IS NOT NULL AND NEW.declined_at < OLD.claim_deadline
        AND NEW.claimed_at IS NOT DISTINCT FROM OLD.claimed_at
        AND NEW.payment_method IS NOT DISTINCT FROM OLD.payment_method
        AND NEW.payment_enc IS NOT DISTINCT FROM OLD.payment_enc
        AND NEW.claim_key_sealed IS NOT DISTINCT FROM OLD.claim_key_sealed
        AND NEW.claim_group_id IS NOT DISTINCT FROM OLD.claim_group_id
        AND NEW.claim_group_version IS NOT DISTINCT FROM OLD.claim_group_version
        AND NEW.claim_code_hash IS NOT DISTINCT FROM OLD.claim_code_hash
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the reporter may only claim or decline an open offer' {deny};
END
$fn$
"""

_TIP_TRANSITIONS_GUARD = """
CREATE OR REPLACE FUNCTION qingling_tip_transitions_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NOT qingling_reporter_proof_ok(NEW.tip_id) THEN
        RAISE EXCEPTION 'a reporter step on this tip needs its reporter proof' {deny};
    END IF;
    IF NEW.actor_id IS NULL AND NEW.actor_label = 'reporter'
        AND NEW.from_state IN ('substantiated', 'partly_substantiated', 'unsubstantiated')
        AND NEW.to_state = 'rechecking'
        AND (SELECT state FROM tips WHERE id = NEW.tip_id) = 'rechecking'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the reporter''s history rows record an objection only' {deny};
END
$fn$
"""

_REWARD_TRANSITIONS_GUARD = """
CREATE OR REPLACE FUNCTION qingling_reward_transitions_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NOT qingling_reporter_proof_ok((SELECT tip_id FROM rewards WHERE id = NEW.reward_id)) THEN
        RAISE EXCEPTION 'a reporter step on this reward needs the tip''s reporter proof' {deny};
    END IF;
    IF NEW.actor_id IS NULL AND NEW.actor_label = 'reporter'
        AND NEW.from_state = 'offered'
        AND ((NEW.action = 'claim' AND NEW.to_state = 'claimed')
             OR (NEW.action = 'decline' AND NEW.to_state = 'declined'))
        AND (SELECT state FROM rewards WHERE id = NEW.reward_id) = NEW.to_state
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the reporter''s history rows record a claim or a decline only' {deny};
END
$fn$
"""

_TIP_MESSAGES_GUARD = """
CREATE OR REPLACE FUNCTION qingling_tip_messages_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NOT qingling_reporter_proof_ok(NEW.tip_id) THEN
        RAISE EXCEPTION 'a reporter step on this tip needs its reporter proof' {deny};
    END IF;
    IF NEW.author = 'reporter' AND NEW.author_id IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'only the reporter''s messages may be written here' {deny};
END
$fn$
"""

# New: replacing the token rewrites the token row. Intake inserts that row with the tip (no
# proof needed then: the tip row itself is new); only an UPDATE is guarded.
_TIP_TOKENS_GUARD = """
CREATE FUNCTION qingling_tip_tokens_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NEW.tip_id IS DISTINCT FROM OLD.tip_id OR NOT qingling_reporter_proof_ok(OLD.tip_id) THEN
        RAISE EXCEPTION 'replacing the token needs the tip''s reporter proof' {deny};
    END IF;
    RETURN NEW;
END
$fn$
"""

#: The check functions, with their argument types (``core.dbroles.PUBLIC_FUNCTIONS``).
_PROOF_FUNCTIONS = (
    (_PROOF_MATCHES, "qingling_reporter_proof_matches(bytea)"),
    (_PROOF_OK, "qingling_reporter_proof_ok(uuid)"),
)
#: 0007's guards, replaced here and restored by the downgrade (by 0007's own text).
_REPLACED = (
    (_TIPS_GUARD, "_TIPS_GUARD"),
    (_REWARDS_GUARD, "_REWARDS_GUARD"),
    (_TIP_TRANSITIONS_GUARD, "_TIP_TRANSITIONS_GUARD"),
    (_REWARD_TRANSITIONS_GUARD, "_REWARD_TRANSITIONS_GUARD"),
    (_TIP_MESSAGES_GUARD, "_TIP_MESSAGES_GUARD"),
)
_TOKENS_TRIGGER = "qingling_tip_tokens_reporter_guard"


def _search_path() -> str:
    schema = op.get_bind().scalar(text("SELECT quote_ident(current_schema())"))
    return f"{schema}, pg_temp"


def _run(sql: str) -> None:
    # As the driver gets it (see 0007): no bound parameters, no ``%`` in these statements.
    op.get_bind().exec_driver_sql(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        # Not through batch mode: that would copy and drop ``tips``, whose children cascade.
        # SQLite adds a column with a CHECK of its own in place.
        _run(f"ALTER TABLE tips ADD COLUMN {_COLUMN} BLOB CONSTRAINT {_CHECK} CHECK ({_CHECK_SQL})")
        return
    op.add_column("tips", sa.Column(_COLUMN, sa.LargeBinary(length=32), nullable=True))
    op.create_check_constraint(op.f(_CHECK), "tips", _CHECK_SQL)
    values = {"path": _search_path(), "deny": _DENY}
    for body, signature in _PROOF_FUNCTIONS:
        _run(body.format(**values))
        _run(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    for body, _name in _REPLACED:
        _run(body.format(**values))
    _run(_TIP_TOKENS_GUARD.format(**values))
    _run(
        f"CREATE TRIGGER {_TOKENS_TRIGGER} BEFORE UPDATE ON tip_tokens "
        f"FOR EACH ROW EXECUTE FUNCTION {_TOKENS_TRIGGER}()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _run(f"ALTER TABLE tips DROP COLUMN {_COLUMN}")
        return
    # The module name starts with a digit: no import statement can name it.
    previous = importlib.import_module("migrations.versions.20261128_0007_public_role")
    values = {"path": _search_path(), "deny": _DENY}
    _run(f"DROP TRIGGER {_TOKENS_TRIGGER} ON tip_tokens")
    _run(f"DROP FUNCTION {_TOKENS_TRIGGER}()")
    for _body, name in _REPLACED:
        original: str = getattr(previous, name)
        _run(original.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).format(**values))
    for _body, signature in reversed(_PROOF_FUNCTIONS):
        _run(f"DROP FUNCTION {signature}")
    op.drop_constraint(op.f(_CHECK), "tips", type_="check")
    op.drop_column("tips", _COLUMN)
