"""Tables of cases/standards: the catalogue of judgment standards (判定标准) and their items.

A :class:`Standard` is one version of one standard ("GB 35181-2017" and "GB 35181-2025" are two
rows); a newer version supersedes an older one, which stays in the catalogue because closed
cases refer to its items. A :class:`StandardItem` is one clause an officer can select for a
case; its ``code`` ("GB 35181-2017/7.3.1") is what a case stores, unique across the catalogue.

Every standard and item carries the verification mark of the research it came from
(``verified`` / ``partial`` / ``unverified``, see ``cases/standards/data/README.md``): the
catalogue is compiled from public copies, and an unverified item must look unverified on every
page that shows it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models import Base, str_enum

CODE_MAX = 60
ITEM_CODE_MAX = 100


class StandardStatus(enum.StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"


class Verification(enum.StrEnum):
    """How far the text was checked (regulations.md legend)."""

    VERIFIED = "verified"  # seen in a full copy, or in two or more independent copies
    PARTIAL = "partial"  # one secondary or incomplete source
    UNVERIFIED = "unverified"  # not confirmed by any retrieved source


class ItemKind(enum.StrEnum):
    DIRECT = "direct"  # one such item alone makes a major hazard
    COMPOSITE = "composite"  # counted towards a composite threshold
    EXCLUSION = "exclusion"  # a case that must not be judged a major hazard
    OTHER = "other"  # a requirement or element whose role is not established


class Origin(enum.StrEnum):
    """Who last wrote a standard: the data file shipped with the project or an administrator.
    The loader never overwrites what an administrator changed."""

    SHIPPED = "shipped"
    ADMINISTRATOR = "administrator"


class Standard(Base):
    __tablename__ = "standards"
    __table_args__ = (
        CheckConstraint("length(code) >= 2", name="code_not_empty"),
        CheckConstraint(
            "(status = 'superseded') = (superseded_on IS NOT NULL)", name="superseded_dated"
        ),
        CheckConstraint(
            "superseded_by IS NULL OR status = 'superseded'", name="successor_only_if_superseded"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(CODE_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # A tip category value (intake.models.TipCategory): which cases the standard is for.
    domain: Mapped[str] = mapped_column(String(40), index=True)
    issuer: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[StandardStatus] = mapped_column(str_enum(StandardStatus, "standard_status", 20))
    published_on: Mapped[dt.date | None] = mapped_column(Date)
    effective_on: Mapped[dt.date | None] = mapped_column(Date)
    superseded_on: Mapped[dt.date | None] = mapped_column(Date)
    # Code of the successor; may name a standard that is not (yet) in the catalogue.
    superseded_by: Mapped[str | None] = mapped_column(String(CODE_MAX))
    verification: Mapped[Verification] = mapped_column(str_enum(Verification, "standard_verif", 20))
    # What is known to be missing or doubtful, shown with the standard ("" when nothing).
    gaps: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[str]] = mapped_column(JSON)
    # The composite rule (list of {place_classes, counted, min_count, clause, verification});
    # empty for a standard judged item by item. Validated by cases.standards.schema.
    composite_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Clause under which only hazards that cannot be corrected immediately count as elements
    # (GB 35181-2017 5.1); "" when the standard has no such rule.
    uncorrectable_clause: Mapped[str] = mapped_column(String(100), default="")
    origin: Mapped[Origin] = mapped_column(str_enum(Origin, "standard_origin", 20))
    # Version of the data file or upload that last wrote the row.
    data_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    items: Mapped[list[StandardItem]] = relationship(
        back_populates="standard", order_by="StandardItem.position"
    )


class StandardItem(Base):
    __tablename__ = "standard_items"
    __table_args__ = (
        CheckConstraint("length(code) >= 3", name="code_not_empty"),
        CheckConstraint("length(text) >= 1", name="text_not_empty"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    standard_id: Mapped[int] = mapped_column(
        ForeignKey("standards.id", ondelete="RESTRICT"), index=True
    )
    # Unique across the catalogue: "<standard code>/<clause>", what a case stores.
    code: Mapped[str] = mapped_column(String(ITEM_CODE_MAX), unique=True)
    kind: Mapped[ItemKind] = mapped_column(str_enum(ItemKind, "standard_item_kind", 20))
    clause: Mapped[str] = mapped_column(String(100))
    group: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)  # the Chinese wording (or close paraphrase)
    summary_en: Mapped[str] = mapped_column(Text, default="")
    verification: Mapped[Verification] = mapped_column(str_enum(Verification, "item_verif", 20))
    source: Mapped[str] = mapped_column(Text, default="")
    # Classes of place the clause is written for (cases.standards.services.PLACE_CLASSES);
    # empty: any place.
    place_classes: Mapped[list[str]] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer)

    standard: Mapped[Standard] = relationship(back_populates="items")
