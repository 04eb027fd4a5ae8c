"""Writing, checking and searching the audit chain.

hash(n) = SHA-256(prev_hash(n) ‖ canonical JSON of record n's fields), with prev_hash(1) the
genesis value of 64 zeros. Editing, deleting or reordering a row breaks the chain at that row;
cutting the chain back to an earlier state is caught by comparing with a head recorded outside
the database (``qingling audit head`` / ``qingling audit verify --head``).

Portability notes (SQLite and PostgreSQL must recompute the same hashes):

- ``at`` is hashed as UTC ISO 8601 with exactly six fractional digits. Both databases keep
  microseconds (SQLite as text ``YYYY-MM-DD HH:MM:SS.ffffff``, PostgreSQL ``timestamptz``) and
  :class:`core.models.UTCDateTime` hands it back timezone-aware, so the value read back equals
  the value hashed at write time, whatever the connection's time zone.
- ``details`` is hashed as the stored text itself (canonical JSON written once), so verifying
  never re-serialises JSON and cannot disagree with the writer about floats or key order.
- Every hashed string is checked against its column length before the hash is computed: a
  database that silently truncated (or one that refuses) would otherwise make the hash of the
  stored row differ from the hash of the row we meant to store.
- Appends are serialised: on SQLite every transaction begins ``IMMEDIATE`` (one writer at a
  time, see :mod:`core.db`); on PostgreSQL :func:`record` takes a transaction-scoped advisory
  lock before reading the head. That is correct under READ COMMITTED (the default, which we
  use): the statement that reads the head starts after the lock is granted and so sees the
  previous holder's committed row. Should a transaction ever run at REPEATABLE READ and read
  before appending, the unique constraint on ``seq`` still refuses a fork (the transaction
  fails instead of writing a second record with the same number).
- A PostgreSQL role that may not read the trail (the public site's own role, see
  ``core/dbroles.py``) appends through the ``SECURITY DEFINER`` function
  ``qingling_audit_append`` (migration 0007), which takes the same lock, reads the head and
  computes the same hash inside the database. That role never learns a hash or the head: with
  the hashes of two of its own records it could test guesses about the staff records between.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, select, text
from sqlalchemy.orm import Session

from core.audit.models import GENESIS, AuditRecord
from core.clock import SHANGHAI, Clock
from core.errors import N_, InvalidInput

if TYPE_CHECKING:
    from core.accounts.models import User

SYSTEM = "system"

# Keys that must never be written into details, at any depth, whatever a caller passes. A key
# is compared after normalising it to snake case ("csrfToken", "TOTP-Seed" → "csrf_token",
# "totp_seed"). Matching is exact on purpose: a flag such as "must_change_password" or a time
# such as "password_changed_at" is not a secret, and word matching would refuse them.
_FORBIDDEN_KEYS = frozenset(
    {
        "password", "new_password", "old_password", "current_password", "passphrase",
        "token", "tracking_token", "csrf_token", "session_token", "access_token",
        "secret", "secret_key", "private_key", "pepper", "seed", "totp", "totp_seed",
        "totp_code", "code", "recovery_code", "openid", "ip", "ip_address", "remote_addr",
        "address", "user_agent", "cookie", "content", "plaintext",
    }
)  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")

# Column lengths of the hashed string fields (see core/audit/models.py).
_MAX_LABEL = 100
_MAX_ACTION = 80
_MAX_OBJECT_TYPE = 40
_MAX_OBJECT_ID = 64

# The PostgreSQL advisory lock that serialises appends to the chain.
CHAIN_LOCK_KEY = 7406519


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff user (id and user name), the system, or an anonymous reporter."""

    id: int | None
    label: str


SYSTEM_ACTOR = Actor(None, SYSTEM)
REPORTER_ACTOR = Actor(None, "reporter")


def actor_of(user: User) -> Actor:
    """The audit actor for a staff user."""
    return Actor(user.id, user.username)


