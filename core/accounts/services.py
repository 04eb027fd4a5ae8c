"""Staff accounts: users, passwords, TOTP, login sessions, login throttling and administration.

Login is two steps. :func:`password_login` checks the password and opens a *pending* session
(stage ``totp``); :func:`complete_totp_login` (or :func:`confirm_totp_enrolment` the first time)
checks the code, deletes the pending session and opens a fresh ``full`` one with a new cookie
value. The cookie holds a random value r; the database holds SHA-256(r) only.

A failed password or code is *returned* (:class:`LoginResult` with ``error`` set), not raised,
so that the failure rows written for throttling are committed with the request. Being locked
out raises :class:`~core.errors.TooManyAttempts` before any expensive work.

Nothing here reads Flask, the environment or the request: the caller passes the client address
(used only as an HMAC throttling key, never stored or logged in the clear).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.accounts.access import require_role
from core.accounts.errors import (
    AlreadyEnrolled,
    CityScopeRequired,
    InvalidUsername,
    LoginExpired,
    OutOfScope,
    SelfLockout,
    UnknownDivision,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
    WrongCurrentPassword,
)
from core.accounts.models import (
    CITY_ROLES,
    LoginFailure,
    Role,
    SessionStage,
    StaffSession,
    User,
    UserRole,
)
from core.accounts.passphrases import generate_passphrase, password_problems
from core.audit.services import SYSTEM_ACTOR, Actor, record
from core.clock import Clock
from core.errors import N_, AuthenticationFailed, Conflict, InvalidInput, TooManyAttempts
from core.keys import personal as personal_keys
from core.keys.errors import NoPersonalKey, WrongRecoveryCode
from core.settings import Settings
from crypto import passwords, secretbox, totp
from registry.models import Division

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,64}")
DISPLAY_NAME_MAX = 100
# A pending (password accepted, code not yet given) session lasts at most this long; enough
# to install an authenticator app during enrolment.
PENDING_MINUTES = 15

WRONG_CREDENTIALS = AuthenticationFailed.message
WRONG_CODE = N_(
    "The code is wrong. Check that the time on your phone is right and enter the current code."
)
CODE_USED = N_("This code has already been used. Wait for the next code and enter it.")

_SEED_PURPOSE = "totp-seed"
_PENDING_PURPOSE = "totp-pending"
# Argon2id runs on this salt for an unknown user name, so the answer takes as long as for a
# known one.
_DUMMY_SALT = bytes(passwords.SALT_BYTES)


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username)


# ---------------------------------------------------------------- users


def normalise_username(raw: str) -> str:
    """Case-folded and checked against ``[a-z0-9._-]{3,64}``."""
    name = raw.strip().casefold()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidUsername()
    return name


#: C0 controls and DEL: never typed; PostgreSQL refuses NUL in text (found by tests/hostile).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _clean_display_name(raw: str) -> str:
    name = " ".join(_CONTROL.sub(" ", raw).split())
    if not name or len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(N_("A display name is required (at most 100 characters)."))
    return name


def check_password_strength(password: str, *, username: str, display_name: str = "") -> None:
    problems = password_problems(password, username=username, display_name=display_name)
    if problems:
        raise WeakPassword(problems)


def suggest_passphrase(*, username: str = "", display_name: str = "") -> str:
    """A generated passphrase that passes the strength check for this user."""
    while True:
        candidate = generate_passphrase()
        if not password_problems(candidate, username=username, display_name=display_name):
            return candidate


def _check_division(session: Session, division_id: int | None) -> None:
    if division_id is not None and session.get(Division, division_id) is None:
        raise UnknownDivision()


def _kdf_params(settings: Settings) -> passwords.KdfParams:
    return passwords.KdfParams(
        memory_kib=settings.argon2_memory_kib,
        iterations=settings.argon2_iterations,
        lanes=settings.argon2_lanes,
    )


def _store_password(user: User, settings: Settings, password: str) -> passwords.DerivedKeys:
    params = _kdf_params(settings)
    salt = passwords.new_salt()
    derived = passwords.derive(password, salt, settings.password_pepper, params)
    user.password_salt = salt
    user.password_verifier = derived.verifier
    user.kdf_params = params.encode()
    return derived


def _check_password(user: User, settings: Settings, password: str) -> passwords.DerivedKeys | None:
    """The derived keys if ``password`` is the user's (one Argon2id run), else None."""
    params = passwords.KdfParams.parse(user.kdf_params)
    derived = passwords.derive(password, user.password_salt, settings.password_pepper, params)
    if passwords.verifier_matches(user.password_verifier, derived.verifier):
        return derived
    return None


