"""Tips: encrypted fields, data keys sealed per key group, the reporter's token row, attachments
as encrypted chunk rows, messages, and the token-derivation parameters (intake/models.py).

Written by autogenerate, then cleaned by hand as 0001 was: plain ``op.create_index``, enums as
VARCHAR with a CHECK (``native_enum=False``), so it runs on SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 13:59:42.465172
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_param_sets",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("r", sa.Integer(), nullable=False),
        sa.Column("p", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(salt) >= 16", name=op.f("ck_token_param_sets_salt_length")),
        sa.CheckConstraint(
            "n >= 2 AND r >= 1 AND p >= 1", name=op.f("ck_token_param_sets_cost_positive")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_token_param_sets_version_positive")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_token_param_sets")),
    )
    op.create_table(
        "tips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "submitted", name="tip_state", native_enum=False, create_constraint=True, length=30
            ),
            nullable=False,
        ),
        sa.Column("division_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "elderly_care_safety",
                "fire",
                "buildings",
                "gas",
                "special_equipment",
                "other",
                name="tip_category",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "web",
                "api",
                "wechat",
                name="tip_channel",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("description_enc", sa.LargeBinary(), nullable=False),
        sa.Column("location_enc", sa.LargeBinary(), nullable=False),
        sa.Column("facility_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("observed_when_enc", sa.LargeBinary(), nullable=False),
        sa.Column("relationship_enc", sa.LargeBinary(), nullable=False),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=False),
        sa.Column("real_name_enc", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "facility_id IS NULL OR facility_id > 0", name=op.f("ck_tips_facility_id_positive")
        ),
        sa.CheckConstraint("length(contact_enc) >= 95", name=op.f("ck_tips_contact_enc_length")),
        sa.CheckConstraint(
            "length(description_enc) >= 95", name=op.f("ck_tips_description_enc_length")
        ),
        sa.CheckConstraint(
            "length(facility_name_enc) >= 95", name=op.f("ck_tips_facility_name_enc_length")
        ),
        sa.CheckConstraint("length(location_enc) >= 95", name=op.f("ck_tips_location_enc_length")),
        sa.CheckConstraint(
            "length(observed_when_enc) >= 95", name=op.f("ck_tips_observed_when_enc_length")
        ),
        sa.CheckConstraint(
            "length(real_name_enc) >= 95", name=op.f("ck_tips_real_name_enc_length")
        ),
        sa.CheckConstraint(
            "length(relationship_enc) >= 95", name=op.f("ck_tips_relationship_enc_length")
        ),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_tips_division_id_divisions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tips")),
    )
    op.create_index(op.f("ix_tips_division_id"), "tips", ["division_id"], unique=False)
    op.create_index(op.f("ix_tips_facility_id"), "tips", ["facility_id"], unique=False)
    op.create_index(op.f("ix_tips_state"), "tips", ["state"], unique=False)
    op.create_index(op.f("ix_tips_submitted_at"), "tips", ["submitted_at"], unique=False)

    op.create_table(
        "tip_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("content_type_enc", sa.LargeBinary(), nullable=False),
        sa.Column("stream_header", sa.LargeBinary(length=36), nullable=False),
        sa.Column("scrubbed", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "length(content_type_enc) >= 95", name=op.f("ck_tip_attachments_content_type_length")
        ),
        sa.CheckConstraint("length(name_enc) >= 95", name=op.f("ck_tip_attachments_name_length")),
        sa.CheckConstraint(
            "length(stream_header) = 36", name=op.f("ck_tip_attachments_header_length")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_tip_attachments_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_attachments_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_attachments")),
        sa.UniqueConstraint("tip_id", "position", name=op.f("uq_tip_attachments_tip_id")),
    )
    op.create_index(op.f("ix_tip_attachments_tip_id"), "tip_attachments", ["tip_id"], unique=False)

    op.create_table(
        "tip_keys",
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("group_version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("envelope", sa.LargeBinary(length=83), nullable=False),
        sa.CheckConstraint("group_version >= 1", name=op.f("ck_tip_keys_group_version_positive")),
        sa.CheckConstraint("length(envelope) = 83", name=op.f("ck_tip_keys_envelope_length")),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_keys_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tip_id", "group_id", "group_version", name=op.f("pk_tip_keys")),
    )
    op.create_table(
        "tip_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "author",
            sa.Enum(
                "reporter",
                "officer",
                name="message_author",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("created_at", core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(body_enc) >= 95", name=op.f("ck_tip_messages_body_length")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_tip_messages_seq_positive")),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_messages_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_messages")),
        sa.UniqueConstraint("tip_id", "seq", name=op.f("uq_tip_messages_tip_id")),
    )
    op.create_index(op.f("ix_tip_messages_tip_id"), "tip_messages", ["tip_id"], unique=False)

    op.create_table(
        "tip_tokens",
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("params_version", sa.Integer(), nullable=False),
        sa.Column("token_index", sa.LargeBinary(length=32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(length=63), nullable=False),
        sa.CheckConstraint("length(token_index) = 32", name=op.f("ck_tip_tokens_index_length")),
        sa.CheckConstraint(
            "length(wrapped_key) = 63", name=op.f("ck_tip_tokens_wrapped_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["params_version"],
            ["token_param_sets.version"],
            name=op.f("fk_tip_tokens_params_version_token_param_sets"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_tokens_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tip_id", name=op.f("pk_tip_tokens")),
        sa.UniqueConstraint("token_index", name=op.f("uq_tip_tokens_token_index")),
    )
    op.create_index(
        op.f("ix_tip_tokens_params_version"), "tip_tokens", ["params_version"], unique=False
    )

    op.create_table(
        "tip_attachment_chunks",
        sa.Column("attachment_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "chunk_index >= 0", name=op.f("ck_tip_attachment_chunks_index_non_negative")
        ),
        sa.CheckConstraint("length(data) >= 16", name=op.f("ck_tip_attachment_chunks_data_length")),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["tip_attachments.id"],
            name=op.f("fk_tip_attachment_chunks_attachment_id_tip_attachments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "attachment_id", "chunk_index", name=op.f("pk_tip_attachment_chunks")
        ),
    )


def downgrade() -> None:
    op.drop_table("tip_attachment_chunks")
    op.drop_index(op.f("ix_tip_tokens_params_version"), table_name="tip_tokens")

    op.drop_table("tip_tokens")
    op.drop_index(op.f("ix_tip_messages_tip_id"), table_name="tip_messages")

    op.drop_table("tip_messages")
    op.drop_table("tip_keys")
    op.drop_index(op.f("ix_tip_attachments_tip_id"), table_name="tip_attachments")

    op.drop_table("tip_attachments")
    op.drop_index(op.f("ix_tips_submitted_at"), table_name="tips")
    op.drop_index(op.f("ix_tips_state"), table_name="tips")
    op.drop_index(op.f("ix_tips_facility_id"), table_name="tips")
    op.drop_index(op.f("ix_tips_division_id"), table_name="tips")

    op.drop_table("tips")
    op.drop_table("token_param_sets")
