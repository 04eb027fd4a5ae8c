"""The facility fields, once: what each is called (English msgid for the pages, Chinese column
header for spreadsheets), what values it takes, how a spreadsheet cell is read into it and how
it is written out again.

The staff form, the import, the export and the edit history all work from :data:`FIELDS`, so a
value exported and imported again is the same value, and the history shows a change the way the
spreadsheet shows it. No database access here: the division and the facility type are read as
text and resolved by the services.

Cells are read defensively. A text cell that starts with ``=``, ``+``, ``-`` or ``@`` is what a
spreadsheet runs as a formula (CSV injection): it is refused, except a telephone number written
``+86 …``; numbers, dates and yes/no cells are parsed, so "-1" there is just a number. Our own
export writes such a text with a leading apostrophe (``'=…``), and the import takes that
apostrophe off again, so an export reads back as it was written.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import N_
from registry import credit_code
from registry.models import (
    BuildingRating,
    EquipmentKind,
    FacilityStatus,
    FireAcceptance,
    GasUse,
    LegalForm,
    Ownership,
    PanelCoreClass,
    StructureType,
    Tenure,
)


class Kind(enum.Enum):
    TEXT = "text"
    PHONE = "phone"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    DATE = "date"
    CREDIT_CODE = "credit_code"
    FLOORS = "floors"
    DIVISION = "division"  # a division's name (resolved by the services)
    FACILITY_TYPE = "facility_type"  # a type's code or name (resolved by the services)
    EQUIPMENT = "equipment"  # the special-equipment list


class FieldError(ValueError):
    """A cell or form value that cannot be taken; ``message`` is an English msgid."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Choice:
    """One value of a closed set: stored ``value``, the Chinese word written in spreadsheets,
    the English label (a msgid) and other spellings an import accepts."""

    value: Any
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the Facility attribute (or "division", "facility_type", "equipment")
    label: str  # English msgid
    header_zh: str  # the spreadsheet column header
    kind: Kind
    group: str
    max_length: int = 0
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    aliases: tuple[str, ...] = ()  # further headers an import accepts
    hint: str = ""  # English msgid: what to write, shown on the form and the import page

    def choice_for(self, value: Any) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


# ---------------------------------------------------------------- value sets

YES = Choice(True, "是", N_("Yes"), ("有", "y", "yes", "true", "1", "✓", "√", "t", "对"))
NO = Choice(False, "否", N_("No"), ("无", "没有", "n", "no", "false", "0", "✗", "×", "f"))
BOOL_CHOICES = (YES, NO)

