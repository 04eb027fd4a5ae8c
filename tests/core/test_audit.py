"""The audit chain: it verifies, tampering of every kind is caught, details refuse secrets, and
the auditor's search filters and pages correctly. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from core.accounts.models import Role, User
from core.audit import services as audit
from core.audit.models import GENESIS, AuditRecord
from core.clock import SHANGHAI, FakeClock
from core.errors import Forbidden, InvalidInput
from tests.conftest import build_user

_user = build_user


def _append(dbs: Session, clock: FakeClock, n: int, **kwargs: Any) -> list[AuditRecord]:
    records = []
    for i in range(n):
        clock.advance(seconds=1)
        records.append(
            audit.record(
                dbs,
                clock,
                kwargs.get("actor", audit.SYSTEM_ACTOR),
                kwargs.get("action", "test.event"),
                kwargs.get("object_type", "thing"),
                kwargs.get("object_id", i),
                {"i": i, "note": "第" + str(i)},
            )
        )
    return records


def _max_seq(dbs: Session) -> int:
    return int(dbs.scalar(select(func.max(AuditRecord.seq))) or 0)


def _sql(dbs: Session, statement: str, **params: Any) -> None:
    """Tamper the way someone with database access would: plain SQL on the connection."""
    dbs.connection().execute(text(statement), params)


# ---------------------------------------------------------------- a sound chain


def test_chain_verifies_and_head_names_the_last_record(dbs: Session, clock: FakeClock) -> None:
    _append(dbs, clock, 5)
    last = _max_seq(dbs)
    result = audit.verify(dbs)
    assert result.ok, result.problem
    assert result.count == last == audit.count_records(dbs)
    assert result.head == audit.head(dbs)
    seq, digest = audit.parse_head(audit.head(dbs))
    assert seq == last
    assert digest == dbs.scalar(select(AuditRecord.hash).where(AuditRecord.seq == last))
    assert audit.verify(dbs, audit.head(dbs)).ok


def test_first_record_follows_genesis(session_factory: Any, clock: FakeClock) -> None:
    s = session_factory()
    try:
        assert audit.head(s) == f"0:{GENESIS}"
        assert audit.verify(s).ok
        rec = audit.record(s, clock, audit.SYSTEM_ACTOR, "test.first", "thing")
        assert rec.seq == 1
        assert rec.prev_hash == GENESIS
        assert audit.verify(s).ok
    finally:
        s.close()


def test_each_record_links_to_its_predecessor(dbs: Session, clock: FakeClock) -> None:
    a, b = _append(dbs, clock, 2)
    assert b.seq == a.seq + 1
    assert b.prev_hash == a.hash
    assert audit.compute_hash(a.hash, b) == b.hash


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2026, 11, 1, 2, 0, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 2, 0, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=SHANGHAI),
    ],
)
def test_timestamps_round_trip_so_hashes_recompute(dbs: Session, moment: dt.datetime) -> None:
    rec = audit.record(dbs, FakeClock(moment), audit.SYSTEM_ACTOR, "test.time", "thing")
    seq = rec.seq
    dbs.expire_all()
    stored = dbs.scalars(select(AuditRecord).where(AuditRecord.seq == seq)).one()
    assert stored.at == moment
    assert stored.at.utcoffset() == dt.timedelta(0)
    assert audit.verify(dbs).ok


def test_verify_leaves_the_callers_session_alone(dbs: Session, clock: FakeClock) -> None:
    user = _user(dbs, clock, "keeper", Role.AUDITOR)
    _append(dbs, clock, 3)
    assert audit.verify(dbs).ok
    assert user in dbs  # nothing was expunged


def test_record_refuses_overlong_fields_and_naive_times(dbs: Session, clock: FakeClock) -> None:
    before = audit.count_records(dbs)
    with pytest.raises(ValueError, match="action"):
        audit.record(dbs, clock, audit.SYSTEM_ACTOR, "x" * 81, "thing")
    naive = FakeClock(dt.datetime(2026, 11, 1, 2, 0))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone"):
        audit.record(dbs, naive, audit.SYSTEM_ACTOR, "test.naive", "thing")
    assert audit.count_records(dbs) == before


# ---------------------------------------------------------------- tampering


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"i":2,"note":"nothing happened"}'),
        ("actor_label", "someone-else"),
        ("action", "test.other"),
        ("object_id", "999"),
        ("object_type", "other"),
    ],
)
def test_an_edited_field_is_detected(
    dbs: Session, clock: FakeClock, column: str, value: str
) -> None:
    records = _append(dbs, clock, 5)
    target = records[2].seq
    _sql(dbs, f"UPDATE audit_records SET {column} = :v WHERE seq = :s", v=value, s=target)  # noqa: S608 - column from the fixed list above
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == target
    assert result.problem == f"record {target} was changed after it was written"
    assert result.count == target - 1


def test_an_edited_time_is_detected(dbs: Session, clock: FakeClock) -> None:
    records = _append(dbs, clock, 3)
    target = records[1].seq
    dbs.connection().execute(
        update(AuditRecord.__table__)
        .where(AuditRecord.__table__.c.seq == target)
        .values(at=records[1].at - dt.timedelta(seconds=1))
    )
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == target


def test_a_deleted_middle_record_is_detected(dbs: Session, clock: FakeClock) -> None:
    records = _append(dbs, clock, 5)
    target = records[2].seq
    _sql(dbs, "DELETE FROM audit_records WHERE seq = :s", s=target)
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == target
    assert f"record {target} is missing" in (result.problem or "")


def test_renumbering_after_a_delete_is_detected(dbs: Session, clock: FakeClock) -> None:
    records = _append(dbs, clock, 5)
    target = records[2].seq
    _sql(dbs, "DELETE FROM audit_records WHERE seq = :s", s=target)
    # Close the gap by moving every later record down one, in ascending order.
    for seq in range(target + 1, _max_seq(dbs) + 1):
        _sql(dbs, "UPDATE audit_records SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == target
    assert "does not follow" in (result.problem or "")


def test_deleting_the_last_records_is_caught_only_against_a_recorded_head(
    dbs: Session, clock: FakeClock
) -> None:
    _append(dbs, clock, 4)
    recorded = audit.head(dbs)
    last = _max_seq(dbs)
    _sql(dbs, "DELETE FROM audit_records WHERE seq >= :s", s=last - 1)
    plain = audit.verify(dbs)
    assert plain.ok  # a cut-back chain is internally consistent…
    assert plain.count == last - 2
    against = audit.verify(dbs, recorded)
    assert not against.ok  # …but no longer reaches the head recorded outside the database
    assert "removed from the end" in (against.problem or "")
    assert against.broken_seq == last - 1


def test_a_rewritten_last_record_is_caught_against_a_recorded_head(
    dbs: Session, clock: FakeClock
) -> None:
    records = _append(dbs, clock, 3)
    recorded = audit.head(dbs)
    last = records[-1]
    _sql(dbs, "UPDATE audit_records SET details = '{}' WHERE seq = :s", s=last.seq)
    forged = dbs.execute(select(*audit._HASHED_COLUMNS).where(AuditRecord.seq == last.seq)).one()
    new_hash = audit.compute_hash(forged.prev_hash, forged)
    _sql(dbs, "UPDATE audit_records SET hash = :h WHERE seq = :s", h=new_hash, s=last.seq)
    assert audit.verify(dbs).ok
    result = audit.verify(dbs, recorded)
    assert not result.ok
    assert result.broken_seq == last.seq
    assert "differs from the recorded head" in (result.problem or "")


def test_swapped_records_are_detected(dbs: Session, clock: FakeClock) -> None:
    records = _append(dbs, clock, 5)
    a, b = records[1].seq, records[2].seq
    # Three steps, because seq is unique.
    _sql(dbs, "UPDATE audit_records SET seq = -1 WHERE seq = :a", a=a)
    _sql(dbs, "UPDATE audit_records SET seq = :a WHERE seq = :b", a=a, b=b)
    _sql(dbs, "UPDATE audit_records SET seq = :b WHERE seq = -1", b=b)
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == a


def test_a_forged_hash_is_caught_by_the_next_link(dbs: Session, clock: FakeClock) -> None:
    records = _append(dbs, clock, 5)
    target = records[2].seq
    _sql(
        dbs,
        "UPDATE audit_records SET details = :d WHERE seq = :s",
        d='{"i":2,"note":"forged"}',
        s=target,
    )
    row = dbs.execute(select(*audit._HASHED_COLUMNS).where(AuditRecord.seq == target)).one()
    forged = audit.compute_hash(row.prev_hash, row)
    _sql(dbs, "UPDATE audit_records SET hash = :h WHERE seq = :s", h=forged, s=target)
    result = audit.verify(dbs)
    assert not result.ok
    assert result.broken_seq == target + 1  # the forged row itself now looks sound
    assert f"record {target + 1} does not follow record {target}" in (result.problem or "")
    assert result.reason is not None
    assert result.params == {"seq": target + 1, "before": target}


def test_a_malformed_head_is_refused(dbs: Session) -> None:
    for bad in ("", "12", "x:" + "0" * 64, "3:" + "g" * 64, "3:abc", "-1:" + "0" * 64):
        with pytest.raises(InvalidInput):
            audit.verify(dbs, bad or ":")
    assert audit.parse_head("  7:" + "AB" * 32 + "\n") == (7, "ab" * 32)


# ---------------------------------------------------------------- details


@pytest.mark.parametrize(
    "details",
    [
        {"password": "x"},
        {"Token": "x"},
        {"new_password": "x"},
        {"csrfToken": "x"},
        {"totp-seed": "x"},
        {"code": "123456"},
        {"ip": "10.0.0.1"},
        {"changes": {"secret": "x"}},
        {"changes": [{"field": "name", "openid": "o"}]},
        {" Recovery-Code ": "x"},
    ],
)
def test_details_refuse_forbidden_keys(
    dbs: Session, clock: FakeClock, details: dict[str, Any]
) -> None:
    before = audit.count_records(dbs)
    with pytest.raises(InvalidInput):
        audit.record(dbs, clock, audit.SYSTEM_ACTOR, "test.secret", "thing", 1, details)
    assert audit.count_records(dbs) == before


def test_details_accept_plain_fields_and_are_stored_canonically(
    dbs: Session, clock: FakeClock
) -> None:
    rec = audit.record(
        dbs,
        clock,
        audit.SYSTEM_ACTOR,
        "test.ok",
        "thing",
        1,
        {
            "z": 1,
            "changes": [{"field": "code", "from": None, "to": "320582003"}],
            "名": "杨舍镇",
            "must_change_password": True,
        },
    )
    assert rec.details == (
        '{"changes":[{"field":"code","from":null,"to":"320582003"}],'
        '"must_change_password":true,"z":1,"名":"杨舍镇"}'
    )
    assert '"名": "杨舍镇"' in audit.pretty_details(rec.details)
    with pytest.raises(ValueError, match="plain JSON"):
        audit.record(dbs, clock, audit.SYSTEM_ACTOR, "test.bad", "thing", 1, {"x": object()})


# ---------------------------------------------------------------- PostgreSQL lock


def test_appends_take_the_chain_lock_on_postgresql(dbs: Session, clock: FakeClock) -> None:
    if dbs.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE instead")
    _append(dbs, clock, 1)
    held = dbs.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid = pg_backend_pid() AND objid = :key AND granted"
        ),
        {"key": audit.CHAIN_LOCK_KEY},
    )
    assert held == 1


# ---------------------------------------------------------------- search


def test_search_requires_an_active_auditor(dbs: Session, clock: FakeClock) -> None:
    admin = _user(dbs, clock, "admin", Role.ADMINISTRATOR, Role.SUPERVISOR)
    retired = _user(dbs, clock, "retired", Role.AUDITOR, active=False)
    auditor = _user(dbs, clock, "auditor", Role.AUDITOR)
    for actor in (admin, retired):
        with pytest.raises(Forbidden):
            audit.search(dbs, actor)
    page = audit.search(dbs, auditor)
    assert [r.seq for r in page.records] == sorted(
        dbs.scalars(select(AuditRecord.seq)), reverse=True
    )[:50]


@pytest.fixture
def trail(dbs: Session, clock: FakeClock) -> dict[str, AuditRecord]:
    """A few records on both sides of midnight, China Standard Time, on 2 November 2026."""
    alice = audit.Actor(7, "alice")
    bob = audit.Actor(8, "bob")

    def at(moment: dt.datetime, *args: Any) -> AuditRecord:
        return audit.record(dbs, FakeClock(moment), *args)

    utc = dt.UTC
    return {
        "late": at(
            dt.datetime(2026, 11, 1, 15, 59, 59, 999999, tzinfo=utc),
            alice,
            "division.updated",
            "division",
            903,
            {},
        ),
        "midnight": at(
            dt.datetime(2026, 11, 1, 16, 0, tzinfo=utc),
            bob,
            "division.created",
            "division",
            912,
            {},
        ),
        "user": at(
            dt.datetime(2026, 11, 2, 3, 0, tzinfo=utc), alice, "user.created", "user", 8, {}
        ),
        "odd": at(
            dt.datetime(2026, 11, 2, 15, 59, 59, tzinfo=utc),
            bob,
            "divisionXupdated",
            "division",
            903,
            {},
        ),
        "next": at(
            dt.datetime(2026, 11, 2, 16, 0, tzinfo=utc), alice, "tip.read", "tip", "ab-12", {}
        ),
    }


def _found(dbs: Session, auditor: User, **filters: Any) -> list[int]:
    page = audit.search(dbs, auditor, audit.AuditFilters(**filters), limit=200)
    return [r.seq for r in page.records]


def test_search_filters(dbs: Session, clock: FakeClock, trail: dict[str, AuditRecord]) -> None:
    auditor = _user(dbs, clock, "auditor", Role.AUDITOR)
    s = {name: rec.seq for name, rec in trail.items()}

    assert _found(dbs, auditor, actor_label="ALICE") == [s["next"], s["user"], s["late"]]
    assert _found(dbs, auditor, actor_label="bob") == [s["odd"], s["midnight"]]
    # A prefix; "_" and "%" are literal, not wildcards.
    assert s["odd"] not in _found(dbs, auditor, action_prefix="division.")
    assert {s["late"], s["midnight"]} <= set(_found(dbs, auditor, action_prefix="division."))
    assert _found(dbs, auditor, action_prefix="division.updated") == [s["late"]]
    assert _found(dbs, auditor, action_prefix="division_") == []
    assert _found(dbs, auditor, action_prefix="%") == []
    assert _found(dbs, auditor, object_type="user") == [s["user"]]
    assert _found(dbs, auditor, object_type="division", object_id="903") == [s["odd"], s["late"]]
    assert _found(dbs, auditor, object_id="ab-12") == [s["next"]]
    # Dates are days in Asia/Shanghai: 2 November there runs from 16:00 UTC on 1 November.
    day = dt.date(2026, 11, 2)
    assert _found(dbs, auditor, date_from=day, date_to=day) == [s["odd"], s["user"], s["midnight"]]
    assert _found(dbs, auditor, date_from=dt.date(2026, 11, 3)) == [s["next"]]
    assert s["late"] in _found(dbs, auditor, date_to=dt.date(2026, 11, 1))
    assert s["midnight"] not in _found(dbs, auditor, date_to=dt.date(2026, 11, 1))
    assert _found(dbs, auditor, actor_label="alice", date_from=day, date_to=day) == [s["user"]]


def test_search_refuses_contradictory_input(dbs: Session, clock: FakeClock) -> None:
    auditor = _user(dbs, clock, "auditor", Role.AUDITOR)
    with pytest.raises(InvalidInput):
        audit.search(dbs, auditor, after_seq=1, before_seq=5)
    with pytest.raises(InvalidInput):
        audit.search(dbs, auditor, limit=0)
    with pytest.raises(InvalidInput):
        audit.search(dbs, auditor, limit=audit.MAX_PAGE + 1)
    with pytest.raises(InvalidInput):
        audit.search(
            dbs,
            auditor,
            audit.AuditFilters(date_from=dt.date(2026, 11, 3), date_to=dt.date(2026, 11, 2)),
        )


def test_search_pages_newest_first_with_keyset_cursors(dbs: Session, clock: FakeClock) -> None:
    auditor = _user(dbs, clock, "auditor", Role.AUDITOR)
    mine = [r.seq for r in _append(dbs, clock, 25, action="page.event")]
    _append(dbs, clock, 2, action="other.event")  # interleaved noise the filter drops
    mine += [r.seq for r in _append(dbs, clock, 3, action="page.event")]
    newest_first = sorted(mine, reverse=True)
    only = audit.AuditFilters(action_prefix="page.")

    first = audit.search(dbs, auditor, only, limit=10)
    assert [r.seq for r in first.records] == newest_first[:10]
    assert first.newer_after is None
    assert first.older_before == newest_first[9]

    second = audit.search(dbs, auditor, only, before_seq=first.older_before, limit=10)
    assert [r.seq for r in second.records] == newest_first[10:20]
    assert second.newer_after == newest_first[10]

    third = audit.search(dbs, auditor, only, before_seq=second.older_before, limit=10)
    assert [r.seq for r in third.records] == newest_first[20:]
    assert third.older_before is None

    back = audit.search(dbs, auditor, only, after_seq=second.newer_after, limit=10)
    assert [r.seq for r in back.records] == newest_first[:10]
    assert back.newer_after is None
    assert back.older_before == newest_first[9]

    # A new record arriving while the auditor pages does not shift the older pages.
    _append(dbs, clock, 1, action="page.event")
    again = audit.search(dbs, auditor, only, before_seq=first.older_before, limit=10)
    assert [r.seq for r in again.records] == newest_first[10:20]

    past_the_end = audit.search(dbs, auditor, only, before_seq=min(mine), limit=10)
    assert list(past_the_end.records) == []
    assert past_the_end.newer_after == min(mine) - 1
    assert past_the_end.older_before is None
