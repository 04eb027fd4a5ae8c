"""Intake on the web: registered facilities (registry/models.py, a first version the registry
issue extends) and reporter sessions (intake/models.py).

Written by autogenerate, then cleaned by hand as 0003 was (plain ``op.create_index``, enums as
VARCHAR with a CHECK). Only this step's tables are here: the triage columns of ``tips`` and
``tip_messages`` belong to the triage migration.

Revision ID: 0005
Revises: 0004 (the triage revision, written at the same time; it was the newest when this
one was finished)
Create Date: 2026-11-28 14:21:32.448878
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("division_id", sa.Integer(), nullable=False),
        sa.Column(
            "facility_type",
            sa.Enum(
                "elderly_care_home",
                "day_care_centre",
                "welfare_home",
                "child_welfare",
                "other",
                name="facility_type",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "operating",
                "suspended",
                "closed",
                name="facility_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("length(name) >= 2", name=op.f("ck_facilities_name_length")),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_facilities_division_id_divisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
    )
    op.create_index(op.f("ix_facilities_division_id"), "facilities", ["division_id"], unique=False)
    op.create_index(op.f("ix_facilities_name"), "facilities", ["name"], unique=False)

    op.create_table(
        "reporter_sessions",
        sa.Column("value_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("data_key_enc", sa.LargeBinary(length=63), nullable=False),
        sa.Column("expires_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(data_key_enc) = 63", name=op.f("ck_reporter_sessions_data_key_length")
        ),
        sa.CheckConstraint(
            "length(value_hash) = 32", name=op.f("ck_reporter_sessions_value_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"],
            ["tips.id"],
            name=op.f("fk_reporter_sessions_tip_id_tips"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("value_hash", name=op.f("pk_reporter_sessions")),
    )
    op.create_index(
        op.f("ix_reporter_sessions_expires_at"), "reporter_sessions", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_reporter_sessions_tip_id"), "reporter_sessions", ["tip_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reporter_sessions_tip_id"), table_name="reporter_sessions")
    op.drop_index(op.f("ix_reporter_sessions_expires_at"), table_name="reporter_sessions")
    op.drop_table("reporter_sessions")
    op.drop_index(op.f("ix_facilities_name"), table_name="facilities")
    op.drop_index(op.f("ix_facilities_division_id"), table_name="facilities")
    op.drop_table("facilities")