STATUS_CHOICES = (
    Choice(FacilityStatus.OPERATING, "运营", N_("Operating"), ("运营中", "正常", "在营")),
    Choice(FacilityStatus.SUSPENDED, "停业", N_("Suspended"), ("停业整顿", "暂停")),
    Choice(FacilityStatus.CLOSED, "注销", N_("Closed down"), ("已关闭", "关闭", "已注销")),
)
LEGAL_FORM_CHOICES = (
    Choice(LegalForm.PUBLIC_INSTITUTION, "事业单位", N_("Public institution")),
    Choice(
        LegalForm.SOCIAL_SERVICE,
        "社会服务机构",
        N_("Social service organisation"),
        ("民办非企业单位", "民非"),
    ),
    Choice(LegalForm.ENTERPRISE, "企业", N_("Enterprise"), ("公司",)),
    Choice(LegalForm.GOVERNMENT, "机关", N_("Government office"), ("行政机关",)),
    Choice(LegalForm.OTHER, "其他", N_("Other"), ("other",)),
)
PROFIT_CHOICES = (
    Choice(True, "营利", N_("For profit"), ("营利性", "for-profit", "profit")),
    Choice(False, "非营利", N_("Not for profit"), ("非营利性", "non-profit", "nonprofit")),
)
OWNERSHIP_CHOICES = (
    Choice(Ownership.PUBLIC, "公办", N_("Public")),
    Choice(Ownership.PRIVATE, "民办", N_("Private")),
    Choice(
        Ownership.PUBLIC_PRIVATE, "公建民营", N_("Publicly built, privately run"), ("公办民营",)
    ),
)
TENURE_CHOICES = (
    Choice(Tenure.OWNED, "自有", N_("Owned")),
    Choice(Tenure.LEASED, "租赁", N_("Leased"), ("租用",)),
    Choice(Tenure.OTHER, "其他", N_("Other"), ("无偿使用", "other")),
)
STRUCTURE_CHOICES = (
    Choice(
        StructureType.REINFORCED_CONCRETE,
        "钢筋混凝土结构",
        N_("Reinforced concrete"),
        ("钢筋混凝土", "框架结构", "框架"),
    ),
    Choice(StructureType.MASONRY_CONCRETE, "砖混结构", N_("Masonry and concrete"), ("砖混",)),
    Choice(StructureType.STEEL, "钢结构", N_("Steel")),
    Choice(StructureType.BRICK_TIMBER, "砖木结构", N_("Brick and timber"), ("砖木",)),
    Choice(StructureType.TIMBER, "木结构", N_("Timber")),
    Choice(StructureType.OTHER, "其他", N_("Other"), ("other",)),
)
PANEL_CLASS_CHOICES = (
    Choice(PanelCoreClass.A, "A", N_("A (non-combustible)"), ("a级", "不燃")),
    Choice(PanelCoreClass.B1, "B1", N_("B1 (flame-retardant)"), ("b1级", "难燃")),
    Choice(PanelCoreClass.B2, "B2", N_("B2 (combustible)"), ("b2级", "可燃")),
    Choice(PanelCoreClass.B3, "B3", N_("B3 (flammable)"), ("b3级", "易燃")),
)
RATING_CHOICES = tuple(Choice(r, r.value, r.value, (f"{r.value}级",)) for r in BuildingRating)
FIRE_ACCEPTANCE_CHOICES = (
    Choice(FireAcceptance.ACCEPTED, "验收合格", N_("Passed acceptance"), ("已验收", "合格")),
    Choice(FireAcceptance.FILED, "已备案", N_("Filed"), ("备案",)),
    Choice(FireAcceptance.NOT_DONE, "未办理", N_("Not done"), ("未验收", "无")),
    Choice(FireAcceptance.NOT_REQUIRED, "不需要", N_("Not required"), ("无需",)),
)
GAS_CHOICES = (
    Choice(GasUse.NONE, "不使用", N_("No gas"), ("无", "不用", "none")),
    Choice(GasUse.PIPELINE, "管道燃气", N_("Pipeline gas"), ("管道", "管道天然气", "天然气")),
    Choice(GasUse.BOTTLED, "瓶装液化气", N_("Bottled LPG"), ("瓶装", "液化气", "瓶装液化石油气")),
    Choice(GasUse.BOTH, "管道和瓶装", N_("Pipeline and bottled"), ("两者", "both")),
)
EQUIPMENT_CHOICES = (
    Choice(EquipmentKind.ELEVATOR, "电梯", N_("Elevator"), ("乘客电梯", "货梯", "自动扶梯")),
    Choice(EquipmentKind.BOILER, "锅炉", N_("Boiler")),
    Choice(EquipmentKind.PRESSURE_VESSEL, "压力容器", N_("Pressure vessel or cylinder"), ("气瓶",)),
    Choice(EquipmentKind.PRESSURE_PIPING, "压力管道", N_("Pressure piping")),
    Choice(EquipmentKind.LIFTING, "起重机械", N_("Lifting machinery")),
    Choice(
        EquipmentKind.FIELD_VEHICLE,
        "场（厂）内专用机动车辆",
        N_("Site vehicle"),
        ("场内专用机动车辆", "厂内专用机动车辆", "叉车"),
    ),
    Choice(EquipmentKind.OTHER, "其他", N_("Other"), ("other",)),
)

