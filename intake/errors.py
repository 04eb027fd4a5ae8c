"""Errors of the intake services. Messages are English msgids; none carries anything a reporter
wrote, a token, or key material."""

from __future__ import annotations

from core.errors import N_, Conflict, DomainError, Forbidden, InvalidInput, NotFound


class IntakeNotReady(DomainError):
    """``qingling init`` has not run: no token parameters or no token pepper."""

    status = 503
    message = N_("Reporting is not set up yet. The administrator must run qingling init.")


class NoRecipients(DomainError):
    """No key group to seal the tip to: it would be readable by nobody."""

    status = 503
    message = N_("No key group can receive reports yet.")


class InvalidSubmission(InvalidInput):
    """One value of the submission breaks a rule; ``field`` names it (as in
    :class:`intake.services.TipSubmission`, ``attachments`` for the files)."""

    message = N_("The report is not valid.")
    field = ""

    def __init__(self, field: str, message: str | None = None, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


# Messages of InvalidSubmission, marked here for extraction.
DESCRIPTION_TOO_SHORT = N_("Describe the hazard in at least %(min)s characters.")
TEXT_TOO_LONG = N_("This text is too long: at most %(max)s characters.")
CHOOSE_CATEGORY = N_("Choose a hazard category.")
CHOOSE_CHANNEL = N_("Unknown channel.")
CHOOSE_RELATIONSHIP = N_("Choose how you know about the hazard.")
FACILITY_ONE_OF = N_("Choose a registered facility or type its name, not both.")
FACILITY_ID_INVALID = N_("This facility does not exist.")
TEXT_UNREADABLE = N_(
    "Part of this text could not be read (it was not sent as UTF-8). Type it again."
)
TEXT_CONTROL = N_("This text contains control characters (such as NUL) that cannot be stored.")


class UnknownDivision(InvalidSubmission):
    message = N_("This division does not exist.")

    def __init__(self) -> None:
        super().__init__("division_id")


class UnknownFacility(InvalidSubmission):
    message = N_("This facility is not in the registry. Search again, or type its name.")

    def __init__(self) -> None:
        super().__init__("facility_id")


class TooManyAttachments(InvalidSubmission):
    message = N_("A report can have at most %(limit)s files.")

    def __init__(self, limit: int) -> None:
        super().__init__("attachments", limit=limit)


class AttachmentTooLarge(InvalidSubmission):
    status = 413
    message = N_("A file can be at most %(limit)s MB.")

    def __init__(self, limit: int) -> None:
        super().__init__("attachments", limit=limit)


class AttachmentsTooLarge(InvalidSubmission):
    status = 413
    message = N_("The files of one report can be at most %(limit)s MB together.")

    def __init__(self, limit: int) -> None:
        super().__init__("attachments", limit=limit)


class TokenTypo(InvalidInput):
    """The typed token fails its format or check symbol, found before any key derivation.

    ``reason`` (``empty``, ``length``, ``character``, ``letter_u``, ``check``) and ``position``
    come from :class:`crypto.errors.InvalidToken`; the token itself is never kept.
    """

    message = N_("This is not a tracking token. Check each character and try again.")

    def __init__(self, reason: str, position: int | None = None) -> None:
        super().__init__(_TYPO_MESSAGES.get(reason, self.message), position=position or 0)
        self.reason = reason
        self.position = position


_TYPO_MESSAGES = {
    "empty": N_("Enter your tracking token."),
    "length": N_("A tracking token has 16 characters."),
    "character": N_("A tracking token has only digits and the letters A to Z."),
    "letter_u": N_("Tracking tokens never contain the letter U."),
    "check": N_("The tracking token has a typo. Check each character and try again."),
}


class UnknownToken(NotFound):
    """No tip for this (well-formed) token. The same error, after the same derivation, whether
    or not the token ever existed."""

    message = N_("No report matches this tracking token.")


class ReporterSessionEnded(DomainError):
    """No live reporter session for the value given (cookie or bearer credential)."""

    status = 401
    message = N_("Your session has ended. Enter your tracking token again.")


class AttachmentRefused(InvalidSubmission):
    """One uploaded file is refused (intake.media): ``position`` counts from 1; the message and
    status are those of the media error (415 for an unsupported kind)."""

    def __init__(self, position: int, message: str, status: int, **params: object) -> None:
        super().__init__("attachments", message, position=position, **params)
        self.status = status
        self.position = position


class TipNotFound(NotFound):
    message = N_("This report does not exist.")


class AttachmentNotFound(NotFound):
    message = N_("This file does not exist.")


class WrongKey(Forbidden):
    """The group key given does not open this tip's data key."""

    message = N_("This key cannot open this report.")


class TipDamaged(Conflict):
    """A stored envelope of the tip does not open under its own data key, or the stored
    envelopes differ from the hashes recorded in the audit chain: altered or corrupted."""

    status = 500
    message = N_("The stored report does not open: it may have been altered.")


class AttachmentDamaged(TipDamaged):
    message = N_("The stored file does not open: it may have been altered.")
