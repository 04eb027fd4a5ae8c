"""Registry services: divisions.

Divisions are never deleted: users, facilities, tips and cases refer to them, and the audit
trail names them. A division that is no longer used is deactivated (``active=False``): it
disappears from choices but everything that refers to it keeps its meaning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts.access import require_role
from core.accounts.models import Role, User
from core.audit.services import Actor, actor_of, record
from core.clock import Clock
from core.errors import N_
from registry.errors import (
    DivisionCodeTaken,
    DivisionEditForbidden,
    DivisionNameTaken,
    DivisionNotFound,
    InvalidDivision,
)
from registry.models import Division, DivisionKind

# Column limits (see registry/models.py).
NAME_MIN, NAME_MAX = 2, 60
NAME_EN_MAX = 100
MANAGEMENT_AREA_MAX = 60
CODE_LENGTH = 9
SORT_ORDER_MAX = 1_000_000


def default_divisions() -> list[dict[str, Any]]:
    """The divisions shipped with the project (``registry/data/divisions.json``)."""
    text = resources.files("registry").joinpath("data/divisions.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)["divisions"]
    return data


def load_default_divisions(session: Session, clock: Clock, actor: Actor) -> int:
    """Add the shipped divisions that are missing (matched by name); returns how many were added.

    Divisions an administrator has edited or added are left as they are.
    """
    existing = set(session.scalars(select(Division.name)))
    added = 0
    for item in default_divisions():
        if item["name"] in existing:
            continue
        division = Division(
            name=item["name"],
            name_en=item.get("name_en", ""),
            kind=DivisionKind(item["kind"]),
            code=item.get("code"),
            management_area=item.get("management_area", ""),
            sort_order=item.get("sort_order", 0),
            active=True,
        )
        session.add(division)
        # Flushed for the id that the audit record names.
        session.flush()
        record(
            session,
            clock,
            actor,
            "division.created",
            "division",
            division.id,
            {"name": division.name, "source": "default data"},
        )
        added += 1
    return added


def list_divisions(session: Session, *, include_inactive: bool = False) -> list[Division]:
    query = select(Division).order_by(Division.sort_order, Division.id)
    if not include_inactive:
        query = query.where(Division.active.is_(True))
    return list(session.scalars(query))


def get_division(session: Session, division_id: int) -> Division:
    division = session.get(Division, division_id)
    if division is None:
        raise DivisionNotFound()
    return division


# ---------------------------------------------------------------- editing


@dataclass(frozen=True)
class DivisionData:
    """What an administrator enters for a division. Text is cleaned by the service."""

    name: str
    kind: DivisionKind | str
    name_en: str = ""
    code: str | None = None  # 9 digits, or empty/None for "not verified"
    management_area: str = ""
    sort_order: int = 0
    active: bool = True


# The fields compared and recorded, in this order.
_FIELDS = ("name", "name_en", "kind", "code", "management_area", "sort_order", "active")


def can_edit_divisions(actor: User) -> bool:
    """Only an active administrator whose scope is the whole city edits divisions."""
    return actor.active and actor.has_role(Role.ADMINISTRATOR) and actor.is_city_scope


def _require_editor(actor: User) -> None:
    require_role(actor, Role.ADMINISTRATOR)
    if not actor.is_city_scope:
        raise DivisionEditForbidden()


#: C0 controls and DEL: never typed; PostgreSQL refuses NUL in text (found by tests/hostile).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _clean_text(value: str) -> str:
    # Drop control characters, collapse runs of whitespace (including the ideographic space)
    # and trim the ends.
    return " ".join(_CONTROL.sub(" ", value).split())


def _clean(data: DivisionData) -> dict[str, Any]:
    name = _clean_text(data.name)
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise InvalidDivision(
            "name",
            N_("The name must be %(min)s to %(max)s characters."),
            min=NAME_MIN,
            max=NAME_MAX,
        )
    name_en = _clean_text(data.name_en)
    if len(name_en) > NAME_EN_MAX:
        raise InvalidDivision(
            "name_en", N_("The English name may be at most %(max)s characters."), max=NAME_EN_MAX
        )
    try:
        kind = DivisionKind(data.kind)
    except ValueError:
        raise InvalidDivision("kind", N_("Choose a kind of division.")) from None
    # NFKC turns full-width digits from a Chinese input method into ASCII digits.
    code = unicodedata.normalize("NFKC", data.code or "").replace(" ", "")
    if code and (len(code) != CODE_LENGTH or not (code.isascii() and code.isdigit())):
        raise InvalidDivision(
            "code",
            N_("The code must be exactly %(length)s digits, or left empty."),
            length=CODE_LENGTH,
        )
    area = _clean_text(data.management_area)
    if len(area) > MANAGEMENT_AREA_MAX:
        raise InvalidDivision(
            "management_area",
            N_("The management area may be at most %(max)s characters."),
            max=MANAGEMENT_AREA_MAX,
        )
    if isinstance(data.sort_order, bool) or not 0 <= data.sort_order <= SORT_ORDER_MAX:
        raise InvalidDivision(
            "sort_order",
            N_("The sort order must be a whole number from 0 to %(max)s."),
            max=SORT_ORDER_MAX,
        )
    return {
        "name": name,
        "name_en": name_en,
        "kind": kind,
        "code": code or None,
        "management_area": area,
        "sort_order": data.sort_order,
        "active": bool(data.active),
    }


def _check_unique(session: Session, values: dict[str, Any], division_id: int | None) -> None:
    others = select(Division.id)
    if division_id is not None:
        others = others.where(Division.id != division_id)
    if session.scalar(others.where(Division.name == values["name"]).limit(1)) is not None:
        raise DivisionNameTaken()
    if (
        values["code"] is not None
        and session.scalar(others.where(Division.code == values["code"]).limit(1)) is not None
    ):
        raise DivisionCodeTaken()


def _flush_unique(session: Session, values: dict[str, Any]) -> None:
    """Flush in a savepoint so that a concurrent duplicate becomes a clear error.

    The checks in :func:`_check_unique` catch duplicates already committed; a duplicate
    committed by another request between that check and this flush is refused by the unique
    constraint, which we translate here instead of letting it become a server error.
    """
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        if values["code"] is not None and session.scalar(
            select(Division.id).where(Division.code == values["code"]).limit(1)
        ):
            raise DivisionCodeTaken() from None
        raise DivisionNameTaken() from None


def _audit_value(value: Any) -> Any:
    return value.value if isinstance(value, DivisionKind) else value


def create_division(session: Session, clock: Clock, actor: User, data: DivisionData) -> Division:
    """Add a division (city-scope administrators only); records ``division.created``."""
    _require_editor(actor)
    values = _clean(data)
    _check_unique(session, values, None)
    division = Division(**values)
    session.add(division)
    _flush_unique(session, values)
    changes = [{"field": f, "to": _audit_value(values[f])} for f in _FIELDS]
    record(
        session,
        clock,
        actor_of(actor),
        "division.created",
        "division",
        division.id,
        {"name": division.name, "changes": changes},
    )
    return division


def update_division(
    session: Session, clock: Clock, actor: User, division_id: int, data: DivisionData
) -> Division:
    """Change a division (city-scope administrators only); records ``division.updated`` with
    each changed field's old and new value. Setting ``active=False`` is how a division is
    retired: there is no delete. Nothing changes and nothing is recorded when no field differs.
    """
    _require_editor(actor)
    division = get_division(session, division_id)
    values = _clean(data)
    _check_unique(session, values, division.id)
    changes = []
    for name in _FIELDS:
        old, new = getattr(division, name), values[name]
        if old != new:
            changes.append({"field": name, "from": _audit_value(old), "to": _audit_value(new)})
            setattr(division, name, new)
    if not changes:
        return division
    _flush_unique(session, values)
    record(
        session,
        clock,
        actor_of(actor),
        "division.updated",
        "division",
        division.id,
        {"name": division.name, "changes": changes},
    )
    return division
