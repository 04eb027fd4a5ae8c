"""End to end through the real ``qingling`` command in a subprocess: initialise a fresh data
directory, check the chain, then tamper with the SQLite file directly and see ``audit verify``
fail. The environment holds only PATH, HOME and QINGLING_DATA_DIR, as an operator's would."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
QINGLING = BIN / "qingling"
HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", str(data_dir)),
        "QINGLING_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [str(QINGLING), *args],
        env=env,
        cwd=data_dir.parent,  # no stray .env from the repository is read
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    data_dir = tmp_path / "instance"
    result = _run(data_dir, "init")
    assert result.returncode == 0, result.stderr
    assert (data_dir / "qingling.sqlite3").is_file()
    return data_dir


def _db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(data_dir / "qingling.sqlite3")


def _head(data_dir: Path) -> str:
    result = _run(data_dir, "audit", "head")
    assert result.returncode == 0, result.stderr
    head = result.stdout.strip()
    assert HEAD.match(head), head
    return head


def test_init_loads_the_divisions_and_a_sound_chain(instance: Path) -> None:
    with _db(instance) as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM divisions GROUP BY kind").fetchall())
        records = conn.execute("SELECT count(*) FROM audit_records").fetchone()[0]
    assert kinds == {"town": 7, "street": 3, "park": 1}
    head = _head(instance)
    assert int(head.split(":")[0]) == records >= 11
    result = _run(instance, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert f"{records} records" in result.stdout
    assert head in result.stdout
    assert _run(instance, "audit", "verify", "--head", head).returncode == 0
    # A second init adds nothing and keeps the chain as it was.
    again = _run(instance, "init")
    assert again.returncode == 0, again.stderr
    assert "divisions: 0 added" in again.stdout
    assert _head(instance) == head


def test_verify_names_the_record_changed_behind_its_back(instance: Path) -> None:
    with _db(instance) as conn:
        conn.execute("""UPDATE audit_records SET details = '{"name":"nobody"}' WHERE seq = 2""")
    result = _run(instance, "audit", "verify")
    assert result.returncode == 1
    assert "BROKEN" in result.stderr
    assert "record 2 " in result.stderr
    assert "records checked before the break: 1" in result.stderr


def test_cutting_the_chain_back_is_caught_only_against_a_recorded_head(instance: Path) -> None:
    recorded = _head(instance)
    last = int(recorded.split(":")[0])
    with _db(instance) as conn:
        conn.execute("DELETE FROM audit_records WHERE seq > ?", (last - 2,))
    plain = _run(instance, "audit", "verify")
    assert plain.returncode == 0, plain.stderr
    assert f"{last - 2} records" in plain.stdout
    against = _run(instance, "audit", "verify", "--head", recorded)
    assert against.returncode == 1
    assert "removed from the end" in against.stderr
    bad = _run(instance, "audit", "verify", "--head", "not-a-head")
    assert bad.returncode == 1
    assert "1234:<64 hex digits>" in bad.stderr
