"""Registry services: importing facilities from a spreadsheet (CSV or .xlsx).

Good rows go in, bad rows come back in the report with their row number and every reason; a
bad row never stops the others, and a file that cannot be read at all changes nothing
(:class:`~registry.errors.ImportFileError`).

* **Columns** are found by their header, Chinese or English (:data:`registry.fields.FIELDS`,
  with common other spellings); the header row may sit below a title row. Columns nobody
  knows are ignored and listed in the report.
* **Matching**: a row is the facility with its unified social credit code; without a code,
  the facility with its name in its division. Anything else is a new facility, which needs a
  name, a division (from the row or the default division) and a facility type.
* **Empty cells never erase**: a row sets the fields whose cells are filled in and leaves the
  others as the registry holds them. A value is cleared on the facility's page.
* **Idempotent**: importing the same file again matches every row to the facility it made
  and changes nothing (no revision, no count of updates).
* **Duplicates within the file** (the same code, or the same name in the same division, on
  two rows) are refused from the second row on.
* **Formulas** (CSV injection): see :mod:`registry.fields`.

Each row runs in a savepoint, so a row refused by the database undoes only itself. Created and
changed facilities get a revision (kind ``imported``); the import as a whole gets one audit
record with its counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit.services import record
from core.clock import Clock
from core.errors import N_, Conflict, Forbidden
from registry import fields
from registry.errors import FieldProblem, ImportFileError, InvalidFacility, RegistryForbidden
from registry.fields import BY_NAME, FieldError
from registry.models import Facility, RevisionKind
from registry.services.access import can_write_division, require_write
from registry.services.editing import (
    REQUIRED,
    Editor,
    change_facility,
    create_facility,
    editor_actor,
    resolve_division,
)
from registry.tables import Cell, TableError, read_table

#: The header row is looked for in this many first rows (a title may come first).
HEADER_SEARCH_ROWS = 10

_OUTSIDE = N_("This facility is outside the divisions you may change.")


@dataclass(frozen=True)
class RowProblem:
    """One reason a row was refused: the column (as the file names it; "" for the row as a
    whole), an English msgid and its parameters."""

    column: str
    message: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RejectedRow:
    row: int  # as the spreadsheet numbers it (the header row is usually 1)
    name: str  # the row's facility name, to help find it ("" if none)
    problems: tuple[RowProblem, ...]


@dataclass
class ImportReport:
    format: str  # "csv" or "xlsx"
    encoding: str  # how a CSV file was read ("utf-8", "utf-8-sig", "gb18030", "utf-16")
    header_row: int
    columns: list[str]  # the headers taken, as the file writes them
    ignored_columns: list[str]  # the headers not understood (their columns were skipped)
    rows: int = 0  # data rows read (empty rows are skipped)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)


def _file_error(message: str, **params: object) -> ImportFileError:
    return ImportFileError(message, **params)


# ---------------------------------------------------------------- the header


@dataclass(frozen=True)
class _Columns:
    header_row: int
    by_index: dict[int, str]  # column index → field name
    headers: dict[str, str]  # field name → header as written in the file
    ignored: list[str]


def _find_header(rows: list[tuple[int, list[Cell]]]) -> tuple[int, _Columns]:
    """The position in ``rows`` of the header row and what its columns mean."""
    for position, (number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = [fields.field_for_header(fields.cell_text(c)) for c in cells]
        known = [n for n in names if n is not None]
        if len(known) >= 2 or "name" in known:
            return position, _columns(number, cells, names)
    raise _file_error(
        N_(
            "No column headers were recognised. The first row must name the columns, for "
            "example 机构名称, 统一社会信用代码, 所属镇（街道、园区）, 机构类型."
        )
    )


def _columns(number: int, cells: list[Cell], names: list[str | None]) -> _Columns:
    by_index: dict[int, str] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for index, (cell, name) in enumerate(zip(cells, names, strict=True)):
        text = fields.cell_text(cell)
        if name is None:
            if text:
                ignored.append(text[:60])
            continue
        if name in headers:
            raise _file_error(
                N_("Two columns mean the same thing: %(first)s and %(second)s."),
                first=headers[name],
                second=text,
            )
        by_index[index] = name
        headers[name] = text
    if "name" not in headers and "credit_code" not in headers:
        raise _file_error(
            N_("The file needs a column 机构名称 (name) or 统一社会信用代码 (credit code).")
        )
    return _Columns(number, by_index, headers, ignored)


# ---------------------------------------------------------------- one row


class _Refused(Exception):
    """A row is refused; carries its problems."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__("row refused")
        self.problems = problems


