"""Registry services: facilities — the demo data and the search reporters use.

The search is what the public site's tip form and ``GET /api/v1/facilities?q=`` call. The term
a reporter types says which place they are about to report, so it is a secret like the rest of
the tip: nothing here logs it, and the engine hides statement parameters
(``hide_parameters=True`` in ``core.db``). The registry issue adds editing, imports and facility
types as data.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.audit.services import Actor, record
from core.clock import Clock
from registry.models import Division, Facility, FacilityStatus, FacilityType

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
    facility_type: FacilityType
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
    return select(
        Facility.id,
        Facility.name,
        Facility.address,
        Facility.division_id,
        Division.name.label("division_name"),
        Division.name_en.label("division_name_en"),
        Facility.facility_type,
        Facility.status,
    ).join(Division, Division.id == Facility.division_id)


def _hit(row: Any) -> FacilityHit:
    return FacilityHit(
        id=row.id,
        name=row.name,
        address=row.address,
        division_id=row.division_id,
        division_name=row.division_name,
        division_name_en=row.division_name_en,
        facility_type=row.facility_type,
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


# ---------------------------------------------------------------- demo data


def demo_facilities() -> list[dict[str, Any]]:
    """The made-up facilities of ``registry/data/demo_facilities.json``."""
    text = resources.files("registry").joinpath("data/demo_facilities.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)["facilities"]
    return data


def load_demo_facilities(session: Session, clock: Clock, actor: Actor) -> int:
    """Add the demo facilities that are missing (matched by name) in divisions that exist;
    returns how many were added. For ``qingling demo`` only."""
    existing = set(session.scalars(select(Facility.name)))
    divisions = {name: id_ for id_, name in session.execute(select(Division.id, Division.name))}
    added = 0
    for item in demo_facilities():
        division_id = divisions.get(item["division"])
        if item["name"] in existing or division_id is None:
            continue
        facility = Facility(
            name=item["name"],
            address=item["address"],
            division_id=division_id,
            facility_type=FacilityType(item["type"]),
            status=FacilityStatus(item["status"]),
        )
        session.add(facility)
        # Flushed for the id that the audit record names.
        session.flush()
        record(
            session,
            clock,
            actor,
            "facility.created",
            "facility",
            facility.id,
            {"name": facility.name, "source": "demo data"},
        )
        added += 1
    return added
