"""Triage's own tables: the history of every transition of a tip, and officers' internal notes.

The tip's workflow columns live on :class:`intake.models.Tip` (one row per tip, so the queue
reads one table); what happened when, and who did it, is here. Neither table has a sequential
id: rows are ordered per tip by ``seq``, like the message thread.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, enum_values
from intake.models import MIN_FIELD_ENVELOPE_LEN, TipState


def _state(name: str) -> Enum:
    """A tip state as VARCHAR with a CHECK constraint, as ``intake.models`` stores them."""
    return Enum(
        TipState,
        native_enum=False,
        length=30,
        values_callable=enum_values,
        name=name,
        create_constraint=True,
        validate_strings=True,
    )


class TipTransition(Base):
    """One transition of a tip's state (shown on the tip page, staff only).

    ``at`` is exact for officers and the system; for the reporter's objection it is rounded
    down to the hour (``actor_label`` "reporter", no ``actor_id``), like every reporter time.
    ``reason`` is a code (a not-accepted reason, a conclusion, ``objection``, ``extension``),
    never free text: the texts are encrypted on the tip.
    """

    __tablename__ = "tip_transitions"
    __table_args__ = (
        UniqueConstraint("tip_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[TipState] = mapped_column(_state("from_state"))
    to_state: Mapped[TipState] = mapped_column(_state("to_state"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_label: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime]
    reason: Mapped[str | None] = mapped_column(String(40))


class TipNote(Base):
    """An officer's internal note on a tip: never shown to the reporter.

    ``body_enc`` is ``encrypt_text(data_key, body, tip_id=…, kind="note", object_id=id,
    field_name="body")``: encrypted like everything else about the tip, because a note
    naturally repeats what the reporter wrote.
    """

    __tablename__ = "tip_notes"
    __table_args__ = (
        CheckConstraint(f"length(body_enc) >= {MIN_FIELD_ENVELOPE_LEN}", name="body_length"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[dt.datetime]
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
