"""``qingling registry import`` and ``qingling registry export`` on a data directory of their
own (the schema built from the models, divisions and facility types loaded)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core import db
from core.audit.models import AuditRecord
from core.audit.services import SYSTEM_ACTOR
from core.clock import SystemClock
from core.settings import load
from migrations import load_models
from registry.models import Division, Facility
from registry.services import load_default_divisions, load_default_facility_types
from tests.core.conftest import run
from tests.registry.conftest import credit_code

EXCEL_CSV_GBK = (
    "机构名称,统一社会信用代码,所属镇（街道、园区）,机构类型,床位数,消防验收（备案）\r\n"
    f"张家港市康乐养老院,{credit_code(101)},杨舍镇,养老机构,60,验收合格\r\n"
    f"凤凰镇敬老院,{credit_code(102)},,特困人员供养服务机构,45,未办理\r\n"
    "坏代码养老院,91350100M000100Y44,杨舍镇,养老机构,,\r\n"
).encode("gbk")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository is read
    values = {"QINGLING_DATA_DIR": str(tmp_path / "instance")}
    engine = db.make_engine(load(values, dotenv=False))
    try:
        load_models().create_all(engine)
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            load_default_divisions(session, SystemClock(), SYSTEM_ACTOR)
            load_default_facility_types(session, SystemClock(), SYSTEM_ACTOR)
    finally:
        engine.dispose()
    return values


def facilities(env: dict[str, str]) -> dict[str, tuple[str, int | None, str | None]]:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            rows = session.execute(
                select(
                    Facility.name, Division.name, Facility.beds_total, Facility.credit_code
                ).join(Division, Division.id == Facility.division_id)
            )
            return {name: (division, beds, code) for name, division, beds, code in rows}
    finally:
        engine.dispose()


def audit_actions(env: dict[str, str]) -> list[tuple[str, str]]:
    engine = db.make_engine(load(env, dotenv=False))
    try:
        with db.unit_of_work(db.make_session_factory(engine)) as session:
            return [
                (a, d)
                for a, d in session.execute(
                    select(AuditRecord.action, AuditRecord.details).order_by(AuditRecord.seq)
                )
                if a.startswith("facility.")
            ]
    finally:
        engine.dispose()


def test_import_a_gbk_csv_as_excel_writes_it(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "名册.csv"
    path.write_bytes(EXCEL_CSV_GBK)
    result = run(env, "registry", "import", str(path), "--division-default", "凤凰镇")
    assert result.exit_code == 1  # one row refused; the good ones are saved
    assert "(CSV, GBK/GB 18030): header in row 1, 3 rows" in result.output
    assert "created 2, updated 0, unchanged 0, refused 1" in result.output
    assert "row 4 (坏代码养老院): 统一社会信用代码: The check character" in result.output
    assert facilities(env) == {
        "张家港市康乐养老院": ("杨舍镇", 60, credit_code(101)),
        "凤凰镇敬老院": ("凤凰镇", 45, credit_code(102)),
    }
    again = run(env, "registry", "import", str(path), "--division-default", "凤凰镇")
    assert "created 0, updated 0, unchanged 2, refused 1" in again.output
    imports = [json.loads(d) for a, d in audit_actions(env) if a == "facility.imported"]
    assert [(i["created"], i["unchanged"], i["rejected"]) for i in imports] == [
        (2, 0, 1),
        (0, 2, 1),
    ]


def test_dry_run_saves_nothing(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\r\n".join(EXCEL_CSV_GBK.split(b"\r\n")[:2]) + b"\r\n")
    result = run(env, "registry", "import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output
    assert "dry run" in result.output
    assert facilities(env) == {}
    assert audit_actions(env) == []


def test_a_file_that_cannot_be_read(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = run(env, "registry", "import", str(path))
    assert result.exit_code == 1
    assert "The file is empty." in result.output
    missing = run(env, "registry", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_again(env: dict[str, str], tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"\r\n".join(EXCEL_CSV_GBK.split(b"\r\n")[:3]) + b"\r\n")
    assert (
        run(env, "registry", "import", str(source), "--division-default", "凤凰镇").exit_code == 0
    )
    out = tmp_path / f"out.{fmt}"
    result = run(env, "registry", "export", "--format", fmt, str(out))
    assert result.exit_code == 0, result.output
    assert "exported 2 facilities to" in result.output
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    else:
        sheet = load_workbook(out).worksheets[0]
        rows = [
            [("" if v is None else str(v)) for v in r] for r in sheet.iter_rows(values_only=True)
        ]
    assert rows[0][:3] == ["机构名称", "统一社会信用代码", "机构类型"]
    assert sorted(r[0] for r in rows[1:]) == ["凤凰镇敬老院", "张家港市康乐养老院"]
    again = run(env, "registry", "import", str(out))
    assert again.exit_code == 0, again.output
    assert "created 0, updated 0, unchanged 2, refused 0" in again.output
    only = run(env, "registry", "export", "--division", "凤凰镇", str(tmp_path / "one.csv"))
    assert "exported 1 facility to" in only.output
    bad = run(env, "registry", "export", "--division", "火星镇", str(tmp_path / "x.csv"))
    assert bad.exit_code == 2
    exports = [json.loads(d) for a, d in audit_actions(env) if a == "facility.exported"]
    assert exports == [{"format": fmt, "count": 2}, {"format": "csv", "count": 1}]


def test_registry_commands_are_listed(env: dict[str, str]) -> None:
    result = run(env, "registry", "--help")
    assert "import" in result.output
    assert "export" in result.output
