"""Typed domain errors. Each carries its HTTP status; the sites map them in one place
(:mod:`core.web`), so services never call ``abort()``."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional name extractors look for
    """Mark a message for translation without translating it here (services know no locale)."""
    return message


class DomainError(Exception):
    """Base of every error a service raises on purpose.

    ``message`` is an English msgid; the sites translate it for display. It must never contain
    secrets or anything a reporter wrote.
    """

    status = 400
    message = N_("The request could not be completed.")

    def __init__(self, message: str | None = None, **params: object) -> None:
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404
    message = N_("Not found.")


class Forbidden(DomainError):
    status = 403
    message = N_("You are not allowed to do this.")


class Conflict(DomainError):
    status = 409
    message = N_("This conflicts with the current state.")


class InvalidInput(DomainError):
    status = 400
    message = N_("The input is not valid.")


class TooManyAttempts(DomainError):
    status = 429
    message = N_("Too many attempts. Try again in %(minutes)s minutes.")


class AuthenticationFailed(DomainError):
    status = 401
    message = N_("The user name or password is wrong.")