def _unlock_or_create_personal_key(
    session: Session, clock: Clock, settings: Settings, user: User, *, wrap_key: bytes
) -> bytes:
    """The user's personal private key; a user from before key groups gets one now."""
    if personal_keys.personal_key_of(session, user.id) is None:
        return personal_keys.create_personal_key(
            session, clock, settings, actor_of(user), user, wrap_key=wrap_key
        )
    return personal_keys.unlock_personal_key(session, user, wrap_key)


def create_user(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: set[Role],
    division_id: int | None,
    must_change_password: bool = False,
) -> User:
    """Create a staff user without checking who asks (the CLI and :func:`add_user` do that)."""
    name = normalise_username(username)
    display = _clean_display_name(display_name)
    check_password_strength(password, username=name, display_name=display)
    _check_division(session, division_id)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise UsernameTaken()
    now = clock.now()
    user = User(
        username=name,
        display_name=display,
        division_id=division_id,
        active=True,
        password_changed_at=now,
        must_change_password=must_change_password,
        totp_last_step=0,
        created_at=now,
        roles=[UserRole(role=Role(r)) for r in sorted(roles)],
    )
    derived = _store_password(user, settings, password)
    session.add(user)
    # Flushed for the id that the audit record names (and TOTP seeds and keys are bound to).
    session.flush()
    record(
        session,
        clock,
        actor,
        "user.created",
        "user",
        user.id,
        {
            "username": name,
            "roles": sorted(r.value for r in roles),
            "division_id": division_id,
            "must_change_password": must_change_password,
        },
    )
    personal_keys.create_personal_key(
        session, clock, settings, actor, user, wrap_key=derived.wrap_key
    )
    return user


def personal_key_with_password(
    session: Session, clock: Clock, settings: Settings, user: User, *, password: str
) -> bytes:
    """``user``'s personal private key, unwrapped with their password (for the CLI, which has
    no session): :class:`WrongCurrentPassword` if the password is wrong."""
    derived = _check_password(user, settings, password) if user.active else None
    if derived is None:
        raise WrongCurrentPassword()
    return _unlock_or_create_personal_key(session, clock, settings, user, wrap_key=derived.wrap_key)


def new_recovery_code(
    session: Session, clock: Clock, settings: Settings, user: User, *, password: str
) -> str:
    """Issue a recovery code for ``user`` given their password (for the CLI, which has no
    session); returns the code to show once. Any earlier code stops working."""
    derived = _check_password(user, settings, password)
    if derived is None:
        raise WrongCurrentPassword()
    private = _unlock_or_create_personal_key(
        session, clock, settings, user, wrap_key=derived.wrap_key
    )
    return personal_keys.issue_recovery_code(
        session, clock, settings, actor_of(user), user, private_key=private
    )


def find_user(session: Session, username: str) -> User | None:
    name = username.strip().casefold()
    return session.scalar(select(User).where(User.username == name))


# ---------------------------------------------------------------- TOTP seeds


def _seal_seed(settings: Settings, user_id: int, seed: bytes, purpose: str) -> bytes:
    key = secretbox.subkey(settings.totp_key, purpose)
    return secretbox.seal(key, seed, f"qingling/{purpose}/user:{user_id}".encode())


def _open_seed(settings: Settings, user_id: int, box: bytes, purpose: str) -> bytes:
    key = secretbox.subkey(settings.totp_key, purpose)
    return secretbox.open_box(key, box, f"qingling/{purpose}/user:{user_id}".encode())


def enrol_totp_seed(session: Session, clock: Clock, settings: Settings, user: User) -> str:
    """Give ``user`` a new random TOTP seed at once; returns it in base32 (show it once).

    For ``qingling demo`` and tests. People enrol through :func:`pending_enrolment` and
    :func:`confirm_totp_enrolment`, which prove the authenticator app works first.
    """
    seed = totp.new_seed()
    user.totp_seed_enc = _seal_seed(settings, user.id, seed, _SEED_PURPOSE)
    user.totp_enrolled_at = clock.now()
    user.totp_last_step = 0
    record(
        session, clock, SYSTEM_ACTOR, "user.totp_enrolled", "user", user.id, {"method": "generated"}
    )
    return totp.to_base32(seed)