# ---------------------------------------------------------------- the fields

IDENTITY, LOCATION, FILING, CAPACITY, BUILDING, FIRE, LICENCES, OTHER = (
    N_("Identity"),
    N_("Location"),
    N_("Filing"),
    N_("Capacity"),
    N_("Building"),
    N_("Fire safety"),
    N_("Licences"),
    N_("Equipment, gas and status"),
)
GROUPS = (IDENTITY, LOCATION, FILING, CAPACITY, BUILDING, FIRE, LICENCES, OTHER)

TEXT_MAX_NAME = 200
NAME_MIN = 2


def _f(name: str, label: str, header: str, kind: Kind, group: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, header, kind, group, **kw)


FIELDS: tuple[FieldSpec, ...] = (
    # ---- identity
    _f("name", N_("Name"), "机构名称", Kind.TEXT, IDENTITY, max_length=TEXT_MAX_NAME,
       aliases=("名称", "单位名称", "facility")),
    _f("credit_code", N_("Unified social credit code"), "统一社会信用代码", Kind.CREDIT_CODE,
       IDENTITY, aliases=("信用代码", "社会信用代码", "uscc", "credit code"),
       hint=N_("18 characters, as on the registration certificate.")),
    _f("facility_type", N_("Facility type"), "机构类型", Kind.FACILITY_TYPE, IDENTITY,
       aliases=("类型", "type")),
    _f("legal_form", N_("Legal form"), "法人类型", Kind.CHOICE, IDENTITY,
       choices=LEGAL_FORM_CHOICES, aliases=("登记类型", "单位性质")),
    _f("for_profit", N_("Profit status"), "营利性质", Kind.CHOICE, IDENTITY,
       choices=PROFIT_CHOICES, aliases=("是否营利",)),
    _f("ownership", N_("Ownership"), "举办性质", Kind.CHOICE, IDENTITY,
       choices=OWNERSHIP_CHOICES, aliases=("运营模式", "经营性质", "ownership model")),
    _f("legal_rep", N_("Legal representative"), "法定代表人", Kind.TEXT, IDENTITY,
       max_length=50, aliases=("法人代表", "legal rep")),
    _f("principal", N_("Principal"), "主要负责人", Kind.TEXT, IDENTITY, max_length=50,
       aliases=("负责人",)),
    _f("contact_name", N_("Contact person"), "联系人", Kind.TEXT, IDENTITY, max_length=50),
    _f("contact_phone", N_("Contact phone"), "联系电话", Kind.PHONE, IDENTITY, max_length=40,
       aliases=("电话", "手机", "phone")),
    # ---- location
    _f("address", N_("Address"), "地址", Kind.TEXT, LOCATION, max_length=300,
       aliases=("住所", "详细地址")),
    _f("division", N_("Division"), "所属镇（街道、园区）", Kind.DIVISION, LOCATION,
       aliases=("所属镇街", "镇街", "镇（街道）", "所属区镇", "区镇", "属地")),
    _f("management_area", N_("Management area"), "管理区", Kind.TEXT, LOCATION, max_length=60,
       aliases=("所属园区", "功能区", "management area")),
    _f("latitude", N_("Latitude"), "纬度", Kind.FLOAT, LOCATION, minimum=-90, maximum=90,
       aliases=("lat",)),
    _f("longitude", N_("Longitude"), "经度", Kind.FLOAT, LOCATION, minimum=-180, maximum=180,
       aliases=("lng", "lon")),
    # ---- filing
    _f("filing_no", N_("Filing receipt number"), "备案回执编号", Kind.TEXT, FILING,
       max_length=60, aliases=("备案号", "备案编号", "filing receipt no")),
    _f("filing_date", N_("Filing date"), "备案日期", Kind.DATE, FILING),
    _f("tenure", N_("Premises tenure"), "场所权属", Kind.CHOICE, FILING, choices=TENURE_CHOICES,
       aliases=("服务场所权属", "premises tenure")),
    _f("lease_end", N_("Lease ends"), "租赁到期日", Kind.DATE, FILING,
       aliases=("租期截止", "lease end")),
    _f("rating_level", N_("Rating level (1–5)"), "等级评定", Kind.INT, FILING, minimum=1,
       maximum=5, aliases=("星级", "等级", "rating level")),
    # ---- capacity
    _f("beds_total", N_("Beds"), "床位数", Kind.INT, CAPACITY, minimum=0, maximum=100_000,
       aliases=("养老床位数量", "养老床位数", "床位总数", "beds total")),
    _f("beds_nursing", N_("Nursing beds"), "护理型床位数", Kind.INT, CAPACITY, minimum=0,
       maximum=100_000, aliases=("护理床位数", "beds nursing")),
    _f("residents_current", N_("Residents"), "在院人数", Kind.INT, CAPACITY, minimum=0,
       maximum=100_000, aliases=("入住人数", "在住人数", "residents current")),
    _f("residents_disabled", N_("Residents with disabilities"), "失能半失能人数", Kind.INT,
       CAPACITY, minimum=0, maximum=100_000, aliases=("失能人数", "residents disabled")),
    _f("staff_count", N_("Staff"), "工作人员数", Kind.INT, CAPACITY, minimum=0,
       maximum=100_000, aliases=("员工人数", "职工人数", "staff count")),
    _f("night_staff_count", N_("Night staff"), "夜间值班人数", Kind.INT, CAPACITY, minimum=0,
       maximum=100_000, aliases=("夜班人数", "night staff count")),
    # ---- building
    _f("floor_area_m2", N_("Floor area (m²)"), "建筑面积（平方米）", Kind.FLOAT, BUILDING,
       minimum=0, maximum=10_000_000, aliases=("建筑面积", "服务设施面积", "floor area m2")),
    _f("building_height_m", N_("Building height (m)"), "建筑高度（米）", Kind.FLOAT, BUILDING,
       minimum=0, maximum=1000, aliases=("建筑高度", "building height m")),
    _f("floors_above", N_("Floors above ground"), "地上层数", Kind.INT, BUILDING, minimum=1,
       maximum=200),
    _f("floors_below", N_("Floors below ground"), "地下层数", Kind.INT, BUILDING, minimum=0,
       maximum=20),
    _f("resident_floors", N_("Floors used by residents"), "老年人（服务对象）居住楼层",
       Kind.FLOORS, BUILDING, max_length=100,
       aliases=("居住楼层", "老年人居住楼层", "elderly rooms floor levels"),
       hint=N_("For example 1-3,5; basements as -1 or B1.")),
    _f("structure_type", N_("Structure"), "建筑结构", Kind.CHOICE, BUILDING,
       choices=STRUCTURE_CHOICES, aliases=("结构类型", "structure type")),
    _f("has_colour_steel_panels", N_("Colour-steel sandwich panels"), "是否有彩钢板",
       Kind.BOOL, BUILDING, choices=BOOL_CHOICES,
       aliases=("彩钢板", "彩钢夹芯板", "has colour steel panels")),
    _f("panel_core_class", N_("Panel core class"), "彩钢板芯材燃烧性能", Kind.CHOICE, BUILDING,
       choices=PANEL_CLASS_CHOICES, aliases=("芯材燃烧性能", "芯材等级", "panel core class")),
    _f("dangerous_building_rating", N_("Dangerous-building rating"), "房屋安全鉴定等级",
       Kind.CHOICE, BUILDING, choices=RATING_CHOICES,
       aliases=("危房鉴定等级", "房屋鉴定等级", "dangerous building rating")),
    # ---- fire
    _f("fire_acceptance", N_("Fire acceptance"), "消防验收（备案）", Kind.CHOICE, FIRE,
       choices=FIRE_ACCEPTANCE_CHOICES,
       aliases=("消防验收", "消防验收情况", "fire acceptance status")),
    _f("has_sprinklers", N_("Sprinklers"), "自动喷水灭火系统", Kind.BOOL, FIRE,
       choices=BOOL_CHOICES, aliases=("喷淋", "是否有喷淋", "has sprinkler")),
    _f("has_auto_alarm", N_("Automatic fire alarm"), "火灾自动报警系统", Kind.BOOL, FIRE,
       choices=BOOL_CHOICES, aliases=("自动报警", "烟感报警", "has auto alarm")),
    _f("has_fire_control_room", N_("Fire control room"), "消防控制室", Kind.BOOL, FIRE,
       choices=BOOL_CHOICES, aliases=("是否有消防控制室", "has fire control room")),
    _f("control_room_operator_certified", N_("Control-room operators certified"),
       "消防控制室值班人员持证", Kind.BOOL, FIRE, choices=BOOL_CHOICES,
       aliases=("值班人员持证", "control room operator certified")),
    # ---- licences
    _f("medical_licence", N_("Medical licence or filing number"), "医疗机构执业许可证或备案号",
       Kind.TEXT, LICENCES, max_length=60,
       aliases=("医疗许可", "医疗机构执业许可证", "medical unit licence or filing")),
    _f("canteen_licence", N_("Canteen food licence number"), "食品经营许可证号", Kind.TEXT,
       LICENCES, max_length=60, aliases=("食堂许可证", "食品经营许可证", "canteen food licence no")),
    # ---- equipment, gas, status
    _f("equipment", N_("Special equipment"), "特种设备", Kind.EQUIPMENT, OTHER,
       aliases=("special equipment",),
       hint=N_("One piece a line or separated by ';': kind|quantity|registration number|next "
               "inspection date, e.g. 电梯|2|梯11320582001|2027-03-31.")),
    _f("gas_use", N_("Gas use"), "燃气使用", Kind.CHOICE, OTHER, choices=GAS_CHOICES,
       aliases=("用气情况", "燃气")),
    _f("status", N_("Status"), "运营状态", Kind.CHOICE, OTHER, choices=STATUS_CHOICES,
       aliases=("状态",)),
    _f("key_supervision", N_("Key supervision"), "重点监管", Kind.BOOL, OTHER,
       choices=BOOL_CHOICES, aliases=("是否重点监管", "key supervision")),
)  # fmt: skip

BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}

#: Fields stored as columns of ``facilities`` (everything but the resolved and child ones).
COLUMN_FIELDS = tuple(
    f.name for f in FIELDS if f.kind not in {Kind.DIVISION, Kind.FACILITY_TYPE, Kind.EQUIPMENT}
)

#: Largest number of pieces of special equipment recorded for one facility.
EQUIPMENT_MAX = 50
EQUIPMENT_QUANTITY_MAX = 999
REGISTRATION_MAX = 60


# ---------------------------------------------------------------- headers


def normalise_header(text: str) -> str:
    """Header text compared without case, width, spaces, underscores, a required-field
    asterisk or brackets: "联系电话*", "Contact phone", "contact_phone" all match."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("_", " ").replace("*", "")
    return "".join(ch for ch in text if not ch.isspace() and ch not in "()[]（）【】")


def _header_map() -> dict[str, str]:
    found: dict[str, str] = {}
    for spec in FIELDS:
        for header in (spec.header_zh, spec.name, spec.label, *spec.aliases):
            key = normalise_header(header)
            if key in found and found[key] != spec.name:
                raise RuntimeError(f"header {header!r} names two fields")
            found[key] = spec.name
    return found


HEADERS = _header_map()


def field_for_header(text: str) -> str | None:
    return HEADERS.get(normalise_header(text))


# ---------------------------------------------------------------- reading cells

_FORMULA_START = ("=", "+", "-", "@")
_EXPORT_PREFIX = "'"
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-/,;、转#，；]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def unquote(text: str) -> str:
    """Take off the apostrophe our export puts before a formula-like text."""
    if text.startswith(_EXPORT_PREFIX) and text[1:2] in _FORMULA_START:
        return text[1:]
    return text


def cell_text(raw: object) -> str:
    """A cell as trimmed text (an empty cell is ""). Numbers from a spreadsheet come as text
    without a trailing ".0"."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return YES.zh if raw else NO.zh
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time(0) else raw.isoformat(" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return unquote(str(raw).strip()).strip()


def _clean_text(text: str, spec: FieldSpec) -> str:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if "\n" in text and spec.name in {"name", "credit_code", "contact_phone"}:
        raise FieldError(N_("Write this on one line."))
    text = " ".join(text.split())
    if spec.max_length and len(text) > spec.max_length:
        raise FieldError(N_("At most %(max)s characters."), max=spec.max_length)
    return text


def _refuse_formula(text: str) -> None:
    if text.startswith(_FORMULA_START):
        raise FieldError(
            N_(
                "The value starts with %(char)s and would run as a spreadsheet formula; "
                "it was not taken. Remove the leading character."
            ),
            char=text[0],
        )


def _choice(spec: FieldSpec, text: str) -> Any:
    key = normalise_header(text)
    for choice in spec.choices:
        spellings = (choice.zh, choice.en, str(choice.value), *choice.aliases)
        if key in {normalise_header(s) for s in spellings}:
            return choice.value
    raise FieldError(
        N_("Not one of the values allowed here: %(allowed)s."),
        allowed="、".join(c.zh for c in spec.choices),
    )


def _number(text: str, raw: object) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    else:
        cleaned = unicodedata.normalize("NFKC", text).replace(" ", "")
        if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", cleaned):
            cleaned = cleaned.replace(",", "")
        if not re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)", cleaned):
            raise FieldError(N_("Write a number."))
        value = float(cleaned)
    if not math.isfinite(value):
        raise FieldError(N_("Write a number."))
    return value


