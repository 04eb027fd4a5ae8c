"""Reporter sessions: the token is checked once (one key derivation), then a random value held
by the client finds a server-side row that holds the tip's data key (DESIGN.md "Tracking tokens").

* The value ``r`` is 32 random bytes (URL-safe base64). The public site keeps it in its Flask
  session cookie; the API hands it out as a bearer credential. It is never stored: the row is
  found by SHA-256(r), and the data key in it is wrapped under HKDF(r) (``crypto.secretbox.subkey``)
  with the tip id as context, so the table alone opens nothing.
* The session ends :data:`IDLE` after its last use; every use moves the deadline. Logout deletes
  the row. Rows nobody comes back for are deleted whenever another session is opened.
* Services acting for the reporter take the :class:`~intake.access.ReporterAccess` that
  :func:`reporter_access` returns, never the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.clock import Clock
from core.settings import Settings
from crypto import envelope, secretbox
from crypto.errors import CryptoError
from intake import errors
from intake.access import ReporterAccess
from intake.models import ReporterSession
from intake.services import unlock_with_token

#: A reporter session ends after this long without a request (issue 4: 20 minutes).
IDLE = dt.timedelta(minutes=20)
#: ``wrap`` purpose of the data key held by a session (context: the tip id).
SESSION_KEY_PURPOSE = "data-key/reporter-session"
_SUBKEY_PURPOSE = "reporter-session"
#: Longest value accepted from a client (``secrets.token_urlsafe(32)`` is 43 characters).
VALUE_MAX = 64


@dataclass(frozen=True)
class OpenedSession:
    """A new reporter session: give ``value`` to the client (cookie or bearer), keep nothing."""

    value: str = field(repr=False)
    access: ReporterAccess
    expires_at: dt.datetime


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("ascii")).digest()


def _key(value: str) -> bytes:
    return secretbox.subkey(value.encode("ascii"), _SUBKEY_PURPOSE)


def _usable(value: str | None) -> bool:
    return bool(value) and len(value or "") <= VALUE_MAX and (value or "").isascii()


def purge_reporter_sessions(session: Session, clock: Clock) -> int:
    """Delete every session past its idle deadline; how many there were."""
    result = session.execute(
        delete(ReporterSession).where(ReporterSession.expires_at <= clock.now()),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def open_reporter_session(
    session: Session, clock: Clock, settings: Settings, token_text: str
) -> OpenedSession:
    """Check the token (``TokenTypo`` before any derivation; ``UnknownToken`` after the same
    derivation a match costs) and open a session for its tip."""
    access = unlock_with_token(session, settings, token_text)
    purge_reporter_sessions(session, clock)
    value = secrets.token_urlsafe(32)
    expires_at = clock.now() + IDLE
    session.add(
        ReporterSession(
            value_hash=_hash(value),
            tip_id=access.tip_id,
            data_key_enc=envelope.wrap(
                _key(value), access.data_key, purpose=SESSION_KEY_PURPOSE, context=(access.tip_id,)
            ),
            expires_at=expires_at,
        )
    )
    return OpenedSession(value, access, expires_at)


def reporter_access(session: Session, clock: Clock, value: str | None) -> ReporterAccess:
    """The access a live session holds, its deadline moved on; :class:`ReporterSessionEnded`
    if there is none (never opened, logged out, timed out, or a value that opens nothing)."""
    if not _usable(value):
        raise errors.ReporterSessionEnded()
    assert value is not None  # noqa: S101 - checked by _usable, for the type checker
    row = session.get(ReporterSession, _hash(value))
    now = clock.now()
    if row is None:
        raise errors.ReporterSessionEnded()
    if row.expires_at <= now:
        session.delete(row)
        raise errors.ReporterSessionEnded()
    try:
        data_key = envelope.unwrap(
            _key(value), row.data_key_enc, purpose=SESSION_KEY_PURPOSE, context=(row.tip_id,)
        )
    except CryptoError:
        raise errors.ReporterSessionEnded() from None
    row.expires_at = now + IDLE
    return ReporterAccess(row.tip_id, data_key)


def end_reporter_session(session: Session, value: str | None) -> None:
    """Log out: delete the session's row (nothing happens for an unknown value)."""
    if _usable(value):
        assert value is not None  # noqa: S101 - checked by _usable
        session.execute(
            delete(ReporterSession).where(ReporterSession.value_hash == _hash(value)),
            execution_options={"synchronize_session": False},
        )


def session_value_hash(value: str) -> bytes:
    """SHA-256 of a session value, as the row is keyed (for tests and tools)."""
    return _hash(value)


__all__ = [
    "IDLE",
    "SESSION_KEY_PURPOSE",
    "OpenedSession",
    "end_reporter_session",
    "open_reporter_session",
    "purge_reporter_sessions",
    "reporter_access",
    "session_value_hash",
]
