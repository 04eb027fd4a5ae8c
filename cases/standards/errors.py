"""Errors of the judgment-standard catalogue. Messages are English msgids."""

from __future__ import annotations

from core.errors import N_, Conflict, InvalidInput, NotFound


class UnknownStandardItem(InvalidInput):
    """A code that is not in the catalogue; ``params["code"]`` names it."""

    message = N_("“%(code)s” is not an item of any judgment standard in the catalogue.")


class BadItemCode(InvalidInput):
    message = N_("A judgment-standard item code is 1 to %(max)s characters.")


class TooManyItems(InvalidInput):
    message = N_("Select at most %(max)s judgment-standard items.")


class StandardNotFound(NotFound):
    message = N_("No such judgment standard.")


class StandardAlreadySuperseded(Conflict):
    message = N_("This judgment standard is already marked as superseded.")


class BadSuccessor(InvalidInput):
    message = N_(
        "The successor's code is at most %(max)s characters and differs from the standard's own."
    )


class InvalidStandardFile(InvalidInput):
    """An uploaded catalogue file failed validation; ``problems`` lists each problem as
    ``(where, msgid, params)`` so the page can show one translated line per item."""

    message = N_("The file was not loaded: %(count)s problems were found.")

    def __init__(self, problems: list[tuple[str, str, dict[str, object]]]) -> None:
        super().__init__(count=len(problems))
        self.problems = problems
