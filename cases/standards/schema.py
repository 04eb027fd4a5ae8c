"""The catalogue file format (shipped ``data/standards.json`` and administrator uploads).

One format for both, so that an administrator adds a version of a standard without code::

    {
      "format": "qingling-standards/1",
      "version": "2025-11-01.1",              # 1-40 characters, recorded on each row
      "standards": [
        {
          "code": "GB 35181-2017", "title": "…", "domain": "fire",   # a tip category
          "issuer": "…", "status": "current" | "superseded",
          "published_on": "YYYY-MM-DD" | null, "effective_on": …, "superseded_on": …,
          "superseded_by": "GB 35181-2025" | null,
          "verification": "verified" | "partial" | "unverified",
          "gaps": "what is missing", "note": "…", "sources": ["…"],
          "uncorrectable_clause": "5.1",   # only hazards not correctable at once count ("" none)
          "composite_rules": [
            {"clause": "5.3", "place_classes": ["crowded"], "counted": ["<item code>", …] | "*",
             "min_count": 3, "verification": "partial", "doubtful": ["<item code>"],
             "note": "…"}
          ],
          "items": [
            {"code": "GB 35181-2017/7.3.1", "kind": "direct|composite|exclusion|other",
             "clause": "7.3.1", "group": "…", "text": "…", "summary_en": "…",
             "verification": "…", "source": "…", "place_classes": []}
          ]
        }
      ]
    }

:func:`parse` checks everything that can be checked without the database and returns frozen
values; every problem found is reported (not only the first), each naming the standard and item
it concerns, as ``(where, msgid, params)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cases.standards.errors import InvalidStandardFile
from cases.standards.models import (
    CODE_MAX,
    ITEM_CODE_MAX,
    ItemKind,
    StandardStatus,
    Verification,
)
from core.errors import N_
from intake.models import TipCategory

FORMAT = "qingling-standards/1"
VERSION_MAX = 40
TITLE_MAX = 200
CLAUSE_MAX = 100
GROUP_MAX = 200
ISSUER_MAX = 200
TEXT_MAX = 4000
NOTE_MAX = 8000
SOURCES_MAX = 50
ITEMS_MAX = 2000
STANDARDS_MAX = 200
#: Largest file accepted, in bytes.
FILE_MAX = 4 * 1024 * 1024
#: "counted" value meaning: every composite item of the standard.
ALL_COMPOSITE = "*"

#: Classes of place of the GB 35181 composite rule (values stored in rules and on cases).
PLACE_CLASS_VALUES = ("crowded", "flammable", "important", "other")

Problem = tuple[str, str, dict[str, object]]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def normalise_code(value: str) -> str:
    """NFKC (full-width brackets and digits from Chinese input become ASCII), trimmed, inner
    white space runs squeezed to one space."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


@dataclass(frozen=True)
class RuleData:
    clause: str
    place_classes: tuple[str, ...]
    counted: tuple[str, ...] | None  # None: every composite item of the standard
    min_count: int
    verification: Verification
    doubtful: tuple[str, ...]
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "clause": self.clause,
            "place_classes": list(self.place_classes),
            "counted": ALL_COMPOSITE if self.counted is None else list(self.counted),
            "min_count": self.min_count,
            "verification": self.verification.value,
            "doubtful": list(self.doubtful),
            "note": self.note,
        }


@dataclass(frozen=True)
class ItemData:
    code: str
    kind: ItemKind
    clause: str
    group: str
    text: str
    summary_en: str
    verification: Verification
    source: str
    place_classes: tuple[str, ...]


@dataclass(frozen=True)
class StandardData:
    code: str
    title: str
    domain: str
    issuer: str
    status: StandardStatus
    published_on: dt.date | None
    effective_on: dt.date | None
    superseded_on: dt.date | None
    superseded_by: str | None
    verification: Verification
    gaps: str
    note: str
    sources: tuple[str, ...]
    composite_rules: tuple[RuleData, ...]
    uncorrectable_clause: str
    items: tuple[ItemData, ...]


