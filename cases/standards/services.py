"""The catalogue of judgment standards: reading it, checking item codes, the composite rule,
and the administrator's changes (upload a version as JSON, mark a standard superseded).

The catalogue is data. The project ships ``cases/standards/data/standards.json`` (compiled from
``reference/regulations.md`` §2 and the standards addendum; see the README next to it), which
:func:`load_shipped_standards` puts into the tables; an administrator adds or corrects versions
with a file in the same format (:func:`import_catalogue`), never with code.

The composite rule lives in :mod:`cases.standards.composite`; its public names are
re-exported here (``evaluate_composite``, ``CompositeResult``, ``place_classes``, ``Sentence``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cases.standards import errors, schema
from cases.standards.composite import (
    PLACE_CLASSES,
    CompositeResult,
    RuleOutcome,
    Sentence,
    evaluate_composite,
    place_classes,
    rule_of,
)
from cases.standards.models import (
    CODE_MAX,
    ITEM_CODE_MAX,
    Origin,
    Standard,
    StandardItem,
    StandardStatus,
    Verification,
)
from cases.standards.schema import (
    CatalogueData,
    ItemData,
    RuleData,
    StandardData,
    normalise_code,
)
from core.accounts.access import require_role
from core.accounts.models import Role, User
from core.audit.services import SYSTEM_ACTOR, Actor, actor_of, record
from core.clock import Clock
from core.errors import N_

__all__ = [
    "CODES_MAX",
    "PLACE_CLASSES",
    "READ_ROLES",
    "WRITE_ROLES",
    "CompositeResult",
    "ImportReport",
    "ItemView",
    "RuleOutcome",
    "Sentence",
    "StandardDetail",
    "StandardSummary",
    "browse_standards",
    "check_item_codes",
    "evaluate_composite",
    "export_catalogue",
    "import_catalogue",
    "list_items",
    "load_shipped_standards",
    "mark_superseded",
    "place_classes",
    "shipped_catalogue_text",
    "standard_detail",
]

#: Roles that may browse the catalogue (everyone who works with tips and cases).
READ_ROLES = (Role.TRIAGE_OFFICER, Role.CASE_OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
#: The only role that changes it.
WRITE_ROLES = (Role.ADMINISTRATOR,)
#: Most item codes one case (one call of :func:`check_item_codes`) may carry.
CODES_MAX = 50

# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ItemView:
    code: str
    text: str
    kind: str
    standard_code: str
    superseded: bool
    verification: str
    clause: str = ""
    group: str = ""
    summary_en: str = ""
    standard_title: str = ""
    domain: str = ""
    place_classes: tuple[str, ...] = ()
    source: str = ""


def _view(item: StandardItem, standard: Standard) -> ItemView:
    return ItemView(
        code=item.code,
        text=item.text,
        kind=item.kind.value,
        standard_code=standard.code,
        superseded=standard.status is StandardStatus.SUPERSEDED,
        verification=item.verification.value,
        clause=item.clause,
        group=item.group,
        summary_en=item.summary_en,
        standard_title=standard.title,
        domain=standard.domain,
        place_classes=tuple(item.place_classes),
        source=item.source,
    )


def _standard_order() -> tuple[object, ...]:
    # Current before superseded, then by subject and code (stable for the picker).
    return (Standard.status, Standard.domain, Standard.code)


def list_items(
    session: Session, *, include_superseded: bool = False, category: str | None = None
) -> list[ItemView]:
    """The catalogue's items in display order: grouped by standard (current standards first),
    in the standard's own order. ``category`` (a tip category value) keeps the standards of that
    subject; ``None`` or ``"other"`` keeps all."""
    query = (
        select(StandardItem, Standard)
        .join(Standard, StandardItem.standard_id == Standard.id)
        .order_by(*_standard_order(), StandardItem.position, StandardItem.id)  # type: ignore[arg-type]
    )
    if not include_superseded:
        query = query.where(Standard.status == StandardStatus.CURRENT)
    if category is not None and category != "other":
        query = query.where(Standard.domain == category)
    return [_view(item, standard) for item, standard in session.execute(query)]


def _catalogue_index(session: Session, codes: Iterable[str]) -> dict[str, StandardItem]:
    """Items whose code matches one of ``codes`` (normalised, case-insensitively), keyed by the
    case-folded code."""
    wanted = {normalise_code(c).casefold() for c in codes}
    wanted.discard("")
    if not wanted:
        return {}
    # Codes are stored normalised; a case-insensitive match needs the fold on both sides, done
    # here in Python so that SQLite and PostgreSQL agree on non-ASCII letters. The catalogue
    # has a few hundred rows.
    rows = session.scalars(select(StandardItem).options(selectinload(StandardItem.standard))).all()
    return {row.code.casefold(): row for row in rows if row.code.casefold() in wanted}


def check_item_codes(session: Session, codes: Sequence[str]) -> list[str]:
    """The catalogue codes of ``codes``, normalised (NFKC, white space squeezed, letter case as
    in the catalogue), de-duplicated, in the given order; empty entries are dropped.

    :class:`~cases.standards.errors.UnknownStandardItem` names the first code not in the
    catalogue; :class:`BadItemCode` for an over-long code, :class:`TooManyItems` beyond
    :data:`CODES_MAX`. Items of superseded standards are accepted (older cases use them)."""
    cleaned: list[str] = []
    for value in codes:
        code = normalise_code(value)
        if not code:
            continue
        if len(code) > ITEM_CODE_MAX:
            raise errors.BadItemCode(max=ITEM_CODE_MAX)
        cleaned.append(code)
    index = _catalogue_index(session, cleaned)
    result: list[str] = []
    for code in cleaned:
        row = index.get(code.casefold())
        if row is None:
            raise errors.UnknownStandardItem(code=code)
        if row.code not in result:
            result.append(row.code)
    if len(result) > CODES_MAX:
        raise errors.TooManyItems(max=CODES_MAX)
    return result


# ---------------------------------------------------------------- browsing (staff pages)


@dataclass(frozen=True)
class StandardSummary:
    id: int
    code: str
    title: str
    domain: str
    status: str
    verification: str
    effective_on: dt.date | None
    superseded_on: dt.date | None
    superseded_by: str | None
    items: int
    unverified_items: int
    has_composite_rule: bool
    gaps: str
    origin: str


def browse_standards(session: Session, actor: User) -> list[StandardSummary]:
    """Every standard, current first, with counts of its items and unverified items."""
    require_role(actor, *READ_ROLES)
    standards = session.scalars(
        select(Standard).options(selectinload(Standard.items)).order_by(*_standard_order())  # type: ignore[arg-type]
    ).all()
    return [
        StandardSummary(
            id=s.id,
            code=s.code,
            title=s.title,
            domain=s.domain,
            status=s.status.value,
            verification=s.verification.value,
            effective_on=s.effective_on,
            superseded_on=s.superseded_on,
            superseded_by=s.superseded_by,
            items=len(s.items),
            unverified_items=sum(1 for i in s.items if i.verification is not Verification.VERIFIED),
            has_composite_rule=bool(s.composite_rules),
            gaps=s.gaps,
            origin=s.origin.value,
        )
        for s in standards
    ]


@dataclass(frozen=True)
class StandardDetail:
    standard: Standard
    items: list[ItemView]
    rules: list[RuleData]
    successor_id: int | None


def standard_detail(session: Session, actor: User, standard_id: int) -> StandardDetail:
    require_role(actor, *READ_ROLES)
    standard = session.get(Standard, standard_id)
    if standard is None:
        raise errors.StandardNotFound()
    successor_id = None
    if standard.superseded_by:
        successor_id = session.scalar(
            select(Standard.id).where(Standard.code == standard.superseded_by)
        )
    return StandardDetail(
        standard=standard,
        items=[_view(i, standard) for i in standard.items],
        rules=[rule_of(r) for r in standard.composite_rules],
        successor_id=successor_id,
    )


def export_catalogue(session: Session, actor: User) -> CatalogueData:
    """The catalogue as it is in the tables, in the file format (a starting point for an
    administrator's next upload)."""
    require_role(actor, *READ_ROLES)
    standards = session.scalars(
        select(Standard).options(selectinload(Standard.items)).order_by(*_standard_order())  # type: ignore[arg-type]
    ).all()
    versions = sorted({s.data_version for s in standards})
    return CatalogueData(
        version=versions[-1] if versions else "",
        standards=tuple(_data_of(s) for s in standards),
    )


def _data_of(s: Standard) -> StandardData:
    return StandardData(
        code=s.code,
        title=s.title,
        domain=s.domain,
        issuer=s.issuer,
        status=s.status,
        published_on=s.published_on,
        effective_on=s.effective_on,
        superseded_on=s.superseded_on,
        superseded_by=s.superseded_by,
        verification=s.verification,
        gaps=s.gaps,
        note=s.note,
        sources=tuple(s.sources),
        composite_rules=tuple(rule_of(r) for r in s.composite_rules),
        uncorrectable_clause=s.uncorrectable_clause,
        items=tuple(
            ItemData(
                code=i.code,
                kind=i.kind,
                clause=i.clause,
                group=i.group,
                text=i.text,
                summary_en=i.summary_en,
                verification=i.verification,
                source=i.source,
                place_classes=tuple(i.place_classes),
            )
            for i in s.items
        ),
    )


# ---------------------------------------------------------------- loading and changing


@dataclass
class ImportReport:
    """What a load or upload did, by standard code."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # shipped data not applied over changes
    items_added: int = 0
    items_changed: int = 0
    items_kept: int = 0  # in the tables but not in the file: kept, cases may refer to them

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def shipped_catalogue_text() -> str:
    """The catalogue file shipped with the project."""
    return resources.files("cases.standards").joinpath("data/standards.json").read_text("utf-8")


def load_shipped_standards(
    session: Session, clock: Clock, actor: Actor = SYSTEM_ACTOR
) -> ImportReport:
    """Put the shipped catalogue into the tables; safe to run any number of times.

    A standard missing from the tables is added. One loaded earlier from an older shipped file
    is brought up to this file's version (items added or corrected; none removed). A standard
    an administrator uploaded or changed is left alone (``skipped``)."""
    data = schema.parse(shipped_catalogue_text())
    return _apply(session, clock, actor, data, Origin.SHIPPED)


def import_catalogue(session: Session, clock: Clock, actor: User, raw: bytes) -> ImportReport:
    """An administrator's upload in the catalogue format: validated in full first
    (:class:`~cases.standards.errors.InvalidStandardFile` lists every problem, nothing is
    changed), then each standard added, or updated if its code exists (items added or
    corrected; items the file omits are kept, since cases may refer to them)."""
    require_role(actor, *WRITE_ROLES)
    data = schema.parse(raw)
    report = _apply(session, clock, actor_of(actor), data, Origin.ADMINISTRATOR)
    record(
        session,
        clock,
        actor_of(actor),
        "standards.uploaded",
        "standard_catalogue",
        None,
        {
            "version": data.version,
            "created": report.created,
            "updated": report.updated,
            "unchanged": len(report.unchanged),
            "items_added": report.items_added,
            "items_changed": report.items_changed,
        },
    )
    return report


def mark_superseded(
    session: Session,
    clock: Clock,
    actor: User,
    standard_id: int,
    *,
    superseded_on: dt.date,
    superseded_by: str | None,
) -> None:
    """Mark a current standard superseded from ``superseded_on``, by ``superseded_by`` (a code,
    which need not be in the catalogue yet). Its items stay, shown as superseded."""
    require_role(actor, *WRITE_ROLES)
    standard = session.get(Standard, standard_id, with_for_update=True)
    if standard is None:
        raise errors.StandardNotFound()
    if standard.status is StandardStatus.SUPERSEDED:
        raise errors.StandardAlreadySuperseded()
    successor = normalise_code(superseded_by or "") or None
    if successor is not None and (
        len(successor) > CODE_MAX or successor.casefold() == standard.code.casefold()
    ):
        raise errors.BadSuccessor(max=CODE_MAX)
    if successor is not None:
        # Use the catalogue's spelling when the successor is there already.
        known = {c.casefold(): c for c in session.scalars(select(Standard.code))}
        successor = known.get(successor.casefold(), successor)
    standard.status = StandardStatus.SUPERSEDED
    standard.superseded_on = superseded_on
    standard.superseded_by = successor
    standard.origin = Origin.ADMINISTRATOR
    standard.updated_at = clock.now()
    record(
        session,
        clock,
        actor_of(actor),
        "standard.superseded",
        "standard",
        str(standard.id),
        {
            "standard": standard.code,
            "superseded_on": superseded_on.isoformat(),
            "superseded_by": successor,
        },
    )


def _standard_fields(data: StandardData) -> dict[str, object]:
    return {
        "title": data.title,
        "domain": data.domain,
        "issuer": data.issuer,
        "status": data.status,
        "published_on": data.published_on,
        "effective_on": data.effective_on,
        "superseded_on": data.superseded_on,
        "superseded_by": data.superseded_by,
        "verification": data.verification,
        "gaps": data.gaps,
        "note": data.note,
        "sources": list(data.sources),
        "composite_rules": [r.as_json() for r in data.composite_rules],
        "uncorrectable_clause": data.uncorrectable_clause,
    }


def _item_fields(data: ItemData, position: int) -> dict[str, object]:
    return {
        "kind": data.kind,
        "clause": data.clause,
        "group": data.group,
        "text": data.text,
        "summary_en": data.summary_en,
        "verification": data.verification,
        "source": data.source,
        "place_classes": list(data.place_classes),
        "position": position,
    }


def _check_against_tables(session: Session, data: CatalogueData) -> None:
    """Problems only the tables reveal: an item code that belongs to another standard."""
    owners = {
        code.casefold(): std_code
        for code, std_code in session.execute(
            select(StandardItem.code, Standard.code).join(
                Standard, StandardItem.standard_id == Standard.id
            )
        )
    }
    problems: list[schema.Problem] = []
    for standard in data.standards:
        for item in standard.items:
            owner = owners.get(item.code.casefold())
            if owner is not None and owner.casefold() != standard.code.casefold():
                problems.append(
                    (
                        f"{standard.code} / {item.code}",
                        N_("The item code “%(value)s” already belongs to %(owner)s."),
                        {"value": item.code, "owner": owner},
                    )
                )
    if problems:
        raise errors.InvalidStandardFile(problems)


def _apply(
    session: Session, clock: Clock, actor: Actor, data: CatalogueData, origin: Origin
) -> ImportReport:
    _check_against_tables(session, data)
    existing = {
        s.code.casefold(): s
        for s in session.scalars(select(Standard).options(selectinload(Standard.items)))
    }
    report = ImportReport()
    now = clock.now()
    for standard_data in data.standards:
        row = existing.get(standard_data.code.casefold())
        if row is not None and origin is Origin.SHIPPED:
            if row.origin is Origin.ADMINISTRATOR:
                report.skipped.append(row.code)
                continue
            if row.data_version == data.version:
                report.unchanged.append(row.code)
                continue
        created = row is None
        if row is None:
            row = Standard(
                code=standard_data.code,
                origin=origin,
                data_version=data.version,
                created_at=now,
                updated_at=now,
                **_standard_fields(standard_data),
            )
            session.add(row)
            standard_changed = True
        else:
            standard_changed = False
            for name, value in _standard_fields(standard_data).items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
                    standard_changed = True
        added, changed, kept = _apply_items(session, row, standard_data.items)
        if not (created or standard_changed or added or changed):
            if row.data_version != data.version and origin is Origin.SHIPPED:
                row.data_version = data.version
            report.unchanged.append(row.code)
            continue
        row.origin = origin
        row.data_version = data.version
        row.updated_at = now
        # Flushed for the id the audit record names.
        session.flush()
        report.items_added += added
        report.items_changed += changed
        report.items_kept += kept
        (report.created if created else report.updated).append(row.code)
        record(
            session,
            clock,
            actor,
            "standard.created" if created else "standard.updated",
            "standard",
            str(row.id),
            {
                "standard": row.code,
                "status": row.status.value,
                "version": data.version,
                "origin": origin.value,
                "items_added": added,
                "items_changed": changed,
                "items_kept": kept,
            },
        )
    return report


def _apply_items(
    session: Session, standard: Standard, items: Sequence[ItemData]
) -> tuple[int, int, int]:
    current = {i.code.casefold(): i for i in standard.items} if standard.id else {}
    added = changed = 0
    listed: set[str] = set()
    for position, data in enumerate(items):
        key = data.code.casefold()
        listed.add(key)
        fields = _item_fields(data, position)
        row = current.get(key)
        if row is None:
            standard.items.append(StandardItem(code=data.code, **fields))
            added += 1
            continue
        row_changed = False
        for name, value in fields.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                if name != "position":
                    row_changed = True
        changed += row_changed
    kept = [row for key, row in current.items() if key not in listed]
    for offset, row in enumerate(sorted(kept, key=lambda r: r.position)):
        row.position = len(items) + offset
    del session
    return added, changed, len(kept)
