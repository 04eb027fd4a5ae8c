"""Reading and writing spreadsheets: CSV and Excel (.xlsx) as rows of cells. No database and
no facility rules here (see :mod:`registry.services.imports` and ``exports``).

CSV as it arrives from the bureau's offices:

* UTF-8 with or without a byte-order mark, or GBK/GB 18030, the encoding Excel for Chinese
  Windows writes ("CSV (逗号分隔)"): UTF-8 is tried first (a GBK file almost never decodes as
  UTF-8), then GB 18030, which contains GBK. UTF-16 with a byte-order mark (Excel's "Unicode
  text") is read too. Anything else is refused with a message, not guessed at.
* Comma, tab or semicolon separated (whichever the header line uses most).
* Parsed strictly: a malformed file (say an unclosed quote) is refused, not read with the
  rest of the file swallowed into one cell.

Excel: the first worksheet of an .xlsx file, read with openpyxl in read-only mode. A formula
cell is handed over as :class:`registry.fields.FormulaCell` (its value is never computed or
trusted), an error cell (#REF! …) likewise. The old binary .xls format is refused. The archive
is checked before it is opened: at most :data:`XLSX_MAX_UNPACKED` bytes unpacked, so a small
file cannot unpack into gigabytes.

Writing: CSV as UTF-8 with a byte-order mark (so that Excel opens it with the right encoding)
and CRLF line ends; .xlsx with a bold, frozen header row. Neither writer changes the cells:
neutralising formula-like text is the caller's business (:func:`registry.fields.neutralise`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import N_
from registry.fields import FormulaCell

#: Largest file accepted for an import.
MAX_BYTES = 10 * 1024 * 1024
#: Most data rows read from one file.
MAX_ROWS = 10_000
#: Most columns read from one file.
MAX_COLUMNS = 200
#: Largest total size of an .xlsx archive's members once unpacked.
XLSX_MAX_UNPACKED = 100 * 1024 * 1024

Cell = str | int | float | dt.date | dt.datetime | bool | None


class TableError(ValueError):
    """The file cannot be read as a table; ``message`` is an English msgid."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Table:
    """The rows of a file: each with its row number as the spreadsheet shows it (1 = first)."""

    format: str  # "csv" or "xlsx"
    encoding: str  # "utf-8", "utf-8-sig", "gb18030", "utf-16" or "" for xlsx
    rows: list[tuple[int, list[Cell]]]


