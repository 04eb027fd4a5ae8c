"""Errors of the cases services. Messages are English msgids; none carries a text."""

from __future__ import annotations

from core.errors import N_, Conflict, Forbidden, InvalidInput, NotFound


class CaseNotPossible(Conflict):
    message = N_(
        "A hazard case can be opened only from a substantiated or partly substantiated report."
    )


class CaseAlreadyOpened(Conflict):
    message = N_("A hazard case has already been opened from this report.")


class StandardItemsRequired(InvalidInput):
    message = N_("Select at least one item of the judgment standard.")


class BadStandardItem(InvalidInput):
    message = N_("A judgment-standard item code is 1 to %(max)s characters, without spaces.")


class ReporterIdentityInCase(InvalidInput):
    """The description repeats the reporter's name or contact details."""

    message = N_(
        "The description contains the reporter's name or contact details. Remove them: the "
        "case is read by people who must not learn who reported."
    )


class CaseNotFound(NotFound):
    message = N_("No such hazard case.")


class CaseForbidden(Forbidden):
    message = N_("You are not allowed to do this with hazard cases.")


class InvalidCaseTransition(Conflict):
    message = N_("This step is not possible in the case's current state.")


class TextRequired(InvalidInput):
    message = N_("This text is required.")


class TextTooLong(InvalidInput):
    message = N_("This text is too long: at most %(max)s characters.")


class TextHasControlCharacters(InvalidInput):
    message = N_("This text contains control characters.")


class DivisionNotFound(InvalidInput):
    message = N_("No such division.")


class FacilityNotFound(InvalidInput):
    message = N_("No registered facility has this number.")


class FacilityOutsideDivision(InvalidInput):
    message = N_("The facility is registered in another division than the one chosen.")


class BadSource(InvalidInput):
    message = N_(
        "A case entered by an officer comes from an inspection or the facility's own report; "
        "cases from reports are opened on the report's page."
    )


class BadPlaceClass(InvalidInput):
    message = N_("Choose a class of place from the list.")


class DiscoveredInFuture(InvalidInput):
    message = N_("The date of discovery cannot be in the future.")


class DeadlineInPast(InvalidInput):
    message = N_("The deadline cannot be before today.")


class DeadlineBeforeDiscovery(InvalidInput):
    message = N_("The deadline cannot be before the date of discovery.")


class BadFunds(InvalidInput):
    message = N_("The funds are an amount in yuan from 0 to %(max)s.")


class BadEnforcementDates(InvalidInput):
    message = N_("The end date of a measure cannot be before its start date.")


class EnforcementNotFound(NotFound):
    message = N_("No such enforcement measure on this case.")


class EnforcementAlreadyEnded(Conflict):
    message = N_("This enforcement measure has already ended.")


class AcceptanceBySameOfficer(Conflict):
    message = N_(
        "Acceptance must be done by someone other than the officer who ran the "
        "rectification (who wrote the current plan or submitted it for acceptance)."
    )


class EvidenceRequired(InvalidInput):
    message = N_("Attach at least one evidence file.")


class TooManyFiles(InvalidInput):
    message = N_("At most %(max)s files at a time.")


class EvidenceTooLarge(InvalidInput):
    status = 413
    message = N_("This evidence file is too large: at most %(limit)s MB.")


class CaseEvidenceFull(Conflict):
    message = N_("This case already holds %(limit)s MB of evidence files; no more can be added.")


class EvidenceNotFound(NotFound):
    message = N_("No such evidence file on this case.")


class NotOverdue(Conflict):
    message = N_("Only overdue cases are escalated with an interview or a circular.")


class CircularNumberTaken(Conflict):
    message = N_("A circular with this number has already been recorded.")


class EscalationRecordNotFound(NotFound):
    message = N_("No such interview or circular record on this case.")


class PublicSummaryRequired(InvalidInput):
    message = N_("Write the summary the public will read.")


class HeldInFuture(InvalidInput):
    message = N_("The date cannot be in the future.")
