"""The key groups a new tip is sealed to, as the public site finds them for every submission
(``core.keys.services.tip_recipients``): one query, read fresh each time; the signature checks
remembered per process for the exact bytes that passed; the pins checked every time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from core.audit.services import SYSTEM_ACTOR
from core.clock import FakeClock
from core.keys import services as keys
from core.keys.errors import KeyRecordRejected, KeyRollback
from core.keys.models import GroupEscrow, GroupKey, KeyGroup
from core.keys.pins import KeyPins
from core.keys.types import Recipient
from core.settings import Settings
from crypto import envelope, signing
from registry.models import Division


@pytest.fixture
def sheet(dbs: Session, clock: FakeClock, settings: Settings) -> keys.RecoverySheet:
    made, _ = keys.init_recovery(dbs, clock, settings, SYSTEM_ACTOR)
    dbs.flush()
    return made


def a_division(dbs: Session) -> int:
    found = dbs.scalar(select(Division.id).order_by(Division.id).limit(1))
    assert found is not None
    return found


def city(dbs: Session) -> KeyGroup:
    return keys.resolve_group(dbs, keys.CITY_TRIAGE)


def versions(found: list[Recipient]) -> list[int]:
    return [r.version for r in found]


@contextmanager
def statements(dbs: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    bind = dbs.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", note)


def test_one_query_finds_every_group_and_its_newest_key(
    dbs: Session, settings: Settings, sheet: keys.RecoverySheet
) -> None:
    division = a_division(dbs)
    keys.tip_recipients(dbs, settings, division, KeyPins(None))
    with statements(dbs) as seen:
        found = keys.tip_recipients(dbs, settings, division, KeyPins(None))
    assert len(seen) == 1
    assert len(found) == 3
    assert found[-1].public_key == sheet.public_key


def test_a_rotation_applies_to_the_very_next_tip(
    dbs: Session, settings: Settings, clock: FakeClock, sheet: keys.RecoverySheet
) -> None:
    pins = KeyPins(None)
    before = keys.tip_recipients(dbs, settings, None, pins)
    assert versions(before) == [1, 1]
    rotated = keys.rotate(dbs, clock, settings, SYSTEM_ACTOR, city(dbs))
    after = keys.tip_recipients(dbs, settings, None, pins)
    assert versions(after) == [2, 1]
    assert after[0].public_key == rotated.public_key != before[0].public_key
    assert pins.snapshot()[keys.CITY_TRIAGE] == 2


def test_the_pins_refuse_an_older_version_whose_signature_was_checked_before(
    dbs: Session, settings: Settings, clock: FakeClock, sheet: keys.RecoverySheet
) -> None:
    pins = KeyPins(None)
    group = city(dbs)
    keys.tip_recipients(dbs, settings, None, pins)  # version 1 checked and remembered
    keys.rotate(dbs, clock, settings, SYSTEM_ACTOR, group)
    assert versions(keys.tip_recipients(dbs, settings, None, pins)) == [2, 1]
    # A database writer removes version 2: version 1, genuinely signed and already checked by
    # this process, looks current again.
    dbs.execute(
        delete(GroupEscrow).where(GroupEscrow.group_id == group.id, GroupEscrow.group_version == 2)
    )
    dbs.execute(delete(GroupKey).where(GroupKey.group_id == group.id, GroupKey.version == 2))
    dbs.expire_all()
    for _ in range(2):
        with pytest.raises(KeyRollback):
            keys.tip_recipients(dbs, settings, None, pins)
    # A site that never saw version 2 accepts version 1: it is genuinely signed.
    assert versions(keys.tip_recipients(dbs, settings, None, KeyPins(None))) == [1, 1]


def test_a_checked_record_vouches_for_nothing_else(
    dbs: Session, settings: Settings, sheet: keys.RecoverySheet
) -> None:
    keys.tip_recipients(dbs, settings, None, KeyPins(None))  # the genuine record remembered
    key = keys.current_key(dbs, city(dbs))
    genuine_key, genuine_signature = key.public_key, key.signature
    # Another signature over the same record.
    key.signature = genuine_signature[:-1] + bytes([genuine_signature[-1] ^ 1])
    with pytest.raises(KeyRecordRejected):
        keys.tip_recipients(dbs, settings, None, KeyPins(None))
    # The genuine signature with a database writer's own public key.
    key.signature, key.public_key = genuine_signature, envelope.generate_keypair().public_key
    with pytest.raises(KeyRecordRejected):
        keys.tip_recipients(dbs, settings, None, KeyPins(None))
    # Not a key at all.
    key.public_key = genuine_key[:31]
    with pytest.raises(KeyRecordRejected):
        keys.tip_recipients(dbs, settings, None, KeyPins(None))
    # The genuine record, on a site that pins another verifying key.
    key.public_key = genuine_key
    assert keys.tip_recipients(dbs, settings, None, KeyPins(None))
    other = signing.generate_signing_keypair().public_key
    with pytest.raises(KeyRecordRejected):
        keys.tip_recipients(
            dbs, settings.with_changes(key_verifying_key=other), None, KeyPins(None)
        )


def test_a_group_without_any_key_version_is_refused(
    dbs: Session, settings: Settings, sheet: keys.RecoverySheet
) -> None:
    division = a_division(dbs)
    group = keys.resolve_group(dbs, keys.division_slug(division))
    dbs.execute(delete(GroupEscrow).where(GroupEscrow.group_id == group.id))
    dbs.execute(delete(GroupKey).where(GroupKey.group_id == group.id))
    with pytest.raises(KeyRecordRejected):
        keys.tip_recipients(dbs, settings, division, KeyPins(None))