def _in_range(spec: FieldSpec, value: float) -> None:
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise FieldError(N_("Must be from %(min)s to %(max)s."), min=_plain(low), max=_plain(high))


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


_DATE_FORMATS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


def _date_from_text(text: str) -> dt.date:
    cleaned = unicodedata.normalize("NFKC", text).strip()
    for pattern in _DATE_FORMATS:
        match = pattern.match(cleaned)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                raise FieldError(N_("There is no such date.")) from None
    raise FieldError(N_("Write a date as 2026-03-31."))


def parse_date(text: str, raw: object = None) -> dt.date:
    if isinstance(raw, dt.datetime):
        value = raw.date()
    elif isinstance(raw, dt.date):
        value = raw
    else:
        value = _date_from_text(text)
    if not DATE_MIN <= value <= DATE_MAX:
        raise FieldError(N_("The date is out of range."))
    return value


_FLOOR_SPLIT = re.compile(r"[,，、;；\s]+")
_FLOOR_RANGE = re.compile(r"^(-?\d+|b\d+)(?:~|～|至|到|—|–|-)(-?\d+|b\d+)$")
FLOOR_MIN, FLOOR_MAX = -20, 200


def _floor(token: str) -> int:
    if len(token) > 6:  # out of range anyway; int() refuses past 4300 digits (tests/hostile)
        raise FieldError(
            N_("Floors run from %(min)s to %(max)s, without 0."), min=FLOOR_MIN, max=FLOOR_MAX
        )
    if token.startswith("b"):
        return -int(token[1:])
    return int(token)