class _Hashed(Protocol):
    """The fields that go into a record's hash (an AuditRecord or a row of those columns)."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def actor_label(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def object_type(self) -> str: ...
    @property
    def object_id(self) -> str | None: ...
    @property
    def details(self) -> str: ...


def canonical(payload: Mapping[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text; NaN and infinities refused."""
    return json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _payload(rec: _Hashed) -> dict[str, Any]:
    return {
        "seq": rec.seq,
        "at": _timestamp(rec.at),
        "actor_id": rec.actor_id,
        "actor_label": rec.actor_label,
        "action": rec.action,
        "object_type": rec.object_type,
        "object_id": rec.object_id,
        "details": rec.details,
    }


def compute_hash(prev_hash: str, rec: _Hashed) -> str:
    body = canonical(_payload(rec))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _key_forbidden(key: str) -> bool:
    normalised = _NON_WORD.sub("_", _CAMEL.sub("_", key).lower()).strip("_")
    return normalised in _FORBIDDEN_KEYS


def _check_details(details: Any, path: str = "") -> None:
    """Refuse forbidden keys at any depth, and keys that are not strings."""
    if isinstance(details, Mapping):
        for key, value in details.items():
            if not isinstance(key, str):
                raise InvalidInput(N_("audit details keys must be text"))
            if _key_forbidden(key):
                raise InvalidInput(N_("audit details may not hold %(key)s"), key=path + key)
            _check_details(value, f"{path}{key}.")
    elif isinstance(details, (list, tuple)):
        for item in details:
            _check_details(item, path)


