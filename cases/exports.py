"""Exports of hazard cases as Excel (.xlsx), CSV and JSON: the ledger (隐患台账) with the
fields the upstream emergency-management platform asks for: facility and its unified social
credit code, division, category, judgment-standard items, discovery date, the current plan's
measures, responsibility and deadline, the case's deadline, closure, re-check (date and
outcome), state and relapse count, with the case's reference, source and description.

Scope is decided here (:func:`cases.services.access.case_scope_clause`); a division filter
outside the actor's scope is :class:`Forbidden`. Each export writes an audit record with the
format, the filters and the number of rows, nothing of the data.

Spreadsheet cells are neutralised: a text that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading apostrophe, so that Excel, WPS or LibreOffice never read it
as a formula (CSV injection). JSON carries the values as they are, with codes for the enums.

No Flask: the column headings and enum labels are English msgids, translated by the
``translate`` function the site passes (its ``gettext``).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases.dashboard import scope_division
from cases.models import CaseRelapse, CaseSource, CaseState, HazardCase, RectificationPlan
from cases.services.access import case_scope_clause
from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import actor_of
from core.clock import Clock, local
from core.errors import N_, Forbidden, InvalidInput
from intake.models import CATEGORY_LABELS, TipCategory
from registry.models import Division, Facility
from registry.services import get_division
from registry.tables import xlsx_text

#: Most rows one export may hold; a larger one asks for narrower filters.
EXPORT_MAX = 100_000
#: What a neutralised cell starts with (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: How standard item codes are joined in one spreadsheet cell.
ITEM_SEPARATOR = "; "

Translate = Callable[[str], str]


class ExportFormat(enum.StrEnum):
    XLSX = "xlsx"
    CSV = "csv"
    JSON = "json"


MEDIA_TYPES = {
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
}


class RecheckOutcome(enum.StrEnum):
    CLEARED = "cleared"  # the re-check found the hazard gone (回头看 passed)
    RELAPSED = "relapsed"  # the re-check found it back; the case was reopened


CATEGORY_NAMES: Mapping[TipCategory, str] = CATEGORY_LABELS
#: The same msgids as the case pages (staff_site.forms.cases), so that both read alike.
STATE_NAMES: dict[CaseState, str] = {
    CaseState.OPEN: N_("Open"),
    CaseState.RECTIFYING: N_("Rectifying"),
    CaseState.AWAITING_ACCEPTANCE: N_("Awaiting acceptance"),
    CaseState.CLOSED: N_("Closed (awaiting re-check)"),
    CaseState.RECHECKED: N_("Re-checked"),
}
SOURCE_NAMES: dict[CaseSource, str] = {
    CaseSource.TIP: N_("A report"),
    CaseSource.INSPECTION: N_("An inspection"),
    CaseSource.SELF_REPORT: N_("The facility's own report"),
}
OUTCOME_NAMES: dict[RecheckOutcome, str] = {
    RecheckOutcome.CLEARED: N_("Cleared"),
    RecheckOutcome.RELAPSED: N_("Relapsed"),
}

#: The columns: JSON key and heading (an English msgid), in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("Case reference")),
    ("facility", N_("Facility")),
    ("facility_credit_code", N_("Unified social credit code")),
    ("division", N_("Division")),
    ("category", N_("Category")),
    ("source", N_("Source")),
    ("standard_items", N_("Judgment-standard items")),
    ("description", N_("Hazard description")),
    ("discovered_on", N_("Discovered on")),
    ("plan_measures", N_("Rectification measures")),
    ("plan_responsibility", N_("Responsibility")),
    ("plan_deadline", N_("Plan deadline")),
    ("deadline", N_("Current deadline")),
    ("closed_on", N_("Closed on")),
    ("rechecked_on", N_("Re-checked on")),
    ("recheck_outcome", N_("Re-check outcome")),
    ("state", N_("State")),
    ("relapse_count", N_("Relapses")),
)


@dataclass(frozen=True)
class ExportFilters:
    """Empty values do not filter. Dates bound ``discovered_on``, both ends included."""

    division_id: int | None = None
    states: frozenset[CaseState] = frozenset()
    discovered_from: dt.date | None = None
    discovered_to: dt.date | None = None

    def audit_form(self) -> dict[str, Any]:
        return {
            "division_id": self.division_id,
            "states": sorted(s.value for s in self.states),
            "discovered_from": None if self.discovered_from is None else str(self.discovered_from),
            "discovered_to": None if self.discovered_to is None else str(self.discovered_to),
        }


@dataclass(frozen=True)
class ExportRow:
    id: uuid.UUID
    facility: str
    facility_credit_code: str
    division: str
    category: TipCategory
    source: CaseSource
    standard_items: tuple[str, ...]
    description: str
    discovered_on: dt.date
    plan_measures: str
    plan_responsibility: str
    plan_deadline: dt.date | None
    deadline: dt.date | None
    closed_on: dt.date | None  # Asia/Shanghai date of the current closure
    rechecked_on: dt.date | None  # date of the latest re-check (passed, or found a relapse)
    recheck_outcome: RecheckOutcome | None
    state: CaseState
    relapse_count: int


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    filename: str
    media_type: str
    rows: int


# ---------------------------------------------------------------- reading


def _conditions(session: Session, actor: User, filters: ExportFilters) -> list[Any]:
    own = scope_division(actor)  # Forbidden for an actor who reads no case
    conds: list[Any] = [case_scope_clause(actor)]
    if filters.division_id is not None:
        if own is not None and filters.division_id != own:
            raise Forbidden()
        get_division(session, filters.division_id)
        conds.append(HazardCase.division_id == filters.division_id)
    if filters.states:
        conds.append(HazardCase.state.in_(sorted(filters.states)))
    if (
        filters.discovered_from is not None
        and filters.discovered_to is not None
        and filters.discovered_from > filters.discovered_to
    ):
        raise InvalidInput(N_("The first date is after the last date."))
    if filters.discovered_from is not None:
        conds.append(HazardCase.discovered_on >= filters.discovered_from)
    if filters.discovered_to is not None:
        conds.append(HazardCase.discovered_on <= filters.discovered_to)
    return conds


def export_rows(session: Session, actor: User, filters: ExportFilters) -> list[ExportRow]:
    """The cases ``actor`` may read that match ``filters``, by division, then discovery date.
    Not audited by itself: :func:`export_cases` is the audited export."""
    conds = _conditions(session, actor, filters)
    total = session.scalar(select(func.count()).select_from(HazardCase).where(*conds)) or 0
    if total > EXPORT_MAX:
        raise InvalidInput(
            N_("More than %(max)s cases match. Narrow the filters and export again."),
            max=EXPORT_MAX,
        )
    plan_rank = (
        func.row_number()
        .over(
            partition_by=RectificationPlan.case_id,
            order_by=(RectificationPlan.created_at.desc(), RectificationPlan.id.desc()),
        )
        .label("rank")
    )
    plans = select(
        RectificationPlan.case_id,
        RectificationPlan.measures,
        RectificationPlan.responsibility,
        RectificationPlan.deadline,
        plan_rank,
    ).subquery()
    relapses = (
        select(CaseRelapse.case_id, func.max(CaseRelapse.created_at).label("at"))
        .group_by(CaseRelapse.case_id)
        .subquery()
    )
    query = (
        select(
            HazardCase.id,
            HazardCase.category,
            HazardCase.source,
            HazardCase.standard_items,
            HazardCase.description,
            HazardCase.discovered_on,
            HazardCase.deadline,
            HazardCase.closed_at,
            HazardCase.rechecked_at,
            HazardCase.state,
            HazardCase.relapse_count,
            Facility.name.label("facility"),
            Facility.credit_code,
            Division.name.label("division"),
            plans.c.measures,
            plans.c.responsibility,
            plans.c.deadline.label("plan_deadline"),
            relapses.c.at.label("relapsed_at"),
        )
        .join(Division, Division.id == HazardCase.division_id)
        .outerjoin(Facility, Facility.id == HazardCase.facility_id)
        .outerjoin(plans, (plans.c.case_id == HazardCase.id) & (plans.c.rank == 1))
        .outerjoin(relapses, relapses.c.case_id == HazardCase.id)
        .where(*conds)
        .order_by(
            Division.sort_order,
            Division.id,
            HazardCase.discovered_on,
            HazardCase.created_at,
            HazardCase.id,
        )
    )
    rows: list[ExportRow] = []
    for r in session.execute(query):
        rechecked_on: dt.date | None = None
        outcome: RecheckOutcome | None = None
        if r.rechecked_at is not None:
            rechecked_on, outcome = local(r.rechecked_at).date(), RecheckOutcome.CLEARED
        elif r.relapsed_at is not None:
            rechecked_on, outcome = local(r.relapsed_at).date(), RecheckOutcome.RELAPSED
        rows.append(
            ExportRow(
                id=r.id,
                facility=r.facility or "",
                facility_credit_code=r.credit_code or "",
                division=r.division,
                category=TipCategory(r.category),
                source=CaseSource(r.source),
                standard_items=tuple(r.standard_items or ()),
                description=r.description,
                discovered_on=r.discovered_on,
                plan_measures=r.measures or "",
                plan_responsibility=r.responsibility or "",
                plan_deadline=r.plan_deadline,
                deadline=r.deadline,
                closed_on=None if r.closed_at is None else local(r.closed_at).date(),
                rechecked_on=rechecked_on,
                recheck_outcome=outcome,
                state=CaseState(r.state),
                relapse_count=int(r.relapse_count),
            )
        )
    return rows


# ---------------------------------------------------------------- writing


def neutralise(value: str) -> str:
    """A text made safe for a spreadsheet cell: one that a spreadsheet would take for a
    formula gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cells(row: ExportRow, translate: Translate) -> list[str | int | dt.date | None]:
    """One row as spreadsheet cells: labels translated, texts neutralised, dates as dates."""
    texts = [
        str(row.id),
        row.facility,
        row.facility_credit_code,
        row.division,
        translate(CATEGORY_NAMES[row.category]),
        translate(SOURCE_NAMES[row.source]),
        ITEM_SEPARATOR.join(row.standard_items),
        row.description,
    ]
    return [
        *(neutralise(t) for t in texts),
        row.discovered_on,
        neutralise(row.plan_measures),
        neutralise(row.plan_responsibility),
        row.plan_deadline,
        row.deadline,
        row.closed_on,
        row.rechecked_on,
        "" if row.recheck_outcome is None else translate(OUTCOME_NAMES[row.recheck_outcome]),
        translate(STATE_NAMES[row.state]),
        row.relapse_count,
    ]


