"""Registry services: facilities — the search reporters use, reading facilities as staff
(role and division checked here), the list with its filters, and the demo data.

The search is what the public site's tip form and ``GET /api/v1/facilities?q=`` call. The term
a reporter types says which place they are about to report, so it is a secret like the rest of
the tip: nothing here logs it, and the engine hides statement parameters
(``hide_parameters=True`` in ``core.db``). Adding and changing facilities is
:mod:`registry.services.editing`; spreadsheets are :mod:`registry.services.imports` and
:mod:`registry.services.exports`.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import Actor
from core.clock import Clock
from registry.errors import FacilityNotFound, RegistryForbidden
from registry.models import Division, Facility, FacilityStatus, FacilityTypeRecord
from registry.services.access import ALL_DIVISIONS, read_scope, require_read

#: At most this many facilities are listed for one search.
SEARCH_LIMIT = 20
#: A longer search term is cut to this many characters (no facility name is longer).
SEARCH_MAX = 100


@dataclass(frozen=True)
class FacilityHit:
    """A facility as a reporter sees it in search results."""

    id: int
    name: str
    address: str
    division_id: int
    division_name: str
    division_name_en: str
    facility_type: str  # the type's code
    facility_type_name: str
    facility_type_name_en: str
    status: FacilityStatus


def normalise_query(text: str) -> str:
    """NFKC (full-width characters from Chinese input methods), whitespace collapsed, control
    characters dropped, cut to :data:`SEARCH_MAX`."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return " ".join(text.split())[:SEARCH_MAX]


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hits_query() -> Any:
    return (
        select(
            Facility.id,
            Facility.name,
            Facility.address,
            Facility.division_id,
            Division.name.label("division_name"),
            Division.name_en.label("division_name_en"),
            FacilityTypeRecord.code.label("facility_type"),
            FacilityTypeRecord.name_zh.label("facility_type_name"),
            FacilityTypeRecord.name_en.label("facility_type_name_en"),
            Facility.status,
        )
        .join(Division, Division.id == Facility.division_id)
        .join(FacilityTypeRecord, FacilityTypeRecord.id == Facility.facility_type_id)
    )


def _hit(row: Any) -> FacilityHit:
    return FacilityHit(
        id=row.id,
        name=row.name,
        address=row.address,
        division_id=row.division_id,
        division_name=row.division_name,
        division_name_en=row.division_name_en,
        facility_type=row.facility_type,
        facility_type_name=row.facility_type_name,
        facility_type_name_en=row.facility_type_name_en,
        status=row.status,
    )


def search_facilities(
    session: Session, text: str, *, limit: int = SEARCH_LIMIT
) -> list[FacilityHit]:
    """Facilities whose name or address contains every word of ``text`` (case-insensitive),
    names starting with the term first; closed facilities are included (a hazard may outlive
    the licence). An empty term finds nothing."""
    words = normalise_query(text).split()
    if not words:
        return []
    query = _hits_query()
    for word in words:
        pattern = f"%{_escape_like(word.lower())}%"
        query = query.where(
            or_(
                func.lower(Facility.name).like(pattern, escape="\\"),
                func.lower(Facility.address).like(pattern, escape="\\"),
            )
        )
    rows = session.execute(query.order_by(Facility.name, Facility.id).limit(max(1, limit)))
    first = words[0].lower()
    hits = [_hit(row) for row in rows]
    return sorted(hits, key=lambda h: (not h.name.lower().startswith(first), h.name, h.id))


def get_facility_hit(session: Session, facility_id: int) -> FacilityHit | None:
    row = session.execute(_hits_query().where(Facility.id == facility_id)).first()
    return None if row is None else _hit(row)


def facility_exists(session: Session, facility_id: int) -> bool:
    return session.scalar(select(Facility.id).where(Facility.id == facility_id)) is not None


# ---------------------------------------------------------------- staff reading


def get_facility(session: Session, facility_id: int) -> Facility:
    """The facility, with no access check: for services that checked the actor already."""
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise FacilityNotFound()
    return facility


