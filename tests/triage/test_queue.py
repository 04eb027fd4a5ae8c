"""The queue: scope, every filter, counts per state, and keyset pages that neither repeat nor
skip a tip, with many ties on the sort key (submission times are rounded to the hour)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from intake.models import Channel, Tip, TipCategory, TipState
from tests.triage.conftest import World
from triage import errors
from triage import services as triage
from triage.services import QueueFilters, QueueSort


def all_pages(
    world: World, sort: QueueSort, limit: int, filters: QueueFilters | None = None
) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor = None
    for _ in range(100):
        page = triage.queue(
            world.dbs, world.clock, world.city.user, filters, sort=sort, cursor=cursor, limit=limit
        )
        assert len(page.items) <= limit
        seen.extend(item.id for item in page.items)
        if page.next_cursor is None:
            return seen
        assert len(page.items) == limit
        cursor = page.next_cursor
    raise AssertionError("too many pages")


@pytest.fixture
def many(world: World) -> list[uuid.UUID]:
    """23 tips: 2 to 6 per hour (ties), in two divisions; every third one verifying, so that
    deadlines tie too."""
    ids = []
    for hour, count in enumerate((3, 5, 2, 6, 4, 3)):
        ids.extend(
            world.submit(world.own if (hour + n) % 5 < 3 else world.other) for n in range(count)
        )
        world.clock.advance(hours=1, minutes=7)
    for tip_id in ids[::3]:
        world.drive(tip_id, TipState.VERIFYING)
    return ids


def expected_order(world: World, sort: QueueSort) -> list[uuid.UUID]:
    tips = list(world.dbs.scalars(select(Tip)))
    if sort is QueueSort.NEWEST:
        tips.sort(key=lambda t: (t.submitted_at, t.id), reverse=True)
    elif sort is QueueSort.OLDEST:
        tips.sort(key=lambda t: (t.submitted_at, t.id))
    else:
        tips = sorted((t for t in tips if t.due_at is not None), key=lambda t: (t.due_at, t.id))
    return [t.id for t in tips]


@pytest.mark.parametrize("sort", list(QueueSort))
@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_keyset_pages_cover_everything_once(
    world: World, many: list[uuid.UUID], sort: QueueSort, limit: int
) -> None:
    seen = all_pages(world, sort, limit)
    assert len(seen) == len(set(seen))
    assert seen == expected_order(world, sort)
    if sort is not QueueSort.DUE:
        assert set(seen) == set(many)


def test_ties_on_the_sort_key_are_broken_by_id(world: World) -> None:
    ids = [world.submit() for _ in range(9)]  # all in the same hour
    assert len({world.tip(t).submitted_at for t in ids}) == 1
    assert all_pages(world, QueueSort.OLDEST, 2) == sorted(ids)
    assert all_pages(world, QueueSort.NEWEST, 2) == sorted(ids, reverse=True)


def test_a_new_tip_between_pages_is_neither_repeated_nor_shifts_the_next_page(
    world: World,
) -> None:
    ids = [world.submit() for _ in range(6)]
    user = world.city.user
    first = triage.queue(world.dbs, world.clock, user, sort=QueueSort.NEWEST, limit=3)
    world.clock.advance(hours=2)
    world.submit()  # newer than everything: belongs before page one
    second = triage.queue(
        world.dbs, world.clock, user, sort=QueueSort.NEWEST, cursor=first.next_cursor, limit=3
    )
    got = [i.id for i in first.items] + [i.id for i in second.items]
    assert got == sorted(ids, reverse=True)
    assert second.next_cursor is None


def test_bad_cursors_and_page_sizes(world: World, many: list[uuid.UUID]) -> None:
    user = world.city.user
    page = triage.queue(world.dbs, world.clock, user, sort=QueueSort.NEWEST, limit=2)
    assert page.next_cursor
    with pytest.raises(errors.BadCursor):  # a cursor of another sort order
        triage.queue(world.dbs, world.clock, user, sort=QueueSort.OLDEST, cursor=page.next_cursor)
    for bad in ("x", "bmV3ZXN0fHh8eQ", page.next_cursor[:-3] + "!!!", "é"):
        with pytest.raises(errors.BadCursor):
            triage.queue(world.dbs, world.clock, user, cursor=bad)
    for limit in (0, triage.PAGE_MAX + 1):
        with pytest.raises(errors.BadPageSize):
            triage.queue(world.dbs, world.clock, user, limit=limit)


def test_filters(world: World) -> None:
    fire = world.submit(world.own)
    gas = world.submit(world.own, category=TipCategory.GAS, channel=Channel.WECHAT)
    elsewhere = world.submit(world.other)
    verifying = world.submit(world.own)
    world.drive(verifying, TipState.VERIFYING)  # due end of 31 Dec
    asked = world.submit(world.own)
    triage.ask_reporter(*world.args(), asked, personal_key=world.city.key, body="请补充位置。")
    user = world.city.user

    def ids(**filters: object) -> set[uuid.UUID]:
        page = triage.queue(world.dbs, world.clock, user, QueueFilters(**filters), limit=200)  # type: ignore[arg-type]
        return {item.id for item in page.items}

    assert ids() == {fire, gas, elsewhere, verifying, asked}
    assert ids(states=frozenset({TipState.VERIFYING})) == {verifying}
    assert ids(states=frozenset({TipState.VERIFYING, TipState.SUBMITTED})) == {
        fire,
        gas,
        elsewhere,
        verifying,
        asked,
    }
    assert ids(division_id=world.other) == {elsewhere}
    assert ids(category=TipCategory.GAS) == {gas}
    assert ids(channel=Channel.WECHAT) == {gas}
    assert ids(unanswered=True) == {asked}
    assert ids(due_before=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)) == {verifying}
    assert ids(due_before=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == set()
    assert ids(overdue=True) == set()
    world.clock.advance(days=61)
    assert ids(overdue=True) == {verifying}
    assert ids(overdue=True, division_id=world.other) == set()
    [item] = triage.queue(world.dbs, world.clock, user, QueueFilters(unanswered=True)).items
    assert item.awaiting_reply
    assert item.state is TipState.SUBMITTED


def test_counts_per_state(world: World) -> None:
    for state in (TipState.SUBMITTED, TipState.SUBMITTED, TipState.VERIFYING, TipState.CLOSED):
        world.drive(world.submit(), state)
    counts = triage.queue_counts(world.dbs, world.clock, world.city.user)
    assert set(counts) == set(TipState)
    assert counts[TipState.SUBMITTED] == 2
    assert counts[TipState.VERIFYING] == 1
    assert counts[TipState.CLOSED] == 1
    assert counts[TipState.ACCEPTED] == 0
    filtered = triage.queue_counts(
        world.dbs, world.clock, world.city.user, QueueFilters(category=TipCategory.GAS)
    )
    assert sum(filtered.values()) == 0
    open_only = triage.queue_counts(
        world.dbs,
        world.clock,
        world.city.user,
        states=[s for s in TipState if s is not TipState.CLOSED],
    )
    assert open_only[TipState.CLOSED] == 0
    assert open_only[TipState.SUBMITTED] == 2


def test_queue_items_carry_no_content(world: World) -> None:
    world.submit()
    [item] = triage.queue(world.dbs, world.clock, world.city.user).items
    text = repr(item)
    assert "消防通道" not in text
    assert "王小明" not in text
