"""A reward rule set: its document format (format 1), the validated value and the exclusions.

A rule set is data, never code: the shipped ones are JSON files in ``rewards/rules/data/``, and
an administrator adds new versions as JSON through the staff site (kept in the
``reward_rule_sets`` table). Both go through :func:`parse_rule_set`, which reports every problem
at once, each with its JSON path, so an administrator can fix a document in one go.

Format 1, field by field (``rewards/rules/data/README.md`` has a worked example):

``format``            1.
``id``                the version's identifier, e.g. ``national-2018`` (lower-case letters,
                      digits, ``.``, ``_`` and ``-``; 2 to 64 characters). Unique, never reused.
``series``            the line of versions it belongs to, e.g. ``national``. The version of a
                      series in force on a day is the one with the latest ``effective_from`` on
                      or before that day (unless its ``effective_until`` has passed).
``title``             ``{"zh": …, "en": …}``.
``effective_from``    ``YYYY-MM-DD``, the first day it applies (Asia/Shanghai calendar).
``effective_until``   ``YYYY-MM-DD`` (the last day it applies) or ``null``.
``verification``      ``verified`` | ``partial`` | ``unverified`` (see the research notes).
``document``          where it comes from: ``doc_no`` (or null), ``title_zh``, ``issued`` (date or null),
                      ``issuers`` (list), ``sources`` (list of addresses), ``verification``.
``hazard_penalty``    a share of the administrative penalty: ``percent`` (a number or a decimal
                      string, at most two decimals, above 0 and at most 100), ``min_fen``,
                      ``max_fen`` (or ``null``: no cap), ``verification``, optional ``note``.
                      The fines on the unit and on its responsible persons are added together.
``hazard_no_penalty`` a hazard verified and rectified with no penalty: ``amount_fen`` (0 or a
                      fixed amount), ``verification`` and ``reason`` (``{"zh", "en"}``: why).
``concealed_accident`` a concealed or falsely reported accident: ``per_death_fen`` (an amount
                      for each finally confirmed grade the rule set knows: 一般, 较大, 重大,
                      特别重大), ``max_fen`` (or ``null``), ``verification``, optional ``note``.
``exclusions``        the grounds on which no reward is paid under this rule set: a list of
                      ``{"code", "verification", "basis": {"zh", "en"}}`` (codes: ``EXCLUSIONS``).
``notes``             a list of ``{"zh", "en"}`` remarks shown with the rule set.

Each of ``hazard_penalty``, ``hazard_no_penalty`` and ``concealed_accident`` may be ``null``
when the rule set has no such rule; at least one of ``hazard_penalty`` and
``concealed_accident`` must be given. Unknown fields are refused (a typo must not silently
drop a rule). Money is in integer fen everywhere; a floating-point number is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import N_
from rewards.rules.errors import Problem, RuleSetInvalid

FORMAT = 1

#: The largest amount of money (fen) a rule set may name or a calculation may handle: what a
#: signed 64-bit database column holds.
MAX_FEN = 2**63 - 1

#: The largest rule set document accepted (characters).
MAX_DOCUMENT_CHARS = 65_536

VERIFICATIONS = ("verified", "partial", "unverified")


@dataclass(frozen=True)
class Text:
    """A sentence in both languages, written out (not gettext): a quote needs both at once."""

    zh: str
    en: str


@dataclass(frozen=True)
class Grade:
    """A finally confirmed accident grade (生产安全事故等级)."""

    name: str  # the Chinese name, as used in rule sets and on the command line
    en: str


#: The accident grades of the 《生产安全事故报告和调查处理条例》, least to most severe.
GRADES: tuple[Grade, ...] = (
    Grade("一般", "ordinary"),
    Grade("较大", "relatively major"),
    Grade("重大", "major"),
    Grade("特别重大", "especially major"),
)
GRADE_NAMES = tuple(g.name for g in GRADES)


@dataclass(frozen=True)
class Exclusion:
    """A ground on which no reward is paid. Which grounds apply is up to each rule set."""

    code: str
    label: Text


#: Every exclusion a rule set may name, in the order they are checked and shown.
EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion(
        "safety_duty",
        Text(
            "举报人负有该单位安全生产管理、监管或监察职责",
            "the reporter has safety-management, supervision or inspection duties for the unit",
        ),
    ),
    Exclusion(
        "close_relative",
        Text(
            "举报人是负有上述职责人员的近亲属",
            "the reporter is a close relative of a person with such duties",
        ),
    ),
    Exclusion(
        "instigated",
        Text(
            "举报人受负有上述职责人员授意举报",
            "the reporter was put up to report by a person with such duties",
        ),
    ),
    Exclusion(
        "third_party_service",
        Text(
            "举报人是受委托的第三方服务机构人员或专家，在履职中发现该问题",
            "the reporter found the matter while working for the unit as a contracted "
            "service firm or expert",
        ),
    ),
    Exclusion(
        "already_known",
        Text(
            "举报事项已被掌握、正在调查处理",
            "the matter was already known to the regulator or under handling",
        ),
    ),
    Exclusion(
        "rectification_ordered",
        Text(
            "举报事项已被责令限期改正且仍在期限内",
            "the unit had already been ordered to rectify and the deadline had not passed",
        ),
    ),
    Exclusion(
        "self_reported",
        Text(
            "举报前单位已自查发现并报告或列入整改",
            "the unit itself had found and reported the matter (or put it under rectification) "
            "before the report",
        ),
    ),
    Exclusion(
        "media_exposed",
        Text("举报事项已被新闻媒体曝光", "the matter had already been exposed by the media"),
    ),
    Exclusion(
        "judicial",
        Text(
            "举报事项司法机关正在办理或已办结",
            "the matter is being or has been handled by a judicial authority",
        ),
    ),
)
EXCLUSION_CODES = tuple(e.code for e in EXCLUSIONS)
EXCLUSIONS_BY_CODE: Mapping[str, Exclusion] = {e.code: e for e in EXCLUSIONS}


@dataclass(frozen=True)
class Document:
    doc_no: str | None
    title_zh: str
    issued: dt.date | None
    issuers: tuple[str, ...]
    sources: tuple[str, ...]
    verification: str


@dataclass(frozen=True)
class PenaltyShareRule:
    """``percent`` of the administrative penalty, at least ``min_fen``, at most ``max_fen``."""

    percent: Decimal
    min_fen: int
    max_fen: int | None
    verification: str
    note: Text | None = None


@dataclass(frozen=True)
class NoPenaltyRule:
    """A hazard verified and rectified with no penalty: a fixed amount (possibly zero)."""

    amount_fen: int
    verification: str
    reason: Text


@dataclass(frozen=True)
class PerDeathRule:
    """A fixed amount per verified concealed death by the finally confirmed grade, capped."""

    per_death_fen: tuple[tuple[str, int], ...]  # (grade name, fen), in GRADES order
    max_fen: int | None
    verification: str
    note: Text | None = None

    def amount_for(self, grade: str) -> int | None:
        return dict(self.per_death_fen).get(grade)


@dataclass(frozen=True)
class ExclusionRule:
    code: str
    verification: str
    basis: Text


@dataclass(frozen=True)
class RuleSet:
    """One version of a reward rule set, validated. ``body`` is its canonical JSON text."""

    id: str
    series: str
    title: Text
    effective_from: dt.date
    effective_until: dt.date | None
    verification: str
    document: Document | None
    hazard_penalty: PenaltyShareRule | None
    hazard_no_penalty: NoPenaltyRule | None
    concealed_accident: PerDeathRule | None
    exclusions: tuple[ExclusionRule, ...]
    notes: tuple[Text, ...]
    body: str = field(repr=False, compare=False)

    def applies_on(self, day: dt.date) -> bool:
        """Whether ``day`` lies between the effective dates (supersession is not checked here:
        that needs the other versions of the series, see ``services``)."""
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )

    def exclusion(self, code: str) -> ExclusionRule | None:
        return next((e for e in self.exclusions if e.code == code), None)


# ---------------------------------------------------------------- parsing

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_TEXT = 1000


_MISSING: Any = object()  # a required field that is absent (already reported as "missing")


class _Reader:
    """Collects the problems of one document while its fields are read. Each reader returns
    None (``...`` for amounts, where None means "no cap") for a bad or missing value."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str, **params: Any) -> None:
        self.problems.append(Problem(path, message, params))

    def obj(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.problem(path, N_("expected an object"))
            return None
        for key in value:
            if key not in allowed:
                self.problem(_join(path, str(key)), N_("unknown field"))
        return value

    def required(self, data: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in data:
            self.problem(_join(path, key), N_("missing"))
            return _MISSING
        return data[key]

    def string(self, value: Any, path: str, *, max_chars: int = _MAX_TEXT) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, N_("expected a non-empty text"))
            return None
        if len(value) > max_chars:
            self.problem(path, N_("longer than %(max)s characters"), max=max_chars)
            return None
        return value.strip()

    def slug(self, value: Any, path: str) -> str | None:
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not _SLUG.fullmatch(value):
            self.problem(
                path,
                N_(
                    "expected 2 to 64 lower-case letters, digits, dots, underscores or "
                    "hyphens, starting and ending with a letter or digit"
                ),
            )
            return None
        return value

    def date(self, value: Any, path: str, *, nullable: bool = False) -> dt.date | None:
        if value is _MISSING:
            return None
        if value is None and nullable:
            return None
        parsed = _parse_date(value)
        if parsed is not None:
            return parsed
        self.problem(path, N_("expected a date written YYYY-MM-DD"))
        return None

    def verification(self, value: Any, path: str) -> str:
        if value is _MISSING:
            return "unverified"
        if value not in VERIFICATIONS:
            self.problem(path, N_("expected verified, partial or unverified"))
            return "unverified"
        return str(value)

    def fen(self, value: Any, path: str, *, nullable: bool = False, positive: bool = False) -> Any:
        """An amount in fen: a whole number, not a float, not a bool. Returns ``...`` when bad."""
        if value is _MISSING:
            return ...
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, N_("expected a whole number of fen (1 yuan = 100 fen)"))
            return ...
        low = 1 if positive else 0
        if not low <= value <= MAX_FEN:
            self.problem(
                path,
                N_("expected at least %(min)s fen and at most %(max)s fen"),
                min=low,
                max=MAX_FEN,
            )
            return ...
        return value

    def percent(self, value: Any, path: str) -> Decimal | None:
        if value is _MISSING:
            return None
        number: Decimal | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int | Decimal):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
        if (
            number is None
            or not number.is_finite()
            or not Decimal(0) < number <= Decimal(100)
            or number != number.quantize(Decimal("0.01"))
        ):
            self.problem(
                path, N_("expected a percentage above 0 and at most 100, with at most 2 decimals")
            )
            return None
        return number

    def text(self, value: Any, path: str, *, nullable: bool = False) -> Text | None:
        if value is _MISSING:
            return None
        if value is None and nullable:
            return None
        data = self.obj(value, path, ("zh", "en"))
        if data is None:
            return None
        zh = self.string(self.required(data, "zh", path), _join(path, "zh"))
        en = self.string(self.required(data, "en", path), _join(path, "en"))
        return Text(zh, en) if zh is not None and en is not None else None

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.problem(path, N_("expected a list"))
            return ()
        out = [self.string(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(s for s in out if s is not None)

    def listed(self, value: Any, path: str, read: Callable[[Any, str], Any]) -> tuple[Any, ...]:
        if not isinstance(value, list):
            self.problem(path, N_("expected a list"))
            return ()
        out = [read(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(x for x in out if x is not None)


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:  # 2018-13-01 has the shape of a date but is none
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_TOP = (
    "format", "id", "series", "title", "effective_from", "effective_until", "verification",
    "document", "hazard_penalty", "hazard_no_penalty", "concealed_accident", "exclusions",
    "notes",
)  # fmt: skip


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def load_document(text: str) -> Any:
    """Parse JSON text without ever making a float (decimals become ``Decimal``)."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise RuleSetInvalid(
            [Problem("", N_("longer than %(max)s characters"), {"max": MAX_DOCUMENT_CHARS})]
        )
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply (tests/hostile)
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        if line is None:
            raise RuleSetInvalid([Problem("", N_("not valid JSON"), {})]) from None
        raise RuleSetInvalid(
            [
                Problem(
                    "",
                    N_("not valid JSON (line %(line)s, column %(column)s)"),
                    {"line": line, "column": column},
                )
            ]
        ) from None


def parse_rule_set(document: str | Mapping[str, Any]) -> RuleSet:
    """Validate a rule set document (JSON text or the parsed object) and return the rule set.

    Raises :class:`RuleSetInvalid` listing every problem found.
    """
    raw = load_document(document) if isinstance(document, str) else document
    r = _Reader()
    data = r.obj(raw, "", _TOP)
    if data is None:
        raise RuleSetInvalid(r.problems)
    fmt = r.required(data, "format", "")
    if "format" in data and (isinstance(fmt, bool) or fmt != FORMAT):
        r.problem("format", N_("expected %(format)s"), format=FORMAT)
    rule_set_id = r.slug(r.required(data, "id", ""), "id")
    series = r.slug(r.required(data, "series", ""), "series")
    title = r.text(r.required(data, "title", ""), "title")
    effective_from = r.date(r.required(data, "effective_from", ""), "effective_from")
    effective_until = r.date(data.get("effective_until"), "effective_until", nullable=True)
    if rule_set_id is not None and rule_set_id == series:
        r.problem("series", N_("must differ from id (a series holds several versions)"))
    if effective_from and effective_until and effective_until < effective_from:
        r.problem("effective_until", N_("earlier than effective_from"))
    verification = r.verification(r.required(data, "verification", ""), "verification")
    document_ref = _document(r, data.get("document"))
    hazard = _penalty_share(r, data.get("hazard_penalty"))
    no_penalty = _no_penalty(r, data.get("hazard_no_penalty"))
    concealed = _per_death(r, data.get("concealed_accident"))
    if data.get("hazard_penalty") is None and data.get("concealed_accident") is None:
        r.problem("", N_("give at least one of hazard_penalty and concealed_accident"))
    exclusions = _exclusions(r, r.required(data, "exclusions", ""))
    notes = r.listed(data.get("notes", []), "notes", r.text)
    if (
        r.problems
        or rule_set_id is None
        or series is None
        or title is None
        or effective_from is None
    ):
        raise RuleSetInvalid(r.problems)
    return RuleSet(
        id=rule_set_id,
        series=series,
        title=title,
        effective_from=effective_from,
        effective_until=effective_until,
        verification=verification,
        document=document_ref,
        hazard_penalty=hazard,
        hazard_no_penalty=no_penalty,
        concealed_accident=concealed,
        exclusions=exclusions,
        notes=notes,
        body=canonical_body(data),
    )


def canonical_body(data: Mapping[str, Any]) -> str:
    """The document as stored and shown: sorted keys, two-space indent, Chinese as is.

    A decimal (only ``hazard_penalty.percent`` may be one) is written as a string such as
    ``"12.5"``, which the format accepts, so a stored body never passes through a float.
    """
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2, default=_decimal) + "\n"


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _document(r: _Reader, value: Any) -> Document | None:
    if value is None:
        return None
    path = "document"
    allowed = ("doc_no", "title_zh", "issued", "issuers", "sources", "verification")
    data = r.obj(value, path, allowed)
    if data is None:
        return None
    doc_no_value = r.required(data, "doc_no", path)
    doc_no = (
        None if doc_no_value is None else r.string(doc_no_value, f"{path}.doc_no", max_chars=100)
    )
    title_zh = r.string(r.required(data, "title_zh", path), f"{path}.title_zh")
    issued = r.date(data.get("issued"), f"{path}.issued", nullable=True)
    issuers = r.strings(data.get("issuers", []), f"{path}.issuers")
    sources = r.strings(data.get("sources", []), f"{path}.sources")
    verification = r.verification(r.required(data, "verification", path), f"{path}.verification")
    if title_zh is None:
        return None
    return Document(doc_no, title_zh, issued, issuers, sources, verification)


def _penalty_share(r: _Reader, value: Any) -> PenaltyShareRule | None:
    if value is None:
        return None
    path = "hazard_penalty"
    data = r.obj(value, path, ("percent", "min_fen", "max_fen", "verification", "note"))
    if data is None:
        return None
    percent = r.percent(r.required(data, "percent", path), f"{path}.percent")
    min_fen = r.fen(r.required(data, "min_fen", path), f"{path}.min_fen")
    max_fen = r.fen(r.required(data, "max_fen", path), f"{path}.max_fen", nullable=True)
    verification = r.verification(r.required(data, "verification", path), f"{path}.verification")
    note = r.text(data.get("note"), f"{path}.note", nullable=True)
    if isinstance(min_fen, int) and isinstance(max_fen, int) and max_fen < min_fen:
        r.problem(f"{path}.max_fen", N_("smaller than min_fen"))
    if percent is None or not isinstance(min_fen, int) or max_fen is ...:
        return None
    return PenaltyShareRule(percent, min_fen, max_fen, verification, note)


def _no_penalty(r: _Reader, value: Any) -> NoPenaltyRule | None:
    if value is None:
        return None
    path = "hazard_no_penalty"
    data = r.obj(value, path, ("amount_fen", "verification", "reason"))
    if data is None:
        return None
    amount = r.fen(r.required(data, "amount_fen", path), f"{path}.amount_fen")
    verification = r.verification(r.required(data, "verification", path), f"{path}.verification")
    reason = r.text(r.required(data, "reason", path), f"{path}.reason")
    if not isinstance(amount, int) or reason is None:
        return None
    return NoPenaltyRule(amount, verification, reason)


def _per_death(r: _Reader, value: Any) -> PerDeathRule | None:
    if value is None:
        return None
    path = "concealed_accident"
    data = r.obj(value, path, ("per_death_fen", "max_fen", "verification", "note"))
    if data is None:
        return None
    amounts: list[tuple[str, int]] = []
    table = r.required(data, "per_death_fen", path)
    if "per_death_fen" in data:
        grades = r.obj(table, f"{path}.per_death_fen", GRADE_NAMES)
        if grades is not None:
            if not grades:
                r.problem(f"{path}.per_death_fen", N_("give an amount for at least one grade"))
            for name in GRADE_NAMES:
                if name in grades:
                    fen = r.fen(grades[name], f"{path}.per_death_fen.{name}", positive=True)
                    if isinstance(fen, int):
                        amounts.append((name, fen))
    max_fen = r.fen(r.required(data, "max_fen", path), f"{path}.max_fen", nullable=True)
    verification = r.verification(r.required(data, "verification", path), f"{path}.verification")
    note = r.text(data.get("note"), f"{path}.note", nullable=True)
    if not amounts or max_fen is ...:
        return None
    return PerDeathRule(tuple(amounts), max_fen, verification, note)


def _exclusions(r: _Reader, value: Any) -> tuple[ExclusionRule, ...]:
    if value is None or value is _MISSING:
        return ()
    seen: set[str] = set()

    def read(item: Any, path: str) -> ExclusionRule | None:
        data = r.obj(item, path, ("code", "verification", "basis"))
        if data is None:
            return None
        code = r.required(data, "code", path)
        if "code" in data and code not in EXCLUSIONS_BY_CODE:
            r.problem(
                f"{path}.code",
                N_("unknown exclusion; known: %(codes)s"),
                codes=", ".join(EXCLUSION_CODES),
            )
            code = None
        elif code in seen:
            r.problem(f"{path}.code", N_("listed twice"))
            code = None
        verification = r.verification(
            r.required(data, "verification", path), f"{path}.verification"
        )
        basis = r.text(r.required(data, "basis", path), f"{path}.basis")
        if not isinstance(code, str) or basis is None:
            return None
        seen.add(code)
        return ExclusionRule(code, verification, basis)

    found = r.listed(value, "exclusions", read)
    order = {c: i for i, c in enumerate(EXCLUSION_CODES)}
    return tuple(sorted(found, key=lambda e: order[e.code]))