# The name the test fixtures use.
set_totp_seed_for_tests = enrol_totp_seed


def totp_uri(user: User, secret_base32: str) -> str:
    """The otpauth:// URI for an authenticator app."""
    return totp.provisioning_uri(totp.from_base32(secret_base32), user.username)


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, for typing in by hand
    uri: str  # otpauth://, for the QR code


# ---------------------------------------------------------------- sessions


def _cookie_hash(cookie_value: str) -> bytes:
    return hashlib.sha256(cookie_value.encode("utf-8")).digest()


def _new_session(
    session: Session,
    clock: Clock,
    user: User,
    stage: SessionStage,
    personal_private_key: bytes | None = None,
) -> tuple[str, StaffSession]:
    """A new session row; the personal key, if given, is stored encrypted under HKDF of the
    new cookie value (see :mod:`core.keys.personal`)."""
    cookie_value = secrets.token_urlsafe(32)
    now = clock.now()
    row = StaffSession(
        token_hash=_cookie_hash(cookie_value),
        user_id=user.id,
        user=user,
        stage=stage,
        created_at=now,
        last_seen_at=now,
    )
    if personal_private_key is not None:
        row.personal_key_enc = personal_keys.seal_for_session(
            cookie_value, user.id, personal_private_key
        )
    session.add(row)
    return cookie_value, row


def open_session(
    session: Session,
    clock: Clock,
    settings: Settings,
    user: User,
    stage: SessionStage = SessionStage.FULL,
    *,
    personal_private_key: bytes | None = None,
) -> str:
    """Open a session for ``user``; returns the random value for the cookie (never stored)."""
    cookie_value, _ = _new_session(session, clock, user, stage, personal_private_key)
    return cookie_value


def session_personal_key(staff_session: StaffSession, cookie_value: str) -> bytes:
    """The personal private key a session holds, given its cookie value
    (:class:`~core.keys.errors.NoPersonalKey` if it holds none)."""
    return personal_keys.personal_key_from_session(staff_session, cookie_value)


def _expired(row: StaffSession, now: dt.datetime, settings: Settings) -> bool:
    if now - row.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes):
        return True
    if row.stage == SessionStage.TOTP:
        limit = dt.timedelta(minutes=PENDING_MINUTES)
    else:
        limit = dt.timedelta(hours=settings.session_absolute_hours)
    return now - row.created_at > limit


def find_session(
    session: Session, clock: Clock, settings: Settings, cookie_value: str | None
) -> StaffSession | None:
    """The live session for a cookie value, or None. Ends it if it timed out; else touches it."""
    if not cookie_value:
        return None
    row = session.scalar(
        select(StaffSession).where(StaffSession.token_hash == _cookie_hash(cookie_value))
    )
    if row is None:
        return None
    now = clock.now()
    if _expired(row, now, settings) or not row.user.active:
        session.delete(row)
        return None
    row.last_seen_at = now
    return row


def end_all_sessions(session: Session, user_id: int) -> int:
    """Delete every session of a user; returns how many there were."""
    ids = list(session.scalars(select(StaffSession.id).where(StaffSession.user_id == user_id)))
    if ids:
        session.execute(
            delete(StaffSession).where(StaffSession.id.in_(ids)),
            execution_options={"synchronize_session": "fetch"},
        )
    return len(ids)


def cancel_pending(session: Session, pending: StaffSession) -> None:
    """Drop a pending login. Only that session: knowing the password alone must not be
    enough to log the user out of their other sessions."""
    if pending.stage != SessionStage.TOTP:
        raise LoginExpired()
    session.delete(pending)


def logout(session: Session, clock: Clock, user: User) -> None:
    """Log out everywhere: every session of the user ends."""
    ended = end_all_sessions(session, user.id)
    record(
        session, clock, actor_of(user), "user.logout", "user", user.id, {"sessions_ended": ended}
    )


# ---------------------------------------------------------------- throttling


