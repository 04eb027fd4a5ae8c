"""The database side of the public site's own role (PostgreSQL only; nothing on SQLite).

Written by hand. Two kinds of object, both explained in ``core/dbroles.py`` and
``docs/deployment.md``:

* ``qingling_audit_append(...)``: a ``SECURITY DEFINER`` function through which a role that may
  not read the audit trail appends to it. It takes the chain's advisory lock, reads the head,
  computes the record's hash exactly as ``core.audit.services.compute_hash`` does (canonical
  JSON: sorted keys, no spaces, the same escapes as Python's ``json.dumps`` with
  ``ensure_ascii=False``; ``at`` as UTC ISO 8601 with six fractional digits) and inserts the
  record. It returns nothing: a caller that learnt the new hash could test guesses about the
  staff records between two of its own appends. Only reporter and system records, never a
  staff actor. ``EXECUTE`` is revoked from PUBLIC; ``qingling db public-role`` grants it.
* Triggers that hold a role which cannot read ``users`` (the public site's) to the reporter's
  own steps, which column grants alone cannot express: a new tip is ``submitted`` and carries no
  reward right; a tip changes state only from a conclusion to ``rechecking``, by an objection
  inside its window (otherwise only an open question may be answered); a reward only from
  ``offered`` to ``claimed`` or ``declined`` before its deadline; the messages and history rows
  it writes are the reporter's. Roles that can read ``users`` (the staff side, the owner) pass
  through unchanged.

Every function pins ``search_path`` to the schema it was created in, then ``pg_temp``, so a
temporary table of the caller's cannot stand in for one of ours.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 21:10:00.000000
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The advisory lock key of the audit chain (core.audit.services.CHAIN_LOCK_KEY).
_CHAIN_LOCK_KEY = 7406519

# Raised as insufficient_privilege (42501), like a missing grant.
_DENY = "USING ERRCODE = 'insufficient_privilege'"

_AUDIT_APPEND = """
CREATE FUNCTION qingling_audit_append(
    p_at timestamp with time zone,
    p_actor_label text,
    p_action text,
    p_object_type text,
    p_object_id text,
    p_details text
) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = {path}
AS $fn$
DECLARE
    v_seq integer;
    v_prev text;
    v_body text;
BEGIN
    IF p_actor_label IS NULL OR p_actor_label NOT IN ('reporter', 'system') THEN
        RAISE EXCEPTION 'only reporter and system records may be appended here' {deny};
    END IF;
    PERFORM p_details::json;  -- refuses text that is not JSON
    PERFORM pg_advisory_xact_lock({lock});
    SELECT seq, hash INTO v_seq, v_prev FROM audit_records ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 1;
        v_prev := repeat('0', 64);
    ELSE
        v_seq := v_seq + 1;
    END IF;
    v_body := '{{"action":' || to_json(p_action)::text
        || ',"actor_id":null'
        || ',"actor_label":' || to_json(p_actor_label)::text
        || ',"at":' || to_json(to_char(p_at AT TIME ZONE 'UTC',
                                       'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00')::text
        || ',"details":' || to_json(p_details)::text
        || ',"object_id":' || coalesce(to_json(p_object_id)::text, 'null')
        || ',"object_type":' || to_json(p_object_type)::text
        || ',"seq":' || v_seq::text
        || '}}';
    INSERT INTO audit_records (
        seq, at, actor_id, actor_label, action, object_type, object_id, details, prev_hash, hash
    ) VALUES (
        v_seq, p_at, NULL, p_actor_label, p_action, p_object_type, p_object_id, p_details,
        v_prev, encode(sha256(convert_to(v_prev || v_body, 'UTF8')), 'hex')
    );
END
$fn$
"""

_TIPS_GUARD = """
CREATE FUNCTION qingling_tips_reporter_guard() RETURNS trigger
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
        RETURN NEW;
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
CREATE FUNCTION qingling_rewards_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
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
CREATE FUNCTION qingling_tip_transitions_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
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
CREATE FUNCTION qingling_reward_transitions_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
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
CREATE FUNCTION qingling_tip_messages_reporter_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = {path}
AS $fn$
BEGIN
    IF has_table_privilege('users', 'SELECT') THEN
        RETURN NEW;
    END IF;
    IF NEW.author = 'reporter' AND NEW.author_id IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'only the reporter''s messages may be written here' {deny};
END
$fn$
"""

#: (function, table, event) of each trigger.
_TRIGGERS = (
    (_TIPS_GUARD, "qingling_tips_reporter_guard", "tips", "INSERT OR UPDATE"),
    (_REWARDS_GUARD, "qingling_rewards_reporter_guard", "rewards", "UPDATE"),
    (
        _TIP_TRANSITIONS_GUARD,
        "qingling_tip_transitions_reporter_guard",
        "tip_transitions",
        "INSERT",
    ),
    (
        _REWARD_TRANSITIONS_GUARD,
        "qingling_reward_transitions_reporter_guard",
        "reward_transitions",
        "INSERT",
    ),
    (_TIP_MESSAGES_GUARD, "qingling_tip_messages_reporter_guard", "tip_messages", "INSERT"),
)

_AUDIT_APPEND_SIGNATURE = (
    "qingling_audit_append(timestamp with time zone, text, text, text, text, text)"
)


def _search_path() -> str:
    schema = op.get_bind().scalar(text("SELECT quote_ident(current_schema())"))
    return f"{schema}, pg_temp"


def _run(sql: str) -> None:
    # As the driver gets it: op.execute would take ``:null`` in the function's text for a
    # bound parameter. (No ``%`` occurs in these statements.)
    op.get_bind().exec_driver_sql(sql)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    values = {"path": _search_path(), "deny": _DENY, "lock": _CHAIN_LOCK_KEY}
    _run(_AUDIT_APPEND.format(**values))
    _run(f"REVOKE ALL ON FUNCTION {_AUDIT_APPEND_SIGNATURE} FROM PUBLIC")
    for body, function, table, event in _TRIGGERS:
        _run(body.format(**values))
        _run(
            f"CREATE TRIGGER {function} BEFORE {event} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for _body, function, table, _event in reversed(_TRIGGERS):
        op.execute(f"DROP TRIGGER {function} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.execute(f"DROP FUNCTION {_AUDIT_APPEND_SIGNATURE}")
