"""Triage: the tip workflow's columns and CHECK constraints on ``tips`` (intake/models.py), the
officer of a message (``tip_messages.author_id``), the history of transitions and internal
notes (triage/models.py), the queue's keyset indexes, and a first hazard-case table
(cases/models.py).

Written by hand after autogenerate's list, as 0003 was: enums as VARCHAR with a CHECK, every
constraint named in full (``op.f``). ``tips`` and ``tip_messages`` are altered in batch mode,
so on SQLite the tables are rebuilt with every constraint (existing ones included).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_STATES = ("submitted",)
STATES = (
    "submitted",
    "accepted",
    "not_accepted",
    "transferred",
    "verifying",
    "substantiated",
    "partly_substantiated",
    "unsubstantiated",
    "rechecking",
    "rechecked",
    "duplicate",
    "closed",
)
REASONS = ("outside_remit", "no_clear_target_or_facts", "already_accepted", "other_procedure")
CATEGORIES = ("elderly_care_safety", "fire", "buildings", "gas", "special_equipment", "other")

# The workflow's invariants, as in intake/models.py (name without the "ck_tips_" prefix, SQL).
TIP_CHECKS = (
    ("accepted_has_time", "state NOT IN ('accepted', 'verifying') OR accepted_at IS NOT NULL"),
    ("closed_has_time", "state <> 'closed' OR closed_at IS NOT NULL"),
    (
        "concluded_has_conclusion",
        "state NOT IN ('substantiated', 'partly_substantiated', 'unsubstantiated', 'rechecking', 'rechecked') OR (concluded_at IS NOT NULL AND conclusion_enc IS NOT NULL AND objection_due_at IS NOT NULL)",
    ),
    ("conclusion_enc_length", "conclusion_enc IS NULL OR length(conclusion_enc) >= 95"),
    ("conclusion_has_time", "(conclusion IS NULL) = (concluded_at IS NULL)"),
    (
        "conclusion_is_an_outcome",
        "conclusion IS NULL OR conclusion IN ('substantiated', 'partly_substantiated', 'unsubstantiated')",
    ),
    ("decision_enc_length", "decision_enc IS NULL OR length(decision_enc) >= 95"),
    (
        "due_follows_state",
        (
            "(state = 'verifying' AND due_at IS NOT NULL AND due_at = verification_due_at) "
            "OR (state = 'rechecking' AND due_at IS NOT NULL AND due_at = recheck_due_at) "
            "OR (state NOT IN ('verifying', 'rechecking') AND due_at IS NULL)"
        ),
    ),
    ("duplicate_has_original", "state <> 'duplicate' OR duplicate_of_id IS NOT NULL"),
    ("extension_has_reason", "(extension_days IS NULL) = (extension_reason_enc IS NULL)"),
    ("extension_positive", "extension_days IS NULL OR extension_days >= 1"),
    (
        "extension_reason_enc_length",
        "extension_reason_enc IS NULL OR length(extension_reason_enc) >= 95",
    ),
    (
        "not_accepted_has_reason",
        "state <> 'not_accepted' OR (not_accepted_reason IS NOT NULL AND decided_at IS NOT NULL AND decision_enc IS NOT NULL)",
    ),
    ("not_duplicate_of_itself", "duplicate_of_id IS NULL OR duplicate_of_id <> id"),
    ("objection_enc_length", "objection_enc IS NULL OR length(objection_enc) >= 95"),
    ("overdue_has_due", "overdue_since IS NULL OR due_at IS NOT NULL"),
    (
        "recheck_conclusion_enc_length",
        "recheck_conclusion_enc IS NULL OR length(recheck_conclusion_enc) >= 95",
    ),
    (
        "recheck_has_objection",
        "state NOT IN ('rechecking', 'rechecked') OR (objected_at IS NOT NULL AND objection_enc IS NOT NULL AND recheck_due_at IS NOT NULL)",
    ),
    (
        "recheck_outcome_is_an_outcome",
        "recheck_outcome IS NULL OR recheck_outcome IN ('substantiated', 'partly_substantiated', 'unsubstantiated')",
    ),
    (
        "rechecked_has_conclusion",
        "state <> 'rechecked' OR (recheck_outcome IS NOT NULL AND recheck_concluded_at IS NOT NULL AND recheck_conclusion_enc IS NOT NULL)",
    ),
    ("refused_or_transferred", "(not_accepted_reason IS NULL) OR (transferred_to IS NULL)"),
    ("reward_right_accepted", "NOT reward_right OR accepted_at IS NOT NULL"),
    (
        "transferred_has_regulator",
        "state <> 'transferred' OR (transferred_to IS NOT NULL AND decided_at IS NOT NULL AND decision_enc IS NOT NULL)",
    ),
    (
        "verification_has_deadline",
        "state NOT IN ('verifying', 'substantiated', 'partly_substantiated', 'unsubstantiated', 'rechecking', 'rechecked') OR (accepted_at IS NOT NULL AND verification_started_at IS NOT NULL AND verification_due_at IS NOT NULL)",
    ),
)

# (name, columns) of the queue's indexes on tips.
TIP_INDEXES = (
    ("ix_tips_queue_submitted", ["submitted_at", "id"]),
    ("ix_tips_queue_division_submitted", ["division_id", "submitted_at", "id"]),
    ("ix_tips_queue_state_submitted", ["state", "submitted_at", "id"]),
    ("ix_tips_queue_division_state_submitted", ["division_id", "state", "submitted_at", "id"]),
    ("ix_tips_queue_due", ["due_at", "id"]),
    ("ix_tips_queue_division_due", ["division_id", "due_at", "id"]),
    ("ix_tips_queue_division_state_due", ["division_id", "state", "due_at", "id"]),
)

_TIME = core.models.UTCDateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _state_enum(name: str) -> sa.Enum:
    return sa.Enum(*STATES, name=name, native_enum=False, create_constraint=True, length=30)


def upgrade() -> None:
    with op.batch_alter_table("tips") as batch:
        batch.add_column(sa.Column("accepted_at", _TIME, nullable=True))
        batch.add_column(sa.Column("not_accepted_reason", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("transferred_to", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("decided_at", _TIME, nullable=True))
        batch.add_column(sa.Column("decision_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("verification_started_at", _TIME, nullable=True))
        batch.add_column(sa.Column("verification_due_at", _TIME, nullable=True))
        batch.add_column(sa.Column("extension_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("extension_reason_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("conclusion", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("concluded_at", _TIME, nullable=True))
        batch.add_column(sa.Column("conclusion_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("objection_due_at", _TIME, nullable=True))
        batch.add_column(sa.Column("objected_at", _TIME, nullable=True))
        batch.add_column(sa.Column("objection_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("recheck_due_at", _TIME, nullable=True))
        batch.add_column(sa.Column("recheck_outcome", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("recheck_concluded_at", _TIME, nullable=True))
        batch.add_column(sa.Column("recheck_conclusion_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("closed_at", _TIME, nullable=True))
        batch.add_column(sa.Column("due_at", _TIME, nullable=True))
        batch.add_column(sa.Column("overdue_since", _TIME, nullable=True))
        batch.add_column(sa.Column("awaiting_reply_since", _TIME, nullable=True))
        batch.add_column(sa.Column("duplicate_of_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("reward_right", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.drop_constraint(op.f("ck_tips_tip_state"), type_="check")
        batch.create_check_constraint(op.f("ck_tips_tip_state"), _in("state", STATES))
        batch.create_check_constraint(
            op.f("ck_tips_not_accepted_reason"), _in("not_accepted_reason", REASONS)
        )
        batch.create_check_constraint(op.f("ck_tips_tip_conclusion"), _in("conclusion", STATES))
        batch.create_check_constraint(
            op.f("ck_tips_tip_recheck_outcome"), _in("recheck_outcome", STATES)
        )
        for name, condition in TIP_CHECKS:
            batch.create_check_constraint(op.f(f"ck_tips_{name}"), condition)
        batch.create_foreign_key(
            op.f("fk_tips_duplicate_of_id_tips"),
            "tips",
            ["duplicate_of_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    # The default was only for the rows already there; the services always set the value.
    with op.batch_alter_table("tips") as batch:
        batch.alter_column("reward_right", server_default=None)
    op.create_index(op.f("ix_tips_duplicate_of_id"), "tips", ["duplicate_of_id"], unique=False)
    for name, columns in TIP_INDEXES:
        op.create_index(name, "tips", columns, unique=False)

    with op.batch_alter_table("tip_messages") as batch:
        batch.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tip_messages_author_id_users"),
            "users",
            ["author_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch.create_check_constraint(
            op.f("ck_tip_messages_officer_has_author"),
            "(author = 'officer') = (author_id IS NOT NULL)",
        )

    op.create_table(
        "tip_transitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", _state_enum("from_state"), nullable=False),
        sa.Column("to_state", _state_enum("to_state"), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_tip_transitions_seq_positive")),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_tip_transitions_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_transitions_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_transitions")),
        sa.UniqueConstraint("tip_id", "seq", name=op.f("uq_tip_transitions_tip_id")),
    )
    op.create_index(op.f("ix_tip_transitions_tip_id"), "tip_transitions", ["tip_id"], unique=False)

    op.create_table(
        "tip_notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("length(body_enc) >= 95", name=op.f("ck_tip_notes_body_length")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_tip_notes_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_tip_notes_tip_id_tips"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tip_notes")),
    )
    op.create_index(op.f("ix_tip_notes_tip_id"), "tip_notes", ["tip_id"], unique=False)

    op.create_table(
        "hazard_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tip_id", sa.Uuid(), nullable=True),
        sa.Column("facility_id", sa.Integer(), nullable=True),
        sa.Column("division_id", sa.Integer(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                *CATEGORIES,
                name="case_category",
                native_enum=False,
                create_constraint=True,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("standard_items", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open", name="case_state", native_enum=False, create_constraint=True, length=30
            ),
            nullable=False,
        ),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "facility_id IS NULL OR facility_id > 0",
            name=op.f("ck_hazard_cases_facility_id_positive"),
        ),
        sa.CheckConstraint(
            "length(description) >= 1", name=op.f("ck_hazard_cases_description_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_hazard_cases_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["division_id"],
            ["divisions.id"],
            name=op.f("fk_hazard_cases_division_id_divisions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tip_id"], ["tips.id"], name=op.f("fk_hazard_cases_tip_id_tips"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_cases")),
        sa.UniqueConstraint("tip_id", name=op.f("uq_hazard_cases_tip_id")),
    )
    op.create_index(
        op.f("ix_hazard_cases_division_id"), "hazard_cases", ["division_id"], unique=False
    )
    op.create_index(
        op.f("ix_hazard_cases_facility_id"), "hazard_cases", ["facility_id"], unique=False
    )
    op.create_index(op.f("ix_hazard_cases_state"), "hazard_cases", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hazard_cases_state"), table_name="hazard_cases")
    op.drop_index(op.f("ix_hazard_cases_facility_id"), table_name="hazard_cases")
    op.drop_index(op.f("ix_hazard_cases_division_id"), table_name="hazard_cases")
    op.drop_table("hazard_cases")
    op.drop_index(op.f("ix_tip_notes_tip_id"), table_name="tip_notes")
    op.drop_table("tip_notes")
    op.drop_index(op.f("ix_tip_transitions_tip_id"), table_name="tip_transitions")
    op.drop_table("tip_transitions")

    with op.batch_alter_table("tip_messages") as batch:
        batch.drop_constraint(op.f("ck_tip_messages_officer_has_author"), type_="check")
        batch.drop_constraint(op.f("fk_tip_messages_author_id_users"), type_="foreignkey")
        batch.drop_column("author_id")

    for name, _columns in reversed(TIP_INDEXES):
        op.drop_index(name, table_name="tips")
    op.drop_index(op.f("ix_tips_duplicate_of_id"), table_name="tips")
    # Tips past "submitted" cannot be represented before this revision.
    op.execute(sa.text("DELETE FROM tips WHERE state <> 'submitted'"))
    with op.batch_alter_table("tips") as batch:
        batch.drop_constraint(op.f("fk_tips_duplicate_of_id_tips"), type_="foreignkey")
        for name, _condition in reversed(TIP_CHECKS):
            batch.drop_constraint(op.f(f"ck_tips_{name}"), type_="check")
        batch.drop_constraint(op.f("ck_tips_tip_recheck_outcome"), type_="check")
        batch.drop_constraint(op.f("ck_tips_tip_conclusion"), type_="check")
        batch.drop_constraint(op.f("ck_tips_not_accepted_reason"), type_="check")
        batch.drop_constraint(op.f("ck_tips_tip_state"), type_="check")
        batch.create_check_constraint(op.f("ck_tips_tip_state"), _in("state", OLD_STATES))
        for column in (
            "reward_right",
            "duplicate_of_id",
            "awaiting_reply_since",
            "overdue_since",
            "due_at",
            "closed_at",
            "recheck_conclusion_enc",
            "recheck_concluded_at",
            "recheck_outcome",
            "recheck_due_at",
            "objection_enc",
            "objected_at",
            "objection_due_at",
            "conclusion_enc",
            "concluded_at",
            "conclusion",
            "extension_reason_enc",
            "extension_days",
            "verification_due_at",
            "verification_started_at",
            "decision_enc",
            "decided_at",
            "transferred_to",
            "not_accepted_reason",
            "accepted_at",
        ):
            batch.drop_column(column)
