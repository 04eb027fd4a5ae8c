"""Decrypt-on-read, the thread and internal notes, and the audit records of reads,
transitions, messages and notes (never with content)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import select

from core.keys import services as keys
from core.keys.pins import KeyPins
from intake import services as intake_services
from intake.errors import AttachmentNotFound, TipDamaged
from intake.models import Channel, MessageAuthor, Relationship, TipCategory, TipMessage, TipState
from tests.triage.conftest import CONCLUSION, World
from triage import services as triage
from triage.models import TipNote
from triage.workflow import Action

SECRET_WORDS = ("消防通道", "王小明", "abc123", "夕阳红", "东侧楼梯", "夜班", "photo-bytes")


def assert_no_content_in_audit(world: World) -> None:
    for record in world.audit():
        for word in SECRET_WORDS:
            assert word not in record.details, (record.action, word)


def test_open_tip_decrypts_and_audits_each_read(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.SUBSTANTIATED)
    officer = world.staff("triage_own")
    before = world.audit_count()
    opened = triage.open_tip(*world.args(officer), tip_id, personal_key=officer.key)
    assert opened.tip.content.real_name == "王小明"
    assert opened.tip.content.relationship is Relationship.EMPLOYEE
    assert opened.conclusion_text == CONCLUSION
    assert opened.overview.conclusion is TipState.SUBSTANTIATED
    assert Action.CLOSE in opened.actions
    assert [h.to_state for h in opened.overview.history] == [
        TipState.ACCEPTED,
        TipState.VERIFYING,
        TipState.SUBSTANTIATED,
    ]
    assert all(h.actor_label == "triage-city" for h in opened.overview.history)
    triage.open_tip(*world.args(officer), tip_id, personal_key=officer.key)
    reads = [r for r in world.audit()[before:] if r.action == "tip.read"]
    assert len(reads) == 2
    assert reads[0].actor_label == "triage-own"
    assert reads[0].object_id == str(tip_id)
    details = json.loads(reads[0].details)
    assert set(details) == {"group_id", "group_version"}
    assert "王小明" not in repr(opened)
    assert_no_content_in_audit(world)


def test_attachment_read_is_audited(world: World) -> None:
    division = world.own
    receipt = intake_services.submit_tip(
        world.dbs,
        world.clock,
        world.settings,
        keys.tip_recipients(world.dbs, world.settings, division, KeyPins(None)),
        intake_services.TipSubmission(
            description="消防通道被堵，附照片。",
            category=TipCategory.FIRE,
            division_id=division,
            relationship=Relationship.RESIDENT,
            channel=Channel.WEB,
        ),
        [intake_services.AttachmentInput("a.jpg", "image/jpeg", [b"photo-bytes"], scrubbed=True)],
    )
    city = world.city
    opened = triage.open_tip(*world.args(), receipt.tip_id, personal_key=city.key)
    [info] = opened.tip.attachments
    assert (info.name, info.content_type, info.size) == ("a.jpg", "image/jpeg", 11)
    other = world.submit()
    before = world.audit_count()
    data = b"".join(
        triage.read_attachment(
            *world.args(), receipt.tip_id, attachment_id=info.id, personal_key=city.key
        )
    )
    assert data == b"photo-bytes"
    [record] = world.audit()[before:]
    assert record.action == "tip.attachment_read"
    assert json.loads(record.details)["attachment"] == str(info.id)
    with pytest.raises(AttachmentNotFound):  # an attachment of another tip
        triage.read_attachment(*world.args(), other, attachment_id=info.id, personal_key=city.key)
    assert world.audit_count() == before + 1
    assert_no_content_in_audit(world)


def test_transitions_are_audited_with_actor_and_time(world: World) -> None:
    tip_id = world.submit()
    world.clock.advance(minutes=13, seconds=5)
    triage.accept(*world.args(), tip_id)
    [record] = [r for r in world.audit(tip_id) if r.action == "tip.accept"]
    assert record.actor_id == world.city.user.id
    assert record.actor_label == "triage-city"
    assert record.at == world.clock.now()  # officers' acts are timed exactly
    assert json.loads(record.details) == {"from": "submitted", "to": "accepted", "reason": None}
    [entry] = world.history(tip_id)
    assert (entry.actor_id, entry.at) == (world.city.user.id, world.clock.now())


def test_messages_and_notes_are_encrypted_bound_and_audited(world: World) -> None:
    tip_id = world.submit()
    city = world.city
    before = world.audit_count()
    message_id = triage.ask_reporter(
        *world.args(), tip_id, personal_key=city.key, body="东侧楼梯吗？"
    )
    note_id = triage.add_note(*world.args(), tip_id, personal_key=city.key, body="夜班护工举报")
    actions = [(r.action, r.actor_label) for r in world.audit()[before:]]
    assert actions == [("tip.message_sent", "triage-city"), ("tip.note_added", "triage-city")]
    opened = triage.open_tip(*world.args(), tip_id, personal_key=city.key)
    [message] = opened.messages
    assert (message.id, message.author, message.author_label, message.body) == (
        message_id,
        MessageAuthor.OFFICER,
        "triage-city",
        "东侧楼梯吗？",
    )
    assert message.created_at == dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
    [note] = opened.notes
    assert (note.id, note.body) == (note_id, "夜班护工举报")
    assert opened.overview.awaiting_reply_since == world.clock.now()
    stored_note = world.dbs.get(TipNote, note_id)
    assert stored_note is not None
    assert "夜班".encode() not in stored_note.body_enc
    assert_no_content_in_audit(world)
    # A body moved to another row does not open (bound to its tip, kind and id).
    stored = world.dbs.scalars(select(TipMessage).where(TipMessage.id == message_id)).one()
    stored.body_enc = stored_note.body_enc
    world.dbs.flush()
    with pytest.raises(TipDamaged):
        triage.open_tip(*world.args(), tip_id, personal_key=city.key)


def test_information_message_does_not_wait_for_a_reply(world: World) -> None:
    tip_id = world.submit()
    triage.ask_reporter(
        *world.args(), tip_id, personal_key=world.city.key, body="已收到。", expects_reply=False
    )
    assert world.tip(tip_id).awaiting_reply_since is None


def test_no_message_on_a_closed_tip_but_notes_are_fine(world: World) -> None:
    from triage.errors import ReplyNotPossible

    tip_id = world.submit()
    world.drive(tip_id, TipState.CLOSED)
    with pytest.raises(ReplyNotPossible):
        triage.ask_reporter(*world.args(), tip_id, personal_key=world.city.key, body="还在吗")
    triage.add_note(*world.args(), tip_id, personal_key=world.city.key, body="归档。")


def test_overview_for_a_supervisor_has_no_content(world: World) -> None:
    tip_id = world.submit()
    world.drive(tip_id, TipState.TRANSFERRED)
    supervisor = world.staff("supervisor")
    before = world.audit_count()
    overview = triage.tip_overview(world.dbs, world.clock, supervisor.user, tip_id)
    assert overview.item.state is TipState.TRANSFERRED
    assert overview.transferred_to == "市场监管局"
    assert [h.to_state for h in overview.history] == [TipState.TRANSFERRED]
    assert not hasattr(overview, "tip")
    assert world.audit_count() == before  # metadata, not a decrypted read


def test_long_and_empty_texts(world: World) -> None:
    from triage.errors import TextRequired, TextTooLong

    tip_id = world.submit()
    city = world.city
    with pytest.raises(TextTooLong):
        triage.ask_reporter(*world.args(), tip_id, personal_key=city.key, body="字" * 10_001)
    with pytest.raises(TextRequired):
        triage.add_note(*world.args(), tip_id, personal_key=city.key, body="\n \t")
    with pytest.raises(TextTooLong):
        triage.transfer(
            *world.args(), tip_id, personal_key=city.key, regulator="局" * 201, note="x"
        )
    assert world.tip(tip_id).state is TipState.SUBMITTED


def test_unknown_message_tip(world: World) -> None:
    from triage.errors import TipNotFound

    with pytest.raises(TipNotFound):
        triage.ask_reporter(*world.args(), uuid.uuid4(), personal_key=world.city.key, body="x")