def parse_floors(text: str) -> str:
    """ "1-3、5", "B1,1～2" → "-1,1,2" style: sorted, without repeats, comma-separated."""
    cleaned = unicodedata.normalize("NFKC", text).casefold().replace("层", "").replace("f", "")
    floors: set[int] = set()
    for token in _FLOOR_SPLIT.split(cleaned.strip()):
        if not token:
            continue
        if re.fullmatch(r"-?\d+|b\d+", token):
            floors.add(_floor(token))
            continue
        match = _FLOOR_RANGE.match(token)
        if not match:
            raise FieldError(N_("Write floors as 1-3,5 (basements as -1 or B1)."))
        low, high = sorted((_floor(match.group(1)), _floor(match.group(2))))
        if high - low > FLOOR_MAX - FLOOR_MIN:
            raise FieldError(N_("Write floors as 1-3,5 (basements as -1 or B1)."))
        floors.update(range(low, high + 1))
    if 0 in floors or any(not FLOOR_MIN <= f <= FLOOR_MAX for f in floors):
        raise FieldError(
            N_("Floors run from %(min)s to %(max)s, without 0."), min=FLOOR_MIN, max=FLOOR_MAX
        )
    result = ",".join(str(f) for f in sorted(floors))
    if len(result) > BY_NAME["resident_floors"].max_length:
        raise FieldError(N_("Too many floors."))
    return result


