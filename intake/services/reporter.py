"""What the reporter's status page and ``GET /api/v1/tip`` show from intake's own rows: the tip
as its reporter wrote it, its state and dates, where it was routed. The workflow's part (the
current deadline, the conclusion, the message thread, objections) comes from
``triage.services.reporter_status``, which takes the same :class:`~intake.access.ReporterAccess`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.access import ReporterAccess
from intake.services import ReporterTip, open_with_access
from registry.models import Division
from registry.services.facilities import FacilityHit, get_facility_hit


@dataclass(frozen=True)
class ReporterOverview:
    tip: ReporterTip
    division_name: str
    division_name_en: str
    facility: FacilityHit | None


def reporter_overview(session: Session, access: ReporterAccess) -> ReporterOverview:
    """The tip of a reporter session, decrypted, with its division and registered facility."""
    tip = open_with_access(session, access)
    division = session.get(Division, tip.division_id)
    facility = None if tip.facility_id is None else get_facility_hit(session, tip.facility_id)
    return ReporterOverview(
        tip=tip,
        division_name=division.name if division else "",
        division_name_en=division.name_en if division else "",
        facility=facility,
    )
