"""Intake services: what a stored tip looks like, every way of opening it, every way of
tampering with its rows, token replacement, attachments, limits and rollback."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session

from core.audit import services as audit
from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import DomainError
from core.settings import Settings
from crypto import envelope, tokens
from crypto.suite import EnvelopeType
from intake import errors, services
from intake.models import (
    Attachment,
    AttachmentChunk,
    Channel,
    Relationship,
    Tip,
    TipCategory,
    TipKey,
    TipMessage,
    TipState,
    TipToken,
    TokenParamSet,
)
from tests.intake.conftest import Group, Intake, make_group, make_submission, pieces

MIB = 1024 * 1024


def full_width(text: str) -> str:
    """As typed with a Chinese input method in full-width mode."""
    return "".join(
        "－" if c == "-" else chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c
        for c in text
    )


@pytest.fixture
def receipt(ready: Intake) -> services.Receipt:
    ready.clock.advance(minutes=37, seconds=12, microseconds=5)
    return ready.submit()


# ---------------------------------------------------------------- what is stored


def test_a_stored_tip_holds_routing_values_in_the_clear_and_envelopes_otherwise(
    intake: Intake, receipt: services.Receipt
) -> None:
    dbs, clock, _settings, _groups, division_id = intake.parts()
    tip = dbs.get(Tip, receipt.tip_id)
    assert tip is not None
    assert tip.id.version == 4
    assert tip.state is TipState.SUBMITTED
    assert tip.division_id == division_id
    assert tip.category is TipCategory.FIRE
    assert tip.channel is Channel.WEB
    assert tip.facility_id is None
    # 02:37:12 was the time of submission; only the hour is stored.
    assert clock.now().minute == 37
    assert tip.submitted_at == clock.now().replace(minute=0, second=0, microsecond=0)
    for name in services.TIP_FIELDS:
        blob = getattr(tip, f"{name}_enc")
        parsed = envelope.parse_envelope(blob, EnvelopeType.FIELD)
        assert envelope.is_bucket(len(parsed.body) - 28)
    keys = dbs.scalars(select(TipKey).where(TipKey.tip_id == tip.id)).all()
    assert sorted((k.group_id, k.group_version) for k in keys) == [(11, 1), (12, 1), (13, 2)]
    token_row = dbs.get(TipToken, tip.id)
    assert token_row is not None
    assert len(token_row.token_index) == 32
    assert receipt.token.value.encode() not in token_row.token_index + token_row.wrapped_key
    assert receipt.token.value not in repr(receipt)


def test_empty_optional_fields_are_encrypted_so_their_absence_does_not_show(ready: Intake) -> None:
    dbs, _clock, settings, _groups, _division_id = ready.parts()
    given = ready.submit(contact="13800000000")
    empty = ready.submit(contact="", relationship=None)
    a, b = dbs.get(Tip, given.tip_id), dbs.get(Tip, empty.tip_id)
    assert a is not None
    assert b is not None
    assert len(a.contact_enc) == len(b.contact_enc)
    assert len(a.relationship_enc) == len(b.relationship_enc)
    opened = services.open_with_token(dbs, settings, empty.token.display)
    assert opened.content.contact == ""
    assert opened.content.relationship is None


def test_the_receipt_is_audited_with_envelope_hashes_at_the_hour_and_nothing_else(
    dbs: Session, clock: FakeClock, receipt: services.Receipt
) -> None:
    rec = dbs.scalars(
        select(AuditRecord).where(
            AuditRecord.action == "tip.received", AuditRecord.object_id == str(receipt.tip_id)
        )
    ).one()
    assert rec.actor_label == audit.REPORTER_ACTOR.label
    assert rec.at == clock.now().replace(minute=0, second=0, microsecond=0)
    details = json.loads(rec.details)
    assert set(details) == {
        "envelopes_sha256",
        "envelope_count",
        "reporter_key_sha256",
        "recipients",
        "attachments",
    }
    assert details["envelope_count"] == len(services.TIP_FIELDS) + 3
    assert details["recipients"] == [[11, 1], [12, 1], [13, 2]]
    assert "消防" not in rec.details
    assert receipt.token.value not in rec.details
    services.verify_tip_envelopes(dbs, receipt.tip_id)
    assert audit.verify(dbs).ok


# ---------------------------------------------------------------- the reporter's token


@pytest.mark.parametrize(
    "typed",
    [
        lambda t: t.display,
        lambda t: t.value,
        lambda t: t.display.lower(),
        lambda t: " ".join(t.display.lower().split("-")),
        lambda t: full_width(t.display),
        lambda t: full_width(t.value.lower()),
    ],
    ids=["display", "compact", "lower", "spaces", "full-width", "full-width-lower"],
)
def test_the_reporter_opens_the_tip_with_the_token_as_typed(
    dbs: Session, settings: Settings, receipt: services.Receipt, typed: Any
) -> None:
    opened = services.open_with_token(dbs, settings, typed(receipt.token))
    assert isinstance(opened, services.ReporterTip)
    assert opened.id == receipt.tip_id
    assert opened.content.description.startswith("养老院二楼的消防通道")
    assert opened.content.facility_name == "夕阳红托老所"
    assert opened.content.relationship is Relationship.EMPLOYEE
    assert opened.content.contact == "微信 abc123"
    assert opened.attachments == ()
    assert "消防" not in repr(opened)


def test_a_typo_is_refused_before_any_derivation(
    dbs: Session, settings: Settings, receipt: services.Receipt, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_derivation(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("derived a key for a token with a typo")

    monkeypatch.setattr(tokens, "derive_token_secret", no_derivation)
    value = receipt.token.value
    wrong = value[:3] + ("0" if value[3] != "0" else "1") + value[4:]
    swapped = value[:5] + value[6] + value[5] + value[7:]
    for typed, reason in [
        (wrong, "check"),
        (value[:15], "length"),
        ("", "empty"),
        (value[:15] + "U", "letter_u"),
        (value[:15] + "#", "character"),
    ] + ([(swapped, "check")] if value[5] != value[6] else []):
        with pytest.raises(errors.TokenTypo) as caught:
            services.open_with_token(dbs, settings, typed)
        assert caught.value.reason == reason
        assert value not in str(caught.value)


def test_an_unknown_token_is_not_found_after_the_same_derivation(
    dbs: Session, settings: Settings, receipt: services.Receipt, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = tokens.derive_token_secret

    def counting(token: tokens.TrackingToken, **kwargs: Any) -> bytes:
        calls.append("derive")
        return real(token, **kwargs)

    monkeypatch.setattr(tokens, "derive_token_secret", counting)
    with pytest.raises(errors.UnknownToken) as caught:
        services.open_with_token(dbs, settings, tokens.generate_token().display)
    assert caught.value.status == 404
    misses = len(calls)
    services.open_with_token(dbs, settings, receipt.token.display)
    assert len(calls) - misses == misses == 1


def test_the_token_does_not_open_without_the_pepper_it_was_made_with(
    dbs: Session, settings: Settings, receipt: services.Receipt
) -> None:
    other = settings.with_changes(token_pepper=os.urandom(32))
    with pytest.raises(errors.UnknownToken):
        services.open_with_token(dbs, other, receipt.token.display)
    with pytest.raises(errors.IntakeNotReady):
        services.open_with_token(dbs, settings.with_changes(token_pepper=b""), receipt.token.value)


def test_replacing_the_token_retires_the_old_one(
    dbs: Session, clock: FakeClock, settings: Settings, receipt: services.Receipt
) -> None:
    clock.advance(days=3, minutes=11)
    new = services.replace_token(dbs, clock, settings, receipt.token.display.lower())
    assert new != receipt.token
    with pytest.raises(errors.UnknownToken):
        services.open_with_token(dbs, settings, receipt.token.display)
    assert services.open_with_token(dbs, settings, new.display).id == receipt.tip_id
    with pytest.raises(errors.UnknownToken):
        services.replace_token(dbs, clock, settings, receipt.token.display)
    rec = dbs.scalars(select(AuditRecord).where(AuditRecord.action == "tip.token_replaced")).one()
    assert rec.object_id == str(receipt.tip_id)
    assert rec.at.minute == 0
    assert set(json.loads(rec.details)) == {"reporter_key_sha256"}
    services.verify_tip_envelopes(dbs, receipt.tip_id)
    # Twice in a row: the second replacement retires the first replacement.
    newer = services.replace_token(dbs, clock, settings, new.value)
    with pytest.raises(errors.UnknownToken):
        services.open_with_token(dbs, settings, new.display)
    assert services.open_with_token(dbs, settings, newer.display).id == receipt.tip_id


# ---------------------------------------------------------------- group keys


def test_each_group_opens_the_tip_with_its_private_key(
    dbs: Session, groups: list[Group], receipt: services.Receipt
) -> None:
    for group in groups:
        opened = services.open_with_group_key(dbs, receipt.tip_id, *group.credentials)
        assert isinstance(opened, services.OfficerTip)
        assert opened.group_id == group.recipient.group_id
        assert opened.content.location == "杨舍镇某路 12 号，后门"
        assert opened.content.observed_when == "上周三晚上九点左右"


def test_a_wrong_group_key_fails(
    dbs: Session, groups: list[Group], receipt: services.Receipt
) -> None:
    first, second, _ = groups
    with pytest.raises(errors.WrongKey):  # group 11's envelope, group 12's key
        services.open_with_group_key(dbs, receipt.tip_id, 11, 1, second.private_key)
    with pytest.raises(errors.WrongKey):  # a stranger's key
        services.open_with_group_key(dbs, receipt.tip_id, 11, 1, make_group(11).private_key)
    with pytest.raises(errors.WrongKey):  # a version the tip was not sealed to
        services.open_with_group_key(dbs, receipt.tip_id, 11, 2, first.private_key)
    with pytest.raises(errors.WrongKey):  # a group the tip was not sealed to
        services.open_with_group_key(dbs, receipt.tip_id, 99, 1, first.private_key)
    with pytest.raises(errors.TipNotFound):
        services.open_with_group_key(dbs, uuid.uuid4(), *first.credentials)


def test_envelopes_moved_between_tips_or_fields_fail(
    intake: Intake, receipt: services.Receipt
) -> None:
    dbs, _clock, settings, groups, _division_id = intake.parts()
    other = intake.submit()
    group = groups[0]
    theirs = dbs.scalar(
        select(TipKey.envelope).where(TipKey.tip_id == receipt.tip_id, TipKey.group_id == 11)
    )
    # The data-key envelope of one tip copied onto another tip's row.
    dbs.execute(
        update(TipKey)
        .where(TipKey.tip_id == other.tip_id, TipKey.group_id == 11)
        .values(envelope=theirs)
    )
    dbs.expire_all()
    with pytest.raises(errors.WrongKey):
        services.open_with_group_key(dbs, other.tip_id, *group.credentials)
    # Two fields of the same tip swapped: each is bound to its column.
    tip = dbs.get(Tip, receipt.tip_id)
    assert tip is not None
    dbs.execute(
        update(Tip)
        .where(Tip.id == receipt.tip_id)
        .values(description_enc=tip.location_enc, location_enc=tip.description_enc)
    )
    dbs.expire_all()
    with pytest.raises(errors.TipDamaged):
        services.open_with_group_key(dbs, receipt.tip_id, *group.credentials)
    with pytest.raises(errors.TipDamaged):
        services.open_with_token(dbs, settings, receipt.token.display)
    # The reporter's wrapped key of one tip put on another tip's token row.
    wrapped = dbs.scalar(select(TipToken.wrapped_key).where(TipToken.tip_id == receipt.tip_id))
    third = intake.submit()
    dbs.execute(update(TipToken).where(TipToken.tip_id == third.tip_id).values(wrapped_key=wrapped))
    dbs.expire_all()
    with pytest.raises(errors.TipDamaged):
        services.open_with_token(dbs, settings, third.token.display)


def test_a_forged_tip_opens_but_the_audit_chain_exposes_it(
    dbs: Session, groups: list[Group], receipt: services.Receipt
) -> None:
    """HPKE base mode does not authenticate the sender: someone who can write the database can
    seal a new data key to the public keys and re-encrypt every field. The envelope hashes in
    the audit chain are what catch it."""
    tip_id = receipt.tip_id
    forged_key = envelope.new_data_key()
    values = {
        f"{name}_enc": envelope.encrypt_text(
            forged_key, "forged", tip_id=tip_id, kind="tip", object_id=tip_id, field_name=name
        )
        for name in services.TIP_FIELDS
    }
    values["relationship_enc"] = envelope.encrypt_text(
        forged_key, "", tip_id=tip_id, kind="tip", object_id=tip_id, field_name="relationship"
    )
    dbs.execute(update(Tip).where(Tip.id == tip_id).values(**values))
    for group in groups:
        dbs.execute(
            update(TipKey)
            .where(TipKey.tip_id == tip_id, TipKey.group_id == group.recipient.group_id)
            .values(
                envelope=envelope.seal_data_key(
                    group.recipient.public_key,
                    forged_key,
                    tip_id=tip_id,
                    group_id=group.recipient.group_id,
                    group_version=group.recipient.version,
                )
            )
        )
    dbs.expire_all()
    assert services.open_with_group_key(
        dbs, tip_id, *groups[0].credentials
    ).content.description == ("forged")
    with pytest.raises(errors.TipDamaged):
        services.verify_tip_envelopes(dbs, tip_id)


def test_verify_notices_a_removed_data_key_and_a_changed_reporter_key(
    dbs: Session, receipt: services.Receipt
) -> None:
    dbs.execute(delete(TipKey).where(TipKey.tip_id == receipt.tip_id, TipKey.group_id == 13))
    with pytest.raises(errors.TipDamaged):
        services.verify_tip_envelopes(dbs, receipt.tip_id)


def test_verify_notices_a_changed_reporter_key(dbs: Session, receipt: services.Receipt) -> None:
    wrapped = dbs.scalar(select(TipToken.wrapped_key).where(TipToken.tip_id == receipt.tip_id))
    assert wrapped is not None
    dbs.execute(
        update(TipToken)
        .where(TipToken.tip_id == receipt.tip_id)
        .values(wrapped_key=wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
    )
    with pytest.raises(errors.TipDamaged):
        services.verify_tip_envelopes(dbs, receipt.tip_id)
    with pytest.raises(errors.TipNotFound):
        services.verify_tip_envelopes(dbs, uuid.uuid4())


# ---------------------------------------------------------------- attachments


@pytest.fixture
def photo() -> bytes:
    return os.urandom(2 * MIB + 12345)


@pytest.fixture
def with_files(ready: Intake, photo: bytes) -> services.Receipt:
    return ready.submit(
        attachments=[
            services.AttachmentInput("现场照片.jpg", "image/jpeg", pieces(photo, 100_003), True),
            services.AttachmentInput("说明.pdf", "application/pdf", iter([b"%PDF-1.7 tiny"])),
            services.AttachmentInput("empty.txt", "text/plain", iter([])),
        ],
    )


def attachment_ids(dbs: Session, tip_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        dbs.scalars(
            select(Attachment.id).where(Attachment.tip_id == tip_id).order_by(Attachment.position)
        )
    )


def test_attachments_round_trip_chunk_by_chunk(
    dbs: Session,
    settings: Settings,
    groups: list[Group],
    with_files: services.Receipt,
    photo: bytes,
) -> None:
    opened = services.open_with_group_key(dbs, with_files.tip_id, *groups[1].credentials)
    infos = opened.attachments
    assert [(a.name, a.content_type, a.scrubbed, a.size) for a in infos] == [
        ("现场照片.jpg", "image/jpeg", True, len(photo)),
        ("说明.pdf", "application/pdf", False, 13),
        ("empty.txt", "text/plain", False, 0),
    ]
    photo_id = infos[0].id
    count = dbs.scalar(select(func.count()).where(AttachmentChunk.attachment_id == photo_id))
    assert count == 3  # 2 MiB + a bit: two full chunks and a final one
    chunks = list(
        services.iter_attachment(dbs, with_files.tip_id, photo_id, *groups[1].credentials)
    )
    assert [len(c) for c in chunks] == [MIB, MIB, 12345]
    assert b"".join(chunks) == photo
    by_token = services.iter_attachment_with_token(
        dbs, settings, with_files.token.display, infos[1].id
    )
    assert b"".join(by_token) == b"%PDF-1.7 tiny"
    assert (
        b"".join(
            services.iter_attachment(dbs, with_files.tip_id, infos[2].id, *groups[0].credentials)
        )
        == b""
    )
    reporter_view = services.open_with_token(dbs, settings, with_files.token.value)
    assert reporter_view.attachments == infos
    services.verify_tip_envelopes(dbs, with_files.tip_id)


def test_attachment_errors_come_before_the_first_chunk(
    dbs: Session, settings: Settings, groups: list[Group], with_files: services.Receipt
) -> None:
    ids = attachment_ids(dbs, with_files.tip_id)
    with pytest.raises(errors.AttachmentNotFound):
        services.iter_attachment(dbs, with_files.tip_id, uuid.uuid4(), *groups[0].credentials)
    with pytest.raises(errors.WrongKey):
        services.iter_attachment(dbs, with_files.tip_id, ids[0], 11, 1, make_group(11).private_key)
    with pytest.raises(errors.UnknownToken):
        services.iter_attachment_with_token(dbs, settings, tokens.generate_token().value, ids[0])


def read_photo(dbs: Session, groups: list[Group], tip_id: uuid.UUID) -> bytes:
    photo_id = attachment_ids(dbs, tip_id)[0]
    return b"".join(services.iter_attachment(dbs, tip_id, photo_id, *groups[0].credentials))


def chunk(dbs: Session, attachment_id: uuid.UUID, index: int) -> Any:
    return dbs.execute(
        select(AttachmentChunk.final, AttachmentChunk.data).where(
            AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.chunk_index == index
        )
    ).one()


def set_chunk(dbs: Session, attachment_id: uuid.UUID, index: int, **values: object) -> None:
    dbs.execute(
        update(AttachmentChunk)
        .where(AttachmentChunk.attachment_id == attachment_id, AttachmentChunk.chunk_index == index)
        .values(**values)
    )


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


TAMPERING = {
    "flipped bit": lambda dbs, a: set_chunk(dbs, a, 1, data=_flip(chunk(dbs, a, 1).data, 777)),
    "swapped chunks": lambda dbs, a: (
        (c0 := chunk(dbs, a, 0).data),
        set_chunk(dbs, a, 0, data=chunk(dbs, a, 1).data),
        set_chunk(dbs, a, 1, data=c0),
    ),
    "final chunk removed": lambda dbs, a: dbs.execute(
        delete(AttachmentChunk).where(
            AttachmentChunk.attachment_id == a, AttachmentChunk.chunk_index == 2
        )
    ),
    "middle chunk removed": lambda dbs, a: dbs.execute(
        delete(AttachmentChunk).where(
            AttachmentChunk.attachment_id == a, AttachmentChunk.chunk_index == 1
        )
    ),
    "final flag moved": lambda dbs, a: (
        set_chunk(dbs, a, 1, final=True),
        dbs.execute(
            delete(AttachmentChunk).where(
                AttachmentChunk.attachment_id == a, AttachmentChunk.chunk_index == 2
            )
        ),
    ),
    "chunk appended after the final one": lambda dbs, a: dbs.execute(
        insert(AttachmentChunk).values(
            attachment_id=a, chunk_index=3, final=True, data=chunk(dbs, a, 2).data
        )
    ),
    "header of another attachment": lambda dbs, a: dbs.execute(
        update(Attachment)
        .where(Attachment.id == a)
        .values(
            stream_header=dbs.scalar(
                select(Attachment.stream_header).where(
                    Attachment.tip_id
                    == dbs.scalar(select(Attachment.tip_id).where(Attachment.id == a)),
                    Attachment.position == 1,
                )
            )
        )
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_a_tampered_chunk_row_fails(
    dbs: Session, groups: list[Group], with_files: services.Receipt, how: str
) -> None:
    photo_id = attachment_ids(dbs, with_files.tip_id)[0]
    TAMPERING[how](dbs, photo_id)
    dbs.expire_all()
    with pytest.raises(errors.AttachmentDamaged):
        read_photo(dbs, groups, with_files.tip_id)
    with pytest.raises(errors.TipDamaged):
        services.verify_tip_envelopes(dbs, with_files.tip_id)


def test_attachments_are_encrypted_as_they_are_read(ready: Intake) -> None:
    dbs, _clock, _settings, _groups, _division_id = ready.parts()
    """The first chunk reaches the database before the upload stream has been read to the end."""
    consumed = 0
    at_first_insert: list[int] = []

    def stream() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(48):
            consumed += 1
            yield os.urandom(64 * 1024)

    def watch(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.startswith("INSERT INTO tip_attachment_chunks") and not at_first_insert:
            at_first_insert.append(consumed)

    engine = dbs.get_bind()
    event.listen(engine, "before_cursor_execute", watch)
    try:
        ready.submit(
            attachments=[services.AttachmentInput("v.mp4", "video/mp4", stream())],
        )
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert consumed == 48
    assert at_first_insert
    assert at_first_insert[0] <= 17  # one chunk (16 pieces) and the byte that follows it


# ---------------------------------------------------------------- limits and rollback


def count_rows(dbs: Session) -> dict[str, int]:
    return {
        model.__tablename__: int(dbs.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Tip, TipKey, TipToken, Attachment, AttachmentChunk)
    }


@pytest.mark.parametrize(
    ("limit", "files", "error"),
    [
        ("MAX_ATTACHMENT_MB", [1024 + 1], errors.AttachmentTooLarge),
        ("MAX_ATTACHMENTS_MB", [600, 600], errors.AttachmentsTooLarge),
        ("MAX_ATTACHMENTS", [1, 1, 1], errors.TooManyAttachments),
    ],
)
def test_a_limit_exceeded_in_a_later_file_rolls_the_whole_tip_back(
    ready: Intake,
    monkeypatch: pytest.MonkeyPatch,
    limit: str,
    files: list[int],
    error: type[DomainError],
) -> None:
    dbs, _clock, _settings, _groups, _division_id = ready.parts()
    monkeypatch.setattr(services, limit, 1 if limit.endswith("_MB") else 2)
    monkeypatch.setattr(services, "MIB", 1024)  # the limits in KiB, for speed
    before = count_rows(dbs)
    with pytest.raises(error), dbs.begin_nested():
        ready.submit(
            attachments=[
                services.AttachmentInput(
                    f"f{i}", "text/plain", pieces(os.urandom(kib * 1024), 1000)
                )
                for i, kib in enumerate(files)
            ],
        )
    assert count_rows(dbs) == before
    assert not dbs.scalars(select(AuditRecord).where(AuditRecord.action == "tip.received")).all()


def test_an_upload_that_breaks_off_rolls_the_whole_tip_back(ready: Intake) -> None:
    dbs, _clock, _settings, _groups, _division_id = ready.parts()

    def broken() -> Iterator[bytes]:
        yield os.urandom(MIB + 1)
        raise OSError("client went away")

    before = count_rows(dbs)
    with pytest.raises(OSError, match="client went away"), dbs.begin_nested():
        ready.submit(
            attachments=[services.AttachmentInput("a.jpg", "image/jpeg", broken())],
        )
    assert count_rows(dbs) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"description": "太短了"}, "description"),
        ({"description": "x" * 10_001}, "description"),
        ({"location": "x" * 1_001}, "location"),
        ({"facility_id": 7}, "facility_name"),
        ({"facility_id": 0, "facility_name": ""}, "facility_id"),
        ({"category": "earthquake"}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"relationship": "boss"}, "relationship"),
        ({"division_id": 10_000}, "division_id"),
    ],
)
def test_invalid_submissions_are_refused_with_the_field(
    ready: Intake, changes: dict[str, object], field: str
) -> None:
    dbs, _clock, _settings, _groups, _division_id = ready.parts()
    with pytest.raises(errors.InvalidSubmission) as caught:
        ready.submit(**changes)
    assert caught.value.field == field
    assert caught.value.status == 400
    assert count_rows(dbs)["tips"] == 0


def test_a_registered_facility_is_stored_by_id(ready: Intake) -> None:
    dbs, _clock, settings, _groups, _division_id = ready.parts()
    receipt = ready.submit(facility_id=42, facility_name="", category="gas")
    opened = services.open_with_token(dbs, settings, receipt.token.display)
    assert (opened.facility_id, opened.category, opened.content.facility_name) == (
        42,
        TipCategory.GAS,
        "",
    )


def test_no_recipients_and_no_parameters_are_refused(intake: Intake) -> None:
    dbs, clock, settings, groups, division_id = intake.parts()
    with pytest.raises(errors.IntakeNotReady):
        intake.submit()
    services.initialise_token_params(dbs, clock, calibrate=False)
    with pytest.raises(errors.NoRecipients):
        services.submit_tip(dbs, clock, settings, [], make_submission(division_id))
    with pytest.raises(errors.IntakeNotReady):
        services.submit_tip(
            dbs,
            clock,
            settings.with_changes(token_pepper=b""),
            [g.recipient for g in groups],
            make_submission(division_id),
        )


# ---------------------------------------------------------------- token parameters


def test_token_parameters_are_created_once_and_never_changed(
    dbs: Session, clock: FakeClock
) -> None:
    first = services.initialise_token_params(dbs, clock, calibrate=False)
    clock.advance(days=1)
    again = services.initialise_token_params(dbs, clock, calibrate=True)  # returns, no calibration
    assert again == first
    assert services.current_token_params(dbs) == first
    rows = dbs.scalars(select(TokenParamSet)).all()
    assert len(rows) == 1
    assert dbs.scalars(
        select(AuditRecord).where(AuditRecord.action == "token_params.created")
    ).one().details == json.dumps({"n": first.n, "p": first.p, "r": first.r}, separators=(",", ":"))
    rows[0].n = first.n * 2
    with pytest.raises(RuntimeError, match="fixed"):
        dbs.flush()


def test_calibrated_parameters_are_memory_hard(dbs: Session, clock: FakeClock) -> None:
    params = services.initialise_token_params(dbs, clock)
    assert params.r == 8
    assert params.n >= 1024
    assert params.version == 1
    assert len(params.salt) == 32


def test_the_models_refuse_exact_times_and_ordered_ids() -> None:
    exact = dt.datetime(2026, 11, 1, 2, 37, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="rounded down to the hour"):
        Tip(submitted_at=exact)
    with pytest.raises(ValueError, match="rounded down to the hour"):
        TipMessage(created_at=exact.replace(minute=0, microsecond=1))
    with pytest.raises(ValueError, match="UUIDv4"):
        Tip(id=uuid.uuid1())
    with pytest.raises(ValueError, match="UUIDv4"):
        Attachment(id=uuid.UUID(int=1))
    assert Tip(submitted_at=exact.replace(minute=0)).submitted_at.minute == 0
