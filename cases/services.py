"""Hazard cases, as far as triage's confirmation step needs them: opening a case from a
substantiated tip, and the redaction step before any passage of the tip is used.

The officer writes the case's description; nothing is copied from the tip by these services.
If the officer wants to start from a passage of the reporter's words, :func:`redact` first
removes the passages they mark as identifying (and records that it happened, with the count
only); :func:`open_case_from_tip` then refuses a description that still contains the
reporter's name or contact details.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from cases import errors
from cases.models import CaseState, HazardCase
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock
from core.settings import Settings
from intake import services as intake_services
from intake.models import TipState
from triage.services.common import clean_text, officer_tip, tip_keys

#: What a redacted passage becomes.
REDACTION_MARK = "[…]"
ITEM_MAX = 40
ITEMS_MAX = 50
#: Names and contact details shorter than this are not searched for (one character would
#: match everywhere).
IDENTITY_MIN = 2

_POSITIVE = frozenset({TipState.SUBSTANTIATED, TipState.PARTLY_SUBSTANTIATED})


@dataclass(frozen=True)
class RedactedText:
    text: str = field(repr=False)
    count: int  # passages removed (occurrences)


def redact(
    session: Session,
    clock: Clock,
    actor: User,
    tip_id: uuid.UUID,
    *,
    text: str,
    passages: Sequence[str],
) -> RedactedText:
    """``text`` with every occurrence of each passage replaced by :data:`REDACTION_MARK`;
    audited as ``case.redaction`` with the number of passages removed (never the text). A
    triage officer in the tip's scope only."""
    tip = officer_tip(session, actor, tip_id)
    count = 0
    for passage in sorted({p.strip() for p in passages if p.strip()}, key=len, reverse=True):
        found = text.count(passage)
        if found:
            text = text.replace(passage, REDACTION_MARK)
            count += found
    audit.record(
        session, clock, actor_of(actor), "case.redaction", "tip", str(tip.id), {"count": count}
    )
    return RedactedText(text, count)


def _items(values: Sequence[str]) -> list[str]:
    items: list[str] = []
    for value in values:
        code = value.strip()
        if (
            not code
            or len(code) > ITEM_MAX
            or any(c.isspace() or unicodedata.category(c) == "Cc" for c in code)
        ):
            raise errors.BadStandardItem(max=ITEM_MAX)
        if code not in items:
            items.append(code)
    if not items:
        raise errors.StandardItemsRequired()
    if len(items) > ITEMS_MAX:
        raise errors.BadStandardItem(max=ITEM_MAX)
    return items


def _squeeze(text: str) -> str:
    """For comparing: NFKC, case-folded, without white space."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def open_case_from_tip(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    personal_key: bytes,
    standard_items: Sequence[str],
    description: str,
) -> uuid.UUID:
    """Open a hazard case from a substantiated or partly substantiated tip (after a re-check,
    from its outcome); the case's id. The case takes the tip's facility, division and
    category, the items the officer selected and the officer's own description.

    A triage officer in the tip's scope who holds its key: the key is used to check that the
    description does not contain the reporter's name or contact details
    (:class:`ReporterIdentityInCase`). :class:`CaseNotPossible` for any other conclusion or
    state, :class:`CaseAlreadyOpened` the second time.
    """
    tip = officer_tip(session, actor, tip_id, lock=True)
    outcome = tip.recheck_outcome or tip.conclusion
    if tip.state is TipState.RECHECKING or outcome not in _POSITIVE:
        raise errors.CaseNotPossible()
    if session.scalar(select(HazardCase.id).where(HazardCase.tip_id == tip.id)) is not None:
        raise errors.CaseAlreadyOpened()
    items = _items(standard_items)
    text = clean_text(description)
    keys = tip_keys(session, actor, personal_key, tip)
    content = intake_services.open_with_group_key(
        session, tip.id, keys.group_id, keys.group_version, keys.group_private_key
    ).content
    squeezed = _squeeze(text)
    for value in (content.real_name, content.contact):
        needle = _squeeze(value)
        if len(needle) >= IDENTITY_MIN and needle in squeezed:
            raise errors.ReporterIdentityInCase()
    case_id = uuid.uuid4()
    session.add(
        HazardCase(
            id=case_id,
            tip_id=tip.id,
            facility_id=tip.facility_id,
            division_id=tip.division_id,
            category=tip.category,
            standard_items=items,
            description=text,
            state=CaseState.OPEN,
            created_at=clock.now(),
            created_by_id=actor.id,
        )
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.opened",
        "hazard_case",
        str(case_id),
        {"tip": str(tip.id), "items": len(items), "division_id": tip.division_id},
    )
    return case_id
