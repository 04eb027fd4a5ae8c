"""Deadline arithmetic with the fake clock: verification (60 days), one extension of at most 30
days, the objection window (10 days), the re-check (30 days), and their boundaries. Every
deadline is the end of a day in Asia/Shanghai (UTC+8); the clock starts at 2026-11-01 02:00
UTC, 10:00 in Shanghai."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.models import TipState
from tests.triage.conftest import CONCLUSION, World, at
from triage import errors
from triage import services as triage
from triage.deadlines import end_of_day_after, last_day

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_end_of_day_arithmetic() -> None:
    # 23:59 in Shanghai is still the same local day; 00:00 is the next one.
    assert end_of_day_after(utc(2026, 11, 1, 15, 59), 0) == utc(2026, 11, 1, 16)
    assert end_of_day_after(utc(2026, 11, 1, 16, 0), 0) == utc(2026, 11, 2, 16)
    assert end_of_day_after(utc(2026, 11, 1, 2), 60) == utc(2026, 12, 31, 16)
    assert last_day(utc(2026, 12, 31, 16)) == dt.date(2026, 12, 31)


def test_verification_deadline_is_60_days_by_default(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    tip = world.tip(tip_id)
    assert tip.verification_due_at == utc(2026, 12, 31, 16)  # end of 31 Dec, local
    assert tip.due_at == tip.verification_due_at
    status = triage.reporter_status(world.dbs, world.clock, world.settings, world.access(tip_id))
    assert status.deadline == dt.date(2026, 12, 31)


def test_verification_started_just_before_local_midnight(world: World) -> None:
    tip_id = world.submit()
    triage.accept(*world.args(), tip_id)
    at(world.clock, utc(2026, 11, 1, 15, 59, 59))  # 23:59:59 on 1 Nov in Shanghai
    triage.start_verification(*world.args(), tip_id)
    assert world.tip(tip_id).verification_due_at == utc(2026, 12, 31, 16)
    other = world.submit()
    triage.accept(*world.args(), other)
    at(world.clock, utc(2026, 11, 1, 16))  # 00:00 on 2 Nov
    triage.start_verification(*world.args(), other)
    assert world.tip(other).verification_due_at == utc(2027, 1, 1, 16)


def test_verification_days_is_a_setting(world: World) -> None:
    world.settings = world.settings.with_changes(verification_days=5)
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    assert world.tip(tip_id).verification_due_at == utc(2026, 11, 6, 16)


def test_overdue_exactly_at_the_deadline(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    city = world.city.user
    at(world.clock, utc(2026, 12, 31, 15, 59, 59))
    [item] = triage.queue(world.dbs, world.clock, city).items
    assert not item.overdue
    assert not triage.queue(world.dbs, world.clock, city, triage.QueueFilters(overdue=True)).items
    at(world.clock, utc(2026, 12, 31, 16))
    [item] = triage.queue(world.dbs, world.clock, city).items
    assert item.overdue
    assert triage.queue(world.dbs, world.clock, city, triage.QueueFilters(overdue=True)).items


def _extend(world: World, tip_id: object, days: int) -> None:
    triage.extend_verification(
        *world.args(), tip_id, personal_key=world.city.key, days=days, reason="需要现场复查。"
    )


def test_one_extension_of_at_most_30_days(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    for days in (0, 31, -1):
        with pytest.raises(errors.ExtensionTooLong):
            _extend(world, tip_id, days)
    _extend(world, tip_id, 30)
    tip = world.tip(tip_id)
    assert tip.verification_due_at == utc(2027, 1, 30, 16)  # 31 Dec + 30 days, end of day
    assert tip.due_at == tip.verification_due_at
    assert tip.extension_days == 30
    with pytest.raises(errors.AlreadyExtended):
        _extend(world, tip_id, 1)
    status = triage.reporter_status(world.dbs, world.clock, world.settings, world.access(tip_id))
    assert status.deadline == dt.date(2027, 1, 30)
    assert status.extension_days == 30
    assert status.extension_reason == "需要现场复查。"


def test_extension_limit_is_a_setting(world: World) -> None:
    world.settings = world.settings.with_changes(extension_max_days=5)
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    with pytest.raises(errors.ExtensionTooLong):
        _extend(world, tip_id, 6)
    _extend(world, tip_id, 5)


def test_no_extension_once_the_deadline_has_passed(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    at(world.clock, utc(2026, 12, 31, 16))
    with pytest.raises(errors.DeadlinePassed):
        _extend(world, tip_id, 10)
    assert world.tip(tip_id).extension_days is None
    at(world.clock, utc(2026, 12, 31, 15, 59, 59))
    _extend(world, tip_id, 10)


def _conclude(world: World, tip_id: object) -> None:
    triage.conclude(
        *world.args(),
        tip_id,
        personal_key=world.city.key,
        outcome=TipState.SUBSTANTIATED,
        text=CONCLUSION,
    )


def test_objection_window_is_10_days(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    _conclude(world, tip_id)  # 1 Nov, 10:00 local
    tip = world.tip(tip_id)
    assert tip.objection_due_at == utc(2026, 11, 11, 16)  # end of 11 Nov, local
    assert tip.due_at is None
    access = world.access(tip_id)
    at(world.clock, utc(2026, 11, 11, 15, 59, 59))
    status = triage.reporter_status(world.dbs, world.clock, world.settings, access)
    assert status.objection_deadline == dt.date(2026, 11, 11)
    assert status.can_object
    at(world.clock, utc(2026, 11, 11, 16))
    status = triage.reporter_status(world.dbs, world.clock, world.settings, access)
    assert not status.can_object
    with pytest.raises(errors.ObjectionWindowClosed):
        triage.reporter_object(world.dbs, world.clock, world.settings, access, "不服。")
    assert world.tip(tip_id).state is TipState.SUBSTANTIATED


def test_objection_on_the_last_second_starts_a_30_day_recheck(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    _conclude(world, tip_id)
    at(world.clock, utc(2026, 11, 11, 15, 59, 59))
    triage.reporter_object(world.dbs, world.clock, world.settings, world.access(tip_id), "不服。")
    tip = world.tip(tip_id)
    assert tip.state is TipState.RECHECKING
    assert tip.objected_at == utc(2026, 11, 11, 15)  # the reporter's act: to the hour
    assert tip.recheck_due_at == utc(2026, 12, 11, 16)  # end of 11 Dec, local
    assert tip.due_at == tip.recheck_due_at


def test_objection_window_is_a_setting(world: World) -> None:
    world.settings = world.settings.with_changes(objection_days=2, recheck_days=3)
    tip_id = world.submit()
    world.drive(tip_id, TipState.VERIFYING)
    _conclude(world, tip_id)
    assert world.tip(tip_id).objection_due_at == utc(2026, 11, 3, 16)
    triage.reporter_object(world.dbs, world.clock, world.settings, world.access(tip_id), "不服。")
    assert world.tip(tip_id).recheck_due_at == utc(2026, 11, 4, 16)


@pytest.mark.parametrize("state", [TipState.SUBSTANTIATED, TipState.NOT_ACCEPTED])
def test_close_only_after_the_objection_window(world: World, state: TipState) -> None:
    tip_id = world.submit()
    world.drive(tip_id, state)
    at(world.clock, utc(2026, 11, 11, 15, 59, 59))
    with pytest.raises(errors.ObjectionWindowOpen) as info:
        triage.close(*world.args(), tip_id)
    assert info.value.params == {"date": "2026-11-11"}
    assert world.tip(tip_id).state is state
    at(world.clock, utc(2026, 11, 11, 16))
    triage.close(*world.args(), tip_id)
    tip = world.tip(tip_id)
    assert tip.state is TipState.CLOSED
    assert tip.closed_at == utc(2026, 11, 11, 16)
    assert world.history(tip_id)[-1].reason == state.value


def test_rechecked_and_duplicate_close_at_once(world: World) -> None:
    for state in (TipState.RECHECKED, TipState.DUPLICATE):
        tip_id = world.submit()
        world.drive(tip_id, state)
        triage.close(*world.args(), tip_id)
        assert world.tip(tip_id).state is TipState.CLOSED
