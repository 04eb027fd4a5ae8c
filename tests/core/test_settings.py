"""Settings: defaults, every bad value refused with a message naming the variable, secrets from
files, and the CLI's clear message and non-zero exit on a bad setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import SPECS, Settings, SettingsError, load, secret_path

SECRET = "ab" * 32
REPO = Path(__file__).resolve().parents[2]


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    env.update(extra)
    return env


def test_defaults(tmp_path: Path) -> None:
    s = load(base_env(tmp_path), dotenv=False)
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.database_url == f"sqlite:///{(tmp_path / 'data').resolve() / 'qingling.sqlite3'}"
    assert s.is_sqlite
    assert s.ratelimit_storage_uri == ""
    assert s.host == "127.0.0.1"
    assert (s.public_port, s.staff_port) == (5000, 5001)
    assert s.secure_cookies is True
    assert s.hsts_seconds == 63072000
    assert s.default_locale == "zh_CN"
    assert s.proxy_count == 0
    assert s.log_level == "INFO"
    assert (s.verification_days, s.extension_max_days, s.objection_days) == (60, 30, 10)
    assert (s.recheck_days, s.duplicate_window_days, s.due_soon_days) == (30, 30, 7)
    assert s.testing is False
    # No secrets anywhere yet: each is empty, and a site refuses to start without its own.
    for spec in SPECS:
        if spec.secret:
            assert getattr(s, spec.name) == b""
    with pytest.raises(SettingsError, match=r"QINGLING_PUBLIC_SECRET_KEY.*qingling init"):
        s.require_secrets("public")
    with pytest.raises(SettingsError, match="QINGLING_STAFF_SECRET_KEY"):
        s.require_secrets("staff")


def test_every_default_parses_and_every_spec_has_a_field() -> None:
    names = set(Settings.__dataclass_fields__)
    for spec in SPECS:
        assert spec.name in names, spec.name
        assert spec.variable == "QINGLING_" + spec.name.upper()
        assert spec.help.strip(), f"{spec.variable} has no description"
        if spec.secret is None:
            spec.parse(spec.name, spec.default)  # must not raise
        else:
            assert spec.secret in {"public", "staff"}


def test_values_are_parsed(tmp_path: Path) -> None:
    env = base_env(
        tmp_path,
        QINGLING_DATABASE_URL="postgresql+psycopg://u@db.example/q",
        QINGLING_RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        QINGLING_PUBLIC_PORT=" 8000 ",
        QINGLING_STAFF_PORT="8001",
        QINGLING_SECURE_COOKIES="off",
        QINGLING_DEFAULT_LOCALE="en",
        QINGLING_LOG_LEVEL="WARNING",
        QINGLING_PASSWORD_PEPPER=SECRET.upper(),
    )
    s = load(env, dotenv=False)
    assert s.database_url == "postgresql+psycopg://u@db.example/q"
    assert not s.is_sqlite
    assert s.ratelimit_storage_uri == "redis://127.0.0.1:6379/0"
    assert (s.public_port, s.staff_port) == (8000, 8001)
    assert s.secure_cookies is False
    assert s.default_locale == "en"
    assert s.log_level == "WARNING"
    assert s.password_pepper == bytes.fromhex(SECRET)


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load(base_env(tmp_path), dotenv=False)
    with pytest.raises(AttributeError):
        s.public_port = 1  # type: ignore[misc]
    assert s.with_changes(public_port=6000).public_port == 6000
    assert s.public_port == 5000


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    s = load(base_env(tmp_path, QINGLING_PASSWORD_PEPPER=SECRET), dotenv=False)
    assert SECRET not in repr(s)
    assert repr(bytes.fromhex(SECRET)) not in repr(s)


BAD_VALUES = [
    ("QINGLING_PUBLIC_PORT", "http", "whole number"),
    ("QINGLING_PUBLIC_PORT", "0", "between 1 and 65535"),
    ("QINGLING_STAFF_PORT", "70000", "between 1 and 65535"),
    ("QINGLING_HSTS_SECONDS", "-1", "between"),
    ("QINGLING_SECURE_COOKIES", "maybe", "true or false"),
    ("QINGLING_DEFAULT_LOCALE", "fr", "zh_CN, en"),
    ("QINGLING_LOG_LEVEL", "LOUD", "one of"),
    ("QINGLING_PROXY_COUNT", "9", "between 0 and 5"),
    ("QINGLING_MAX_UPLOAD_MB", "1.5", "whole number"),
    ("QINGLING_SESSION_IDLE_MINUTES", "0", "between"),
    ("QINGLING_SESSION_ABSOLUTE_HOURS", "", "whole number"),
    ("QINGLING_LOGIN_MAX_FAILURES", "x", "whole number"),
    ("QINGLING_LOGIN_WINDOW_MINUTES", "100000", "between"),
    ("QINGLING_ARGON2_MEMORY_KIB", "4", "between"),
    ("QINGLING_ARGON2_ITERATIONS", "0", "between"),
    ("QINGLING_ARGON2_LANES", "17", "between"),
    ("QINGLING_VERIFICATION_DAYS", "0", "between 1 and 365"),
    ("QINGLING_EXTENSION_MAX_DAYS", "thirty", "whole number"),
    ("QINGLING_OBJECTION_DAYS", "91", "between 1 and 90"),
    ("QINGLING_RECHECK_DAYS", "-3", "between"),
    ("QINGLING_DUPLICATE_WINDOW_DAYS", "", "whole number"),
    ("QINGLING_DUE_SOON_DAYS", "100", "between 1 and 90"),
    ("QINGLING_CASE_RECHECK_DAYS", "0", "between 1 and 3650"),
    ("QINGLING_REWARD_CLAIM_DAYS", "sixty", "whole number"),
    ("QINGLING_REWARD_REMINDER_DAYS", "400", "between 1 and 365"),
    ("QINGLING_WECHAT_TOKEN", "ab", "3 to 32 letters and digits"),
    ("QINGLING_WECHAT_TOKEN", "token with spaces", "3 to 32 letters and digits"),
    ("QINGLING_WECHAT_ENCODING_AES_KEY", "short", "43 base64 characters"),
    ("QINGLING_WECHAT_API_BASE", "api.weixin.qq.com", "URL"),
    ("QINGLING_WECHAT_SANDBOX", "perhaps", "true or false"),
    ("QINGLING_DATABASE_URL", "qingling.sqlite3", "URL"),
    ("QINGLING_RATELIMIT_STORAGE_URI", "127.0.0.1:6379", "URL"),
    ("QINGLING_PUBLIC_SECRET_KEY", "not hex", "hexadecimal"),
    ("QINGLING_STAFF_SECRET_KEY", "abcd", "at least 32 bytes"),
    ("QINGLING_PASSWORD_PEPPER", "zz" * 32, "hexadecimal"),
    ("QINGLING_TOTP_KEY", "00" * 31, "at least 32 bytes"),
    ("QINGLING_AUDIT_KEY", "0", "hexadecimal"),
    ("QINGLING_RATELIMIT_KEY", "ab" * 16, "at least 32 bytes"),
    ("QINGLING_TOKEN_PEPPER", "12" * 8, "at least 32 bytes"),
    ("QINGLING_KEY_SIGNING_KEY", "ab" * 33, "exactly 32 bytes"),
    ("QINGLING_KEY_VERIFYING_KEY", "xy" * 32, "hexadecimal"),
]


@pytest.mark.parametrize(("variable", "value", "reason"), BAD_VALUES)
def test_bad_value_names_the_variable(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load(base_env(tmp_path, **{variable: value}), dotenv=False)
    message = str(info.value)
    assert variable in message
    assert reason in message


def test_every_parsed_setting_has_a_bad_value_case() -> None:
    """Adding a setting without testing that a bad value is refused fails here."""
    covered = {variable for variable, _, _ in BAD_VALUES}
    free_text = {
        "QINGLING_DATA_DIR",
        "QINGLING_HOST",
        "QINGLING_WECHAT_APPID",
        "QINGLING_WECHAT_APPSECRET",
        "QINGLING_WECHAT_SUBSCRIBE_TEMPLATE_ID",
    }  # any string is a path or a host
    assert {s.variable for s in SPECS} - free_text <= covered


def test_unknown_variable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="QINGLING_PUBLIC_PROT"):
        load(base_env(tmp_path, QINGLING_PUBLIC_PROT="5000"), dotenv=False)


def test_test_variables_are_allowed(tmp_path: Path) -> None:
    env = base_env(
        tmp_path,
        QINGLING_TEST_DATABASE_URL="sqlite://",
        QINGLING_TEST_ARTIFACTS=str(tmp_path / "artifacts"),
    )
    load(env, dotenv=False)


def test_equal_ports_are_refused(tmp_path: Path) -> None:
    env = base_env(tmp_path, QINGLING_PUBLIC_PORT="5001")
    with pytest.raises(SettingsError, match="QINGLING_PUBLIC_PORT and QINGLING_STAFF_PORT"):
        load(env, dotenv=False)


def test_secrets_from_files(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    data_dir = (tmp_path / "data").resolve()
    expected: dict[str, bytes] = {}
    for i, spec in enumerate(s for s in SPECS if s.secret):
        path = secret_path(data_dir, spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        value = bytes([i + 1]) * 32
        path.write_text(value.hex() + "\n", encoding="ascii")
        expected[spec.name] = value
    s = load(env, dotenv=False)
    for name, value in expected.items():
        assert getattr(s, name) == value
    s.require_secrets("public")
    s.require_secrets("staff")
    # The public and the staff secrets live in separate directories.
    assert {p.name for p in (data_dir / "secrets").iterdir()} == {"public", "staff"}
    assert (data_dir / "secrets" / "public" / "public_secret_key").is_file()
    assert not (data_dir / "secrets" / "public" / "password_pepper").exists()


def test_environment_wins_over_secret_file(tmp_path: Path) -> None:
    spec = next(s for s in SPECS if s.name == "totp_key")
    path = secret_path((tmp_path / "data").resolve(), spec)
    path.parent.mkdir(parents=True)
    path.write_text("11" * 32, encoding="ascii")
    s = load(base_env(tmp_path, QINGLING_TOTP_KEY=SECRET), dotenv=False)
    assert s.totp_key == bytes.fromhex(SECRET)


def test_bad_secret_file_names_the_variable(tmp_path: Path) -> None:
    spec = next(s for s in SPECS if s.name == "audit_key")
    path = secret_path((tmp_path / "data").resolve(), spec)
    path.parent.mkdir(parents=True)
    path.write_text("short", encoding="ascii")
    with pytest.raises(SettingsError, match="QINGLING_AUDIT_KEY"):
        load(base_env(tmp_path), dotenv=False)


def test_dotenv_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("QINGLING_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        f"QINGLING_DATA_DIR={tmp_path / 'env-data'}\nQINGLING_PUBLIC_PORT=7000\n"
        "OTHER_TOOL=ignored\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("QINGLING_PUBLIC_PORT", "7100")  # the environment wins over .env
    s = load()
    assert s.data_dir == (tmp_path / "env-data").resolve()
    assert s.public_port == 7100


# ---------------------------------------------------------------- the CLI


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    clean["QINGLING_DATA_DIR"] = str(tmp_path / "data")
    clean["PYTHONPATH"] = str(REPO)  # the code under test, whatever is installed
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "from core.cli import main; main()", *args],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"QINGLING_PUBLIC_PORT": "abc"}, "QINGLING_PUBLIC_PORT"),
        ({"QINGLING_STAFF_PORT": "5000"}, "QINGLING_PUBLIC_PORT and QINGLING_STAFF_PORT"),
        ({"QINGLING_COLOUR": "blue"}, "QINGLING_COLOUR"),
        ({"QINGLING_PASSWORD_PEPPER": "xyz"}, "QINGLING_PASSWORD_PEPPER"),
    ],
)
def test_cli_bad_setting_gives_clear_message_and_fails(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = run_cli(tmp_path, "init", **env)
    assert result.returncode != 0
    assert "bad setting" in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing is created with a bad setting"


def test_cli_serve_without_init_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--public-port", "0", "--staff-port", "1")
    assert result.returncode != 0
    assert "qingling init" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_generates_a_matching_key_record_pair(tmp_path: Path) -> None:
    """The verifying key the public site pins belongs to the staff side's signing key."""
    from core.cli import write_secrets
    from crypto import signing

    settings = load({"QINGLING_DATA_DIR": str(tmp_path)}, dotenv=False)
    write_secrets(settings, environ={})
    loaded = load({"QINGLING_DATA_DIR": str(tmp_path)}, dotenv=False)
    assert len(loaded.key_signing_key) == 32
    assert signing.verifying_key_of(loaded.key_signing_key) == loaded.key_verifying_key
    assert (tmp_path / "secrets" / "public" / "key_verifying_key").is_file()
    assert not (tmp_path / "secrets" / "public" / "key_signing_key").exists()
    # A second run writes nothing and never splits the pair.
    assert write_secrets(loaded, environ={}) == []
