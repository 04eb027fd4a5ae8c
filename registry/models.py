"""Administrative divisions (towns, streets, parks) and their management areas."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Enum, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base, enum_values


class DivisionKind(enum.StrEnum):
    TOWN = "town"  # 镇
    STREET = "street"  # 街道
    PARK = "park"  # 园区 (township-level management unit)
    OTHER = "other"  # 度假区, 保税区 and the like


class Division(Base):
    __tablename__ = "divisions"
    __table_args__ = (
        CheckConstraint("length(name) >= 2", name="name_length"),
        CheckConstraint("code IS NULL OR length(code) = 9", name="code_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    name_en: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[DivisionKind] = mapped_column(
        Enum(
            DivisionKind,
            native_enum=False,
            length=10,
            values_callable=enum_values,
            name="division_kind",
            create_constraint=True,
            validate_strings=True,
        )
    )
    # NBS township code (9 digits) where verified; NULL where not.
    code: Mapped[str | None] = mapped_column(String(9), unique=True)
    # The development zone or park the division is run together with (区镇合一), if any.
    management_area: Mapped[str] = mapped_column(String(60), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
