"""Errors of the cases services. Messages are English msgids; none carries a text."""

from __future__ import annotations

from core.errors import N_, Conflict, InvalidInput


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