def headings(translate: Translate) -> list[str]:
    return [neutralise(translate(label)) for _, label in COLUMNS]


def to_csv(rows: Sequence[ExportRow], translate: Translate) -> bytes:
    """UTF-8 with a byte-order mark (so that Excel in China opens it as UTF-8), CRLF lines,
    dates as YYYY-MM-DD."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings(translate))
    for row in rows:
        writer.writerow(
            "" if v is None else v.isoformat() if isinstance(v, dt.date) else v
            for v in _cells(row, translate)
        )
    return out.getvalue().encode("utf-8-sig")


#: Column widths of the spreadsheet, in characters.
_WIDTHS = (38, 30, 22, 12, 16, 12, 28, 40, 12, 40, 24, 12, 12, 12, 12, 12, 14, 8)


def to_xlsx(rows: Sequence[ExportRow], translate: Translate, *, title: str) -> bytes:
    """One sheet, headings in bold and frozen, dates as date cells (yyyy-mm-dd)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=neutralise(title)[:31])
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in headings(translate):
        cell = WriteOnlyCell(sheet, value=xlsx_text(text))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells: list[Any] = []
        value: Any  # a date cell: the stubs name only datetime, openpyxl takes a date too
        for value in _cells(row, translate):
            cell = WriteOnlyCell(sheet, value=xlsx_text(value) if isinstance(value, str) else value)
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_json(rows: Sequence[ExportRow], filters: ExportFilters, exported_at: dt.datetime) -> bytes:
    """``{"exported_at", "filters", "count", "cases": [...]}`` with the keys of
    :data:`COLUMNS`, enum codes (not labels), ISO dates and null for an empty date."""

    def plain(value: object) -> object:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    document = {
        "exported_at": exported_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "filters": filters.audit_form(),
        "count": len(rows),
        "cases": [{key: plain(getattr(row, key)) for key, _ in COLUMNS} for row in rows],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def export_cases(
    session: Session,
    clock: Clock,
    actor: User,
    filters: ExportFilters,
    export_format: ExportFormat,
    *,
    translate: Translate = str,
) -> ExportFile:
    """The export file, audited as ``case.export`` with the format, the filters and the row
    count. :class:`Forbidden` for an actor who may read no case or a division outside scope;
    :class:`InvalidInput` for a reversed date range or too many rows."""
    rows = export_rows(session, actor, filters)
    now = clock.now()
    stem = f"hazard-cases-{local(now):%Y%m%d-%H%M}"
    if export_format is ExportFormat.XLSX:
        content = to_xlsx(rows, translate, title=translate(N_("Hazard cases")))
    elif export_format is ExportFormat.CSV:
        content = to_csv(rows, translate)
    else:
        content = to_json(rows, filters, now)
    audit.record(
        session,
        clock,
        actor_of(actor),
        "case.export",
        "hazard_case",
        None,
        {"format": export_format.value, "filters": filters.audit_form(), "rows": len(rows)},
    )
    return ExportFile(
        content=content,
        filename=f"{stem}.{export_format.value}",
        media_type=MEDIA_TYPES[export_format],
        rows=len(rows),
    )
