"""What the case services share: today's date on screen, cleaning an officer's text, and
recording a step of the workflow (state, audit record, flush)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy.orm import Session

from cases import errors
from cases.models import CaseState, HazardCase
from cases.workflow import Action
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock, local

#: Longest text an officer writes in one field.
TEXT_MAX = 10_000
#: Longest one-line field (a responsible person, a target of a measure, a circular number …).
LINE_MAX = 200
#: Largest amount of rectification funds, in fen (¥100 million).
FUNDS_MAX_FEN = 10_000_000_000


def today(clock: Clock) -> dt.date:
    """Today in Asia/Shanghai: the dates of the closed loop are calendar days there."""
    return local(clock.now()).date()


def clean_text(value: str, maximum: int = TEXT_MAX, *, required: bool = True) -> str:
    """A text as stored: surrounding space removed, not empty (unless optional), not too
    long, no control characters other than line breaks and tabs."""
    text = value.strip()
    if not text and required:
        raise errors.TextRequired()
    if len(text) > maximum:
        raise errors.TextTooLong(max=maximum)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise errors.TextHasControlCharacters()
    if maximum <= LINE_MAX and any(c in "\n\r\t" for c in text):
        raise errors.TextHasControlCharacters()
    return text


def record_step(
    session: Session,
    clock: Clock,
    actor: User,
    case: HazardCase,
    *,
    action: Action,
    target: CaseState,
    details: dict[str, Any] | None = None,
) -> None:
    """Set ``case`` to ``target`` and write the audit record ``case.<action>`` (from, to and
    ``details``, never a text); the caller checked the table and set the state's columns."""
    source = case.state
    case.state = target
    audit.record(
        session,
        clock,
        actor_of(actor),
        f"case.{action.value}",
        "hazard_case",
        str(case.id),
        {"from": source.value, "to": target.value, **(details or {})},
    )
    # Flushed (audit.record flushes too) so the CHECK constraints judge the new state inside
    # the service that made it.
    session.flush()
