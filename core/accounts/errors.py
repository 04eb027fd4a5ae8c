"""Errors of the staff account services. Messages are English msgids, translated by the sites."""

from __future__ import annotations

from core.errors import N_, Conflict, DomainError, Forbidden, InvalidInput, NotFound


class InvalidUsername(InvalidInput):
    message = N_(
        "A user name has 3 to 64 characters: lower-case letters, digits, dots, dashes "
        "and underscores."
    )


class UsernameTaken(Conflict):
    message = N_("This user name is already taken.")


class WeakPassword(InvalidInput):
    """``message`` is the first problem found; ``problems`` holds them all."""

    message = N_("This password is too weak.")

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else None)
        self.problems = problems


class WrongCurrentPassword(InvalidInput):
    message = N_("Your current password is wrong.")


class UnknownDivision(InvalidInput):
    message = N_("There is no such division.")


class UserNotFound(NotFound):
    message = N_("There is no such user.")


class OutOfScope(Forbidden):
    message = N_("You can only manage the accounts of your own division.")


class CityScopeRequired(Forbidden):
    message = N_("Only a city-wide administrator can give city-wide scope or city-wide roles.")


class SelfLockout(Conflict):
    message = N_("You cannot disable your own account or remove your own administrator role.")


class LoginExpired(DomainError):
    status = 401
    message = N_("Your login has expired. Log in again.")


class AlreadyEnrolled(Conflict):
    message = N_("Two-step verification is already set up for this account.")
