"""Settings: read once from ``QINGLING_*`` variables into a frozen object.

Every variable is declared in :data:`SPECS` with its default and a one-line description; the
README's settings table is checked against this list by a test, so the two cannot drift.

Secrets that are not given in the environment are read from files that ``qingling init``
generates (mode 0600) under ``<data dir>/secrets/public`` and ``<data dir>/secrets/staff``.
The public site is given only the public directory, so a compromised public host holds none
of the staff-side secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PREFIX = "QINGLING_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Spec:
    name: str  # attribute name on Settings; the variable is QINGLING_<NAME>
    default: str
    help: str
    parse: Callable[[str, str], Any]
    secret: str | None = None  # "public" or "staff" for generated secret files

    @property
    def variable(self) -> str:
        return PREFIX + self.name.upper()


def _str(name: str, raw: str) -> str:
    return raw


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{PREFIX}{name.upper()}={raw!r}: expected true or false")


def _int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(
                f"{PREFIX}{name.upper()}={raw!r}: expected a whole number"
            ) from None
        if not low <= value <= high:
            raise SettingsError(f"{PREFIX}{name.upper()}={value}: must be between {low} and {high}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in choices:
            raise SettingsError(
                f"{PREFIX}{name.upper()}={raw!r}: expected one of {', '.join(choices)}"
            )
        return value

    return parse


def _secret(name: str, raw: str) -> bytes:
    """Secrets are given as hex (64 characters for 32 bytes)."""
    try:
        value = bytes.fromhex(raw.strip())
    except ValueError:
        raise SettingsError(f"{PREFIX}{name.upper()}: expected hexadecimal") from None
    if len(value) < 32:
        raise SettingsError(f"{PREFIX}{name.upper()}: must be at least 32 bytes (64 hex digits)")
    return value


def _key32(name: str, raw: str) -> bytes:
    """A raw 32-byte key (Ed25519), given as 64 hex digits."""
    value = _secret(name, raw)
    if len(value) != 32:
        raise SettingsError(f"{PREFIX}{name.upper()}: must be exactly 32 bytes (64 hex digits)")
    return value


def _url(name: str, raw: str) -> str:
    value = raw.strip()
    if value and "://" not in value:
        raise SettingsError(f"{PREFIX}{name.upper()}={raw!r}: expected a URL such as scheme://…")
    return value


def _wechat_token(name: str, raw: str) -> str:
    value = raw.strip()
    if value and not (3 <= len(value) <= 32 and value.isascii() and value.isalnum()):
        raise SettingsError(f"{PREFIX}{name.upper()}: expected 3 to 32 letters and digits")
    return value


def _wechat_aes_key(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        return value
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    if len(value) != 43 or any(c not in alphabet for c in value):
        raise SettingsError(f"{PREFIX}{name.upper()}: expected 43 base64 characters")
    return value


SPECS: tuple[Spec, ...] = (
    Spec("data_dir", "./instance", "Data directory: SQLite database, generated secrets.", _str),
    Spec(
        "database_url",
        "",
        "SQLAlchemy URL; empty means SQLite at <data dir>/qingling.sqlite3. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
        _url,
    ),
    Spec(
        "ratelimit_storage_uri",
        "",
        "Where rate-limit counters are kept, e.g. redis://127.0.0.1:6379/0; "
        "empty keeps them in process memory (one process only).",
        _url,
    ),
    Spec("host", "127.0.0.1", "Address `qingling serve` binds both sites to.", _str),
    Spec(
        "public_port",
        "5000",
        "Port of the public site under `qingling serve`.",
        _int_range(1, 65535),
    ),
    Spec(
        "staff_port", "5001", "Port of the staff site under `qingling serve`.", _int_range(1, 65535)
    ),
    Spec(
        "secure_cookies",
        "true",
        "Mark cookies Secure and use `__Host-` names; set false only for plain-HTTP testing "
        "on a host other than localhost.",
        _bool,
    ),
    Spec("hsts_seconds", "63072000", "max-age of Strict-Transport-Security.", _int_range(0, 10**9)),
    Spec(
        "default_locale",
        "zh_CN",
        "Language shown until the user picks one.",
        _choice("zh_CN", "en"),
    ),
    Spec(
        "proxy_count",
        "0",
        "Number of reverse proxies in front of the staff site whose X-Forwarded-For is "
        "trusted (login throttling per address). The public site never stores or logs addresses.",
        _int_range(0, 5),
    ),
    Spec("max_upload_mb", "110", "Largest request body accepted, in MiB.", _int_range(1, 2048)),
    Spec("log_level", "INFO", "Logging level.", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    Spec(
        "session_idle_minutes",
        "30",
        "Staff session ends after this many minutes without a request.",
        _int_range(1, 24 * 60),
    ),
    Spec(
        "session_absolute_hours",
        "12",
        "Staff session ends this many hours after login whatever happens.",
        _int_range(1, 7 * 24),
    ),
    Spec(
        "login_max_failures",
        "5",
        "Failed logins allowed per account or per address in the window.",
        _int_range(1, 1000),
    ),
    Spec(
        "login_window_minutes",
        "15",
        "Window for counting failed logins; also the lock-out length.",
        _int_range(1, 24 * 60),
    ),
    Spec(
        "argon2_memory_kib",
        "65536",
        "Argon2id memory cost for staff passwords, KiB.",
        _int_range(8, 4 * 1024 * 1024),
    ),
    Spec("argon2_iterations", "3", "Argon2id iterations for staff passwords.", _int_range(1, 100)),
    Spec("argon2_lanes", "1", "Argon2id parallelism for staff passwords.", _int_range(1, 16)),
    Spec(
        "verification_days",
        "60",
        "Triage: days from the start of verification to its deadline (the deadline is the end "
        "of that day, Asia/Shanghai).",
        _int_range(1, 365),
    ),
    Spec(
        "extension_max_days",
        "30",
        "Triage: the longest single extension of a verification deadline, in days (one "
        "extension per tip, with a reason).",
        _int_range(1, 365),
    ),
    Spec(
        "objection_days",
        "10",
        "Triage: days after a conclusion in which the reporter may object; a concluded, "
        "refused or transferred tip can be closed only after them.",
        _int_range(1, 90),
    ),
    Spec(
        "recheck_days",
        "30",
        "Triage: days from a reporter's objection to the deadline of the re-check.",
        _int_range(1, 365),
    ),
    Spec(
        "duplicate_window_days",
        "30",
        "Triage: tips of the same division and category submitted this many days apart are "
        "suggested as possible duplicates.",
        _int_range(1, 3650),
    ),
    Spec(
        "due_soon_days",
        "7",
        "Triage: `qingling jobs run-due` lists the steps due within this many days.",
        _int_range(1, 90),
    ),
    Spec(
        "case_recheck_days",
        "90",
        "Cases: days after closure (销号) when the re-check (回头看) is due.",
        _int_range(1, 3650),
    ),
    Spec(
        "reward_claim_days",
        "60",
        "Rewards: days the reporter has to claim an offered reward before it expires.",
        _int_range(1, 3650),
    ),
    Spec(
        "reward_reminder_days",
        "14",
        "Rewards: `qingling jobs run-due` lists offers whose claim deadline is this many days "
        "away or less.",
        _int_range(1, 365),
    ),
    Spec(
        "wechat_token",
        "",
        "WeChat: the Token configured for the Official Account's server (3 to 32 letters and "
        "digits); empty turns the /wechat endpoint off.",
        _wechat_token,
    ),
    Spec(
        "wechat_encoding_aes_key",
        "",
        "WeChat: the EncodingAESKey of the Official Account (43 characters).",
        _wechat_aes_key,
    ),
    Spec("wechat_appid", "", "WeChat: the AppID of the Official Account.", _str),
    Spec("wechat_appsecret", "", "WeChat: the AppSecret, for the media and message APIs.", _str),
    Spec(
        "wechat_api_base",
        "https://api.weixin.qq.com",
        "WeChat: base URL of the WeChat server API.",
        _url,
    ),
    Spec(
        "wechat_subscribe_template_id",
        "",
        "WeChat: template ID of the account's one-time subscription message (一次性订阅消息); "
        "empty: notifications are not offered.",
        _str,
    ),
    Spec(
        "wechat_sandbox",
        "false",
        "WeChat: the account is Tencent's sandbox test account (测试号), so plaintext messages "
        "are accepted; a warning is logged at start-up. Never set it for a real account.",
        _bool,
    ),
    Spec(
        "public_secret_key",
        "",
        "Public site: key signing its cookies and CSRF tokens (hex).",
        _secret,
        "public",
    ),
    Spec(
        "staff_secret_key",
        "",
        "Staff site: key signing its cookies and CSRF tokens (hex).",
        _secret,
        "staff",
    ),
    Spec(
        "password_pepper",
        "",
        "Staff site: pepper mixed into every password hash (hex).",
        _secret,
        "staff",
    ),
    Spec("totp_key", "", "Staff site: key encrypting TOTP seeds at rest (hex).", _secret, "staff"),
    Spec(
        "audit_key",
        "",
        "Staff site: key for hashing login-throttle identifiers (hex).",
        _secret,
        "staff",
    ),
    Spec(
        "ratelimit_key",
        "",
        "Public site: key for the daily rate-limit address hash (hex).",
        _secret,
        "public",
    ),
    Spec(
        "token_pepper",
        "",
        "Public site: pepper of the tracking-token KDF (hex). Back it up apart from the database: "
        "losing or changing it locks every reporter out.",
        _secret,
        "public",
    ),
    Spec(
        "key_signing_key",
        "",
        "Staff site: Ed25519 key that signs every public key record (hex, 32 bytes).",
        _key32,
        "staff",
    ),
    Spec(
        "key_verifying_key",
        "",
        "Public site: the pinned Ed25519 verifying key of the key records (hex, 32 bytes); "
        "`qingling init` derives it from the signing key.",
        _key32,
        "public",
    ),
)

SECRET_BYTES = 32


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    ratelimit_storage_uri: str
    host: str
    public_port: int
    staff_port: int
    secure_cookies: bool
    hsts_seconds: int
    default_locale: str
    proxy_count: int
    max_upload_mb: int
    log_level: str
    session_idle_minutes: int
    session_absolute_hours: int
    login_max_failures: int
    login_window_minutes: int
    argon2_memory_kib: int
    argon2_iterations: int
    argon2_lanes: int
    verification_days: int
    extension_max_days: int
    objection_days: int
    recheck_days: int
    duplicate_window_days: int
    due_soon_days: int
    case_recheck_days: int
    reward_claim_days: int
    reward_reminder_days: int
    wechat_token: str = field(repr=False)
    wechat_encoding_aes_key: str = field(repr=False)
    wechat_appid: str
    wechat_appsecret: str = field(repr=False)
    wechat_api_base: str
    wechat_sandbox: bool
    wechat_subscribe_template_id: str
    public_secret_key: bytes = field(repr=False)
    staff_secret_key: bytes = field(repr=False)
    password_pepper: bytes = field(repr=False)
    totp_key: bytes = field(repr=False)
    audit_key: bytes = field(repr=False)
    ratelimit_key: bytes = field(repr=False)
    token_pepper: bytes = field(repr=False)
    key_signing_key: bytes = field(repr=False)
    key_verifying_key: bytes = field(repr=False)
    testing: bool = False

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def require_secrets(self, side: str) -> None:
        """Refuse to run a site whose secrets are missing (before `qingling init`)."""
        missing = [s.variable for s in SPECS if s.secret == side and not getattr(self, s.name)]
        if missing:
            raise SettingsError(
                "missing secrets: "
                + ", ".join(missing)
                + f". Run `qingling init` (writes them under {self.data_dir}/secrets) "
                "or set them in the environment."
            )


def secret_path(data_dir: Path, spec: Spec) -> Path:
    if spec.secret is None:
        raise ValueError(f"{spec.variable} is not a secret")
    return data_dir / "secrets" / spec.secret / spec.name


def _read_secret_file(path: Path, spec: Spec) -> bytes:
    try:
        raw = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return b""
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None
    value: bytes = spec.parse(spec.name, raw)
    return value


def load(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Build the settings from the environment (and ``.env`` in the working directory)."""
    env = dict(os.environ if environ is None else environ)
    if dotenv and environ is None and Path(".env").is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(".env").items():
            if key.startswith(PREFIX) and value is not None:
                env.setdefault(key, value)
    known = {s.variable for s in SPECS}
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known | _EXTRA)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for spec in SPECS:
        raw = env.get(spec.variable)
        if spec.secret is not None:
            values[spec.name] = b""
            if raw is not None and raw.strip():
                values[spec.name] = spec.parse(spec.name, raw)
            continue
        values[spec.name] = spec.parse(spec.name, spec.default if raw is None else raw)
    data_dir = Path(values["data_dir"]).expanduser().resolve()
    values["data_dir"] = data_dir
    for spec in SPECS:
        if spec.secret is not None and not values[spec.name]:
            values[spec.name] = _read_secret_file(secret_path(data_dir, spec), spec)
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{data_dir / 'qingling.sqlite3'}"
    if values["public_port"] == values["staff_port"]:
        raise SettingsError(
            f"{PREFIX}PUBLIC_PORT and {PREFIX}STAFF_PORT must differ "
            f"(both are {values['public_port']})"
        )
    return Settings(**values)


# Variables read by the test suite and tools, not by the service itself.
_EXTRA = frozenset({"QINGLING_TEST_DATABASE_URL", "QINGLING_TEST_ARTIFACTS"})


def documented_variables() -> list[str]:
    return [s.variable for s in SPECS]


def settings_field_names() -> list[str]:
    return [f.name for f in fields(Settings)]