_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_table(data: bytes, filename: str = "") -> Table:
    """The rows of a CSV or .xlsx file (recognised by content; the name only breaks ties)."""
    if not data or not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise TableError(N_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise TableError(
            N_("The file is larger than %(mib)s MiB. Split it into several files."),
            mib=MAX_BYTES // (1024 * 1024),
        )
    if data.startswith(_OLE_MAGIC) or filename.lower().endswith(".xls"):
        raise TableError(
            N_("Old Excel files (.xls) are not read. Save the sheet as .xlsx or as CSV.")
        )
    if data.startswith(_XLSX_MAGIC):
        return _read_xlsx(data)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise TableError(N_("The file is not a valid Excel (.xlsx) file."))
    return _read_csv(data)


# ---------------------------------------------------------------- CSV


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read with."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise TableError(
                N_("The file says it is UTF-8 but is not. Save it again as CSV UTF-8.")
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise TableError(N_("The file cannot be read as UTF-16 text.")) from None
    if b"\x00" in data:
        raise TableError(
            N_(
                "The file is not a text file in a known encoding. Save it from Excel as "
                "CSV UTF-8, CSV or Excel workbook (.xlsx)."
            )
        )
    for encoding in ("utf-8", "gb18030"):
        text = _decoded(data, encoding)
        if text is not None:
            return text, encoding
    raise TableError(
        N_(
            "The file is neither UTF-8 nor GBK text. Save it from Excel as CSV UTF-8, "
            "CSV or Excel workbook (.xlsx)."
        )
    )


def _decoded(data: bytes, encoding: str) -> str | None:
    """The text, or None when ``data`` is not in ``encoding`` (the caller tries the next)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(data: bytes) -> Table:
    text, encoding = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[tuple[int, list[Cell]]] = []
    try:
        for number, record in enumerate(reader, start=1):
            _check_size(number, len(record))
            rows.append((number, list(record)))
    except csv.Error:
        raise TableError(N_("The CSV file is malformed (for example an unclosed quote).")) from None
    return Table("csv", encoding, rows)


def _check_size(row_number: int, columns: int) -> None:
    if row_number > MAX_ROWS + 20:  # the header may sit a few rows down
        raise TableError(
            N_("The file has more than %(max)s rows. Split it into several files."), max=MAX_ROWS
        )
    if columns > MAX_COLUMNS:
        raise TableError(N_("The file has more than %(max)s columns."), max=MAX_COLUMNS)


# ---------------------------------------------------------------- Excel


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise TableError(N_("The file is not a valid Excel (.xlsx) file.")) from None
    if unpacked > XLSX_MAX_UNPACKED:
        raise TableError(N_("The Excel file unpacks to too much data to be read."))
    rows: list[tuple[int, list[Cell]]] = []
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds; any of them means "cannot read"
        raise TableError(N_("The file is not a valid Excel (.xlsx) file.")) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise TableError(N_("The Excel file has no worksheet."))
        for number, row in enumerate(sheet.iter_rows(), start=1):
            _check_size(number, len(row))
            rows.append((number, [_xlsx_value(cell) for cell in row]))
    except TableError:
        raise
    except Exception:  # a damaged sheet fails while it is read
        raise TableError(N_("The file is not a valid Excel (.xlsx) file.")) from None
    finally:
        workbook.close()
    return Table("xlsx", "", rows)


def _xlsx_value(cell: object) -> Cell:
    value = getattr(cell, "value", None)
    kind = getattr(cell, "data_type", None)
    if kind == "f" or (isinstance(value, str) and kind != "s" and value.startswith("=")):
        return FormulaCell(str(value))
    if kind == "e":
        return FormulaCell(str(value))
    if value is None or isinstance(value, (str, int, float, bool, dt.date)):
        return value
    # A time of day or a duration: nothing in a facility is one; keep it as text.
    return str(value)


# ---------------------------------------------------------------- writing

#: What XML 1.0 (so an .xlsx cell) cannot carry: C0 controls but tab and line breaks, lone
#: surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xlsx_text(value: str) -> str:
    """``value`` as an .xlsx cell can hold it: what XML 1.0 cannot carry becomes U+FFFD.

    openpyxl raises for the controls and writes the rest into a workbook that no program
    opens; every writer of .xlsx passes its texts through here (found by tests/hostile)."""
    return _NOT_XML.sub("\ufffd", value)


def write_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark, CRLF, every value as text ("" for None)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def write_xlsx(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, sheet_title: str = "Sheet1"
) -> bytes:
    """One worksheet: a bold, frozen header row, then the rows. Strings stay strings (a
    string that looks like a formula is written as text, never as a formula); dates get a
    date format."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet  # noqa: S101
    sheet.title = sheet_title
    bold = Font(bold=True)
    for column, title in enumerate(header, start=1):
        sheet.cell(row=1, column=column, value=xlsx_text(title)).font = bold
    for row_index, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            if value is None or value == "":
                continue
            cell = sheet.cell(row=row_index, column=column)
            cell.value = xlsx_text(value) if isinstance(value, str) else value  # type: ignore[assignment]  # str, int, float or date here
            if isinstance(value, str):
                # Always a string cell: openpyxl takes "=…" for a formula and "#REF!" for an
                # error value when it guesses the type.
                cell.data_type = "s"
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    for column, title in enumerate(header, start=1):
        letter = get_column_letter(column)
        sheet.column_dimensions[letter].width = max(10, min(40, len(title) * 2 + 2))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
