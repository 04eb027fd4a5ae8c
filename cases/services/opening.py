"""Opening hazard cases: from a substantiated tip (a triage officer, on the tip's page), or
directly by a case officer from an inspection or the facility's own report; and the
redaction step before any passage of a tip is used.

The officer writes the case's description; nothing is copied from the tip by these services.
If the officer wants to start from a passage of the reporter's words, :func:`redact` first
removes the passages they mark as identifying (and records that it happened, with the count
only); :func:`open_case_from_tip` then refuses a description that still contains the
reporter's name or contact details.

Standard items are codes of the judgment-standard catalogue, checked (normalised,
de-duplicated, each must exist) by :func:`cases.standards.services.check_item_codes`.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

import cases.standards.services as standards
from cases import errors
from cases.models import CaseSource, CaseState, HazardCase
from cases.services.access import may_write
from cases.services.common import clean_text, today
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock, local
from core.errors import Forbidden
from core.settings import Settings
from intake import services as intake_services
from intake.models import TipCategory, TipState
from registry.models import Division, Facility
from triage.services.common import clean_text as clean_tip_text
from triage.services.common import officer_tip, tip_keys

#: What a redacted passage becomes.
REDACTION_MARK = "[…]"
#: Names and contact details shorter than this are not searched for (one character would
#: match everywhere).
IDENTITY_MIN = 2

_POSITIVE = frozenset({TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED})


@dataclass(frozen=True)
class RedactedText:
    text: str = field(repr=False)
    count: int  # passages removed (occurrences)


def redact(
    session: Session,
    clock: Clock,
    actor: User,
    tip_id: uuid.UUID,
    *,
    text: str,
    passages: Sequence[str],
) -> RedactedText:
    """``text`` with every occurrence of each passage replaced by :data:`REDACTION_MARK`;
    audited as ``case.redaction`` with the number of passages removed (never the text). A
    triage officer in the tip's scope only."""
    tip = officer_tip(session, actor, tip_id)
    count = 0
    for passage in sorted({p.strip() for p in passages if p.strip()}, key=len, reverse=True):
        found = text.count(passage)
        if found:
            text = text.replace(passage, REDACTION_MARK)
            count += found
    audit.record(
        session, clock, actor_of(actor), "case.redaction", "tip", str(tip.id), {"count": count}
    )
    return RedactedText(text, count)


def checked_items(session: Session, codes: Sequence[str]) -> list[str]:
    """The catalogue codes, normalised and de-duplicated; at least one."""
    items = standards.check_item_codes(session, [c for c in codes if c.strip()])
    if not items:
        raise errors.StandardItemsRequired()
    return items


def checked_place_class(value: str | None) -> str | None:
    """A place class of the composite rule (or None: not given)."""
    if value is None or not value.strip():
        return None
    if value not in {v for v, _ in standards.place_classes()}:
        raise errors.BadPlaceClass()
    return value


