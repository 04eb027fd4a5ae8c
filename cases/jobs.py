"""Timed work run by ``qingling jobs run-due``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.clock import Clock
from core.settings import Settings


def run_due(session: Session, clock: Clock, settings: Settings) -> list[str]:
    """Do what is due and return the lines ``qingling jobs run-due`` prints (ids, never
    content)."""
    return []
