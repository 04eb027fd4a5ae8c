"""Registry services: facility types.

The kinds of institution the bureau oversees are data: the shipped list
(``registry/data/facility_types.json``, from regulations.md §4) is loaded by ``qingling init``
and ``qingling demo``, and a city-scope administrator adds, renames or retires types. A type is
never deleted (facilities refer to it): one no longer used is made inactive and leaves the
choices, while the facilities of that type keep it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts.access import require_role
from core.accounts.models import Role, User
from core.audit.services import Actor, actor_of, record
from core.clock import Clock
from core.errors import N_
from registry.errors import (
    FacilityTypeCodeTaken,
    FacilityTypeEditForbidden,
    FacilityTypeNameTaken,
    FacilityTypeNotFound,
    InvalidFacilityType,
)
from registry.models import FacilityTypeRecord

TYPE_CODE_MIN, TYPE_CODE_MAX = 2, 40
TYPE_NAME_MIN, TYPE_NAME_MAX = 2, 100
TYPE_NOTE_MAX = 500
TYPE_SORT_MAX = 1_000_000
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def default_facility_types() -> list[dict[str, Any]]:
    """The facility types shipped with the project."""
    text = resources.files("registry").joinpath("data/facility_types.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)["facility_types"]
    return data


def load_default_facility_types(session: Session, clock: Clock, actor: Actor) -> int:
    """Add the shipped types that are missing (matched by code); returns how many were added.
    Types an administrator edited or added are left as they are."""
    existing = set(session.scalars(select(FacilityTypeRecord.code)))
    names = set(session.scalars(select(FacilityTypeRecord.name_zh)))
    added = 0
    for item in default_facility_types():
        if item["code"] in existing or item["name_zh"] in names:
            continue
        kind = FacilityTypeRecord(
            code=item["code"],
            name_zh=item["name_zh"],
            name_en=item.get("name_en", ""),
            note=item.get("note", ""),
            sort_order=item.get("sort_order", 0),
            active=True,
        )
        session.add(kind)
        # Flushed for the id that the audit record names.
        session.flush()
        record(
            session,
            clock,
            actor,
            "facility_type.created",
            "facility_type",
            kind.id,
            {"type": kind.code, "source": "default data"},
        )
        added += 1
    return added


def list_facility_types(
    session: Session, *, include_inactive: bool = False
) -> list[FacilityTypeRecord]:
    query = select(FacilityTypeRecord).order_by(
        FacilityTypeRecord.sort_order, FacilityTypeRecord.id
    )
    if not include_inactive:
        query = query.where(FacilityTypeRecord.active.is_(True))
    return list(session.scalars(query))


def get_facility_type(session: Session, type_id: int) -> FacilityTypeRecord:
    kind = session.get(FacilityTypeRecord, type_id)
    if kind is None:
        raise FacilityTypeNotFound()
    return kind


def find_facility_type(session: Session, text: str) -> FacilityTypeRecord | None:
    """A type by its code, Chinese name or English name (case and width ignored)."""
    key = unicodedata.normalize("NFKC", text).strip()
    if not key:
        return None
    folded = key.casefold()
    return session.scalars(
        select(FacilityTypeRecord)
        .where(
            or_(
                FacilityTypeRecord.code == folded,
                FacilityTypeRecord.name_zh == key,
                func.lower(FacilityTypeRecord.name_en) == folded,
            )
        )
        .order_by(FacilityTypeRecord.id)
        .limit(1)
    ).first()


# ---------------------------------------------------------------- editing


@dataclass(frozen=True)
class FacilityTypeData:
    code: str
    name_zh: str
    name_en: str = ""
    note: str = ""
    sort_order: int = 0
    active: bool = True


_FIELDS = ("code", "name_zh", "name_en", "note", "sort_order", "active")


def can_edit_facility_types(actor: User) -> bool:
    """Only an active administrator whose scope is the whole city edits facility types."""
    return actor.active and actor.has_role(Role.ADMINISTRATOR) and actor.is_city_scope


def _require_editor(actor: User) -> None:
    require_role(actor, Role.ADMINISTRATOR)
    if not actor.is_city_scope:
        raise FacilityTypeEditForbidden()


#: C0 controls and DEL: never typed; PostgreSQL refuses NUL in text (found by tests/hostile).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _text(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def _clean(data: FacilityTypeData) -> dict[str, Any]:
    code = unicodedata.normalize("NFKC", data.code).strip().lower()
    if not (TYPE_CODE_MIN <= len(code) <= TYPE_CODE_MAX and _CODE.match(code)):
        raise InvalidFacilityType(
            "code",
            N_(
                "The code is %(min)s to %(max)s characters: lower-case letters, digits and _, "
                "starting with a letter."
            ),
            min=TYPE_CODE_MIN,
            max=TYPE_CODE_MAX,
        )
    name_zh = _text(data.name_zh)
    if not TYPE_NAME_MIN <= len(name_zh) <= TYPE_NAME_MAX:
        raise InvalidFacilityType(
            "name_zh",
            N_("The name must be %(min)s to %(max)s characters."),
            min=TYPE_NAME_MIN,
            max=TYPE_NAME_MAX,
        )
    name_en = _text(data.name_en)
    if len(name_en) > TYPE_NAME_MAX:
        raise InvalidFacilityType(
            "name_en", N_("The English name may be at most %(max)s characters."), max=TYPE_NAME_MAX
        )
    note = _CONTROL.sub(lambda m: m.group() if m.group() in "\t\n\r" else "", data.note).strip()
    if len(note) > TYPE_NOTE_MAX:
        raise InvalidFacilityType(
            "note", N_("The note may be at most %(max)s characters."), max=TYPE_NOTE_MAX
        )
    if isinstance(data.sort_order, bool) or not 0 <= data.sort_order <= TYPE_SORT_MAX:
        raise InvalidFacilityType(
            "sort_order",
            N_("The sort order must be a whole number from 0 to %(max)s."),
            max=TYPE_SORT_MAX,
        )
    return {
        "code": code,
        "name_zh": name_zh,
        "name_en": name_en,
        "note": note,
        "sort_order": data.sort_order,
        "active": bool(data.active),
    }


def _check_unique(session: Session, values: dict[str, Any], type_id: int | None) -> None:
    others = select(FacilityTypeRecord.id)
    if type_id is not None:
        others = others.where(FacilityTypeRecord.id != type_id)
    if session.scalar(others.where(FacilityTypeRecord.code == values["code"]).limit(1)):
        raise FacilityTypeCodeTaken()
    if session.scalar(others.where(FacilityTypeRecord.name_zh == values["name_zh"]).limit(1)):
        raise FacilityTypeNameTaken()


def _flush_unique(session: Session, values: dict[str, Any], type_id: int | None) -> None:
    """Flush in a savepoint, so that a duplicate committed meanwhile by another request
    becomes a clear error instead of a server error."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        _check_unique(session, values, type_id)
        raise  # not a duplicate: a broken rule is a bug, not the user's mistake


def create_facility_type(
    session: Session, clock: Clock, actor: User, data: FacilityTypeData
) -> FacilityTypeRecord:
    """Add a type (city-scope administrators only); records ``facility_type.created``."""
    _require_editor(actor)
    values = _clean(data)
    _check_unique(session, values, None)
    kind = FacilityTypeRecord(**values)
    session.add(kind)
    _flush_unique(session, values, None)
    record(
        session,
        clock,
        actor_of(actor),
        "facility_type.created",
        "facility_type",
        kind.id,
        {"type": kind.code, "changes": [{"field": f, "to": values[f]} for f in _FIELDS]},
    )
    return kind


def update_facility_type(
    session: Session, clock: Clock, actor: User, type_id: int, data: FacilityTypeData
) -> FacilityTypeRecord:
    """Change a type (city-scope administrators only); records ``facility_type.updated`` with
    each changed field's old and new value, nothing when nothing changed."""
    _require_editor(actor)
    kind = get_facility_type(session, type_id)
    values = _clean(data)
    _check_unique(session, values, kind.id)
    changes = []
    for name in _FIELDS:
        old, new = getattr(kind, name), values[name]
        if old != new:
            changes.append({"field": name, "from": old, "to": new})
            setattr(kind, name, new)
    if not changes:
        return kind
    _flush_unique(session, values, kind.id)
    record(
        session,
        clock,
        actor_of(actor),
        "facility_type.updated",
        "facility_type",
        kind.id,
        {"type": kind.code, "changes": changes},
    )
    return kind
