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


# ---------------------------------------------------------------- facility types


class FacilityTypeNotFound(NotFound):
    message = N_("No such facility type.")


class FacilityTypeCodeTaken(Conflict):
    message = N_("A facility type with this code already exists.")
    field = "code"


class FacilityTypeNameTaken(Conflict):
    message = N_("A facility type with this Chinese name already exists.")
    field = "name_zh"


class InvalidFacilityType(InvalidInput):
    """One field of a facility type is not acceptable; ``field`` names it."""

    message = N_("The facility type is not valid.")

    def __init__(self, field: str, message: str, **params: object) -> None:
        super().__init__(message, **params)
        self.field = field


class FacilityTypeEditForbidden(Forbidden):
    message = N_("Only administrators with city-wide scope may change facility types.")


# ---------------------------------------------------------------- facilities


class FacilityNotFound(NotFound):
    message = N_("No such facility.")


class RegistryForbidden(Forbidden):
    message = N_("You may not see or change this facility.")


class FieldProblem:
    """One field's problem: the field name, an English msgid and its parameters."""

    __slots__ = ("field", "message", "params")

    def __init__(self, field: str, message: str, params: dict[str, object] | None = None) -> None:
        self.field = field
        self.message = message
        self.params = params or {}

    def __repr__(self) -> str:
        return f"FieldProblem({self.field!r}, {self.message!r})"


class InvalidFacility(InvalidInput):
    """Some fields of a facility are not acceptable: ``problems`` lists each (field, msgid,
    parameters); ``field`` and the message are those of the first."""

    message = N_("The facility is not valid.")

    def __init__(self, problems: list[FieldProblem]) -> None:
        first = problems[0]
        super().__init__(first.message, **first.params)
        self.field = first.field
        self.problems = problems


class FacilityNameTaken(Conflict):
    message = N_("Another facility in this division already has this name.")
    field = "name"


class CreditCodeTaken(Conflict):
    message = N_("Another facility already has this unified social credit code.")
    field = "credit_code"


class EquipmentNotFound(NotFound):
    message = N_("No such piece of equipment.")


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported (nothing was taken from it)."""

    message = N_("The file cannot be imported.")