def _throttle_keys(settings: Settings, username: str, address: str | None) -> list[bytes]:
    """HMACs of the account name and of the address: neither is stored in the clear."""
    values = [f"user:{username.strip().casefold()}"]
    if address:
        values.append(f"addr:{address}")
    return [
        hmac.new(settings.audit_key, v.encode("utf-8"), hashlib.sha256).digest() for v in values
    ]


def _check_throttle(session: Session, clock: Clock, settings: Settings, keys: list[bytes]) -> None:
    """Raise TooManyAttempts while any key has too many failures in the window."""
    now = clock.now()
    window = dt.timedelta(minutes=settings.login_window_minutes)
    limit = settings.login_max_failures
    unlock_at: dt.datetime | None = None
    for key in keys:
        times = list(
            session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.key_hash == key, LoginFailure.at > now - window)
                .order_by(LoginFailure.at)
            )
        )
        if len(times) >= limit:
            # The lock lifts when enough failures have left the window to allow one more try.
            candidate = times[len(times) - limit] + window
            unlock_at = candidate if unlock_at is None else max(unlock_at, candidate)
    if unlock_at is not None:
        minutes = max(1, math.ceil((unlock_at - now).total_seconds() / 60))
        raise TooManyAttempts(minutes=minutes)


def _record_failure(
    session: Session,
    clock: Clock,
    settings: Settings,
    keys: list[bytes],
    *,
    user: User | None,
    step: str,
) -> None:
    now = clock.now()
    # Failures that have left the window count for nothing: drop them as we go.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.at <= now - dt.timedelta(minutes=settings.login_window_minutes)
        ),
        execution_options={"synchronize_session": False},
    )
    session.add_all(LoginFailure(key_hash=k, at=now) for k in keys)
    if user is not None:
        record(session, clock, actor_of(user), "user.login_failed", "user", user.id, {"step": step})


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login step.

    On success ``cookie`` is the new session's cookie value; on failure ``error`` is an English
    msgid to show (the failure has been recorded for throttling and must be committed).
    """

    cookie: str | None = None
    needs_enrolment: bool = False
    # The user has no recovery code yet: the site offers to make one next.
    needs_recovery_code: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.cookie is not None


def password_login(
    session: Session,
    clock: Clock,
    settings: Settings,
    *,
    username: str,
    password: str,
    address: str | None,
) -> LoginResult:
    """First step: the password. Success opens a pending session for the TOTP step."""
    keys = _throttle_keys(settings, username, address)
    _check_throttle(session, clock, settings, keys)
    user = find_user(session, username)
    derived: passwords.DerivedKeys | None = None
    if user is None:
        passwords.derive(password, _DUMMY_SALT, settings.password_pepper, _kdf_params(settings))
    elif user.active:
        derived = _check_password(user, settings, password)
    if user is None or derived is None:
        _record_failure(session, clock, settings, keys, user=user, step="password")
        return LoginResult(error=WRONG_CREDENTIALS)
    private = _unlock_or_create_personal_key(
        session, clock, settings, user, wrap_key=derived.wrap_key
    )
    if user.kdf_params != _kdf_params(settings).encode():
        # The cost settings changed since this password was set: rehash while we have it,
        # and re-wrap the personal key under the new password-derived key.
        derived = _store_password(user, settings, password)
        personal_keys.rewrap_personal_key(
            session, clock, actor_of(user), user, private_key=private, wrap_key=derived.wrap_key
        )
        record(
            session,
            clock,
            actor_of(user),
            "user.password_rehashed",
            "user",
            user.id,
            {"kdf_params": user.kdf_params},
        )
    cookie_value, _ = _new_session(session, clock, user, SessionStage.TOTP, private)
    return LoginResult(cookie=cookie_value, needs_enrolment=user.totp_seed_enc is None)


def _pending_user(pending: StaffSession) -> User:
    if pending.stage != SessionStage.TOTP:
        raise LoginExpired()
    return pending.user


def _finish_login(
    session: Session,
    clock: Clock,
    settings: Settings,
    pending: StaffSession,
    *,
    pending_cookie: str,
) -> LoginResult:
    """Replace the pending session by a fresh full one (new cookie value); the personal key
    moves from under the pending value to under the new one."""
    user = pending.user
    private: bytes | None
    try:
        private = personal_keys.personal_key_from_session(pending, pending_cookie)
    except NoPersonalKey:
        private = None
    session.delete(pending)
    # The account's failures are forgotten only after both factors; the address's are kept.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.key_hash == _throttle_keys(settings, user.username, None)[0]
        ),
        execution_options={"synchronize_session": False},
    )
    user.last_login_at = clock.now()
    cookie_value, _ = _new_session(session, clock, user, SessionStage.FULL, private)
    record(session, clock, actor_of(user), "user.login", "user", user.id, {})
    return LoginResult(
        cookie=cookie_value,
        needs_recovery_code=private is not None
        and not personal_keys.has_recovery_code(session, user.id),
    )


def complete_totp_login(
    session: Session,
    clock: Clock,
    settings: Settings,
    pending: StaffSession,
    *,
    code: str,
    address: str | None,
    cookie_value: str,
) -> LoginResult:
    """Second step: the TOTP code. Each code is accepted once; earlier codes never again.

    ``cookie_value`` is the pending session's cookie value, under which its copy of the
    personal key is encrypted.
    """
    user = _pending_user(pending)
    if user.totp_seed_enc is None:
        raise Conflict(N_("Set up two-step verification first."))
    keys = _throttle_keys(settings, user.username, address)
    _check_throttle(session, clock, settings, keys)
    seed = _open_seed(settings, user.id, user.totp_seed_enc, _SEED_PURPOSE)
    step = totp.verify(seed, code, clock.now())
    if step is None or step <= user.totp_last_step:
        _record_failure(session, clock, settings, keys, user=user, step="totp")
        return LoginResult(error=WRONG_CODE if step is None else CODE_USED)
    user.totp_last_step = step
    return _finish_login(session, clock, settings, pending, pending_cookie=cookie_value)


def pending_enrolment(session: Session, settings: Settings, pending: StaffSession) -> TotpEnrolment:
    """The seed being enrolled in this pending session (made on first call, then the same)."""
    user = _pending_user(pending)
    if user.totp_seed_enc is not None:
        raise AlreadyEnrolled()
    if pending.totp_pending_enc is None:
        seed = totp.new_seed()
        pending.totp_pending_enc = _seal_seed(settings, user.id, seed, _PENDING_PURPOSE)
    else:
        seed = _open_seed(settings, user.id, pending.totp_pending_enc, _PENDING_PURPOSE)
    return TotpEnrolment(
        secret=totp.to_base32(seed), uri=totp.provisioning_uri(seed, user.username)
    )


def confirm_totp_enrolment(
    session: Session,
    clock: Clock,
    settings: Settings,
    pending: StaffSession,
    *,
    code: str,
    address: str | None,
    cookie_value: str,
) -> LoginResult:
    """Confirm the pending seed with a code from the app; then the login completes."""
    user = _pending_user(pending)
    if user.totp_seed_enc is not None:
        raise AlreadyEnrolled()
    if pending.totp_pending_enc is None:
        raise LoginExpired()
    keys = _throttle_keys(settings, user.username, address)
    _check_throttle(session, clock, settings, keys)
    seed = _open_seed(settings, user.id, pending.totp_pending_enc, _PENDING_PURPOSE)
    step = totp.verify(seed, code, clock.now())
    if step is None:
        _record_failure(session, clock, settings, keys, user=user, step="totp_enrolment")
        return LoginResult(error=WRONG_CODE)
    user.totp_seed_enc = _seal_seed(settings, user.id, seed, _SEED_PURPOSE)
    user.totp_enrolled_at = clock.now()
    user.totp_last_step = step
    record(
        session,
        clock,
        actor_of(user),
        "user.totp_enrolled",
        "user",
        user.id,
        {"method": "confirmed"},
    )
    return _finish_login(session, clock, settings, pending, pending_cookie=cookie_value)


# ---------------------------------------------------------------- own password


def change_own_password(
    session: Session,
    clock: Clock,
    settings: Settings,
    user: User,
    *,
    current_password: str,
    new_password: str,
) -> str:
    """Change the password; every session ends and a fresh one opens (returns its cookie).

    The personal key is re-wrapped under the new password-derived key (the same key, so the
    grants survive). But if the password being replaced was set by an administrator
    (``must_change_password``), someone else knew it and so could unwrap that key: the user
    gets a new personal key instead (no grants were given to the old one, see
    :func:`core.keys.services.grant`).
    """
    old = _check_password(user, settings, current_password)
    if old is None:
        raise WrongCurrentPassword()
    check_password_strength(new_password, username=user.username, display_name=user.display_name)
    if new_password == current_password:
        raise WeakPassword([N_("Choose a password different from the current one.")])
    actor = actor_of(user)
    known_to_admin = user.must_change_password or (
        personal_keys.personal_key_of(session, user.id) is None
    )
    private = (
        None if known_to_admin else personal_keys.unlock_personal_key(session, user, old.wrap_key)
    )
    derived = _store_password(user, settings, new_password)
    if private is None:
        private = personal_keys.create_personal_key(
            session, clock, settings, actor, user, wrap_key=derived.wrap_key
        )
    else:
        personal_keys.rewrap_personal_key(
            session, clock, actor, user, private_key=private, wrap_key=derived.wrap_key
        )
    user.password_changed_at = clock.now()
    user.must_change_password = False
    end_all_sessions(session, user.id)
    record(session, clock, actor, "user.password_changed", "user", user.id, {})
    return open_session(session, clock, settings, user, personal_private_key=private)


WRONG_RECOVERY = WrongRecoveryCode.message


@dataclass(frozen=True)
class RecoveryResult:
    """The outcome of :func:`recover_password`: the new recovery code to show once, or an
    error msgid (the failure was recorded for throttling and must be committed)."""

    new_code: str | None = None
    error: str | None = None


def recover_password(
    session: Session,
    clock: Clock,
    settings: Settings,
    *,
    username: str,
    recovery_code: str,
    totp_code: str,
    new_password: str,
    address: str | None,
) -> RecoveryResult:
    """A forgotten password: the recovery code unwraps the personal key, a TOTP code proves
    the second factor; the key is re-wrapped under the new password (grants survive), a new
    recovery code replaces the used one, and every session ends.

    Throttled like a login. Unknown user, wrong code or wrong TOTP code give one message.
    """
    keys = _throttle_keys(settings, username, address)
    _check_throttle(session, clock, settings, keys)
    user = find_user(session, username)
    check_password_strength(
        new_password,
        username=user.username if user is not None else username.strip().casefold(),
        display_name=user.display_name if user is not None else "",
    )
    if user is None or not user.active or user.totp_seed_enc is None:
        with contextlib.suppress(WrongRecoveryCode):  # same work as for a real account
            personal_keys.unlock_with_recovery_code(session, settings, None, recovery_code)
        _record_failure(session, clock, settings, keys, user=user, step="recovery")
        return RecoveryResult(error=WRONG_RECOVERY)
    try:
        private = personal_keys.unlock_with_recovery_code(session, settings, user, recovery_code)
    except WrongRecoveryCode:
        _record_failure(session, clock, settings, keys, user=user, step="recovery")
        return RecoveryResult(error=WRONG_RECOVERY)
    seed = _open_seed(settings, user.id, user.totp_seed_enc, _SEED_PURPOSE)
    step = totp.verify(seed, totp_code, clock.now())
    if step is None or step <= user.totp_last_step:
        _record_failure(session, clock, settings, keys, user=user, step="recovery_totp")
        return RecoveryResult(error=WRONG_RECOVERY)
    user.totp_last_step = step
    actor = actor_of(user)
    derived = _store_password(user, settings, new_password)
    personal_keys.rewrap_personal_key(
        session, clock, actor, user, private_key=private, wrap_key=derived.wrap_key
    )
    user.password_changed_at = clock.now()
    user.must_change_password = False
    ended = end_all_sessions(session, user.id)
    session.execute(
        delete(LoginFailure).where(LoginFailure.key_hash == keys[0]),
        execution_options={"synchronize_session": False},
    )
    record(
        session,
        clock,
        actor,
        "user.password_recovered",
        "user",
        user.id,
        {"sessions_ended": ended},
    )
    code = personal_keys.issue_recovery_code(
        session, clock, settings, actor, user, private_key=private
    )
    return RecoveryResult(new_code=code)


# ---------------------------------------------------------------- administration


def _require_admin(actor: User) -> None:
    require_role(actor, Role.ADMINISTRATOR)


def _require_manageable(actor: User, target: User) -> None:
    if actor.division_id is not None and target.division_id != actor.division_id:
        raise OutOfScope()


def _check_grant(actor: User, added_roles: set[Role], division_id: int | None) -> None:
    """A division administrator keeps new grants inside their division and its roles."""
    if actor.division_id is None:
        return
    if division_id is None or added_roles & CITY_ROLES:
        raise CityScopeRequired()
    if division_id != actor.division_id:
        raise OutOfScope()


def list_users(session: Session, actor: User) -> list[User]:
    """The users an administrator may manage, by user name."""
    _require_admin(actor)
    query = select(User).order_by(User.username)
    if actor.division_id is not None:
        query = query.where(User.division_id == actor.division_id)
    return list(session.scalars(query))


def get_user(session: Session, actor: User, user_id: int) -> User:
    """A user the administrator may manage (404 if none, 403 if outside their scope)."""
    _require_admin(actor)
    target = session.get(User, user_id)
    if target is None:
        raise UserNotFound()
    _require_manageable(actor, target)
    return target


def add_user(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    *,
    username: str,
    display_name: str,
    roles: set[Role],
    division_id: int | None,
) -> tuple[User, str]:
    """Create a user with a generated passphrase (returned, to show once); they change it."""
    _require_admin(actor)
    _check_grant(actor, roles, division_id)
    name = normalise_username(username)
    passphrase = suggest_passphrase(username=name, display_name=display_name)
    user = create_user(
        session,
        clock,
        settings,
        actor_of(actor),
        username=name,
        display_name=display_name,
        password=passphrase,
        roles=roles,
        division_id=division_id,
        must_change_password=True,
    )
    return user, passphrase


def update_user(
    session: Session,
    clock: Clock,
    actor: User,
    user_id: int,
    *,
    display_name: str,
    roles: set[Role],
    division_id: int | None,
) -> User:
    """Change a user's display name, roles and division scope."""
    target = get_user(session, actor, user_id)
    current = set(target.role_set)
    _check_grant(actor, roles - current, division_id)
    if target.id == actor.id and Role.ADMINISTRATOR not in roles:
        raise SelfLockout()
    _check_division(session, division_id)
    display = _clean_display_name(display_name)
    changes: dict[str, object] = {}
    if display != target.display_name:
        changes["display_name"] = [target.display_name, display]
        target.display_name = display
    if division_id != target.division_id:
        changes["division_id"] = [target.division_id, division_id]
        target.division_id = division_id
    if roles != current:
        changes["roles"] = [sorted(r.value for r in current), sorted(r.value for r in roles)]
        target.roles = [r for r in target.roles if Role(r.role) in roles] + [
            UserRole(role=r) for r in sorted(roles - current)
        ]
    if changes:
        record(
            session, clock, actor_of(actor), "user.updated", "user", target.id, {"changes": changes}
        )
    return target


