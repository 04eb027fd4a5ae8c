"""What the reporter sees and does through a ReporterAccess: the status in plain terms, the
thread, a reply, an objection (inside and outside the window, twice); audited as "reporter"
to the hour, without content."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.audit.services import REPORTER_ACTOR
from intake.access import ReporterAccess
from intake.errors import TipDamaged
from intake.models import MessageAuthor, NotAcceptedReason, TipMessage, TipState
from tests.triage.conftest import CONCLUSION, World
from triage import errors
from triage import services as triage
from triage.services import ReporterState


def status(world: World, tip_id: object) -> triage.ReporterStatus:
    return triage.reporter_status(world.dbs, world.clock, world.settings, world.access(tip_id))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "plain"),
    [
        (TipState.SUBMITTED, ReporterState.RECEIVED),
        (TipState.ACCEPTED, ReporterState.ACCEPTED),
        (TipState.NOT_ACCEPTED, ReporterState.NOT_ACCEPTED),
        (TipState.TRANSFERRED, ReporterState.TRANSFERRED),
        (TipState.VERIFYING, ReporterState.VERIFYING),
        (TipState.SUBSTANTIATED, ReporterState.CONCLUDED),
        (TipState.PARTLY_SUBSTANTIATED, ReporterState.CONCLUDED),
        (TipState.UNSUBSTANTIATED, ReporterState.CONCLUDED),
        (TipState.RECHECKING, ReporterState.RECHECKING),
        (TipState.RECHECKED, ReporterState.RECHECKED),
        (TipState.DUPLICATE, ReporterState.ALREADY_HANDLED),
        (TipState.CLOSED, ReporterState.CLOSED),
    ],
)
def test_plain_state_for_every_state(world: World, state: TipState, plain: ReporterState) -> None:
    tip_id = world.submit()
    world.drive(tip_id, state)
    got = status(world, tip_id)
    assert got.state is plain
    assert (got.reward is None) is (
        state
        not in {
            TipState.SUBSTANTIATED,
            TipState.PARTLY_SUBSTANTIATED,
            TipState.RECHECKING,
            TipState.RECHECKED,
        }
    )
    assert got.submitted_on == dt.date(2026, 11, 1)
    assert got.already_handled is (state is TipState.DUPLICATE)


def test_status_of_a_new_tip(world: World) -> None:
    tip_id = world.submit()
    got = status(world, tip_id)
    assert got.deadline is None
    assert got.conclusion_text is None
    assert not got.can_object
    assert got.messages == ()
    assert not got.awaiting_reply
    # Nothing the reporter wrote or reads leaks through repr (a log line, an error report).
    assert "王小明" not in repr(got)


def test_status_after_conclusion(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.PARTLY_SUBSTANTIATED)
    got = status(world, tip_id)
    assert got.outcome is TipState.PARTLY_SUBSTANTIATED
    assert got.conclusion_text == CONCLUSION
    assert got.concluded_on == dt.date(2026, 11, 1)
    assert got.objection_deadline == dt.date(2026, 11, 11)
    assert got.can_object
    assert CONCLUSION not in repr(got)


def test_status_of_refusal_and_transfer(world: World) -> None:
    refused = world.submit()
    world.drive(refused, TipState.NOT_ACCEPTED)
    got = status(world, refused)
    assert got.not_accepted_reason is NotAcceptedReason.OUTSIDE_REMIT
    assert got.decision_text == "不属于民政部门职责。"
    assert got.decided_on == dt.date(2026, 11, 1)
    moved = world.submit()
    world.drive(moved, TipState.TRANSFERRED)
    got = status(world, moved)
    assert got.transferred_to == "市场监管局"
    assert got.decision_text == "已转交。"


def test_question_reply_and_thread(world: World) -> None:
    tip_id = world.submit()
    world.clock.advance(minutes=37)
    triage.ask_reporter(
        *world.args(), tip_id, personal_key=world.city.key, body="堵塞的是哪一侧楼梯？"
    )
    got = status(world, tip_id)
    assert got.awaiting_reply
    assert [(m.author, m.body) for m in got.messages] == [
        (MessageAuthor.OFFICER, "堵塞的是哪一侧楼梯？")
    ]
    before = world.audit_count()
    world.clock.advance(minutes=5)
    triage.reporter_reply(world.dbs, world.clock, world.settings, world.access(tip_id), "东侧。")
    got = status(world, tip_id)
    assert not got.awaiting_reply
    assert [(m.seq, m.author, m.body) for m in got.messages] == [
        (1, MessageAuthor.OFFICER, "堵塞的是哪一侧楼梯？"),
        (2, MessageAuthor.REPORTER, "东侧。"),
    ]
    [record] = world.audit()[before:]
    assert record.action == "tip.reporter_replied"
    assert record.actor_label == REPORTER_ACTOR.label
    assert record.actor_id is None
    assert record.at == dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)  # the hour only
    assert "东侧" not in record.details
    stored = world.dbs.query(TipMessage).filter_by(tip_id=tip_id, seq=2).one()
    assert stored.author_id is None
    assert stored.created_at == dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
    assert "东侧".encode() not in stored.body_enc


def test_reply_refused_on_a_closed_tip_and_with_empty_text(world: World) -> None:
    tip_id = world.submit()
    with pytest.raises(errors.TextRequired):
        triage.reporter_reply(world.dbs, world.clock, world.settings, world.access(tip_id), "  ")
    with pytest.raises(errors.TextHasControlCharacters):
        triage.reporter_reply(world.dbs, world.clock, world.settings, world.access(tip_id), "a\0")
    world.drive(tip_id, TipState.CLOSED)
    with pytest.raises(errors.ReplyNotPossible):
        triage.reporter_reply(
            world.dbs, world.clock, world.settings, world.access(tip_id), "还在吗"
        )
    assert status(world, tip_id).messages == ()


def test_a_wrong_data_key_stores_nothing(world: World) -> None:
    tip_id = world.submit()
    wrong = ReporterAccess(tip_id, bytes(32))
    with pytest.raises(TipDamaged):
        triage.reporter_reply(world.dbs, world.clock, world.settings, wrong, "你好")
    with pytest.raises(TipDamaged):
        triage.reporter_status(world.dbs, world.clock, world.settings, wrong)
    assert status(world, tip_id).messages == ()


def test_objection_once_within_the_window(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.UNSUBSTANTIATED)
    access = world.access(tip_id)
    world.clock.advance(days=3, minutes=20)
    before = world.audit_count()
    triage.reporter_object(world.dbs, world.clock, world.settings, access, "现场照片可以证明。")
    got = triage.reporter_status(world.dbs, world.clock, world.settings, access)
    assert got.state is ReporterState.RECHECKING
    assert got.objected_on == dt.date(2026, 11, 4)
    assert got.deadline == dt.date(2026, 12, 4)
    assert not got.can_object
    [record] = world.audit()[before:]
    assert record.action == "tip.object"
    assert record.actor_label == "reporter"
    assert record.at.minute == 0
    assert "照片" not in record.details
    [*_, last] = world.history(tip_id)
    assert (last.actor_label, last.reason, last.at.minute) == ("reporter", "objection", 0)
    with pytest.raises(errors.AlreadyObjected):
        triage.reporter_object(world.dbs, world.clock, world.settings, access, "再次异议。")
    # Still once after the re-check's conclusion.
    triage.conclude_recheck(
        *world.args(),
        tip_id,
        personal_key=world.city.key,
        outcome=TipState.PARTLY_SUBSTANTIATED,
        text="复核：部分属实。",
    )
    with pytest.raises(errors.AlreadyObjected):
        triage.reporter_object(world.dbs, world.clock, world.settings, access, "再次异议。")
    got = triage.reporter_status(world.dbs, world.clock, world.settings, access)
    assert got.state is ReporterState.RECHECKED
    assert got.recheck_outcome is TipState.PARTLY_SUBSTANTIATED
    assert got.recheck_conclusion_text == "复核：部分属实。"
    assert got.outcome is TipState.UNSUBSTANTIATED  # the first conclusion stays visible


def test_objection_outside_the_window_and_before_a_conclusion(world: World) -> None:
    early = world.submit()
    world.drive(early, TipState.VERIFYING)
    with pytest.raises(errors.ObjectionNotPossible):
        triage.reporter_object(world.dbs, world.clock, world.settings, world.access(early), "x")
    late = world.submit()
    world.drive(late, TipState.SUBSTANTIATED)
    world.clock.advance(days=11)
    with pytest.raises(errors.ObjectionWindowClosed):
        triage.reporter_object(world.dbs, world.clock, world.settings, world.access(late), "x")
    assert world.tip(late).objected_at is None


def test_internal_notes_never_reach_the_reporter(world: World) -> None:
    tip_id = world.submit()
    triage.add_note(*world.args(), tip_id, personal_key=world.city.key, body="举报人可能是夜班护工")
    got = status(world, tip_id)
    assert got.messages == ()
    text = " ".join(str(v) for v in dataclasses.asdict(got).values())
    assert "夜班护工" not in text