@dataclass(frozen=True)
class EquipmentItem:
    kind: EquipmentKind
    quantity: int = 1
    registration_no: str = ""
    next_inspection_on: dt.date | None = None


_EQUIPMENT_ITEM_SPLIT = re.compile(r"[;；\n]+")
_EQUIPMENT_PART_SPLIT = re.compile(r"[|｜]")
_REGISTRATION = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff()（）/\-.]*$")


_EQUIPMENT_KIND = FieldSpec(
    "equipment_kind", N_("Kind"), "设备类型", Kind.CHOICE, OTHER, choices=EQUIPMENT_CHOICES
)


def parse_equipment(text: str) -> tuple[EquipmentItem, ...]:
    """ "电梯|2|梯11320582001|2027-03-31; 锅炉" → items. An empty text is an empty list."""
    items = []
    for raw_part in _EQUIPMENT_ITEM_SPLIT.split(text):
        part = raw_part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in _EQUIPMENT_PART_SPLIT.split(part)]
        if len(pieces) > 4:
            raise FieldError(
                N_("Write each piece as kind|quantity|registration number|next inspection date.")
            )
        pieces += [""] * (4 - len(pieces))
        kind_text, quantity_text, registration, date_text = pieces
        try:
            kind = EquipmentKind(_choice(_EQUIPMENT_KIND, kind_text))
        except FieldError:
            raise FieldError(
                N_("Unknown kind of special equipment: %(kind)s."), kind=kind_text[:30]
            ) from None
        quantity = 1
        if quantity_text:
            number = _number(quantity_text, None)
            if not number.is_integer() or not 1 <= number <= EQUIPMENT_QUANTITY_MAX:
                raise FieldError(
                    N_("The quantity of a piece of equipment is 1 to %(max)s."),
                    max=EQUIPMENT_QUANTITY_MAX,
                )
            quantity = int(number)
        check_registration(registration)
        inspection = parse_date(date_text) if date_text else None
        items.append(EquipmentItem(kind, quantity, registration, inspection))
    if len(items) > EQUIPMENT_MAX:
        raise FieldError(N_("At most %(max)s pieces of equipment."), max=EQUIPMENT_MAX)
    return tuple(items)


def check_registration(registration: str) -> None:
    """A registration number (使用登记证号): letters, digits, Chinese characters, brackets,
    "/", "-" and "."; not starting with a formula character."""
    if len(registration) > REGISTRATION_MAX or not _REGISTRATION.match(registration):
        raise FieldError(N_("Write the registration number with letters, digits and - / . only."))
    _refuse_formula(registration)


class FormulaCell(str):
    """A spreadsheet cell that holds a formula (its text), as the Excel reader hands it over."""

    __slots__ = ()


def _parse_text(spec: FieldSpec, text: str, _raw: object) -> str:
    text = _clean_text(text, spec)
    _refuse_formula(text)
    if spec.name == "name" and len(text) < NAME_MIN:
        raise FieldError(N_("At least %(min)s characters."), min=NAME_MIN)
    return text