@dataclass(frozen=True)
class CatalogueData:
    version: str
    standards: tuple[StandardData, ...]


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, **params: object) -> None:
        self.problems.append((where, message, params))

    def text(
        self,
        where: str,
        obj: Mapping[str, Any],
        key: str,
        *,
        max_len: int,
        required: bool = True,
    ) -> str:
        value = obj.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            self.add(where, N_("“%(field)s” must be text."), field=key)
            return ""
        value = value.strip()
        if required and not value:
            self.add(where, N_("“%(field)s” must not be empty."), field=key)
        elif len(value) > max_len:
            self.add(
                where, N_("“%(field)s” is longer than %(max)s characters."), field=key, max=max_len
            )
        elif any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
            self.add(where, N_("“%(field)s” contains control characters."), field=key)
        return value

    def choice(
        self, where: str, obj: Mapping[str, Any], key: str, allowed: tuple[str, ...]
    ) -> str | None:
        value = obj.get(key)
        if value not in allowed:
            self.add(
                where,
                N_("“%(field)s” is “%(value)s”; use one of: %(allowed)s."),
                field=key,
                value=str(value),
                allowed=", ".join(allowed),
            )
            return None
        return str(value)

    def date(self, where: str, obj: Mapping[str, Any], key: str) -> dt.date | None:
        value = obj.get(key)
        if value is None:
            return None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            with contextlib.suppress(ValueError):  # 2025-02-30: reported below
                return dt.date.fromisoformat(value)
        self.add(where, N_("“%(field)s” must be a date written YYYY-MM-DD, or null."), field=key)
        return None

    def strings(self, where: str, obj: Mapping[str, Any], key: str, max_items: int) -> list[str]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(where, N_("“%(field)s” must be a list of texts."), field=key)
            return []
        if len(value) > max_items:
            self.add(
                where, N_("“%(field)s” has more than %(max)s entries."), field=key, max=max_items
            )
        return [v.strip() for v in value if v.strip()]


def _values(cls: type[Any]) -> tuple[str, ...]:
    return tuple(member.value for member in cls)


def _code(check: _Checker, where: str, obj: Mapping[str, Any], max_len: int) -> str:
    raw = check.text(where, obj, "code", max_len=max_len)
    code = normalise_code(raw)
    if raw and code != raw:
        check.add(
            where,
            N_("The code “%(value)s” is not in normal form; write it as “%(normal)s”."),
            value=raw,
            normal=code,
        )
    return code


def _item(check: _Checker, where: str, raw: object, standard_code: str) -> ItemData | None:
    if not isinstance(raw, dict):
        check.add(where, N_("An item must be a JSON object."))
        return None
    code = _code(check, where, raw, ITEM_CODE_MAX)
    if code:
        where = f"{where} {code}"
    if code and standard_code and not code.startswith(f"{standard_code}/"):
        check.add(
            where,
            N_("The item code must begin with the standard's code and a slash (“%(prefix)s”)."),
            prefix=f"{standard_code}/",
        )
    kind = check.choice(where, raw, "kind", _values(ItemKind))
    verification = check.choice(where, raw, "verification", _values(Verification))
    places = check.strings(where, raw, "place_classes", len(PLACE_CLASS_VALUES))
    for place in places:
        if place not in PLACE_CLASS_VALUES:
            check.add(
                where,
                N_("Unknown class of place “%(value)s”; use one of: %(allowed)s."),
                value=place,
                allowed=", ".join(PLACE_CLASS_VALUES),
            )
    item = ItemData(
        code=code,
        kind=ItemKind(kind) if kind else ItemKind.OTHER,
        clause=check.text(where, raw, "clause", max_len=CLAUSE_MAX),
        group=check.text(where, raw, "group", max_len=GROUP_MAX, required=False),
        text=check.text(where, raw, "text", max_len=TEXT_MAX),
        summary_en=check.text(where, raw, "summary_en", max_len=TEXT_MAX, required=False),
        verification=Verification(verification) if verification else Verification.UNVERIFIED,
        source=check.text(where, raw, "source", max_len=TEXT_MAX, required=False),
        place_classes=tuple(dict.fromkeys(places)),
    )
    return item


