"""Hazard cases: a first version with the fields triage's confirmation step needs. The cases
issue extends it (rectification with the five in place, acceptance, closure, re-check,
escalation) and the judgment-standard catalogue that ``standard_items`` will refer to.

The case holds no word of the reporter's: the description is the officer's own text, entered
by the officer (passages may come from the tip only through the redaction step, see
:func:`cases.services.redact`). It is stored **in the clear**, on purpose: it is what case
officers, supervisors and the facility work from, none of whom may read tips, and it says what
the hazard is, not who saw it. The link to the tip (``tip_id``) is for triage and rewards; the
reporter's identity stays in the encrypted tip.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import JSON, CheckConstraint, Enum, ForeignKey, Integer, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, enum_values
from intake.models import TipCategory


class CaseState(enum.StrEnum):
    """The hazard-case workflow (DESIGN.md "Workflows"); the cases issue adds rectifying,
    awaiting acceptance, closed and the re-check states."""

    OPEN = "open"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=30,
        values_callable=enum_values,
        name=name,
        create_constraint=True,
        validate_strings=True,
    )


class HazardCase(Base):
    __tablename__ = "hazard_cases"
    __table_args__ = (
        CheckConstraint("facility_id IS NULL OR facility_id > 0", name="facility_id_positive"),
        CheckConstraint("length(description) >= 1", name="description_not_empty"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    # The tip it was opened from; NULL for a case an officer enters from an inspection. One
    # case per tip (a tip's several hazards are several standard items of one case).
    tip_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tips.id", ondelete="RESTRICT"), unique=True
    )
    facility_id: Mapped[int | None] = mapped_column(Integer, index=True)
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    category: Mapped[TipCategory] = mapped_column(_enum(TipCategory, "case_category"))
    # Codes of the judgment-standard items the officer selected (a JSON list of strings until
    # the catalogue exists).
    standard_items: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[CaseState] = mapped_column(_enum(CaseState, "case_state"), index=True)
    created_at: Mapped[dt.datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
