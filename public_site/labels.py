"""What the public site calls the values of the domain enums, as English msgids (lazy, so they
are translated in the language of the request that shows them)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from intake.models import Relationship, TipCategory
from registry.models import FacilityStatus, FacilityType

CATEGORY_LABELS: dict[TipCategory, Any] = {
    TipCategory.ELDERLY_CARE_SAFETY: _l("Elderly-care service safety"),
    TipCategory.FIRE: _l("Fire safety"),
    TipCategory.BUILDINGS: _l("Buildings and construction"),
    TipCategory.GAS: _l("Gas"),
    TipCategory.SPECIAL_EQUIPMENT: _l("Special equipment (lifts, boilers, pressure vessels)"),
    TipCategory.OTHER: _l("Other"),
}

RELATIONSHIP_LABELS: dict[Relationship, Any] = {
    Relationship.EMPLOYEE: _l("I work there"),
    Relationship.RESIDENT: _l("I live there"),
    Relationship.FAMILY: _l("A family member lives there"),
    Relationship.NEIGHBOUR: _l("I live or work nearby"),
    Relationship.OTHER: _l("Other"),
}

#: The plain-language state and what it means for the reporter, by the value of
#: ``intake.models.TipState`` (strings, so that a state added later simply shows its value
#: until it gets a label here).
STATE_LABELS: dict[str, Any] = {
    "submitted": _l("Received"),
    "accepted": _l("Accepted"),
    "not_accepted": _l("Not accepted"),
    "transferred": _l("Passed to another authority"),
    "verifying": _l("Being verified"),
    "substantiated": _l("Confirmed"),
    "partly_substantiated": _l("Partly confirmed"),
    "unsubstantiated": _l("Not confirmed"),
    "rechecking": _l("Being checked again after your objection"),
    "rechecked": _l("Checked again"),
    "duplicate": _l("Already reported by someone else"),
    "closed": _l("Closed"),
}
STATE_EXPLANATIONS: dict[str, Any] = {
    "submitted": _l(
        "Your report has arrived and is waiting for a triage officer to decide whether it is "
        "accepted for verification."
    ),
    "accepted": _l("Your report was accepted; verification will start."),
    "not_accepted": _l(
        "Your report was not accepted. The reason is given below when there is one."
    ),
    "transferred": _l("Your report concerns another authority and was passed on to it."),
    "verifying": _l("Officers are verifying your report against the official judgment standards."),
    "substantiated": _l("The verification confirmed the hazard you reported."),
    "partly_substantiated": _l("The verification confirmed part of what you reported."),
    "unsubstantiated": _l("The verification did not confirm what you reported."),
    "rechecking": _l("You objected to the conclusion; the report is being checked again."),
    "rechecked": _l("The report was checked again after your objection."),
    "duplicate": _l("An earlier report on the same matter is being handled."),
    "closed": _l("The handling of your report has ended."),
}


FACILITY_TYPE_LABELS: dict[FacilityType, Any] = {
    FacilityType.ELDERLY_CARE_HOME: _l("Elderly-care home"),
    FacilityType.DAY_CARE_CENTRE: _l("Day-care centre"),
    FacilityType.WELFARE_HOME: _l("Welfare home"),
    FacilityType.CHILD_WELFARE: _l("Child-welfare institution"),
    FacilityType.OTHER: _l("Other institution"),
}

FACILITY_STATUS_LABELS: dict[FacilityStatus, Any] = {
    FacilityStatus.OPERATING: _l("Operating"),
    FacilityStatus.SUSPENDED: _l("Suspended"),
    FacilityStatus.CLOSED: _l("Closed"),
}


def state_label(state: str) -> Any:
    return STATE_LABELS.get(state, state)


def state_explanation(state: str) -> Any:
    return STATE_EXPLANATIONS.get(state, "")