def _rule(check: _Checker, where: str, raw: object, composite_codes: set[str]) -> RuleData | None:
    if not isinstance(raw, dict):
        check.add(where, N_("A composite rule must be a JSON object."))
        return None
    places = check.strings(where, raw, "place_classes", len(PLACE_CLASS_VALUES))
    if not places:
        check.add(where, N_("A composite rule names at least one class of place."))
    for place in places:
        if place not in PLACE_CLASS_VALUES:
            check.add(
                where,
                N_("Unknown class of place “%(value)s”; use one of: %(allowed)s."),
                value=place,
                allowed=", ".join(PLACE_CLASS_VALUES),
            )
    counted: tuple[str, ...] | None = None
    raw_counted = raw.get("counted")
    if raw_counted != ALL_COMPOSITE:
        codes = check.strings(where, raw, "counted", ITEMS_MAX)
        if not codes:
            check.add(where, N_("“counted” must be “*” or a list of composite item codes."))
        for code in codes:
            if code not in composite_codes:
                check.add(
                    where,
                    N_("“%(value)s” is counted but is not a composite item of this standard."),
                    value=code,
                )
        counted = tuple(dict.fromkeys(codes))
    doubtful = check.strings(where, raw, "doubtful", ITEMS_MAX)
    for code in doubtful:
        if code not in (composite_codes if counted is None else set(counted)):
            check.add(where, N_("“%(value)s” is marked doubtful but is not counted."), value=code)
    min_count = raw.get("min_count")
    if not isinstance(min_count, int) or isinstance(min_count, bool) or not 1 <= min_count <= 100:
        check.add(where, N_("“min_count” must be a whole number from 1 to 100."))
        min_count = 1
    verification = check.choice(where, raw, "verification", _values(Verification))
    return RuleData(
        clause=check.text(where, raw, "clause", max_len=CLAUSE_MAX),
        place_classes=tuple(dict.fromkeys(places)),
        counted=counted,
        min_count=min_count,
        verification=Verification(verification) if verification else Verification.UNVERIFIED,
        doubtful=tuple(dict.fromkeys(doubtful)),
        note=check.text(where, raw, "note", max_len=NOTE_MAX, required=False),
    )


def _succession(
    check: _Checker, where: str, raw: Mapping[str, Any], code: str, status: str | None
) -> tuple[dt.date | None, str | None]:
    superseded_on = check.date(where, raw, "superseded_on")
    superseded_by = None
    if raw.get("superseded_by") is not None:
        superseded_by = normalise_code(check.text(where, raw, "superseded_by", max_len=CODE_MAX))
        superseded_by = superseded_by or None
    if status == StandardStatus.SUPERSEDED and superseded_on is None:
        check.add(where, N_("A superseded standard needs “superseded_on”."))
    if status == StandardStatus.CURRENT and (superseded_on or superseded_by):
        check.add(where, N_("A current standard cannot have “superseded_on” or “superseded_by”."))
    if superseded_by is not None and superseded_by == code:
        check.add(where, N_("A standard cannot supersede itself."))
    return superseded_on, superseded_by


def _items(check: _Checker, where: str, raw: Mapping[str, Any], code: str) -> list[ItemData]:
    raw_items = raw.get("items", [])
    items: list[ItemData] = []
    if not isinstance(raw_items, list):
        check.add(where, N_("“items” must be a list."))
    elif len(raw_items) > ITEMS_MAX:
        check.add(where, N_("“items” has more than %(max)s entries."), max=ITEMS_MAX)
    else:
        for pos, raw_item in enumerate(raw_items):
            item = _item(check, f"{where} / items[{pos + 1}]", raw_item, code)
            if item is not None:
                items.append(item)
    return items


def _standard(check: _Checker, index: int, raw: object) -> StandardData | None:
    where = f"standards[{index + 1}]"
    if not isinstance(raw, dict):
        check.add(where, N_("A standard must be a JSON object."))
        return None
    code = _code(check, where, raw, CODE_MAX)
    if code:
        where = f"{where} {code}"
    status = check.choice(where, raw, "status", _values(StandardStatus))
    domain = check.choice(where, raw, "domain", _values(TipCategory))
    verification = check.choice(where, raw, "verification", _values(Verification))
    superseded_on, superseded_by = _succession(check, where, raw, code, status)
    items = _items(check, where, raw, code)
    composite_codes = {i.code for i in items if i.kind is ItemKind.COMPOSITE}
    raw_rules = raw.get("composite_rules", [])
    rules: list[RuleData] = []
    if not isinstance(raw_rules, list):
        check.add(where, N_("“composite_rules” must be a list."))
    else:
        for pos, raw_rule in enumerate(raw_rules):
            rule = _rule(check, f"{where} / composite_rules[{pos + 1}]", raw_rule, composite_codes)
            if rule is not None:
                rules.append(rule)
    return StandardData(
        code=code,
        title=check.text(where, raw, "title", max_len=TITLE_MAX),
        domain=domain or TipCategory.OTHER.value,
        issuer=check.text(where, raw, "issuer", max_len=ISSUER_MAX, required=False),
        status=StandardStatus(status) if status else StandardStatus.CURRENT,
        published_on=check.date(where, raw, "published_on"),
        effective_on=check.date(where, raw, "effective_on"),
        superseded_on=superseded_on,
        superseded_by=superseded_by,
        verification=Verification(verification) if verification else Verification.UNVERIFIED,
        gaps=check.text(where, raw, "gaps", max_len=NOTE_MAX, required=False),
        note=check.text(where, raw, "note", max_len=NOTE_MAX, required=False),
        sources=tuple(check.strings(where, raw, "sources", SOURCES_MAX)),
        composite_rules=tuple(rules),
        uncorrectable_clause=check.text(
            where, raw, "uncorrectable_clause", max_len=CLAUSE_MAX, required=False
        ),
        items=tuple(items),
    )


