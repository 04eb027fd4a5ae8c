"""The canary test (issue 3): nothing a reporter wrote, and no form of their token, is ever
stored or logged in a readable form.

A tip whose description, location, typed facility name, time observed, contact details, real
name and attachment (name, and content of more than 1 MiB so that it spans chunks) carry unique
canary strings goes through the services into a real database that is committed for real: a
SQLite file under a fresh data directory (scanned with its -wal and -shm files, before and
after a checkpoint), or a scratch PostgreSQL database (scanned as a plain-format ``pg_dump``).
Then every byte of the database, the data directory, the process's temporary directory
(``TMPDIR`` points at a fresh one here), the captured logs and the captured stdout/stderr is
searched for

* each canary in UTF-8, as JSON ``\\uXXXX`` escapes, in UTF-16, in GB18030, as hex (how
  ``pg_dump`` writes bytea), and its ASCII core alone;
* slices of the attachment's plaintext;
* the token (original and replacement) dashed, undashed, lower case, as the raw bytes of its
  75 (and 80) bits, as hex, and the secrets derived from it (HMAC, scrypt output, wrapping key);
* the tip's data key and the token pepper.

None may appear. A ``before_cursor_execute`` hook fails the moment a bound parameter (or the
SQL text) carries a canary or a token form. A control canary written in the clear (an audit
record's details) must be found, in the WAL before the checkpoint and in the database file
after it, so a scanner that reads nothing cannot pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, make_url, select, text
from sqlalchemy.pool import NullPool

from core import db
from core.audit import services as audit
from core.clock import FakeClock
from core.settings import Settings
from crypto import envelope, tokens
from intake import errors, services
from intake.models import Relationship, TipCategory
from migrations import load_models
from registry.models import Division
from registry.services import load_default_divisions
from tests.conftest import make_settings
from tests.intake.conftest import Group, make_group, pieces

TEST_DATABASE_URL = os.environ.get("QINGLING_TEST_DATABASE_URL", "")
# One scratch database per process, so two runs of the suite on one server do not collide.
SCRATCH_DATABASE = f"qingling_canary_{os.getpid()}"
CHUNK = 1024 * 1024
FIELDS = ("description", "location", "facility_name", "observed_when", "contact", "real_name")


def canary(label: str) -> str:
    """Chinese text (so UTF-8, JSON escapes and GB18030 differ) around a unique ASCII core."""
    return f"金丝雀「{label}」{secrets.token_hex(10)}号报警"


def core(value: str) -> str:
    """The 20 hex digits of a canary."""
    return value.split("」")[1][:20]


def text_needles(label: str, value: str) -> dict[str, bytes]:
    utf8 = value.encode("utf-8")
    return {
        f"{label} (UTF-8)": utf8,
        f"{label} (JSON escapes)": json.dumps(value, ensure_ascii=True)[1:-1].encode("ascii"),
        f"{label} (UTF-16)": value.encode("utf-16-le"),
        f"{label} (GB18030)": value.encode("gb18030"),
        f"{label} (hex of UTF-8)": utf8.hex().encode("ascii"),
        f"{label} (ASCII core)": core(value).encode("ascii"),
    }


def secret_needles(label: str, value: bytes) -> dict[str, bytes]:
    return {f"{label} (raw)": value, f"{label} (hex)": value.hex().encode("ascii")}


def token_needles(label: str, token: tokens.TrackingToken) -> dict[str, bytes]:
    needles: dict[str, bytes] = {}
    for form, value in {
        "dashed": token.display,
        "undashed": token.value,
        "lower dashed": token.display.lower(),
        "lower undashed": token.value.lower(),
    }.items():
        needles[f"{label} {form}"] = value.encode("ascii")
        needles[f"{label} {form} (UTF-16)"] = value.encode("utf-16-le")
        needles[f"{label} {form} (hex)"] = value.encode("ascii").hex().encode("ascii")
    indexes = [tokens.ALPHABET.index(c) for c in token.value]
    bits75 = sum(v << (5 * i) for i, v in enumerate(indexes[:15]))  # as generate_token packs
    bits80 = int("".join(f"{v:05b}" for v in indexes), 2)
    for name, number, size in (("75 bits", bits75, 10), ("80 bits", bits80, 10)):
        for order in ("big", "little"):
            raw = number.to_bytes(size, order)
            needles.update(secret_needles(f"{label} {name} {order}-endian", raw))
    return needles


def derived_needles(
    label: str, token: tokens.TrackingToken, settings: Settings, params: tokens.TokenParams
) -> dict[str, bytes]:
    mac = hmac.new(settings.token_pepper, token.value.encode("ascii"), hashlib.sha256).digest()
    secret = tokens.derive_token_secret(token, pepper=settings.token_pepper, params=params)
    needles = secret_needles(f"{label} HMAC", mac)
    needles.update(secret_needles(f"{label} scrypt secret", secret))
    return needles


def find(haystack: bytes, needles: dict[str, bytes]) -> list[str]:
    """Labels of the needles in ``haystack``; ASCII needles are matched ignoring case (hex
    digits and JSON escapes come in either case)."""
    lower = haystack.lower()
    return [
        label
        for label, needle in needles.items()
        if (needle.lower() in lower if needle.isascii() else needle in haystack)
    ]


def scan_dirs(*dirs: Path) -> dict[str, bytes]:
    """Every file under ``dirs``, by path."""
    return {
        str(path): path.read_bytes()
        for directory in dirs
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def flatten(parameters: Any) -> Iterator[Any]:
    if isinstance(parameters, dict):
        for value in parameters.values():
            yield from flatten(value)
    elif isinstance(parameters, list | tuple):
        for value in parameters:
            yield from flatten(value)
    else:
        yield parameters


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


@dataclass
class Canaries:
    fields: dict[str, str] = field(default_factory=lambda: {f: canary(f) for f in FIELDS})
    attachment_name: str = field(default_factory=lambda: canary("file name") + ".jpg")
    attachment_marker: str = field(default_factory=lambda: canary("file content"))
    control: str = field(default_factory=lambda: canary("control"))

    def content(self) -> bytes:
        """1.5 MiB of random bytes with the marker at the start, across the chunk boundary,
        inside the second chunk and at the end."""
        marker = self.attachment_marker.encode("utf-8")
        body = bytearray(os.urandom(CHUNK + CHUNK // 2))
        for at in (0, CHUNK - len(marker) // 2, CHUNK + 4096, len(body) - len(marker)):
            body[at : at + len(marker)] = marker
        return bytes(body)

    def needles(self, content: bytes) -> dict[str, bytes]:
        needles: dict[str, bytes] = {}
        for name, value in self.fields.items():
            needles.update(text_needles(name, value))
        needles.update(text_needles("attachment name", self.attachment_name))
        needles.update(text_needles("attachment content", self.attachment_marker))
        for at in (100, CHUNK - 32, CHUNK + 70_000, len(content) - 200):
            needles[f"attachment plaintext at {at}"] = content[at : at + 48]
        return needles


@dataclass
class Outcome:
    """What one run stored and what the scans found."""

    needles: dict[str, bytes]
    control: dict[str, bytes]
    statements: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the run


def store_and_read(
    engine: Engine,
    settings: Settings,
    canaries: Canaries,
    monkeypatch: pytest.MonkeyPatch,
) -> Outcome:
    """Submit the canary tip, commit, read it back every way, replace the token, commit."""
    content = canaries.content()
    outcome = Outcome(
        needles=canaries.needles(content),
        control=text_needles("control", canaries.control),
    )
    outcome.needles.update(secret_needles("token pepper", settings.token_pepper))

    def hook(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        outcome.statements.append(statement)
        for value in [statement, *flatten(parameters)]:
            for label in find(as_bytes(value), outcome.needles):
                outcome.violations.append(f"{label} in {statement[:40]!r}")
        if outcome.violations:
            raise AssertionError(f"a bound parameter carries a canary: {outcome.violations}")

    event.listen(engine, "before_cursor_execute", hook)
    factory = db.make_session_factory(engine)
    clock = FakeClock()
    groups: list[Group] = [make_group(1), make_group(2), make_group(3)]

    with db.unit_of_work(factory) as session:
        load_default_divisions(session, clock, audit.SYSTEM_ACTOR)
        params = services.initialise_token_params(session, clock, calibrate=False)

    # Every data key and token becomes a needle the moment it is made, so the parameter hook
    # looks for them in the very statements that store the tip.
    data_keys: list[bytes] = []
    real_new_data_key, real_generate_token = envelope.new_data_key, tokens.generate_token

    def remembered_data_key() -> bytes:
        key = real_new_data_key()
        data_keys.append(key)
        outcome.needles.update(secret_needles(f"data key {len(data_keys)}", key))
        return key

    def remembered_token() -> tokens.TrackingToken:
        token = real_generate_token()
        label = f"token {len(made)}"
        made.append(token)
        outcome.needles.update(token_needles(label, token))
        outcome.needles.update(derived_needles(label, token, settings, params))
        return token

    made: list[tokens.TrackingToken] = []
    monkeypatch.setattr(envelope, "new_data_key", remembered_data_key)
    monkeypatch.setattr(tokens, "generate_token", remembered_token)
    with db.unit_of_work(factory) as session:
        division_id = session.scalar(select(Division.id).order_by(Division.id).limit(1))
        assert division_id is not None
        receipt = services.submit_tip(
            session,
            clock,
            settings,
            [g.recipient for g in groups],
            services.TipSubmission(
                category=TipCategory.ELDERLY_CARE_SAFETY,
                division_id=division_id,
                relationship=Relationship.FAMILY,
                **canaries.fields,
            ),
            [
                services.AttachmentInput(
                    canaries.attachment_name, "image/jpeg", pieces(content, 65_521), True
                )
            ],
        )
    token = receipt.token
    assert made == [token]
    assert len(data_keys) == 1
    secret = tokens.derive_token_secret(token, pepper=settings.token_pepper, params=params)
    outcome.needles.update(
        secret_needles("token wrapping key", tokens.token_wrapping_key(secret, receipt.tip_id))
    )

    with db.unit_of_work(factory) as session:
        # In the clear on purpose: the scans must find this one.
        audit.record(
            session, clock, audit.SYSTEM_ACTOR, "test.control", "test", None,
            {"note": canaries.control},
        )  # fmt: skip

    with db.unit_of_work(factory) as session:
        for typed in (token.display, token.value.lower(), full_width(token.display)):
            mine = services.open_with_token(session, settings, typed)
            assert {name: getattr(mine.content, name) for name in FIELDS} == canaries.fields
        (info,) = mine.attachments
        assert (info.name, info.size, info.scrubbed) == (
            canaries.attachment_name,
            len(content),
            True,
        )
        read = b"".join(
            services.iter_attachment_with_token(session, settings, token.value, info.id)
        )
        assert read == content
        for group in groups:
            theirs = services.open_with_group_key(session, receipt.tip_id, *group.credentials)
            assert theirs.content == mine.content
        chunks = list(
            services.iter_attachment(session, receipt.tip_id, info.id, *groups[0].credentials)
        )
        assert [len(c) for c in chunks] == [CHUNK, CHUNK // 2]
        with pytest.raises(errors.WrongKey):
            services.open_with_group_key(session, receipt.tip_id, 1, 1, groups[1].private_key)
        services.verify_tip_envelopes(session, receipt.tip_id)

    with db.unit_of_work(factory) as session:
        new = services.replace_token(session, clock, settings, token.display)
    assert made == [token, new]
    with db.unit_of_work(factory) as session:
        with pytest.raises(errors.UnknownToken):
            services.open_with_token(session, settings, token.display)
        assert services.open_with_token(session, settings, new.display).id == receipt.tip_id
        services.verify_tip_envelopes(session, receipt.tip_id)

    assert not outcome.violations
    assert any(s.startswith("INSERT INTO tip_attachment_chunks") for s in outcome.statements), (
        "the parameter hook did not see the chunks"
    )
    return outcome


def full_width(value: str) -> str:
    return "".join(
        "－" if c == "-" else chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c
        for c in value
    )


def assert_clean(blobs: dict[str, bytes], outcome: Outcome) -> None:
    leaks = {name: hits for name, blob in blobs.items() if (hits := find(blob, outcome.needles))}
    assert not leaks, f"found in the clear: {leaks}"


def assert_control_found(
    blobs: dict[str, bytes], outcome: Outcome, where: Callable[[str], bool]
) -> None:
    found = [name for name, blob in blobs.items() if where(name) and find(blob, outcome.control)]
    assert found, "the control canary was not found: the scan does not see what is stored"


def assert_logs_clean(
    outcome: Outcome, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    captured = capfd.readouterr()
    logs = "\n".join(
        [caplog.text, captured.out, captured.err]
        + [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    )
    assert "INSERT INTO tips" in logs, "the SQL log was not captured, so it was not checked"
    assert_clean({"logs": logs.encode("utf-8")}, outcome)


# ---------------------------------------------------------------- the two databases


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A fresh data directory and a fresh temporary directory the process uses."""
    data_dir, tmp = tmp_path / "instance", tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    assert tempfile.gettempdir() == str(tmp)
    return data_dir, tmp


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything at DEBUG, and SQLAlchemy's statement log on (its parameters are hidden by
    ``core.db.make_engine``; the result rows it would log at DEBUG are ciphertext)."""
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level
    return caplog


def test_canary_sqlite(
    scratch: tuple[Path, Path],
    logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, tmp = scratch
    settings = make_settings(data_dir)
    assert settings.database_url.startswith("sqlite:///")
    engine = db.make_engine(settings)
    load_models().create_all(engine)
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    # Held open so that the WAL is not checkpointed and removed when the last session closes.
    keeper = sqlite3.connect(database)
    assert keeper.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    try:
        outcome = store_and_read(engine, settings, Canaries(), monkeypatch)
        wal = Path(f"{database}-wal")
        assert wal.exists()
        assert Path(f"{database}-shm").exists()
        before = scan_dirs(data_dir, tmp)
        assert_control_found(before, outcome, lambda name: name == str(wal))
        assert_clean(before, outcome)

        keeper.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = scan_dirs(data_dir, tmp)
        assert_control_found(after, outcome, lambda name: name == str(database))
        assert_clean(after, outcome)
    finally:
        keeper.close()
        engine.dispose()
    assert_clean(scan_dirs(data_dir, tmp), outcome)
    assert_logs_clean(outcome, logs, capfd)


@pytest.mark.postgres
@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="needs QINGLING_TEST_DATABASE_URL pointing at PostgreSQL",
)
def test_canary_postgresql(
    scratch: tuple[Path, Path],
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir, tmp = scratch
    url = make_url(TEST_DATABASE_URL)
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH_DATABASE}"))
    scratch_url = url.set(database=SCRATCH_DATABASE)
    try:
        settings = make_settings(data_dir, scratch_url.render_as_string(hide_password=False))
        engine = db.make_engine(settings)
        try:
            load_models().create_all(engine)
            outcome = store_and_read(engine, settings, Canaries(), monkeypatch)
        finally:
            engine.dispose()
        dump = tmp_path / "dump.sql"  # outside the scanned directories: it holds the control
        libpq = scratch_url.set(drivername="postgresql")
        env = {**os.environ, "PGPASSWORD": libpq.password or ""}
        subprocess.run(
            [
                pg_dump(),
                "--format=plain",
                "--no-owner",
                f"--file={dump}",
                libpq.set(password=None).render_as_string(hide_password=False),
            ],
            check=True,
            env=env,
            timeout=120,
        )
        dumped = {"pg_dump": dump.read_bytes()}
        assert b"COPY public.tip_attachment_chunks" in dumped["pg_dump"]
        assert_control_found(dumped, outcome, lambda _name: True)
        assert_clean(dumped, outcome)
        assert_clean(scan_dirs(data_dir, tmp), outcome)
        assert_logs_clean(outcome, logs, capfd)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)"))
        admin.dispose()


def pg_dump() -> str:
    candidates = [
        Path("/usr/bin/pg_dump"),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")),
    ]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    pytest.fail("pg_dump not found (install postgresql-client)")


# ---------------------------------------------------------------- the scanner itself


def test_the_scanner_finds_every_form_it_looks_for() -> None:
    value = canary("self-test")
    needles = text_needles("x", value)
    for label, needle in needles.items():
        assert find(b"..." + needle + b"...", needles) != [], label
        assert find(b"..." + needle.upper() + b"...", needles) != [] or not needle.isascii()
    token = tokens.generate_token()
    forms = token_needles("t", token)
    assert find(token.display.lower().encode(), forms)
    assert find(b"\x00" + forms["t 75 bits big-endian (raw)"] + b"\x00", forms)
    assert not find(os.urandom(4096), {**needles, **forms})
