"""Administrative divisions (towns, streets, parks) and their management areas, the facility
types (data an administrator edits), and the registered facilities (elderly-care homes and the
other institutions the bureau oversees) with their special equipment and edit history.

The facility fields follow ``reference/regulations.md`` §4 (the 养老机构 filing of 民政部令
第66号 and the fields the judgment standards ask about). A value nobody has recorded yet is
NULL (or an empty string for free text), never a guess: "no sprinklers" and "not known" are
different answers to GB 35181.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models import Base, enum_values, str_enum


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


# ---------------------------------------------------------------- facility types


class FacilityTypeRecord(Base):
    """A kind of institution (养老机构, 儿童福利机构, …). Data, not code: the shipped list is
    ``registry/data/facility_types.json`` and an administrator adds or renames types. A type is
    never deleted (facilities refer to it); one no longer used is made inactive."""

    __tablename__ = "facility_types"
    __table_args__ = (
        CheckConstraint("length(code) >= 2", name="code_length"),
        CheckConstraint("length(name_zh) >= 2", name="name_zh_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A stable identifier (lower-case letters, digits and "_"), used by imports and the API.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100), unique=True)
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # Why the type exists and how sure we are of its legal basis (shown to administrators).
    note: Mapped[str] = mapped_column(String(500), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# ---------------------------------------------------------------- facility value sets


class FacilityStatus(enum.StrEnum):
    OPERATING = "operating"  # 运营中
    SUSPENDED = "suspended"  # 停业整顿
    CLOSED = "closed"  # 已关闭 / 注销


class LegalForm(enum.StrEnum):
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    SOCIAL_SERVICE = "social_service"  # 社会服务机构（民办非企业单位）
    ENTERPRISE = "enterprise"  # 企业
    GOVERNMENT = "government"  # 机关（如婚姻登记处）
    OTHER = "other"


class Ownership(enum.StrEnum):
    PUBLIC = "public"  # 公办
    PRIVATE = "private"  # 民办
    PUBLIC_PRIVATE = "public_private"  # 公建民营


class Tenure(enum.StrEnum):
    OWNED = "owned"  # 自有
    LEASED = "leased"  # 租赁
    OTHER = "other"  # 无偿使用等


class StructureType(enum.StrEnum):
    REINFORCED_CONCRETE = "reinforced_concrete"  # 钢筋混凝土结构
    MASONRY_CONCRETE = "masonry_concrete"  # 砖混结构
    STEEL = "steel"  # 钢结构
    BRICK_TIMBER = "brick_timber"  # 砖木结构
    TIMBER = "timber"  # 木结构
    OTHER = "other"


class PanelCoreClass(enum.StrEnum):
    """Reaction-to-fire class of the core of colour-steel sandwich panels (GB 8624)."""

    A = "A"  # 不燃
    B1 = "B1"  # 难燃
    B2 = "B2"  # 可燃
    B3 = "B3"  # 易燃


class BuildingRating(enum.StrEnum):
    """Dangerous-building appraisal grade (危险房屋鉴定, JGJ 125): C and D are the dangerous ones."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class FireAcceptance(enum.StrEnum):
    ACCEPTED = "accepted"  # 消防验收合格
    FILED = "filed"  # 已备案
    NOT_DONE = "not_done"  # 未办理
    NOT_REQUIRED = "not_required"  # 不需要


class GasUse(enum.StrEnum):
    NONE = "none"  # 不使用燃气
    PIPELINE = "pipeline"  # 管道燃气
    BOTTLED = "bottled"  # 瓶装液化石油气
    BOTH = "both"  # 管道燃气和瓶装液化石油气


class EquipmentKind(enum.StrEnum):
    """Kinds of special equipment (特种设备目录)."""

    ELEVATOR = "elevator"  # 电梯
    BOILER = "boiler"  # 锅炉
    PRESSURE_VESSEL = "pressure_vessel"  # 压力容器（含气瓶）
    PRESSURE_PIPING = "pressure_piping"  # 压力管道
    LIFTING = "lifting"  # 起重机械
    FIELD_VEHICLE = "field_vehicle"  # 场（厂）内专用机动车辆
    OTHER = "other"


# ---------------------------------------------------------------- facilities