def set_active(session: Session, clock: Clock, actor: User, user_id: int, active: bool) -> User:
    """Disable (ending every session) or enable an account."""
    target = get_user(session, actor, user_id)
    if target.id == actor.id and not active:
        raise SelfLockout()
    if target.active == active:
        return target
    target.active = active
    details: dict[str, object] = {}
    if not active:
        details["sessions_ended"] = end_all_sessions(session, target.id)
    record(
        session,
        clock,
        actor_of(actor),
        "user.enabled" if active else "user.disabled",
        "user",
        target.id,
        details,
    )
    return target


def reset_password(
    session: Session, clock: Clock, settings: Settings, actor: User, user_id: int
) -> str:
    """Give a user a new generated passphrase (returned, to show once); they must change it.

    The old personal key is wrapped under the forgotten password, so the user gets a NEW
    personal key (version + 1) and every grant sealed to the old one is deleted: they are
    outside every key group until a member (or the recovery key) grants again.
    """
    target = get_user(session, actor, user_id)
    if target.id == actor.id:
        raise Conflict(N_("Change your own password under “My account”."))
    passphrase = suggest_passphrase(username=target.username, display_name=target.display_name)
    derived = _store_password(target, settings, passphrase)
    target.password_changed_at = clock.now()
    target.must_change_password = True
    ended = end_all_sessions(session, target.id)
    record(
        session,
        clock,
        actor_of(actor),
        "user.password_reset",
        "user",
        target.id,
        {"sessions_ended": ended},
    )
    personal_keys.create_personal_key(
        session, clock, settings, actor_of(actor), target, wrap_key=derived.wrap_key
    )
    return passphrase
