"""Errors of the registry."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class DivisionNotFound(NotFound):
    message = "No such division."


class DivisionNameTaken(Conflict):
    message = "A division with this name already exists."