def _column(columns: _Columns, name: str) -> str:
    """What the report calls a field: the file's header, or the standard one."""
    return columns.headers.get(name) or (BY_NAME[name].header_zh if name in BY_NAME else "")


def _problems(columns: _Columns, found: list[FieldProblem]) -> list[RowProblem]:
    return [RowProblem(_column(columns, p.field), p.message, dict(p.params)) for p in found]


def _read_row(columns: _Columns, cells: list[Cell]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[RowProblem] = []
    for index, name in columns.by_index.items():
        raw = cells[index] if index < len(cells) else None
        try:
            value = fields.parse_cell(BY_NAME[name], raw)
        except FieldError as exc:
            problems.append(RowProblem(_column(columns, name), exc.message, dict(exc.params)))
            continue
        if value is not None and value != ():
            values[name] = value
    if problems:
        raise _Refused(problems)
    return values


@dataclass
class _Run:
    session: Session
    clock: Clock
    editor: Editor
    columns: _Columns
    default_division: int | None
    report: ImportReport
    seen: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def row(self, number: int, cells: list[Cell]) -> None:
        name_cell = ""
        if "name" in self.columns.headers:
            index = next(i for i, n in self.columns.by_index.items() if n == "name")
            name_cell = fields.cell_text(cells[index] if index < len(cells) else None)[:60]
        try:
            with self.session.begin_nested():
                self._take(number, cells)
        except _Refused as refused:
            self.report.rejected.append(RejectedRow(number, name_cell, tuple(refused.problems)))

    def _take(self, number: int, cells: list[Cell]) -> None:
        values = _read_row(self.columns, cells)
        if "division" in values:
            try:
                values["division"] = resolve_division(self.session, values["division"])
            except FieldError as exc:
                raise _Refused(
                    [RowProblem(_column(self.columns, "division"), exc.message, exc.params)]
                ) from None
        elif self.default_division is not None:
            values["division"] = self.default_division
        self._check_duplicate(number, values)
        facility = self._match(values)
        try:
            if facility is None:
                self._create(values)
            else:
                self._update(facility, values)
        except InvalidFacility as exc:
            raise _Refused(_problems(self.columns, exc.problems)) from None
        except Forbidden:
            raise _Refused([RowProblem("", _OUTSIDE)]) from None
        except Conflict as exc:
            name = getattr(exc, "field", None)
            column = _column(self.columns, name) if isinstance(name, str) else ""
            raise _Refused([RowProblem(column, exc.message, dict(exc.params))]) from None

    def _check_duplicate(self, number: int, values: dict[str, Any]) -> None:
        keys: list[tuple[Any, ...]] = []
        if values.get("credit_code"):
            keys.append(("code", values["credit_code"]))
        if values.get("name") and values.get("division") is not None:
            keys.append(("name", values["division"], values["name"]))
        earlier = next((self.seen[k] for k in keys if k in self.seen), None)
        for key in keys:
            self.seen.setdefault(key, number)
        if earlier is not None:
            raise _Refused(
                [RowProblem("", N_("Same facility as row %(row)s of this file."), {"row": earlier})]
            )

    def _match(self, values: dict[str, Any]) -> Facility | None:
        session = self.session
        code = values.get("credit_code")
        if code:
            found = session.scalars(select(Facility).where(Facility.credit_code == code)).first()
            if found is not None:
                return found
        if not values.get("name") or values.get("division") is None:
            return None
        found = session.scalars(
            select(Facility).where(
                Facility.division_id == values["division"], Facility.name == values["name"]
            )
        ).first()
        if found is not None and code and found.credit_code and found.credit_code != code:
            raise _Refused(
                [
                    RowProblem(
                        _column(self.columns, "credit_code"),
                        N_(
                            "A facility of this name in this division is registered with "
                            "another credit code (%(other)s)."
                        ),
                        {"other": found.credit_code},
                    )
                ]
            )
        return found

    def _create(self, values: dict[str, Any]) -> None:
        missing = [n for n in REQUIRED if values.get(n) is None]
        if missing:
            raise _Refused(
                [
                    RowProblem(
                        _column(self.columns, n),
                        N_("Needed for a new facility: %(column)s.")
                        if n != "division"
                        else N_(
                            "Needed for a new facility: the division (fill in the column or "
                            "choose a default division)."
                        ),
                        {"column": _column(self.columns, n)} if n != "division" else {},
                    )
                    for n in missing
                ]
            )
        create_facility(
            self.session, self.clock, self.editor, values, kind=RevisionKind.IMPORTED, audit=False
        )
        self.report.created += 1

    def _update(self, facility: Facility, values: dict[str, Any]) -> None:
        if isinstance(self.editor, User) and not can_write_division(
            self.editor, facility.division_id
        ):
            raise _Refused([RowProblem("", _OUTSIDE)])
        changes = change_facility(
            self.session,
            self.clock,
            self.editor,
            facility,
            values,
            kind=RevisionKind.IMPORTED,
            audit=False,
        )
        if changes:
            self.report.updated += 1
        else:
            self.report.unchanged += 1


def _default_division(session: Session, editor: Editor, default: int | str | None) -> int | None:
    if default is None or (isinstance(default, str) and not default.strip()):
        if isinstance(editor, User) and editor.division_id is not None:
            return editor.division_id
        return None
    try:
        division_id = resolve_division(session, default)
    except FieldError as exc:
        raise _file_error(N_("The default division: %(problem)s"), problem=exc.message) from None
    if isinstance(editor, User) and not can_write_division(editor, division_id):
        raise RegistryForbidden()
    return division_id


def import_facilities(
    session: Session,
    clock: Clock,
    editor: Editor,
    data: bytes,
    *,
    filename: str = "",
    default_division: int | str | None = None,
) -> ImportReport:
    """Import the facilities of a CSV or .xlsx file (see the module's docstring); the report
    says what happened to each row. Records ``facility.imported`` with the counts."""
    if isinstance(editor, User):
        require_write(editor)
    division_id = _default_division(session, editor, default_division)
    try:
        table = read_table(data, filename)
    except TableError as exc:
        raise _file_error(exc.message, **exc.params) from None
    position, columns = _find_header(table.rows)
    report = ImportReport(
        format=table.format,
        encoding=table.encoding,
        header_row=columns.header_row,
        columns=list(columns.headers.values()),
        ignored_columns=columns.ignored,
    )
    run = _Run(session, clock, editor, columns, division_id, report)
    for number, cells in table.rows[position + 1 :]:
        if not any(fields.cell_text(c) for c in cells):
            continue
        report.rows += 1
        run.row(number, cells)
    record(
        session,
        clock,
        editor_actor(editor),
        "facility.imported",
        "facility",
        None,
        {
            "format": report.format,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        },
    )
    return report


def describe(problem: RowProblem, translate: Any = None) -> str:
    """A problem as one line: "column: message" (``translate`` is gettext, or None for
    English, as the command line prints it)."""
    text = (translate or (lambda m, **p: m % p if p else m))(problem.message, **problem.params)
    return f"{problem.column}: {text}" if problem.column else str(text)


__all__ = [
    "ImportReport",
    "RejectedRow",
    "RowProblem",
    "describe",
    "import_facilities",
]