def get_facility_for(session: Session, actor: User, facility_id: int) -> Facility:
    """The facility, if ``actor`` may read it (role and division); raises
    :class:`~registry.errors.FacilityNotFound` or :class:`~registry.errors.RegistryForbidden`."""
    if read_scope(actor) is None:
        raise RegistryForbidden()
    facility = get_facility(session, facility_id)
    require_read(actor, facility.division_id)
    return facility


#: Facilities on one page of the staff list.
PAGE_SIZE = 50


@dataclass(frozen=True)
class FacilityFilters:
    """What the staff list is narrowed to; None (or "") means any."""

    text: str = ""  # words in the name, address or credit code
    division_id: int | None = None
    facility_type_id: int | None = None
    status: FacilityStatus | None = None
    key_supervision: bool | None = None


@dataclass(frozen=True)
class FacilityPage:
    items: list[Facility]
    total: int
    page: int
    pages: int


def _scoped(actor: User, filters: FacilityFilters) -> Select[Facility]:
    """Facilities ``actor`` reads, narrowed by ``filters`` (no ordering or paging)."""
    scope = read_scope(actor)
    if scope is None:
        raise RegistryForbidden()
    query = select(Facility)
    if scope is not ALL_DIVISIONS:
        query = query.where(Facility.division_id == scope)
    if filters.division_id is not None:
        query = query.where(Facility.division_id == filters.division_id)
    if filters.facility_type_id is not None:
        query = query.where(Facility.facility_type_id == filters.facility_type_id)
    if filters.status is not None:
        query = query.where(Facility.status == filters.status)
    if filters.key_supervision is not None:
        query = query.where(Facility.key_supervision.is_(filters.key_supervision))
    for word in normalise_query(filters.text).split():
        pattern = f"%{_escape_like(word.lower())}%"
        query = query.where(
            or_(
                func.lower(Facility.name).like(pattern, escape="\\"),
                func.lower(Facility.address).like(pattern, escape="\\"),
                func.lower(Facility.credit_code).like(pattern, escape="\\"),
            )
        )
    return query


def list_facilities(
    session: Session,
    actor: User,
    filters: FacilityFilters,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> FacilityPage:
    """One page of the facilities ``actor`` reads, by division order then name. A page past
    the last shows the last one."""
    query = _scoped(actor, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    rows = session.scalars(
        query.join(Division, Division.id == Facility.division_id)
        .order_by(Division.sort_order, Facility.name, Facility.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return FacilityPage(items=list(rows), total=total, page=page, pages=pages)


def all_facilities(session: Session, actor: User, filters: FacilityFilters) -> list[Facility]:
    """Every facility ``actor`` reads that matches ``filters`` (for an export)."""
    query = _scoped(actor, filters).join(Division, Division.id == Facility.division_id)
    return list(session.scalars(query.order_by(Division.sort_order, Facility.name, Facility.id)))


# ---------------------------------------------------------------- demo data


def demo_facilities() -> list[dict[str, Any]]:
    """The made-up facilities of ``registry/data/demo_facilities.json``."""
    text = resources.files("registry").joinpath("data/demo_facilities.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)["facilities"]
    return data


def load_demo_facilities(session: Session, clock: Clock, actor: Actor) -> int:
    """Add the demo facilities that are missing (matched by name) in divisions that exist,
    loading the shipped facility types first; returns how many facilities were added. For
    ``qingling demo`` and tests only."""
    from registry.services.editing import create_facility
    from registry.services.facility_types import load_default_facility_types

    load_default_facility_types(session, clock, actor)
    existing = set(session.scalars(select(Facility.name)))
    divisions = {name: id_ for id_, name in session.execute(select(Division.id, Division.name))}
    added = 0
    for item in demo_facilities():
        division_id = divisions.get(item["division"])
        if item["name"] in existing or division_id is None:
            continue
        values = {k: v for k, v in item.items() if k not in {"division", "type"}}
        values["division"] = division_id
        values["facility_type"] = item["type"]
        create_facility(session, clock, actor, values)
        added += 1
    return added