def _check_length(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise ValueError(f"audit {name} longer than {limit} characters: {value[:limit]!r}…")


def _reads_chain(session: Session) -> bool:
    """Whether the connected role may read the trail (always on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT has_table_privilege('audit_records', 'SELECT')")))


_APPEND_BLIND = text(
    "SELECT qingling_audit_append(:at, :actor_label, :action, :object_type, :object_id, :details)"
)


def _lock_chain(session: Session) -> None:
    """Serialise appends. SQLite transactions already begin IMMEDIATE (one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


# The positional signature is the one every caller already uses.
def record(  # noqa: PLR0917
    session: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord | None:
    """Append one record to the chain in the caller's transaction and return it; None for
    a role that may append but not read the chain (its number and hash stay unknown to it)."""
    details = dict(details or {})
    _check_details(details)
    try:
        details_text = canonical(details)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit details are not plain JSON: {exc}") from None
    label = actor.label[:_MAX_LABEL]
    oid = None if object_id is None else str(object_id)
    _check_length("action", action, _MAX_ACTION)
    _check_length("object type", object_type, _MAX_OBJECT_TYPE)
    _check_length("object id", oid, _MAX_OBJECT_ID)
    at = clock.now()
    _timestamp(at)  # refuses a naive time before anything is written
    if not _reads_chain(session):
        if actor.id is not None:
            raise ValueError("a role that cannot read the audit trail acts for no staff member")
        # The database numbers, links and hashes the record (migration 0007).
        session.execute(
            _APPEND_BLIND,
            {
                "at": at.astimezone(dt.UTC),
                "actor_label": label,
                "action": action,
                "object_type": object_type,
                "object_id": oid,
                "details": details_text,
            },
        )
        # Flushed as below: the caller's pending rows are written in the same step.
        session.flush()
        return None
    _lock_chain(session)
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    rec = AuditRecord(
        seq=seq,
        at=at.astimezone(dt.UTC),
        actor_id=actor.id,
        actor_label=label,
        action=action,
        object_type=object_type,
        object_id=oid,
        details=details_text,
        prev_hash=prev,
    )
    rec.hash = compute_hash(prev, rec)
    session.add(rec)
    # Flushed now so that the next record in this transaction sees this one as the head.
    session.flush()
    return rec


# ---------------------------------------------------------------- verifying


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: str | None  # "seq:hash" of the last record
    problem: str | None = None  # English, for the CLI and logs
    broken_seq: int | None = None
    # The problem as a msgid and its parameters, for a translated page.
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _broken(
    count: int, current: str | None, broken_seq: int, reason: str, /, **params: Any
) -> VerifyResult:
    return VerifyResult(False, count, current, reason % params, broken_seq, reason, params)


_HASHED_COLUMNS = (
    AuditRecord.seq,
    AuditRecord.at,
    AuditRecord.actor_id,
    AuditRecord.actor_label,
    AuditRecord.action,
    AuditRecord.object_type,
    AuditRecord.object_id,
    AuditRecord.details,
    AuditRecord.prev_hash,
    AuditRecord.hash,
)


def _iter_rows(session: Session, batch: int = 2000) -> Iterator[Any]:
    """Every record in ``seq`` order, as plain rows in batches.

    Rows, not ORM objects: walking a long chain neither fills the caller's identity map nor
    needs to expunge anything from it (the caller may have pending changes in the session).
    """
    after = 0
    while True:
        rows = session.execute(
            select(*_HASHED_COLUMNS)
            .where(AuditRecord.seq > after)
            .order_by(AuditRecord.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def parse_head(head: str) -> tuple[int, str]:
    try:
        seq_text, digest = head.strip().split(":", 1)
        seq = int(seq_text)
    except ValueError:
        raise InvalidInput(N_("a head looks like 1234:<64 hex digits>")) from None
    digest = digest.lower()
    if seq < 0 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(N_("a head looks like 1234:<64 hex digits>"))
    return seq, digest


def head(session: Session) -> str:
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    return f"{last[0]}:{last[1]}" if last else f"0:{GENESIS}"


# One return per kind of break reads better than a result variable threaded through.
def verify(session: Session, expected_head: str | None = None) -> VerifyResult:  # noqa: PLR0911
    """Walk the whole chain and report the first broken link, if any.

    This reads every record (in batches of 2000), so its cost grows with the trail; it is
    meant for the CLI, a nightly job and the auditor's page, not for every request.
    """
    want = parse_head(expected_head) if expected_head else None
    prev = GENESIS
    expected_seq = 1
    count = 0
    seen_want = want is None or want[0] == 0
    for rec in _iter_rows(session):
        if rec.seq != expected_seq:
            return _broken(
                count,
                None,
                expected_seq,
                N_("record %(seq)s is missing (next record found is %(found)s)"),
                seq=expected_seq,
                found=rec.seq,
            )
        if rec.prev_hash != prev:
            return _broken(
                count,
                None,
                rec.seq,
                N_(
                    "record %(seq)s does not follow record %(before)s (previous hash differs: "
                    "a record was changed, removed or reordered)"
                ),
                seq=rec.seq,
                before=rec.seq - 1,
            )
        if compute_hash(prev, rec) != rec.hash:
            return _broken(
                count,
                None,
                rec.seq,
                N_("record %(seq)s was changed after it was written"),
                seq=rec.seq,
            )
        if want is not None and rec.seq == want[0]:
            if rec.hash != want[1]:
                return _broken(
                    count,
                    None,
                    rec.seq,
                    N_("record %(seq)s differs from the recorded head"),
                    seq=rec.seq,
                )
            seen_want = True
        prev = rec.hash
        expected_seq += 1
        count += 1
    current = f"{count}:{prev}"
    if want is not None and want[0] == 0 and want[1] != GENESIS:
        return _broken(count, current, 0, N_("the recorded head is not a valid head"))
    if want is not None and not seen_want:
        return _broken(
            count,
            current,
            count + 1,
            N_(
                "the chain ends at record %(count)s, before the recorded head %(want)s: "
                "records were removed from the end"
            ),
            count=count,
            want=want[0],
        )
    return VerifyResult(True, count, current)


def count_records(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


# ---------------------------------------------------------------- searching


MAX_PAGE = 200


@dataclass(frozen=True)
class AuditFilters:
    """What the auditor searches for; empty values do not filter.

    Dates are calendar days in Asia/Shanghai, both ends included.
    """

    actor_label: str = ""
    action_prefix: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class AuditPage:
    """One page of records, newest first, and the cursors to the neighbouring pages."""

    records: Sequence[AuditRecord]
    newer_after: int | None  # pass as after_seq for the newer page, or None if there is none
    older_before: int | None  # pass as before_seq for the older page, or None if there is none


def shanghai_day_start(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in Asia/Shanghai, as UTC."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=SHANGHAI).astimezone(dt.UTC)


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if filters.actor_label.strip():
        conds.append(func.lower(AuditRecord.actor_label) == filters.actor_label.strip().lower())
    if filters.action_prefix.strip():
        conds.append(AuditRecord.action.startswith(filters.action_prefix.strip(), autoescape=True))
    if filters.object_type.strip():
        conds.append(AuditRecord.object_type == filters.object_type.strip())
    if filters.object_id.strip():
        conds.append(AuditRecord.object_id == filters.object_id.strip())
    if filters.date_from is not None:
        conds.append(AuditRecord.at >= shanghai_day_start(filters.date_from))
    if filters.date_to is not None:
        conds.append(AuditRecord.at < shanghai_day_start(filters.date_to + dt.timedelta(days=1)))
    return conds


def _exists(session: Session, conds: list[ColumnElement[bool]], extra: ColumnElement[bool]) -> bool:
    return bool(session.scalar(select(exists().where(and_(extra, *conds)))))


def search(
    session: Session,
    actor: User,
    filters: AuditFilters | None = None,
    *,
    after_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """Records matching ``filters``, newest first, one page at a time (keyset on ``seq``).

    Without a cursor the page starts at the newest record. ``before_seq`` gives the records just
    older than that number, ``after_seq`` those just newer (still shown newest first). Only
    auditors may search; reading the trail is not itself recorded.
    """
    from core.accounts.access import require_role
    from core.accounts.models import Role

    require_role(actor, Role.AUDITOR)
    filters = filters or AuditFilters()
    if after_seq is not None and before_seq is not None:
        raise InvalidInput(N_("Give either a newer or an older page, not both."))
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(N_("A page holds 1 to %(max)s records."), max=MAX_PAGE)
    if (
        filters.date_from is not None
        and filters.date_to is not None
        and filters.date_from > filters.date_to
    ):
        raise InvalidInput(N_("The start date is after the end date."))
    conds = _conditions(filters)
    query = select(AuditRecord).where(*conds)
    if after_seq is not None:
        rows = list(
            session.scalars(
                query.where(AuditRecord.seq > after_seq).order_by(AuditRecord.seq).limit(limit)
            )
        )
        rows.reverse()
    else:
        if before_seq is not None:
            query = query.where(AuditRecord.seq < before_seq)
        rows = list(session.scalars(query.order_by(AuditRecord.seq.desc()).limit(limit)))
    if rows:
        newest, oldest = rows[0].seq, rows[-1].seq
        has_newer = _exists(session, conds, AuditRecord.seq > newest)
        has_older = _exists(session, conds, AuditRecord.seq < oldest)
        return AuditPage(rows, newest if has_newer else None, oldest if has_older else None)
    # An empty page past either end: offer the way back if there is anything there.
    if after_seq is not None and _exists(session, conds, AuditRecord.seq <= after_seq):
        return AuditPage(rows, None, after_seq + 1)
    if before_seq is not None and _exists(session, conds, AuditRecord.seq >= before_seq):
        return AuditPage(rows, before_seq - 1, None)
    return AuditPage(rows, None, None)


def pretty_details(details: str) -> str:
    """The stored canonical JSON of a record's details, indented for reading."""
    try:
        return json.dumps(json.loads(details), ensure_ascii=False, indent=2, sort_keys=True)
    except ValueError:
        return details
