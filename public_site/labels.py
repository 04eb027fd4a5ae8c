"""What the public site calls the values of the domain enums, as English msgids (lazy, so they
are translated in the language of the request that shows them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l

from intake import models as intake_models
from intake.models import NotAcceptedReason, Relationship, TipCategory, TipState
from registry.models import FacilityStatus
from triage.services import reporter
from triage.services.reporter import ReporterState

K = TypeVar("K")


def _lazy(labels: Mapping[K, str]) -> dict[K, Any]:
    """The domain's msgids, translated in the language of the request that shows them."""
    return {key: _l(msgid) for key, msgid in labels.items()}


CATEGORY_LABELS: dict[TipCategory, Any] = _lazy(intake_models.CATEGORY_LABELS)

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


FACILITY_STATUS_LABELS: dict[FacilityStatus, Any] = {
    FacilityStatus.OPERATING: _l("Operating"),
    FacilityStatus.SUSPENDED: _l("Suspended"),
    FacilityStatus.CLOSED: _l("Closed"),
}


def state_label(state: str) -> Any:
    return STATE_LABELS.get(state, state)


def state_explanation(state: str) -> Any:
    return STATE_EXPLANATIONS.get(state, "")


# ---------------------------------------------------------------- the reporter's status
# (triage.services.reporter_status: the state in the reporter's terms, the outcomes, the
# reasons a report is not accepted)

REPORTER_STATE_LABELS: dict[ReporterState, Any] = _lazy(reporter.STATE_LABELS)
REPORTER_STATE_EXPLANATIONS: dict[ReporterState, Any] = _lazy(reporter.STATE_EXPLANATIONS)
#: The conclusion of a verification or re-check (``intake.models.CONCLUDED_STATES``).
OUTCOME_LABELS: dict[TipState, Any] = _lazy(reporter.OUTCOME_LABELS)
NOT_ACCEPTED_REASON_LABELS: dict[NotAcceptedReason, Any] = _lazy(
    reporter.NOT_ACCEPTED_REASON_LABELS
)


def reporter_state_label(state: ReporterState) -> Any:
    return REPORTER_STATE_LABELS.get(state, state.value)


def reporter_state_explanation(state: ReporterState) -> Any:
    return REPORTER_STATE_EXPLANATIONS.get(state, "")


def outcome_label(outcome: TipState | None) -> Any:
    return "" if outcome is None else OUTCOME_LABELS.get(outcome, outcome.value)
