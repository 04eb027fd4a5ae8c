"""Writing and checking the audit chain.

hash(n) = SHA-256(prev_hash(n) ‖ canonical JSON of record n's fields), with prev_hash(1) the
genesis value of 64 zeros. Editing, deleting or reordering a row breaks the chain at that row;
cutting the chain back to an earlier state is caught by comparing with a head recorded outside
the database (``qingling audit head`` / ``qingling audit verify --head``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.audit.models import GENESIS, AuditRecord
from core.clock import Clock
from core.errors import InvalidInput

SYSTEM = "system"
# Keys that must never be written into details, whatever a caller passes.
_FORBIDDEN_KEYS = frozenset(
    {"password", "token", "secret", "totp", "code", "openid", "ip", "address", "content"}
)


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff user (id and user name), the system, or an anonymous reporter."""

    id: int | None
    label: str


SYSTEM_ACTOR = Actor(None, SYSTEM)
REPORTER_ACTOR = Actor(None, "reporter")


def canonical(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _payload(rec: AuditRecord, details: str) -> dict[str, Any]:
    return {
        "seq": rec.seq,
        "at": rec.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": rec.actor_id,
        "actor_label": rec.actor_label,
        "action": rec.action,
        "object_type": rec.object_type,
        "object_id": rec.object_id,
        "details": details,
    }


def compute_hash(prev_hash: str, rec: AuditRecord) -> str:
    body = canonical(_payload(rec, rec.details))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _check_details(details: Mapping[str, Any]) -> None:
    for key in details:
        if key.lower() in _FORBIDDEN_KEYS:
            raise InvalidInput("audit details may not hold %(key)s", key=key)


def _lock_chain(session: Session) -> None:
    """Serialise appends. SQLite transactions already begin IMMEDIATE (one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7406519)"))


def record(
    session: Session,
    clock: Clock,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """Append one record to the chain in the caller's transaction."""
    details = dict(details or {})
    _check_details(details)
    _lock_chain(session)
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    rec = AuditRecord(
        seq=seq,
        at=clock.now(),
        actor_id=actor.id,
        actor_label=actor.label[:100],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=canonical(details),
        prev_hash=prev,
    )
    rec.hash = compute_hash(prev, rec)
    session.add(rec)
    # Flushed now so that the next record in this transaction sees this one as the head.
    session.flush()
    return rec


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    head: str | None  # "seq:hash" of the last record
    problem: str | None = None
    broken_seq: int | None = None


def _iter_records(session: Session, batch: int = 2000) -> Iterator[AuditRecord]:
    after = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq > after)
                .order_by(AuditRecord.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def parse_head(head: str) -> tuple[int, str]:
    try:
        seq_text, digest = head.strip().split(":", 1)
        seq = int(seq_text)
    except ValueError:
        raise InvalidInput("a head looks like 1234:<64 hex digits>") from None
    if seq < 0 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput("a head looks like 1234:<64 hex digits>")
    return seq, digest


def head(session: Session) -> str:
    last = session.execute(
        select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
    ).first()
    return f"{last[0]}:{last[1]}" if last else f"0:{GENESIS}"


def verify(session: Session, expected_head: str | None = None) -> VerifyResult:
    """Walk the chain and report the first broken link, if any."""
    want = parse_head(expected_head) if expected_head else None
    prev = GENESIS
    expected_seq = 1
    count = 0
    seen_want = want is None or want[0] == 0
    for rec in _iter_records(session):
        if rec.seq != expected_seq:
            return VerifyResult(
                False, count, None,
                f"record {expected_seq} is missing (next record found is {rec.seq})",
                expected_seq,
            )
        if rec.prev_hash != prev:
            return VerifyResult(
                False, count, None,
                f"record {rec.seq} does not follow record {rec.seq - 1} "
                "(previous hash differs: a record was changed, removed or reordered)",
                rec.seq,
            )
        if compute_hash(prev, rec) != rec.hash:
            return VerifyResult(
                False, count, None, f"record {rec.seq} was changed after it was written", rec.seq
            )
        if want is not None and rec.seq == want[0]:
            if rec.hash != want[1]:
                return VerifyResult(
                    False, count, None,
                    f"record {rec.seq} differs from the recorded head", rec.seq,
                )
            seen_want = True
        prev = rec.hash
        expected_seq += 1
        count += 1
    current = f"{count}:{prev}"
    if want is not None and want[0] == 0 and want[1] != GENESIS:
        return VerifyResult(False, count, current, "the recorded head is not a valid head", 0)
    if not seen_want:
        assert want is not None
        return VerifyResult(
            False, count, current,
            f"the chain ends at record {count}, before the recorded head {want[0]}: "
            "records were removed from the end",
            count + 1,
        )
    return VerifyResult(True, count, current)


def count_records(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)