def _decode(data: bytes | str) -> dict[str, Any]:
    if isinstance(data, bytes):
        if len(data) > FILE_MAX:
            raise InvalidStandardFile(
                [("file", N_("The file is larger than %(max)s MB."), {"max": FILE_MAX // 2**20})]
            )
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidStandardFile([("file", N_("The file is not UTF-8 text."), {})]) from None
    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidStandardFile(
            [
                (
                    "file",
                    N_("The file is not valid JSON (line %(line)s, column %(column)s)."),
                    {"line": exc.lineno, "column": exc.colno},
                )
            ]
        ) from None
    except (RecursionError, ValueError):
        # Nesting deeper than the parser's recursion limit, or a number longer than Python
        # converts (4300 digits): a 500 before (found by tests/hostile).
        raise InvalidStandardFile(
            [("file", N_("The file is not valid JSON, or is nested too deeply."), {})]
        ) from None
    if not isinstance(raw, dict):
        raise InvalidStandardFile([("file", N_("The file must hold one JSON object."), {})])
    return raw


def _check_duplicates(check: _Checker, standards: list[StandardData]) -> None:
    seen_standards: set[str] = set()
    seen_items: set[str] = set()
    for standard in standards:
        key = standard.code.casefold()
        if standard.code and key in seen_standards:
            check.add(
                f"standards {standard.code}",
                N_("The standard code “%(value)s” appears more than once."),
                value=standard.code,
            )
        seen_standards.add(key)
        for item in standard.items:
            item_key = item.code.casefold()
            if item.code and item_key in seen_items:
                check.add(
                    f"{standard.code} / {item.code}",
                    N_("The item code “%(value)s” appears more than once."),
                    value=item.code,
                )
            seen_items.add(item_key)


def parse(data: bytes | str) -> CatalogueData:
    """The catalogue in ``data`` (UTF-8 JSON); :class:`InvalidStandardFile` listing every
    problem otherwise."""
    raw = _decode(data)
    check = _Checker()
    if raw.get("format") != FORMAT:
        check.add("file", N_("“format” must be “%(format)s”."), format=FORMAT)
    version = normalise_code(check.text("file", raw, "version", max_len=VERSION_MAX))
    raw_standards = raw.get("standards")
    standards: list[StandardData] = []
    if not isinstance(raw_standards, list) or not raw_standards:
        check.add("file", N_("“standards” must be a list with at least one standard."))
    elif len(raw_standards) > STANDARDS_MAX:
        check.add("file", N_("“standards” has more than %(max)s entries."), max=STANDARDS_MAX)
    else:
        for index, raw_standard in enumerate(raw_standards):
            standard = _standard(check, index, raw_standard)
            if standard is not None:
                standards.append(standard)
    _check_duplicates(check, standards)
    if check.problems:
        raise InvalidStandardFile(check.problems)
    return CatalogueData(version=version, standards=tuple(standards))


def as_json(data: CatalogueData) -> dict[str, Any]:
    """The catalogue as the JSON value :func:`parse` reads."""
    return {
        "format": FORMAT,
        "version": data.version,
        "standards": [
            {
                "code": s.code,
                "title": s.title,
                "domain": s.domain,
                "issuer": s.issuer,
                "status": s.status.value,
                "published_on": s.published_on.isoformat() if s.published_on else None,
                "effective_on": s.effective_on.isoformat() if s.effective_on else None,
                "superseded_on": s.superseded_on.isoformat() if s.superseded_on else None,
                "superseded_by": s.superseded_by,
                "verification": s.verification.value,
                "gaps": s.gaps,
                "note": s.note,
                "sources": list(s.sources),
                "uncorrectable_clause": s.uncorrectable_clause,
                "composite_rules": [r.as_json() for r in s.composite_rules],
                "items": [
                    {
                        "code": i.code,
                        "kind": i.kind.value,
                        "clause": i.clause,
                        "group": i.group,
                        "text": i.text,
                        "summary_en": i.summary_en,
                        "verification": i.verification.value,
                        "source": i.source,
                        "place_classes": list(i.place_classes),
                    }
                    for i in s.items
                ],
            }
            for s in data.standards
        ],
    }


def dump(data: CatalogueData) -> str:
    """The catalogue as file text."""
    return json.dumps(as_json(data), ensure_ascii=False, indent=1) + "\n"