def _squeeze(text: str) -> str:
    """For comparing: NFKC, case-folded, without white space."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _check_deadline(clock: Clock, discovered_on: dt.date, deadline: dt.date | None) -> None:
    if deadline is None:
        return
    if deadline < discovered_on:
        raise errors.DeadlineBeforeDiscovery()
    if deadline < today(clock):
        raise errors.DeadlineInPast()


def open_case_from_tip(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    standard_items: Sequence[str],
    description: str,
    place_class: str | None = None,
    deadline: dt.date | None = None,
) -> uuid.UUID:
    """Open a hazard case from a substantiated or partly substantiated tip (after a re-check,
    from its outcome); the case's id. The case takes the tip's facility, division and
    category, the date of its submission as the date of discovery, the items the officer
    selected, the officer's own description, and optionally the place class and the
    rectification deadline ordered.

    A triage officer in the tip's scope who holds its key: the key is used to check that the
    description does not contain the reporter's name or contact details
    (:class:`ReporterIdentityInCase`). :class:`CaseNotPossible` for any other conclusion or
    state, :class:`CaseAlreadyOpened` the second time.
    """
    tip = officer_tip(session, actor, tip_id, lock=True)
    outcome = tip.recheck_outcome or tip.conclusion
    if tip.state is TipState.RECHECKING or outcome not in _POSITIVE:
        raise errors.CaseNotPossible()
    if session.scalar(select(HazardCase.id).where(HazardCase.tip_id == tip.id)) is not None:
        raise errors.CaseAlreadyOpened()
    items = checked_items(session, standard_items)
    place = checked_place_class(place_class)
    text = clean_tip_text(description)
    discovered_on = local(tip.submitted_at).date()
    _check_deadline(clock, discovered_on, deadline)
    keys = tip_keys(session, actor, personal_key, tip)
    content = intake_services.open_with_group_key(
        session, tip.id, keys.group_id, keys.group_version, keys.group_private_key
    ).content
    squeezed = _squeeze(text)
    for value in (content.real_name, content.contact):
        needle = _squeeze(value)
        if len(needle) >= IDENTITY_MIN and needle in squeezed:
            raise errors.ReporterIdentityInCase()
    case_id = uuid.uuid4()
    session.add(
        HazardCase(
            id=case_id,
            tip_id=tip.id,
            source=CaseSource.TIP,
            facility_id=tip.facility_id,
            division_id=tip.division_id,
            category=tip.category,
            standard_items=items,
            place_class=place,
            description=text,
            state=CaseState.OPEN,
            discovered_on=discovered_on,
            deadline=deadline,
            created_at=clock.now(),
            created_by_id=actor.id,
        )
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.opened",
        "hazard_case",
        str(case_id),
        {"tip": str(tip.id), "items": len(items), "division_id": tip.division_id},
    )
    return case_id


@dataclass(frozen=True)
class NewCase:
    """What a case officer enters for a case found by inspection or reported by the facility."""

    source: CaseSource
    division_id: int
    facility_id: int | None
    category: TipCategory
    discovered_on: dt.date
    standard_items: Sequence[str]
    description: str = field(repr=False)
    place_class: str | None = None
    deadline: dt.date | None = None


def open_case(
    session: Session, clock: Clock, settings: Settings, actor: User, data: NewCase
) -> uuid.UUID:
    """Open a case found by an inspection or reported by the facility itself; the case's id.

    A case officer whose scope covers the division. The facility, when given, must be in the
    registry and in that division; the date of discovery not in the future; the deadline, when
    given, neither before discovery nor before today.
    """
    source = CaseSource(data.source)
    if source is CaseSource.TIP:
        raise errors.BadSource()
    if session.get(Division, data.division_id) is None:
        raise errors.DivisionNotFound()
    if not may_write(actor, data.division_id):
        raise Forbidden()
    if data.facility_id is not None:
        facility_division = session.scalar(
            select(Facility.division_id).where(Facility.id == data.facility_id)
        )
        if facility_division is None:
            raise errors.FacilityNotFound()
        if facility_division != data.division_id:
            raise errors.FacilityOutsideDivision()
    if data.discovered_on > today(clock):
        raise errors.DiscoveredInFuture()
    _check_deadline(clock, data.discovered_on, data.deadline)
    items = checked_items(session, data.standard_items)
    place = checked_place_class(data.place_class)
    text = clean_text(data.description)
    case_id = uuid.uuid4()
    session.add(
        HazardCase(
            id=case_id,
            tip_id=None,
            source=source,
            facility_id=data.facility_id,
            division_id=data.division_id,
            category=TipCategory(data.category),
            standard_items=items,
            place_class=place,
            description=text,
            state=CaseState.OPEN,
            discovered_on=data.discovered_on,
            deadline=data.deadline,
            created_at=clock.now(),
            created_by_id=actor.id,
        )
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.opened",
        "hazard_case",
        str(case_id),
        {
            "source": source.value,
            "items": len(items),
            "division_id": data.division_id,
            "facility_id": data.facility_id,
        },
    )
    return case_id
