"""The hostile corpus through the registry import (``/registry/import``, CSV and .xlsx): every
text in every column of a row (refused with row errors), every text in the free-text columns
of an otherwise good row (stored, then shown escaped on the facility page), hostile headers
and file names, formula cells, and files hostile as a whole (broken quoting, too many rows or
columns, stray encodings, ZIP bombs, entity expansion and external entities in the sheet XML).
Each import is answered with its report or the form with a clear reason; never a 500."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import Role
from registry.fields import FIELDS, Kind
from registry.models import Facility
from registry.tables import write_xlsx
from tests.conftest import csrf_token
from tests.hostile import corpus
from tests.hostile.conftest import Verdicts
from tests.hostile.corpus import FILE_NAMES, STRINGS, Hostile, tried
from tests.registry.conftest import types

__all__ = ["types"]

PATH = "/registry/import"
HEADERS = [spec.header_zh for spec in FIELDS]
FREE_TEXT = {spec.name for spec in FIELDS if spec.kind in {Kind.TEXT, Kind.PHONE}} - {"name"}
#: Texts that XML 1.0 (so .xlsx) cannot carry at all.
NOT_IN_XML = {"nul", "nul-only", "c0-controls", "ansi-escape", "backspaces", "bell-vt-ff", "del"}


@pytest.fixture
def admin(staff_client: FlaskClient, make_user: Any, login: Any, types: None) -> FlaskClient:
    client: FlaskClient = login(staff_client, make_user("hostile-admin", Role.ADMINISTRATOR))
    with client.session_transaction() as flask_session:
        flask_session["lang"] = "en"
    return client


def upload(client: FlaskClient, data: bytes, filename: bytes = b"facilities.csv") -> Any:
    body = corpus.multipart(
        [("csrf_token", csrf_token(client, PATH).encode()), ("default_division", b"")],
        [("file", filename, data)],
    )
    return client.post(
        PATH, data=body, content_type="multipart/form-data; boundary=qingling-hostile"
    )


def cell(item: Hostile) -> str:
    return item.value if item.encodable else item.utf8.decode("utf-8", "replace")


def hostile_rows(items: list[Hostile], start: int = 0) -> list[list[str]]:
    """Per text: a row with it in every column, and a good row (unique name, a division and
    a type) with it in every free-text column."""
    rows = []
    for number, item in enumerate(items, start=start):
        rows.append([cell(item)] * len(HEADERS))
        good = {
            "name": f"敌意输入测试第{number}号养老院",
            "division": "杨舍镇",
            "facility_type": "elderly_care_home",
        }
        rows.append(
            [good.get(spec.name, cell(item) if spec.name in FREE_TEXT else "") for spec in FIELDS]
        )
    return rows


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8", "surrogatepass")


def check_report(verdicts: Verdicts, what: str, response: Any, *, expect_report: bool) -> str:
    status = verdicts.check(what, response)
    page: str = response.get_data(as_text=True)
    if expect_report and (status != 200 or 'id="rows-created"' not in page):
        verdicts.fail(f"{what}: no import report ({status})")
    return page


def test_hostile_rows_in_csv_and_xlsx(admin: FlaskClient, dbs: Session, verdicts: Verdicts) -> None:
    with_nul = [s for s in STRINGS if "\x00" in s.value]
    plain = [s for s in STRINGS if "\x00" not in s.value]
    # The long texts one file each (a file holds at most 10 MiB), the others together.
    batches = [[s for s in plain if "long" not in s.tags]] + [
        [s] for s in plain if "long" in s.tags
    ]
    page = ""
    for number, batch in enumerate(batches):
        data = csv_bytes(HEADERS, hostile_rows(batch, start=number * 1000))
        page += check_report(
            verdicts, f"csv rows {number}", upload(admin, data), expect_report=True
        )
    created = dbs.scalars(select(Facility).where(Facility.name.like("敌意输入测试第%"))).all()
    if not created:
        verdicts.fail("csv rows: no good row was created")
    for facility in created[:40]:
        verdicts.check(f"facility page {facility.name}", admin.get(f"/registry/{facility.id}"))
    verdicts.check(
        "registry list after the import", admin.get("/registry/", query_string={"q": "敌意"})
    )
    assert "敌意输入测试" in page
    # A NUL makes a CSV file unreadable as text: the file as a whole is refused.
    for item in with_nul:
        data = csv_bytes(HEADERS, hostile_rows([item]))
        check_report(verdicts, f"csv with NUL {item.id}", upload(admin, data), expect_report=False)
    xml_safe = [s for s in plain if s.id not in NOT_IN_XML and s.encodable]
    for number, batch in enumerate(
        [[s for s in xml_safe if "long" not in s.tags]]
        + [[s] for s in xml_safe if "long" in s.tags]
    ):
        xlsx = write_xlsx(HEADERS, hostile_rows(batch, start=100_000 + number * 1000))
        check_report(
            verdicts,
            f"xlsx rows {number}",
            upload(admin, xlsx, b"facilities.xlsx"),
            expect_report=True,
        )
    tried("registry import: CSV rows (every column)", len(STRINGS) * len(HEADERS))
    tried(
        "registry import: CSV rows (free-text columns of a good row)", len(STRINGS) * len(FREE_TEXT)
    )
    tried("registry import: xlsx rows (every column)", len(xml_safe) * len(HEADERS))
    tried(
        "registry import: xlsx rows (free-text columns of a good row)",
        len(xml_safe) * len(FREE_TEXT),
    )


def test_hostile_headers_formulas_and_file_names(admin: FlaskClient, verdicts: Verdicts) -> None:
    texts = [s for s in STRINGS if "\x00" not in s.value]
    header = ["机构名称", "所属镇（街道、园区）", "机构类型"] + [cell(s) for s in texts]
    row = ["页眉测试养老院", "杨舍镇", "elderly_care_home"] + ["x"] * len(texts)
    # More columns than the import reads: refused as a whole, clearly.
    check_report(
        verdicts,
        "csv hostile headers (too many)",
        upload(admin, csv_bytes(header, [row])),
        expect_report=False,
    )
    for start in range(0, len(texts), 150):
        part = texts[start : start + 150]
        header = ["机构名称", "所属镇（街道、园区）", "机构类型"] + [cell(s) for s in part]
        row = ["页眉测试养老院", "杨舍镇", "elderly_care_home"] + ["x"] * len(part)
        check_report(
            verdicts,
            f"csv hostile headers {start}",
            upload(admin, csv_bytes(header, [row])),
            expect_report=True,
        )
    # Formula cells in every column of .xlsx (openpyxl writes "=…" as a formula).
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADERS)
    sheet.append([f'=HYPERLINK("https://evil.example/{i}","x")' for i in range(len(HEADERS))])
    sheet.append(["=cmd|' /C calc'!A0", "杨舍镇", "elderly_care_home", "#REF!"])
    out = io.BytesIO()
    workbook.save(out)
    check_report(
        verdicts, "xlsx formulas", upload(admin, out.getvalue(), b"f.xlsx"), expect_report=True
    )
    good = csv_bytes(HEADERS[:3], [["文件名测试养老院", "杨舍镇", "elderly_care_home"]])
    names = [n for n in (*FILE_NAMES, *STRINGS) if n.value]
    for name in names:
        check_report(
            verdicts,
            f"import file name {name.id}",
            upload(admin, good, name.utf8),
            expect_report=False,
        )
    tried("registry import: headers", len(texts))
    tried("registry import: formula cells", len(HEADERS) + 4)
    tried("registry import: file names", len(names))


def _xlsx_with(member: str, content: bytes) -> bytes:
    """A real .xlsx with one member replaced by ``content``."""
    source = zipfile.ZipFile(io.BytesIO(write_xlsx(HEADERS[:3], [["某养老院", "杨舍镇", "x"]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = content if info.filename == member else source.read(info.filename)
            target.writestr(info.filename, data)
    return out.getvalue()


def _laughs(root: str) -> bytes:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{entities}]><{root}>&j;</{root}>'.encode()


def _files() -> list[tuple[str, bytes, bytes]]:
    header = ",".join(HEADERS[:3]).encode()
    sheet = "xl/worksheets/sheet1.xml"
    return [
        ("unclosed quote", header + b'\r\n"abc,def\r\nx,y,z\r\n', b"f.csv"),
        ("too many rows", header + b"\r\n" + b"x,y,z\r\n" * 10_100, b"f.csv"),
        ("too many columns", b",".join([b"h"] * 300) + b"\r\n", b"f.csv"),
        ("one huge cell", header + b"\r\n" + b"a" * 2_000_000 + b",b,c\r\n", b"f.csv"),
        ("utf-16 without BOM", "机构名称,所属镇\r\n".encode("utf-16-le"), b"f.csv"),
        ("broken utf-16", codecs.BOM_UTF16_LE + b"\x00\xd8", b"f.csv"),
        ("utf-8 BOM, not utf-8", codecs.BOM_UTF8 + b"\xff\xfe", b"f.csv"),
        ("neither utf-8 nor gbk", bytes(range(0x80, 0x100)) * 4, b"f.csv"),
        ("html", corpus.HTML_PAGE, b"f.csv"),
        ("empty", b"", b"f.csv"),
        ("whitespace", b" \r\n\t", b"f.csv"),
        ("old xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), b"f.xls"),
        ("xlsx name, csv content", header + b"\r\n", b"f.xlsx"),
        ("not a zip", b"PK\x03\x04" + bytes(100), b"f.xlsx"),
        ("truncated xlsx", write_xlsx(HEADERS[:3], [])[:300], b"f.xlsx"),
        ("zip bomb", corpus.lying_sizes(write_xlsx(HEADERS[:3], []), 0x7FFFFFFF), b"f.xlsx"),
        ("real zip bomb", corpus.zip_bomb_docx(), b"f.xlsx"),
        ("office file that is not a workbook", corpus.docx(), b"f.xlsx"),
        ("no worksheet", corpus.xlsx_archive(), b"f.xlsx"),
        ("entity expansion in the sheet", _xlsx_with(sheet, _laughs("worksheet")), b"f.xlsx"),
        (
            "entity expansion in shared strings",
            _xlsx_with("xl/sharedStrings.xml", _laughs("sst")),
            b"f.xlsx",
        ),
        (
            "external entity in the sheet",
            _xlsx_with(
                sheet,
                b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c></row>'
                b"</sheetData></worksheet>",
            ),
            b"f.xlsx",
        ),
        (
            "NUL character reference",
            _xlsx_with(sheet, b"<worksheet><sheetData>&#0;</sheetData></worksheet>"),
            b"f.xlsx",
        ),
        ("sheet is not xml", _xlsx_with(sheet, b"\x00\xff not xml"), b"f.xlsx"),
        (
            "huge dimension",
            _xlsx_with(
                sheet,
                b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                b'spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>'
                b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
                b"</sheetData></worksheet>",
            ),
            b"f.xlsx",
        ),
    ]


def test_hostile_files(admin: FlaskClient, verdicts: Verdicts) -> None:
    files = _files()
    for name, data, filename in files:
        check_report(
            verdicts, f"import file {name}", upload(admin, data, filename), expect_report=False
        )
    tried("registry import: hostile files", len(files))