class Facility(Base):
    """A registered facility. Reporters find it by name or address; a tip refers to it by id
    (``tips.facility_id``), the only part of "where" that is stored in the clear."""

    __tablename__ = "facilities"
    __table_args__ = (
        CheckConstraint("length(name) >= 2", name="name_length"),
        CheckConstraint("credit_code IS NULL OR length(credit_code) = 18", name="credit_code"),
        # One name per division: an import matches a row without credit code by name+division.
        UniqueConstraint("division_id", "name", name="uq_facilities_division_name"),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_together"),
        CheckConstraint("rating_level IS NULL OR rating_level BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("lease_end IS NULL OR tenure = 'leased'", name="lease_end_leased"),
        CheckConstraint("beds_total IS NULL OR beds_total >= 0", name="beds_total_not_negative"),
        CheckConstraint(
            "beds_nursing IS NULL OR (beds_nursing >= 0 AND "
            "(beds_total IS NULL OR beds_nursing <= beds_total))",
            name="beds_nursing_range",
        ),
        CheckConstraint(
            "residents_current IS NULL OR residents_current >= 0",
            name="residents_not_negative",
        ),
        CheckConstraint(
            "residents_disabled IS NULL OR (residents_disabled >= 0 AND "
            "(residents_current IS NULL OR residents_disabled <= residents_current))",
            name="residents_disabled_range",
        ),
        CheckConstraint("staff_count IS NULL OR staff_count >= 0", name="staff_not_negative"),
        CheckConstraint(
            "night_staff_count IS NULL OR (night_staff_count >= 0 AND "
            "(staff_count IS NULL OR night_staff_count <= staff_count))",
            name="night_staff_range",
        ),
        CheckConstraint("floor_area_m2 IS NULL OR floor_area_m2 >= 0", name="floor_area"),
        CheckConstraint(
            "building_height_m IS NULL OR building_height_m >= 0", name="building_height"
        ),
        CheckConstraint(
            "floors_above IS NULL OR floors_above BETWEEN 1 AND 200", name="floors_above"
        ),
        CheckConstraint(
            "floors_below IS NULL OR floors_below BETWEEN 0 AND 20", name="floors_below"
        ),
        CheckConstraint(
            "panel_core_class IS NULL OR has_colour_steel_panels = true",
            name="panel_class_needs_panels",
        ),
        CheckConstraint(
            "control_room_operator_certified IS NULL OR has_fire_control_room = true",
            name="operator_needs_control_room",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    # ---- identity
    name: Mapped[str] = mapped_column(String(200), index=True)
    # 统一社会信用代码 (GB 32100), upper case, check digit verified by the services.
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    facility_type_id: Mapped[int] = mapped_column(
        ForeignKey("facility_types.id", ondelete="RESTRICT"), index=True
    )
    legal_form: Mapped[LegalForm | None] = mapped_column(str_enum(LegalForm, "legal_form", 20))
    for_profit: Mapped[bool | None] = mapped_column(Boolean)
    ownership: Mapped[Ownership | None] = mapped_column(str_enum(Ownership, "ownership", 20))
    legal_rep: Mapped[str] = mapped_column(String(50), default="")  # 法定代表人
    principal: Mapped[str] = mapped_column(String(50), default="")  # 主要负责人
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")

    # ---- location
    address: Mapped[str] = mapped_column(String(300), default="")
    division_id: Mapped[int] = mapped_column(
        ForeignKey("divisions.id", ondelete="RESTRICT"), index=True
    )
    # The zone the facility reports under (经开区, 高新区, 冶金园, 保税区, …), if any.
    management_area: Mapped[str] = mapped_column(String(60), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    # ---- the filing with the civil-affairs bureau
    filing_no: Mapped[str] = mapped_column(String(60), default="")
    filing_date: Mapped[dt.date | None] = mapped_column(Date)
    tenure: Mapped[Tenure | None] = mapped_column(str_enum(Tenure, "premises_tenure", 10))
    lease_end: Mapped[dt.date | None] = mapped_column(Date)
    rating_level: Mapped[int | None] = mapped_column(Integer)  # GB/T 37276 一至五级

    # ---- capacity
    beds_total: Mapped[int | None] = mapped_column(Integer)
    beds_nursing: Mapped[int | None] = mapped_column(Integer)
    residents_current: Mapped[int | None] = mapped_column(Integer)
    residents_disabled: Mapped[int | None] = mapped_column(Integer)  # 失能、半失能
    staff_count: Mapped[int | None] = mapped_column(Integer)
    night_staff_count: Mapped[int | None] = mapped_column(Integer)

    # ---- building
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    building_height_m: Mapped[float | None] = mapped_column(Float)
    floors_above: Mapped[int | None] = mapped_column(Integer)
    floors_below: Mapped[int | None] = mapped_column(Integer)
    # Floors where residents sleep or live, normalised "1,2,3" (basements negative: "-1").
    resident_floors: Mapped[str] = mapped_column(String(100), default="")
    structure_type: Mapped[StructureType | None] = mapped_column(
        str_enum(StructureType, "structure_type", 30)
    )
    has_colour_steel_panels: Mapped[bool | None] = mapped_column(Boolean)
    panel_core_class: Mapped[PanelCoreClass | None] = mapped_column(
        str_enum(PanelCoreClass, "panel_core_class", 5)
    )
    dangerous_building_rating: Mapped[BuildingRating | None] = mapped_column(
        str_enum(BuildingRating, "building_rating", 5)
    )

    # ---- fire
    fire_acceptance: Mapped[FireAcceptance | None] = mapped_column(
        str_enum(FireAcceptance, "fire_acceptance", 20)
    )
    has_sprinklers: Mapped[bool | None] = mapped_column(Boolean)
    has_auto_alarm: Mapped[bool | None] = mapped_column(Boolean)
    has_fire_control_room: Mapped[bool | None] = mapped_column(Boolean)
    control_room_operator_certified: Mapped[bool | None] = mapped_column(Boolean)

    # ---- licences
    # 医疗机构执业许可证号 or 备案号; empty: none recorded.
    medical_licence: Mapped[str] = mapped_column(String(60), default="")
    canteen_licence: Mapped[str] = mapped_column(String(60), default="")  # 食品经营许可证号

    # ---- gas, status, supervision
    gas_use: Mapped[GasUse | None] = mapped_column(str_enum(GasUse, "gas_use", 10))
    status: Mapped[FacilityStatus] = mapped_column(str_enum(FacilityStatus, "facility_status", 20))
    key_supervision: Mapped[bool] = mapped_column(Boolean, default=False, index=True)

    created_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime | None]

    facility_type: Mapped[FacilityTypeRecord] = relationship(lazy="joined")
    division: Mapped[Division] = relationship(lazy="joined")
    # A facility has a handful of pieces of equipment (the services cap it): loaded with it.
    equipment: Mapped[list[FacilityEquipment]] = relationship(
        back_populates="facility",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="FacilityEquipment.id",
    )


class FacilityEquipment(Base):
    """A piece of special equipment (GB 45067; 养老 Art. 4(4)) with its next inspection."""

    __tablename__ = "facility_equipment"
    __table_args__ = (CheckConstraint("quantity >= 1 AND quantity <= 999", name="quantity_range"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EquipmentKind] = mapped_column(str_enum(EquipmentKind, "equipment_kind", 20))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    # 使用登记证号; empty where none was recorded.
    registration_no: Mapped[str] = mapped_column(String(60), default="")
    next_inspection_on: Mapped[dt.date | None] = mapped_column(Date, index=True)

    facility: Mapped[Facility] = relationship(back_populates="equipment")


class RevisionKind(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    IMPORTED = "imported"  # created or changed by a spreadsheet import


class FacilityRevision(Base):
    """One change to a facility: who, when, and each changed field as old → new (the values as
    shown in an export, so the page and the spreadsheet agree). Written by the services only;
    never changed afterwards. The audit trail records the same change with field names only."""

    __tablename__ = "facility_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime]
    # NULL for the system (the command line, the demo loader).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    actor_label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[RevisionKind] = mapped_column(str_enum(RevisionKind, "revision_kind", 10))
    # [{"field": name, "from": text | null, "to": text | null}, …]
    changes: Mapped[list[dict[str, str | None]]] = mapped_column(JSON)
