"""Personal keys: each staff member's X25519 key pair, its two wraps, and its copy in a session.

- **Password wrap.** ``wrap(wrap_key, private key, purpose="personal-key/password",
  context=(user id, version))`` where ``wrap_key`` comes from the same Argon2id run as the
  login verifier (:func:`crypto.passwords.derive`). A password change re-wraps the same key, so
  grants survive.
- **Recovery wrap.** A one-time recovery code of 160 random bits, shown as 8 groups of 4
  Crockford base32 symbols; its key is ``derive(code, own 16-byte salt, pepper,
  Argon2id costs).wrap_key``, the private key wrapped with purpose ``personal-key/recovery``.
  Using the code re-wraps the key under the new password and issues a new code.
- **Session copy.** The unwrapped key, wrapped under ``HKDF(r)`` (``crypto.secretbox.subkey``
  of the cookie's random value r) with purpose ``personal-key/session`` and the user id as
  context, in the session row (found by SHA-256(r)). The row alone lacks r; the cookie alone
  lacks the row. It goes when the session goes (logout, time-outs, disabling, password change).
- **Replacement.** An administrator's password reset (and the first password change after it)
  makes a new key pair (``version`` + 1) and deletes every grant sealed to the old one: the
  member is outside every group until a member or the recovery key grants again.

Audit records name versions and fingerprints, never a key, a wrap key or a code.
"""

from __future__ import annotations

import base64
import secrets
import unicodedata

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.accounts.models import StaffSession, User
from core.audit.services import Actor, record
from core.clock import Clock
from core.keys import records
from core.keys.errors import NoPersonalKey, PersonalKeyLocked, WrongRecoveryCode
from core.keys.models import GroupGrant, PersonalKey
from core.settings import Settings
from crypto import envelope, passwords, secretbox, signing
from crypto.errors import CryptoError
from crypto.secretbox import SecretBoxError

PASSWORD_PURPOSE = "personal-key/password"  # noqa: S105 - a label, not a password
RECOVERY_PURPOSE = "personal-key/recovery"
SESSION_PURPOSE = "personal-key/session"
_SESSION_SUBKEY = "staff-session/personal-key"

RECOVERY_CODE_BYTES = 20  # 160 bits: 32 base32 symbols
RECOVERY_GROUPS = 8
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_B32_TO_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD)
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_MAX_CODE_INPUT = 100


# ---------------------------------------------------------------- recovery codes


def generate_recovery_code() -> str:
    """160 random bits as ``XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`` (Crockford base32)."""
    raw = secrets.token_bytes(RECOVERY_CODE_BYTES)
    text = base64.b32encode(raw).decode("ascii").translate(_B32_TO_CROCKFORD)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_recovery_code(text: str) -> str | None:
    """The 32 symbols of a typed recovery code, or None if it cannot be one.

    Forgiving as the tracking tokens are: full-width characters (NFKC), lower case, spaces and
    dashes, O for 0 and I or L for 1.
    """
    if not isinstance(text, str) or len(text) > _MAX_CODE_INPUT:
        return None
    folded = unicodedata.normalize("NFKC", text).upper().translate(_CONFUSABLE)
    symbols = "".join(
        ch for ch in folded if not ch.isspace() and unicodedata.category(ch) not in {"Pd", "Cf"}
    )
    if len(symbols) != RECOVERY_CODE_BYTES * 8 // 5 or any(ch not in CROCKFORD for ch in symbols):
        return None
    return symbols


# ---------------------------------------------------------------- rows


def personal_key_of(session: Session, user_id: int) -> PersonalKey | None:
    return session.scalar(select(PersonalKey).where(PersonalKey.user_id == user_id))


def has_recovery_code(session: Session, user_id: int) -> bool:
    row = personal_key_of(session, user_id)
    return row is not None and row.recovery_wrapped is not None


def _record(user_id: int, version: int, public_key: bytes) -> signing.KeyRecord:
    return signing.KeyRecord(user_id, records.PERSONAL_PURPOSE, version, public_key)


def signed_public_key(session: Session, settings: Settings, user_id: int) -> PersonalKey:
    """The user's personal key row after checking its signature (before sealing to it)."""
    row = personal_key_of(session, user_id)
    if row is None:
        raise NoPersonalKey()
    records.verify(
        records.staff_verifying_key(settings),
        _record(user_id, row.version, row.public_key),
        row.signature,
    )
    return row


def create_personal_key(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    user: User,
    *,
    wrap_key: bytes,
) -> bytes:
    """Give ``user`` a new key pair wrapped under the password-derived ``wrap_key``; returns
    the private key (for the session). If the user had one, this replaces it (version + 1),
    drops its recovery wrap and deletes every grant sealed to it."""
    pair = envelope.generate_keypair()
    row = personal_key_of(session, user.id)
    version = 1 if row is None else row.version + 1
    signature = records.sign(settings, _record(user.id, version, pair.public_key))
    wrapped = envelope.wrap(
        wrap_key, pair.private_key, purpose=PASSWORD_PURPOSE, context=(user.id, version)
    )
    now = clock.now()
    dropped = 0
    if row is None:
        row = PersonalKey(user_id=user.id)
        session.add(row)
    else:
        dropped = drop_grants(session, user.id)
    row.version = version
    row.public_key = pair.public_key
    row.signature = signature
    row.password_wrapped = wrapped
    row.recovery_wrapped = None
    row.recovery_salt = None
    row.recovery_kdf = None
    row.created_at = now
    row.recovery_issued_at = None
    details: dict[str, object] = {
        "version": version,
        "fingerprint": envelope.fingerprint(pair.public_key),
        "record_sha256": records.record_sha256(
            _record(user.id, version, pair.public_key), signature
        ),
    }
    if version > 1:
        details["grants_dropped"] = dropped
    record(
        session,
        clock,
        actor,
        "personal_key.replaced" if version > 1 else "personal_key.created",
        "user",
        user.id,
        details,
    )
    return pair.private_key


