"""The cases tests use the triage tests' world: key groups, staff and tips driven to a state."""

from __future__ import annotations

from tests.triage.conftest import world

__all__ = ["world"]
