"""Registry services: exporting facilities to CSV or Excel (.xlsx).

The columns are :data:`registry.fields.FIELDS` in order, headed in Chinese; the values are
written as the import reads them (yes/no as 是/否, choices by their Chinese word, dates as
2026-03-31, special equipment as ``电梯|2|登记证号|2027-03-31; …``), so an exported file
imported again changes nothing.

A text that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-`` or
``@``) is written with a leading apostrophe, which the import takes off again. In .xlsx every
text is also stored as a string cell, never as a formula. CSV is UTF-8 with a byte-order mark
so that Excel opens it with the right encoding. Each export is audited with its count only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import record
from core.clock import Clock, local
from core.errors import N_, InvalidInput
from registry import fields
from registry.errors import RegistryForbidden
from registry.fields import FIELDS, Kind
from registry.models import Division, Facility
from registry.services.access import can_read_registry
from registry.services.editing import Editor, editor_actor, equipment_items
from registry.services.facilities import FacilityFilters, all_facilities
from registry.tables import write_csv, write_xlsx

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class UnknownExportFormat(InvalidInput):
    message = N_("Choose CSV or Excel.")


@dataclass(frozen=True)
class ExportFile:
    filename: str  # ASCII, for Content-Disposition
    content_type: str
    data: bytes
    count: int


def header() -> list[str]:
    return [spec.header_zh for spec in FIELDS]


def _raw(facility: Facility, spec: fields.FieldSpec) -> Any:
    if spec.kind is Kind.DIVISION:
        return facility.division.name
    if spec.kind is Kind.FACILITY_TYPE:
        return facility.facility_type.name_zh
    if spec.kind is Kind.EQUIPMENT:
        return equipment_items(facility)
    return getattr(facility, spec.name)


def row_values(facility: Facility, *, typed: bool) -> list[object]:
    """One facility as a row: text everywhere, or (``typed``, for .xlsx) numbers as numbers
    and dates as dates."""
    row: list[object] = []
    for spec in FIELDS:
        value = _raw(facility, spec)
        if value is None:
            row.append(None)
        elif typed and spec.kind in {Kind.INT, Kind.FLOAT, Kind.DATE}:
            row.append(value)
        else:
            row.append(fields.neutralise(fields.format_value(spec, value)))
    return row


def export_facilities(
    session: Session,
    clock: Clock,
    editor: Editor,
    fmt: str,
    filters: FacilityFilters | None = None,
) -> ExportFile:
    """The facilities ``editor`` reads (all of them for the system) that match ``filters``,
    as a CSV or .xlsx file. Records ``facility.exported`` with the format and the count."""
    if fmt not in FORMATS:
        raise UnknownExportFormat()
    filters = filters or FacilityFilters()
    if isinstance(editor, User):
        if not can_read_registry(editor):
            raise RegistryForbidden()
        facilities = all_facilities(session, editor, filters)
    else:
        facilities = _every_facility(session, filters)
    typed = fmt == "xlsx"
    rows = [row_values(f, typed=typed) for f in facilities]
    data = (
        write_xlsx(header(), rows, sheet_title="机构名册") if typed else write_csv(header(), rows)
    )
    stamp = local(clock.now()).strftime("%Y%m%d-%H%M")
    record(
        session,
        clock,
        editor_actor(editor),
        "facility.exported",
        "facility",
        None,
        {"format": fmt, "count": len(rows)},
    )
    return ExportFile(f"facilities-{stamp}.{fmt}", FORMATS[fmt], data, len(rows))


def _every_facility(session: Session, filters: FacilityFilters) -> list[Facility]:
    query = select(Facility).join(Division, Division.id == Facility.division_id)
    if filters.division_id is not None:
        query = query.where(Facility.division_id == filters.division_id)
    return list(session.scalars(query.order_by(Division.sort_order, Facility.name, Facility.id)))
