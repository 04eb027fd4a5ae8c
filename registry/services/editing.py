"""Registry services: adding and changing facilities, their special equipment, and the edit
history.

Values come in as a mapping from field name (see :data:`registry.fields.FIELDS`) to a value:
what a form field gives (an int, a date, an enum member, ``None`` for empty) or what a
spreadsheet cell holds (text); each is read by :func:`registry.fields.parse_cell`, so the form
and the import apply the same rules. Only the fields in the mapping change: the form passes
every field, an import only the cells that are filled in.

Every change writes one :class:`~registry.models.FacilityRevision` (who, when, each field old →
new), shown on the facility page, and, except within an import (which is audited once, with
counts), an audit record naming the changed fields.

The editor is a staff :class:`~core.accounts.models.User` (role and division checked here) or
an audit :class:`~core.audit.services.Actor` for the system (the command line run by whoever
holds the server, the demo loader): the system is not checked.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import Actor, actor_of, record
from core.clock import Clock
from core.errors import N_
from registry import fields
from registry.errors import (
    CreditCodeTaken,
    EquipmentNotFound,
    FacilityNameTaken,
    FieldProblem,
    InvalidFacility,
)
from registry.fields import BY_NAME, EquipmentItem, FieldError, Kind
from registry.models import (
    Division,
    Facility,
    FacilityEquipment,
    FacilityRevision,
    FacilityStatus,
    FacilityTypeRecord,
    RevisionKind,
    Tenure,
)
from registry.services.access import require_write
from registry.services.facilities import get_facility, get_facility_for
from registry.services.facility_types import find_facility_type

Editor = User | Actor

#: Fields every facility has; the form always sends them, a new import row needs them.
REQUIRED = ("name", "division", "facility_type")
#: Newest revisions shown on a facility page.
HISTORY_LIMIT = 200

_TEXT_KINDS = {Kind.TEXT, Kind.PHONE, Kind.FLOORS}


def editor_actor(editor: Editor) -> Actor:
    return actor_of(editor) if isinstance(editor, User) else editor


def _check_write(editor: Editor, division_id: int | None = None) -> None:
    if isinstance(editor, User):
        require_write(editor, division_id)


# ---------------------------------------------------------------- reading the values


def resolve_division(session: Session, raw: object, current_id: int | None = None) -> int:
    """A division id from an id or a name (Chinese or English); FieldError if there is no
    such division or it is retired (unless it is the facility's current one)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        division = session.get(Division, raw)
    else:
        text = fields.parse_cell(BY_NAME["division"], raw)
        division = session.scalars(
            select(Division)
            .where((Division.name == text) | (func.lower(Division.name_en) == text.casefold()))
            .limit(1)
        ).first()
    if division is None:
        raise FieldError(N_("There is no such division."))
    if not division.active and division.id != current_id:
        raise FieldError(N_("This division is no longer in use."))
    return division.id


def _facility_type(session: Session, raw: object, current_id: int | None) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        kind = session.get(FacilityTypeRecord, raw)
    else:
        kind = find_facility_type(session, fields.parse_cell(BY_NAME["facility_type"], raw))
    if kind is None:
        raise FieldError(N_("There is no such facility type."))
    if not kind.active and kind.id != current_id:
        raise FieldError(N_("This facility type is no longer in use."))
    return kind.id


def _empty(spec: fields.FieldSpec) -> Any:
    """The value of a field left empty: "" for text, False for the flag, None otherwise."""
    if spec.name in REQUIRED or spec.name == "status":
        raise FieldError(N_("This field is required."))
    if spec.name == "key_supervision":
        return False
    if spec.kind is Kind.EQUIPMENT:
        return ()
    return "" if spec.kind in _TEXT_KINDS else None


def _one(session: Session, name: str, raw: object, current: Facility | None) -> Any:
    spec = BY_NAME[name]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _empty(spec)
    if spec.kind is Kind.DIVISION:
        return resolve_division(session, raw, current.division_id if current else None)
    if spec.kind is Kind.FACILITY_TYPE:
        return _facility_type(session, raw, current.facility_type_id if current else None)
    if spec.kind is Kind.EQUIPMENT and isinstance(raw, (tuple, list)):
        items = tuple(raw)
        if len(items) > fields.EQUIPMENT_MAX:
            raise FieldError(N_("At most %(max)s pieces of equipment."), max=fields.EQUIPMENT_MAX)
        return items
    value = fields.parse_cell(spec, raw)
    if value is None:
        return "" if spec.kind in _TEXT_KINDS else None
    return value


def read_values(
    session: Session, values: Mapping[str, object], current: Facility | None
) -> dict[str, Any]:
    """Each given field read and checked; :class:`InvalidFacility` lists every problem."""
    cleaned: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, raw in values.items():
        if name not in BY_NAME:
            raise ValueError(f"unknown facility field {name!r}")
        try:
            cleaned[name] = _one(session, name, raw, current)
        except FieldError as exc:
            problems.append(FieldProblem(name, exc.message, dict(exc.params)))
    if problems:
        raise InvalidFacility(problems)
    return cleaned


# ---------------------------------------------------------------- the whole facility


def _state(facility: Facility | None) -> dict[str, Any]:
    """A facility's values by field name (the defaults of a new one)."""
    if facility is None:
        state: dict[str, Any] = {
            name: ("" if BY_NAME[name].kind in _TEXT_KINDS else None)
            for name in fields.COLUMN_FIELDS
        }
        state.update(
            status=FacilityStatus.OPERATING,
            key_supervision=False,
            division=None,
            facility_type=None,
            equipment=(),
        )
        return state
    state = {name: getattr(facility, name) for name in fields.COLUMN_FIELDS}
    state["division"] = facility.division_id
    state["facility_type"] = facility.facility_type_id
    state["equipment"] = equipment_items(facility)
    return state


def equipment_items(facility: Facility) -> tuple[EquipmentItem, ...]:
    return tuple(
        EquipmentItem(e.kind, e.quantity, e.registration_no, e.next_inspection_on)
        for e in facility.equipment
    )


def _problem(field: str, message: str, **params: object) -> FieldProblem:
    return FieldProblem(field, message, dict(params))


def _more(state: dict[str, Any], small: str, big: str) -> bool:
    return state[small] is not None and state[big] is not None and state[small] > state[big]


def consistency_problems(state: dict[str, Any]) -> list[FieldProblem]:
    """What the whole facility must satisfy (the CHECK constraints of ``facilities``, and a
    little more), with the field to show each problem next to."""
    problems = []
    if state["name"] is None or len(state["name"]) < fields.NAME_MIN:
        problems.append(_problem("name", N_("This field is required.")))
    problems.extend(
        _problem(name, N_("This field is required."))
        for name in ("division", "facility_type")
        if state[name] is None
    )
    if _more(state, "beds_nursing", "beds_total"):
        problems.append(_problem("beds_nursing", N_("More nursing beds than beds.")))
    if _more(state, "residents_disabled", "residents_current"):
        problems.append(
            _problem("residents_disabled", N_("More residents with disabilities than residents."))
        )
    if _more(state, "night_staff_count", "staff_count"):
        problems.append(_problem("night_staff_count", N_("More night staff than staff.")))
    if (state["latitude"] is None) != (state["longitude"] is None):
        missing = "longitude" if state["longitude"] is None else "latitude"
        problems.append(_problem(missing, N_("Give both latitude and longitude, or neither.")))
    if state["lease_end"] is not None and state["tenure"] is not Tenure.LEASED:
        problems.append(_problem("lease_end", N_("A lease end is for leased premises only.")))
    if state["panel_core_class"] is not None and state["has_colour_steel_panels"] is not True:
        problems.append(
            _problem("panel_core_class", N_("A panel core class needs colour-steel panels."))
        )
    if (
        state["control_room_operator_certified"] is not None
        and state["has_fire_control_room"] is not True
    ):
        problems.append(
            _problem(
                "control_room_operator_certified",
                N_("Control-room operators need a fire control room."),
            )
        )
    problems.extend(_floor_problems(state))
    return problems


def _floor_problems(state: dict[str, Any]) -> list[FieldProblem]:
    if not state["resident_floors"]:
        return []
    floors = [int(f) for f in state["resident_floors"].split(",")]
    if state["floors_above"] is not None and max(floors) > state["floors_above"]:
        return [
            _problem(
                "resident_floors",
                N_("Floor %(floor)s is above the building's %(count)s floors."),
                floor=max(floors),
                count=state["floors_above"],
            )
        ]
    below = state["floors_below"]
    if below is not None and min(floors) < -below:
        return [
            _problem(
                "resident_floors",
                N_("Floor %(floor)s is below the building's %(count)s basement floors."),
                floor=min(floors),
                count=below,
            )
        ]
    return []


def stored_form(name: str, value: Any) -> Any:
    """A value as the history stores it (JSON): enum values, ISO dates, equipment as text."""
    if value is None:
        return None
    if BY_NAME[name].kind is Kind.EQUIPMENT:
        return fields.format_equipment(value) or None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and not value:
        return None
    return value


def _changes(
    session: Session, before: dict[str, Any], after: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each changed field, old → new, as the history stores them. The division and the type
    are recorded by name (an id would mean nothing once renamed)."""
    changes = []
    for spec in fields.FIELDS:
        old, new = (
            stored_form(spec.name, before[spec.name]),
            stored_form(spec.name, after[spec.name]),
        )
        if old == new:
            continue
        if spec.kind in {Kind.DIVISION, Kind.FACILITY_TYPE}:
            old, new = _name_of(session, spec.kind, old), _name_of(session, spec.kind, new)
        changes.append({"field": spec.name, "from": old, "to": new})
    return changes


def _name_of(session: Session, kind: Kind, record_id: int | None) -> str | None:
    if record_id is None:
        return None
    if kind is Kind.DIVISION:
        return session.scalar(select(Division.name).where(Division.id == record_id))
    return session.scalar(
        select(FacilityTypeRecord.name_zh).where(FacilityTypeRecord.id == record_id)
    )


def _check_unique(session: Session, state: dict[str, Any], facility_id: int | None) -> None:
    others = select(Facility.id)
    if facility_id is not None:
        others = others.where(Facility.id != facility_id)
    if state["credit_code"] is not None and session.scalar(
        others.where(Facility.credit_code == state["credit_code"]).limit(1)
    ):
        raise CreditCodeTaken()
    if session.scalar(
        others.where(
            Facility.division_id == state["division"], Facility.name == state["name"]
        ).limit(1)
    ):
        raise FacilityNameTaken()


def _flush(session: Session, state: dict[str, Any], facility_id: int | None) -> None:
    """Flush in a savepoint: a duplicate committed meanwhile by another request becomes a
    clear error (and the savepoint undoes this change only), not a server error. (On
    PostgreSQL the insert waits for the other transaction, so the check afterwards sees it.)"""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        _check_unique(session, state, facility_id)
        raise  # not a duplicate: a broken rule is a bug, not the user's mistake


def _apply(facility: Facility, after: dict[str, Any], session: Session) -> None:
    for name in fields.COLUMN_FIELDS:
        setattr(facility, name, after[name])
    facility.division_id = after["division"]
    facility.facility_type_id = after["facility_type"]
    # The relationships follow the new ids when they are next loaded.
    if facility.id is not None:
        session.expire(facility, ["division", "facility_type"])
    if equipment_items(facility) != tuple(after["equipment"]):
        facility.equipment.clear()
        for item in after["equipment"]:
            facility.equipment.append(
                FacilityEquipment(
                    kind=item.kind,
                    quantity=item.quantity,
                    registration_no=item.registration_no,
                    next_inspection_on=item.next_inspection_on,
                )
            )


def _revision(
    session: Session,
    clock: Clock,
    editor: Editor,
    facility: Facility,
    *,
    kind: RevisionKind,
    changes: list[dict[str, Any]],
) -> None:
    actor = editor_actor(editor)
    session.add(
        FacilityRevision(
            facility_id=facility.id,
            at=clock.now(),
            actor_id=actor.id,
            actor_label=actor.label,
            kind=kind,
            changes=changes,
        )
    )


def create_facility(
    session: Session,
    clock: Clock,
    editor: Editor,
    values: Mapping[str, object],
    *,
    kind: RevisionKind = RevisionKind.CREATED,
    audit: bool = True,
) -> Facility:
    """Add a facility; ``values`` must name it, its division and its type. Records the
    revision and (unless ``audit`` is False, for an import) ``facility.created``."""
    _check_write(editor)
    before = _state(None)
    after = {**before, **read_values(session, values, None)}
    problems = consistency_problems(after)
    if problems:
        raise InvalidFacility(problems)
    _check_write(editor, after["division"])
    _check_unique(session, after, None)
    now = clock.now()
    facility = Facility(created_at=now, updated_at=now)
    _apply(facility, after, session)
    session.add(facility)
    _flush(session, after, None)
    # A new facility's history lists every value it starts with (from nothing).
    changes = _changes(session, dict.fromkeys(before), after)
    _revision(session, clock, editor, facility, kind=kind, changes=changes)
    if audit:
        record(
            session,
            clock,
            editor_actor(editor),
            "facility.created",
            "facility",
            facility.id,
            {"name": facility.name, "division_id": facility.division_id},
        )
    return facility


def change_facility(
    session: Session,
    clock: Clock,
    editor: Editor,
    facility: Facility,
    values: Mapping[str, object],
    *,
    kind: RevisionKind = RevisionKind.UPDATED,
    audit: bool = True,
) -> list[dict[str, Any]]:
    """Set the given fields of a loaded facility; returns the changes (empty: nothing
    changed, nothing recorded). The editor must write in the facility's division and, when
    it moves, in the new one."""
    _check_write(editor, facility.division_id)
    before = _state(facility)
    after = {**before, **read_values(session, values, facility)}
    problems = consistency_problems(after)
    if problems:
        raise InvalidFacility(problems)
    changes = _changes(session, before, after)
    if not changes:
        return []
    _check_write(editor, after["division"])
    _check_unique(session, after, facility.id)
    _apply(facility, after, session)
    facility.updated_at = clock.now()
    _flush(session, after, facility.id)
    _revision(session, clock, editor, facility, kind=kind, changes=changes)
    if audit:
        record(
            session,
            clock,
            editor_actor(editor),
            "facility.updated",
            "facility",
            facility.id,
            {"fields": [c["field"] for c in changes]},
        )
    return changes


def update_facility(
    session: Session,
    clock: Clock,
    editor: Editor,
    facility_id: int,
    values: Mapping[str, object],
) -> Facility:
    """Change a facility (see :func:`change_facility`)."""
    if isinstance(editor, User):
        facility = get_facility_for(session, editor, facility_id)
    else:
        facility = get_facility(session, facility_id)
    change_facility(session, clock, editor, facility, values)
    return facility


# ---------------------------------------------------------------- special equipment


def _equipment_list(facility: Facility) -> list[EquipmentItem]:
    return list(equipment_items(facility))


def _position(facility: Facility, equipment_id: int) -> int:
    for i, piece in enumerate(facility.equipment):
        if piece.id == equipment_id:
            return i
    raise EquipmentNotFound()


def add_equipment(
    session: Session, clock: Clock, editor: Editor, facility_id: int, item: EquipmentItem
) -> Facility:
    """Add a piece of special equipment (recorded as a change of the equipment list)."""
    facility = _writable(session, editor, facility_id)
    items = [*_equipment_list(facility), _checked(item)]
    change_facility(session, clock, editor, facility, {"equipment": tuple(items)})
    return facility


def update_equipment(
    session: Session,
    clock: Clock,
    editor: Editor,
    facility_id: int,
    equipment_id: int,
    *,
    item: EquipmentItem,
) -> Facility:
    """Change a piece of special equipment (after an inspection: its next date)."""
    facility = _writable(session, editor, facility_id)
    items = _equipment_list(facility)
    items[_position(facility, equipment_id)] = _checked(item)
    change_facility(session, clock, editor, facility, {"equipment": tuple(items)})
    return facility


def remove_equipment(
    session: Session, clock: Clock, editor: Editor, facility_id: int, equipment_id: int
) -> Facility:
    facility = _writable(session, editor, facility_id)
    items = _equipment_list(facility)
    del items[_position(facility, equipment_id)]
    change_facility(session, clock, editor, facility, {"equipment": tuple(items)})
    return facility


def _writable(session: Session, editor: Editor, facility_id: int) -> Facility:
    if isinstance(editor, User):
        facility = get_facility_for(session, editor, facility_id)
    else:
        facility = get_facility(session, facility_id)
    _check_write(editor, facility.division_id)
    return facility


def _checked(item: EquipmentItem) -> EquipmentItem:
    """The piece as the import would read it (its text parsed back), or InvalidFacility."""
    problems = []
    if not 1 <= item.quantity <= fields.EQUIPMENT_QUANTITY_MAX:
        problems.append(
            _problem(
                "quantity",
                N_("The quantity of a piece of equipment is 1 to %(max)s."),
                max=fields.EQUIPMENT_QUANTITY_MAX,
            )
        )
    registration = " ".join(item.registration_no.split())
    try:
        fields.check_registration(registration)
    except FieldError as exc:
        problems.append(FieldProblem("registration_no", exc.message, dict(exc.params)))
    date = item.next_inspection_on
    if date is not None and not fields.DATE_MIN <= date <= fields.DATE_MAX:
        problems.append(_problem("next_inspection_on", N_("The date is out of range.")))
    if problems:
        raise InvalidFacility(problems)
    return EquipmentItem(item.kind, item.quantity, registration, date)


# ---------------------------------------------------------------- history


def facility_history(session: Session, actor: User, facility_id: int) -> list[FacilityRevision]:
    """The facility's revisions, newest first (at most :data:`HISTORY_LIMIT`)."""
    facility = get_facility_for(session, actor, facility_id)
    return list(
        session.scalars(
            select(FacilityRevision)
            .where(FacilityRevision.facility_id == facility.id)
            .order_by(FacilityRevision.at.desc(), FacilityRevision.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )
