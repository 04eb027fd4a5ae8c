"""The public site's own PostgreSQL role: what it may do, and ``qingling db public-role``.

On PostgreSQL the public site (the only part of Qingling on the internet) connects as a role of
its own, so that a compromised public host cannot read what the staff side keeps: accounts and
their roles, staff sessions, personal and wrapped keys, group grants and escrows, TOTP seeds,
the audit trail, internal notes, the rectification record, the registry's contact people. It
holds the least the public site needs:

* **reads** what reporters and intake need: divisions, facility types, the facilities' public
  columns (search), token parameters, key groups and their signed public keys, tips and their
  reporter-side rows (all sealed or routing metadata), rewards of a tip, the counts behind the
  public statistics (columns of hazard cases and relapses, never a case's text);
* **inserts** intake rows (tips with their sealed keys, token rows, attachments and their
  chunks), reporter messages, the history row of the reporter's own transitions, reporter
  sessions and the WeChat channel's rows;
* **updates** only the columns of the reporter's own steps: the token row (replacing a token),
  a tip's objection columns and state, a reward's claim or decline columns and state;
* **deletes** only reporter sessions and WeChat conversations, cached replies and
  subscriptions;
* appends to the audit chain only through ``qingling_audit_append``, a ``SECURITY DEFINER``
  function that takes the chain lock, reads the head, computes the hash inside the database and
  inserts the record; the role never reads a record, a hash or the head.

Column grants cannot say *which* state change is allowed, so migration 0007 adds triggers that
hold any role which cannot read ``users`` (that is, the public site's) to the reporter's steps:
a new tip is ``submitted``; a tip may only go from a conclusion to ``rechecking`` with an
objection inside its window (or have an open question answered); a reward may only go from
``offered`` to ``claimed`` or ``declined`` before the claim deadline; messages, tip and reward
history rows it writes are the reporter's. Migration 0008 adds the reporter proof: for a tip
stored since then, each of those steps (and replacing the token) also needs the proof of the
tip's token, which only a service holding the tip's data key can present
(``intake.access.present_reporter_proof``); the role reads the stored hash as part of ``tips``
and calls the check functions, but may never write the hash except in a new tip. See
``docs/deployment.md`` for the reasoning.

Rate limiting uses no database (memory or Redis) and the key pins are a file on the public host.
The WeChat job runs on the public host as this role (``qingling jobs run-due --only wechat``):
it updates pending photos and seals their keys; every other job needs the staff side's role.

Every table of the schema is listed either in :data:`PUBLIC_ACCESS` or in :data:`STAFF_ONLY`
(``tests/core/test_public_role.py`` fails on a table in neither), so a new table is denied to
the public site until someone decides otherwise. The command is idempotent: it revokes
everything the role holds in the schema and grants the list afresh, so run it again after every
upgrade and every restore (backups are dumped without privileges).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import click
from sqlalchemy import Connection, text

#: Every column of the table.
ALL: Literal["*"] = "*"

Columns = Literal["*"] | tuple[str, ...]


@dataclass(frozen=True)
class TableAccess:
    """What the public site's role may do with one table (``()`` grants nothing)."""

    table: str
    select: Columns = ()
    insert: Columns = ()
    update: tuple[str, ...] = ()
    delete: bool = False


#: Tip columns that intake writes (``intake.services._INSERT_TIP``).
_TIP_INSERT = (
    "id",
    "state",
    "category",
    "channel",
    "facility_id",
    "submitted_at",
    "reward_right",
    "division_id",
    "description_enc",
    "location_enc",
    "facility_name_enc",
    "observed_when_enc",
    "relationship_enc",
    "contact_enc",
    "real_name_enc",
    "reporter_proof_sha256",  # required by the trigger (migration 0008), never updated
)
#: The reporter's own steps on a tip: answering a question, objecting to the conclusion.
_TIP_UPDATE = (
    "state",
    "awaiting_reply_since",
    "objected_at",
    "objection_enc",
    "recheck_due_at",
    "due_at",
    "overdue_since",
)
#: The reporter's own steps on a reward: claiming it, declining it.
_REWARD_UPDATE = (
    "state",
    "claimed_at",
    "payment_method",
    "claim_group_id",
    "claim_group_version",
    "claim_key_sealed",
    "payment_enc",
    "claim_code_hash",
    "declined_at",
)

