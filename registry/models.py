"""Administrative divisions (towns, streets, parks) and their management areas, and the
registered facilities (elderly-care homes and the other institutions the bureau oversees)."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Integer, String
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


class FacilityType(enum.StrEnum):
    """What kind of institution a facility is. A first list; the registry issue turns facility
    types into data (with the judgment standards that apply to each)."""

    ELDERLY_CARE_HOME = "elderly_care_home"  # 养老机构
    DAY_CARE_CENTRE = "day_care_centre"  # 日间照料中心
    WELFARE_HOME = "welfare_home"  # 福利院
    CHILD_WELFARE = "child_welfare"  # 儿童福利机构
    OTHER = "other"


class FacilityStatus(enum.StrEnum):
    OPERATING = "operating"  # 运营中
    SUSPENDED = "suspended"  # 停业整顿
    CLOSED = "closed"  # 已关闭


def _str_enum(cls: type[enum.StrEnum], name: str, length: int) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=enum_values,
        name=name,
        create_constraint=True,
        validate_strings=True,
    )


class Facility(Base):
    """A registered facility. Reporters find it by name or address; a tip refers to it by id
    (``tips.facility_id``), the only part of "where" that is stored in the clear."""

    __tablename__ = "facilities"
    __table_args__ = (CheckConstraint("length(name) >= 2", name="name_length"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    facility_type: Mapped[FacilityType] = mapped_column(
        _str_enum(FacilityType, "facility_type", 30)
    )
    status: Mapped[FacilityStatus] = mapped_column(_str_enum(FacilityStatus, "facility_status", 20))
