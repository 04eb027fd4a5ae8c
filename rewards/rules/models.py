"""Tables of rewards/rules: the rule set versions an administrator added.

The shipped rule sets live in ``rewards/rules/data/*.json`` and are never copied into the
database; this table holds only what an administrator added through the staff site, each row
one immutable version (its JSON ``body`` exactly as validated). A version is never edited or
deleted, because calculations name it; one that is not yet in force may be *withdrawn*
(``withdrawn_at``), which keeps the row and its audit trail.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base


class RuleSetRecord(Base):
    __tablename__ = "reward_rule_sets"
    __table_args__ = (
        CheckConstraint(
            "effective_until IS NULL OR effective_until >= effective_from",
            name="effective_dates_ordered",
        ),
        CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL)", name="withdrawal_complete"
        ),
        CheckConstraint("length(body_sha256) = 64", name="body_sha256_length"),
        # Two live versions of a series may not start on the same day (which one would be in
        # force?); a withdrawn one leaves its day free. Checked in the service as well, this
        # index catches two administrators adding at the same moment.
        Index(
            "uq_reward_rule_sets_series_effective_from",
            "series",
            "effective_from",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
    )

    # The rule set version's own id, as in its JSON (e.g. "national-2026").
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    series: Mapped[str] = mapped_column(String(64), index=True)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_until: Mapped[dt.date | None] = mapped_column(Date)
    # Canonical JSON of the validated document (rewards.rules.rule_sets.canonical_body).
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="RESTRICT")
    )