def drop_grants(session: Session, user_id: int) -> int:
    """Delete every grant sealed to the user (all groups, all versions); returns how many."""
    count = int(
        session.scalar(
            select(func.count()).select_from(GroupGrant).where(GroupGrant.user_id == user_id)
        )
        or 0
    )
    if count:
        session.execute(
            delete(GroupGrant).where(GroupGrant.user_id == user_id),
            execution_options={"synchronize_session": "fetch"},
        )
    return count


def unlock_personal_key(session: Session, user: User, wrap_key: bytes) -> bytes:
    """The private key, unwrapped with the password-derived key."""
    row = personal_key_of(session, user.id)
    if row is None:
        raise NoPersonalKey()
    try:
        private = envelope.unwrap(
            wrap_key, row.password_wrapped, purpose=PASSWORD_PURPOSE, context=(user.id, row.version)
        )
    except CryptoError:
        raise PersonalKeyLocked() from None
    _check_pair(row, private)
    return private


def _check_pair(row: PersonalKey, private: bytes) -> None:
    try:
        matches = envelope.public_key_of(private) == row.public_key
    except CryptoError:
        matches = False
    if not matches:
        raise PersonalKeyLocked()


def rewrap_personal_key(
    session: Session,
    clock: Clock,
    actor: Actor,
    user: User,
    *,
    private_key: bytes,
    wrap_key: bytes,
) -> None:
    """Wrap the same key under a new password-derived key (grants survive)."""
    row = personal_key_of(session, user.id)
    if row is None:
        raise NoPersonalKey()
    _check_pair(row, private_key)
    row.password_wrapped = envelope.wrap(
        wrap_key, private_key, purpose=PASSWORD_PURPOSE, context=(user.id, row.version)
    )
    record(
        session,
        clock,
        actor,
        "personal_key.rewrapped",
        "user",
        user.id,
        {"version": row.version, "wrap": "password"},
    )


def _kdf_params(settings: Settings) -> passwords.KdfParams:
    return passwords.KdfParams(
        memory_kib=settings.argon2_memory_kib,
        iterations=settings.argon2_iterations,
        lanes=settings.argon2_lanes,
    )


def issue_recovery_code(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    user: User,
    *,
    private_key: bytes,
) -> str:
    """Wrap the key under a fresh recovery code and return the code (show it once, to the
    user). Any earlier code stops working."""
    row = personal_key_of(session, user.id)
    if row is None:
        raise NoPersonalKey()
    _check_pair(row, private_key)
    code = generate_recovery_code()
    symbols = normalise_recovery_code(code)
    assert symbols is not None  # noqa: S101 - our own output always parses
    params = _kdf_params(settings)
    salt = passwords.new_salt()
    key = passwords.derive(symbols, salt, settings.password_pepper, params).wrap_key
    row.recovery_wrapped = envelope.wrap(
        key, private_key, purpose=RECOVERY_PURPOSE, context=(user.id, row.version)
    )
    row.recovery_salt = salt
    row.recovery_kdf = params.encode()
    row.recovery_issued_at = clock.now()
    record(
        session,
        clock,
        actor,
        "personal_key.recovery_code_issued",
        "user",
        user.id,
        {"version": row.version},
    )
    return code


def unlock_with_recovery_code(
    session: Session, settings: Settings, user: User | None, text: str
) -> bytes:
    """The private key, unwrapped with a recovery code; :class:`WrongRecoveryCode` otherwise.

    The Argon2id run happens for any well-formed code, whether or not the user (``None``: an
    unknown user name) has a code, so the answer takes the same time.
    """
    row = personal_key_of(session, user.id) if user is not None else None
    symbols = normalise_recovery_code(text)
    if symbols is None:
        raise WrongRecoveryCode()
    if user is None or row is None or row.recovery_wrapped is None or row.recovery_salt is None:
        passwords.derive(
            symbols, bytes(passwords.SALT_BYTES), settings.password_pepper, _kdf_params(settings)
        )
        raise WrongRecoveryCode()
    params = passwords.KdfParams.parse(row.recovery_kdf or "")
    key = passwords.derive(symbols, row.recovery_salt, settings.password_pepper, params).wrap_key
    try:
        private = envelope.unwrap(
            key, row.recovery_wrapped, purpose=RECOVERY_PURPOSE, context=(user.id, row.version)
        )
    except CryptoError:
        raise WrongRecoveryCode() from None
    _check_pair(row, private)
    return private


# ---------------------------------------------------------------- the copy in a session


def _session_key(cookie_value: str) -> bytes:
    return secretbox.subkey(cookie_value.encode("utf-8"), _SESSION_SUBKEY)


def seal_for_session(cookie_value: str, user_id: int, private_key: bytes) -> bytes:
    """The personal key as stored in a session row: under HKDF(r), bound to the user id."""
    return envelope.wrap(
        _session_key(cookie_value), private_key, purpose=SESSION_PURPOSE, context=(user_id,)
    )


def personal_key_from_session(staff_session: StaffSession, cookie_value: str) -> bytes:
    """The personal private key held by a session, given the cookie's value r.

    :class:`NoPersonalKey` if the session holds none or it does not open (wrong r, or a row
    copied to another user).
    """
    box = staff_session.personal_key_enc
    if box is None or not cookie_value:
        raise NoPersonalKey()
    try:
        return envelope.unwrap(
            _session_key(cookie_value),
            box,
            purpose=SESSION_PURPOSE,
            context=(staff_session.user_id,),
        )
    except (CryptoError, SecretBoxError, ValueError):
        raise NoPersonalKey() from None
