"""Fixtures of the CLI tests: a freshly initialised instance and a way to run `qingling`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from core.cli import main


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    """`qingling ARGS` in-process with exactly ``env`` as its settings."""
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


@pytest.fixture
def cli_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings of an instance after `qingling init` (cheap Argon2id)."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the repository is read
    values = {
        "QINGLING_DATA_DIR": str(tmp_path / "instance"),
        "QINGLING_ARGON2_MEMORY_KIB": "64",
        "QINGLING_ARGON2_ITERATIONS": "1",
    }
    result = run(values, "init")
    assert result.exit_code == 0, result.output
    return values