def _parse_phone(spec: FieldSpec, text: str, _raw: object) -> str:
    text = _clean_text(text, spec)
    if not _PHONE.match(text):
        _refuse_formula(text)
        raise FieldError(N_("Write a telephone number (digits, spaces, +, - and brackets)."))
    return text


def _parse_credit_code(_spec: FieldSpec, text: str, _raw: object) -> str:
    try:
        return credit_code.parse(text)
    except credit_code.CreditCodeError as exc:
        raise FieldError(exc.message, **exc.params) from None


def _parse_int(spec: FieldSpec, text: str, raw: object) -> int:
    value = _number(text, raw)
    if not value.is_integer():
        raise FieldError(N_("Write a whole number."))
    _in_range(spec, value)
    return int(value)


def _parse_float(spec: FieldSpec, text: str, raw: object) -> float:
    value = _number(text, raw)
    _in_range(spec, value)
    return value


_PARSERS: dict[Kind, Callable[[FieldSpec, str, object], Any]] = {
    Kind.TEXT: _parse_text,
    Kind.DIVISION: _parse_text,
    Kind.FACILITY_TYPE: _parse_text,
    Kind.PHONE: _parse_phone,
    Kind.CREDIT_CODE: _parse_credit_code,
    Kind.BOOL: lambda spec, text, _raw: _choice(spec, text),
    Kind.CHOICE: lambda spec, text, _raw: _choice(spec, text),
    Kind.INT: _parse_int,
    Kind.FLOAT: _parse_float,
    Kind.DATE: lambda _spec, text, raw: parse_date(text, raw),
    Kind.FLOORS: lambda _spec, text, _raw: parse_floors(text) or None,
    Kind.EQUIPMENT: lambda _spec, text, _raw: parse_equipment(text),
}


def parse_cell(spec: FieldSpec, raw: object) -> Any:
    """The value of one cell for ``spec``; ``None`` for an empty cell. Raises FieldError."""
    if isinstance(raw, FormulaCell):
        raise FieldError(N_("The cell holds a formula; it was not taken. Enter the value itself."))
    if spec.kind in {Kind.BOOL, Kind.CHOICE} and not isinstance(raw, str) and raw is not None:
        # A stored value (True, an enum member) rather than a spreadsheet word.
        for choice in spec.choices:
            if type(raw) is type(choice.value) and raw == choice.value:
                return choice.value
    text = cell_text(raw)
    if not text:
        return None
    if text[0] in "=@":
        _refuse_formula(text)
    return _PARSERS[spec.kind](spec, text, raw)


# ---------------------------------------------------------------- writing values


def format_value(spec: FieldSpec, value: Any) -> str:
    """The value as a spreadsheet (and the edit history) writes it; "" for no value."""
    if value is None or value == "":
        return ""
    if spec.kind in {Kind.BOOL, Kind.CHOICE}:
        choice = spec.choice_for(value)
        return choice.zh if choice else str(value)
    if spec.kind is Kind.FLOAT:
        return _plain(float(value))
    if spec.kind is Kind.DATE:
        return str(value.isoformat())
    if spec.kind is Kind.EQUIPMENT:
        return format_equipment(value)
    return str(value)


def format_equipment(items: Iterable[EquipmentItem]) -> str:
    parts = []
    for item in items:
        choice = next(c for c in EQUIPMENT_CHOICES if c.value == item.kind)
        pieces = [
            choice.zh,
            str(item.quantity),
            item.registration_no,
            item.next_inspection_on.isoformat() if item.next_inspection_on else "",
        ]
        while pieces and not pieces[-1]:
            pieces.pop()
        if pieces[1:] == ["1"]:
            pieces = pieces[:1]
        parts.append("|".join(pieces))
    return "; ".join(parts)


def neutralise(text: str) -> str:
    """For an export: a text a spreadsheet would run as a formula gets a leading apostrophe."""
    if text.startswith((*_FORMULA_START, "\t", "\r")):
        return _EXPORT_PREFIX + text
    return text