PUBLIC_ACCESS: tuple[TableAccess, ...] = (
    # The registry as the tip form and the statistics show it.
    TableAccess("divisions", select=ALL),
    TableAccess("facility_types", select=ALL),
    # Search shows name, address, type, division and status; never the contact people.
    TableAccess(
        "facilities",
        select=("id", "name", "address", "division_id", "facility_type_id", "status"),
    ),
    # Sealing a tip: the signed public keys of the groups, the token parameters.
    TableAccess("key_groups", select=ALL),
    TableAccess("group_keys", select=ALL),
    TableAccess("token_param_sets", select=ALL),
    # Intake and the reporter's pages. Tip rows hold routing metadata and sealed fields only.
    TableAccess("tips", select=ALL, insert=_TIP_INSERT, update=_TIP_UPDATE),
    TableAccess("tip_keys", insert=ALL),
    TableAccess(
        "tip_tokens",
        select=ALL,
        insert=ALL,
        update=("params_version", "token_index", "wrapped_key"),
    ),
    TableAccess("tip_attachments", select=ALL, insert=ALL),
    TableAccess("tip_attachment_chunks", select=ALL, insert=ALL),
    TableAccess("tip_messages", select=ALL, insert=ALL),
    # The next history number of a tip or a reward; never who made the earlier steps.
    TableAccess("tip_transitions", select=("tip_id", "seq"), insert=ALL),
    # A reporter session's idle deadline moves on with each page.
    TableAccess("reporter_sessions", select=ALL, insert=ALL, update=("expires_at",), delete=True),
    TableAccess("rewards", select=ALL, update=_REWARD_UPDATE),
    TableAccess("reward_transitions", select=("reward_id", "seq"), insert=ALL),
    # Public statistics: counts by month, division and category, and the public examples.
    TableAccess(
        "hazard_cases",
        select=(
            "id",
            "facility_id",
            "division_id",
            "category",
            "state",
            "discovered_on",
            "created_at",
            "closed_at",
            "public_example",
            "public_summary",
        ),
    ),
    TableAccess("case_relapses", select=("case_id", "closed_at")),
    # The WeChat channel: conversations, the reply cache, photos waiting for download,
    # subscriptions to a change of state.
    TableAccess(
        "wechat_conversations",
        select=ALL,
        insert=ALL,
        update=("state_enc", "expires_at"),
        delete=True,
    ),
    TableAccess("wechat_replies", select=ALL, insert=ALL, update=("reply_enc",), delete=True),
    # Photos: the push records a pending photo; the WeChat job (run on the public host as
    # this role: `qingling jobs run-due --only wechat`) fetches, scrubs and seals it.
    TableAccess(
        "wechat_photos",
        select=ALL,
        insert=ALL,
        update=(
            "state",
            "media_id_enc",
            "attempts",
            "next_attempt_at",
            "content_type_enc",
            "content_enc",
        ),
    ),
    TableAccess("wechat_photo_keys", insert=ALL),
    TableAccess(
        "wechat_subscriptions",
        select=ALL,
        insert=ALL,
        update=("state", "consent_hash", "expires_at", "attempts"),
        delete=True,
    ),
)

#: Tables the public site's role may not touch at all.
STAFF_ONLY = frozenset(
    {
        "alembic_version",
        "audit_records",  # appended to through qingling_audit_append only
        "users",
        "user_roles",
        "staff_sessions",
        "login_failures",
        "personal_keys",
        "group_grants",
        "group_escrows",
        "tip_notes",
        "facility_equipment",
        "facility_revisions",
        "standards",
        "standard_items",
        "case_plans",
        "case_updates",
        "case_evidence",
        "case_interviews",
        "case_enforcements",
        "case_circulars",
        "reward_rule_sets",
    }
)

#: The functions the role may call, with their argument types: the audit append (migration
#: 0007) and the reporter-proof checks its triggers call as the role (0008).
PUBLIC_FUNCTIONS = (
    "qingling_audit_append(timestamp with time zone, text, text, text, text, text)",
    "qingling_reporter_proof_matches(bytea)",
    "qingling_reporter_proof_ok(uuid)",
)

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED = frozenset({"postgres", "public", "none", "current_user", "session_user"})


class RoleNameError(ValueError):
    """A role or schema name that is not a plain lower-case identifier."""


def checked_name(name: str, what: str = "role") -> str:
    """``name`` if it is a plain lower-case SQL identifier (no quoting surprises), not a
    reserved or ``pg_`` name; :class:`RoleNameError` otherwise."""
    reserved = what == "role" and name in _RESERVED
    if not _ROLE_NAME.fullmatch(name) or reserved or name.startswith("pg_"):
        raise RoleNameError(
            f"{what} name {name!r}: use lower-case letters, digits and _ (at most 63, "
            "not starting with a digit or pg_)"
        )
    return name


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _privilege(kind: str, columns: Columns) -> str:
    if columns == ALL:
        return kind
    return f"{kind} ({', '.join(_quoted(c) for c in columns)})"


