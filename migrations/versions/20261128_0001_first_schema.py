"""First schema: staff accounts, audit trail, divisions.

Written by autogenerate against an empty database, then cleaned by hand: plain
``op.create_index`` (no batch mode needed to create), CHECK constraints and enums (as VARCHAR
with a CHECK, ``native_enum=False``) as in the models, so it runs on SQLite and PostgreSQL.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 13:41:35.202756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_records_seq")),
    )
    op.create_index(op.f("ix_audit_records_action"), "audit_records", ["action"], unique=False)
    op.create_index(op.f("ix_audit_records_actor_id"), "audit_records", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_records_seq"), "audit_records", ["seq"], unique=False)

    op.create_table(
        "divisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "town",
                "street",
                "park",
                "other",
                name="division_kind",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("code", sa.String(length=9), nullable=True),
        sa.Column("management_area", sa.String(length=60), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "code IS NULL OR length(code) = 9", name=op.f("ck_divisions_code_length")
        ),
        sa.CheckConstraint("length(name) >= 2", name=op.f("ck_divisions_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divisions")),
        sa.UniqueConstraint("code", name=op.f("uq_divisions_code")),
        sa.UniqueConstraint("name", name=op.f("uq_divisions_name")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_at"), "login_failures", ["at"], unique=False)
    op.create_index(
        op.f("ix_login_failures_key_hash"), "login_failures", ["key_hash"], unique=False
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("division_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("password_verifier", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kdf_params", sa.String(length=100), nullable=False),
        sa.Column("password_changed_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("totp_seed_enc", sa.LargeBinary(length=128), nullable=True),
        sa.Column("totp_enrolled_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(totp_seed_enc IS NULL) = (totp_enrolled_at IS NULL)",
            name=op.f("ck_users_totp_consistent"),
        ),
        sa.CheckConstraint("length(username) >= 3", name=op.f("ck_users_username_length")),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_users_division_id_divisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_division_id"), "users", ["division_id"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "totp",
                "full",
                name="session_stage",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("personal_key_enc", sa.LargeBinary(length=256), nullable=True),
        sa.Column("totp_pending_enc", sa.LargeBinary(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"], unique=False)

    op.create_table(
        "user_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "triage_officer",
                "case_officer",
                "finance_officer",
                "finance_approver",
                "supervisor",
                "administrator",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_roles")),
        sa.UniqueConstraint("user_id", "role", name=op.f("uq_user_roles_user_id")),
    )
    op.create_index(op.f("ix_user_roles_user_id"), "user_roles", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_user_roles_user_id"), table_name="user_roles")

    op.drop_table("user_roles")
    op.drop_index(op.f("ix_staff_sessions_user_id"), table_name="staff_sessions")

    op.drop_table("staff_sessions")
    op.drop_index(op.f("ix_users_division_id"), table_name="users")

    op.drop_table("users")
    op.drop_index(op.f("ix_login_failures_key_hash"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_at"), table_name="login_failures")

    op.drop_table("login_failures")
    op.drop_table("divisions")
    op.drop_index(op.f("ix_audit_records_seq"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_actor_id"), table_name="audit_records")
    op.drop_index(op.f("ix_audit_records_action"), table_name="audit_records")

    op.drop_table("audit_records")
