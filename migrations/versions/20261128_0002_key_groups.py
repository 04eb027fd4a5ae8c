"""Key groups: groups, their signed key versions, grants to members, escrows to the recovery
group, and staff members' personal keys.

Written by autogenerate against a SQLite database at 0001, then cleaned by hand as 0001 was:
plain ``op.create_index`` (no batch mode needed to create or drop an index), enums as VARCHAR
with a CHECK (``native_enum=False``), so it runs on SQLite and PostgreSQL. The grants and escrows
reference a key version by the composite (group id, version), which the unique constraint of
``group_keys`` backs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:01:33.364726
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "recovery",
                "triage",
                "finance",
                name="group_kind",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("division_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind = 'triage' OR division_id IS NULL",
            name=op.f("ck_key_groups_division_only_triage"),
        ),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_key_groups_division_id_divisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_groups")),
        sa.UniqueConstraint("slug", name=op.f("uq_key_groups_slug")),
    )
    op.create_index(op.f("ix_key_groups_division_id"), "key_groups", ["division_id"], unique=False)

    op.create_table(
        "group_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=67), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_group_keys_version_positive")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["key_groups.id"],
            name=op.f("fk_group_keys_group_id_key_groups"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_keys")),
        sa.UniqueConstraint("group_id", "version", name=op.f("uq_group_keys_group_id")),
    )
    op.create_table(
        "personal_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=67), nullable=False),
        sa.Column("password_wrapped", sa.LargeBinary(length=128), nullable=False),
        sa.Column("recovery_wrapped", sa.LargeBinary(length=128), nullable=True),
        sa.Column("recovery_salt", sa.LargeBinary(length=16), nullable=True),
        sa.Column("recovery_kdf", sa.String(length=100), nullable=True),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recovery_issued_at", core.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(recovery_wrapped IS NULL) = (recovery_salt IS NULL) AND (recovery_wrapped IS NULL) = (recovery_kdf IS NULL)",
            name=op.f("ck_personal_keys_recovery_consistent"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_personal_keys_version_positive")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_keys")),
        sa.UniqueConstraint("user_id", name=op.f("uq_personal_keys_user_id")),
    )
    op.create_table(
        "group_escrows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("group_version", sa.Integer(), nullable=False),
        sa.Column("recovery_version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(length=83), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id", "group_version"],
            ["group_keys.group_id", "group_keys.version"],
            name=op.f("fk_group_escrows_group_id_group_keys"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_escrows")),
        sa.UniqueConstraint(
            "group_id", "group_version", "recovery_version", name=op.f("uq_group_escrows_group_id")
        ),
    )
    op.create_table(
        "group_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("group_version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("user_key_version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(length=83), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("granted_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["granted_by_id"],
            ["users.id"],
            name=op.f("fk_group_grants_granted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id", "group_version"],
            ["group_keys.group_id", "group_keys.version"],
            name=op.f("fk_group_grants_group_id_group_keys"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_grants")),
        sa.UniqueConstraint(
            "group_id", "group_version", "user_id", name=op.f("uq_group_grants_group_id")
        ),
    )
    op.create_index(
        op.f("ix_group_grants_granted_by_id"), "group_grants", ["granted_by_id"], unique=False
    )
    op.create_index(op.f("ix_group_grants_user_id"), "group_grants", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_group_grants_user_id"), table_name="group_grants")
    op.drop_index(op.f("ix_group_grants_granted_by_id"), table_name="group_grants")

    op.drop_table("group_grants")
    op.drop_table("group_escrows")
    op.drop_table("personal_keys")
    op.drop_table("group_keys")
    op.drop_index(op.f("ix_key_groups_division_id"), table_name="key_groups")

    op.drop_table("key_groups")