def _table_grants(access: TableAccess, schema: str, role: str) -> list[str]:
    privileges = []
    if access.select:
        privileges.append(_privilege("SELECT", access.select))
    if access.insert:
        privileges.append(_privilege("INSERT", access.insert))
    if access.update:
        privileges.append(_privilege("UPDATE", access.update))
    if access.delete:
        privileges.append("DELETE")
    if not privileges:
        return []
    target = f"{_quoted(schema)}.{_quoted(access.table)}"
    return [f"GRANT {', '.join(privileges)} ON TABLE {target} TO {_quoted(role)}"]


def public_role_statements(role: str, schema: str = "public") -> list[str]:
    """The SQL that creates ``role`` (if missing) and gives it exactly the public site's
    privileges on ``schema``, revoking whatever it held there before. Run it as the owner of
    the tables (the role the staff side and the migrations use) or a superuser."""
    role = checked_name(role)
    schema = checked_name(schema, "schema")
    r, s = _quoted(role), _quoted(schema)
    literal = role  # checked: no quote can occur in it
    statements = [
        (
            "DO $$ BEGIN "
            f"IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{literal}') THEN "
            f"CREATE ROLE {r} LOGIN; END IF; END $$"
        ),
        # Whatever it was before, it holds no special power now.
        f"ALTER ROLE {r} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {s} FROM {r}",
        f"REVOKE CREATE ON SCHEMA {s} FROM {r}",
        (
            "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', "
            f"current_database(), '{literal}'); END $$"
        ),
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
    ]
    for access in PUBLIC_ACCESS:
        statements.extend(_table_grants(access, schema, role))
    for fn in PUBLIC_FUNCTIONS:
        # Again here: a restored backup (pg_dump --no-privileges) lost the migration's REVOKE.
        statements.append(f"REVOKE ALL ON FUNCTION {s}.{fn} FROM PUBLIC")
        statements.append(f"GRANT EXECUTE ON FUNCTION {s}.{fn} TO {r}")
    if schema != "public":
        # The role finds the tables without a search_path in its connection string.
        statements.append(
            "DO $$ BEGIN EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = %I', "
            f"'{literal}', current_database(), '{schema}'); END $$"
        )
    return statements


def script(statements: Sequence[str]) -> str:
    """The statements as one transaction for ``psql -v ON_ERROR_STOP=1``."""
    return "BEGIN;\n" + "".join(f"{statement};\n" for statement in statements) + "COMMIT;\n"


def apply(connection: Connection, statements: Sequence[str]) -> None:
    """Run ``statements`` in the connection's transaction (the caller commits)."""
    for statement in statements:
        connection.execute(text(statement))


# ---------------------------------------------------------------- CLI


@click.group(name="db")
def db_group() -> None:
    """PostgreSQL roles of a production deployment."""


@db_group.command("public-role")
@click.argument("role")
@click.option(
    "--schema",
    default=None,
    help="Schema of the tables (default: the current schema of QINGLING_DATABASE_URL with "
    "--apply, else public).",
)
@click.option(
    "--apply",
    "apply_now",
    is_flag=True,
    help="Run the statements on QINGLING_DATABASE_URL (the tables' owner) instead of printing.",
)
@click.pass_context
def public_role(ctx: click.Context, role: str, schema: str | None, apply_now: bool) -> None:
    """Create ROLE for the public site and grant it exactly what the public site needs.

    Without --apply the SQL is printed, for `psql -v ON_ERROR_STOP=1` as the tables' owner.
    Idempotent: run it again after every upgrade. Set the role's password in psql
    (\\password ROLE), never on a command line, and give the public site
    QINGLING_DATABASE_URL=postgresql+psycopg://ROLE:…@host/db.
    """
    from core import db
    from core.cli import Context

    try:
        checked_name(role)
        if schema is not None:
            checked_name(schema, "schema")
    except RoleNameError as exc:
        raise click.BadParameter(str(exc)) from None
    if not apply_now:
        click.echo(script(public_role_statements(role, schema or "public")), nl=False)
        return
    settings = ctx.ensure_object(Context).settings
    if settings.is_sqlite:
        raise click.ClickException(
            "the database is SQLite: a role of its own needs PostgreSQL (see docs/deployment.md)"
        )
    engine = db.make_engine(settings)
    try:
        with engine.begin() as conn:
            if schema is None:
                schema = str(conn.scalar(text("SELECT current_schema()")))
            apply(conn, public_role_statements(role, schema))
    finally:
        engine.dispose()
    click.echo(f"role {role}: public-site privileges granted on schema {schema}")


COMMANDS = [db_group]
