"""Errors of the registry.

Messages are English msgids (marked with ``N_`` for extraction); the sites translate them.
Errors about one input carry ``field``, the name of the form field to show them next to.
"""

from __future__ import annotations

from core.errors import N_, Conflict, Forbidden, InvalidInput, NotFound


class DivisionNotFound(NotFound):
    message = N_("No such division.")


class DivisionNameTaken(Conflict):
    message = N_("A division with this name already exists.")
    field = "name"


class DivisionCodeTaken(Conflict):
    message = N_("A division with this code already exists.")
    field = "code"


class InvalidDivision(InvalidInput):
    """One field of a division is not acceptable; ``field`` names it."""

    message = N_("The division is not valid.")

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


class DivisionEditForbidden(Forbidden):
    message = N_("Only administrators with city-wide scope may change divisions.")
