"""The WeChat job (``intake.wechat.jobs.run_due``) against a fake WeChat API on a real HTTP
server on loopback: photos downloaded with a cached and refreshed access token, retried,
stripped of their metadata and stored under per-photo keys sealed to the tip's groups; the
error answers of the API (error JSON with HTTP 200, invalid and expired tokens, HTTP 5xx, no
answer); expiry of conversations, replies and MediaIds; and the officer's read."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit.models import AuditRecord
from core.clock import FakeClock
from core.errors import Forbidden
from core.keys import services as keys
from core.keys.pins import KeyPins
from core.settings import Settings
from intake import errors as intake_errors
from intake import services as intake_services
from intake.wechat import api as wechat_api
from intake.wechat import jobs, photos
from intake.wechat.models import CachedReply, Conversation, Photo, PhotoKey, PhotoState
from tests.triage.conftest import World
from tests.wechat.conftest import APPSECRET, Chat, FakeApi, WeChat, division_number, jpeg_with_exif
from tests.wechat.test_conversation import token_in


def file_with_photos(
    wx: WeChat, dbs: Session, settings: Settings, media_ids: list[str]
) -> uuid.UUID:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("二楼消防通道被杂物堵死，夜间只有一名护工。")
    wx.text("完成")
    for media_id in media_ids:
        wx.image(media_id)
    wx.text("完成")
    wx.text("跳过")
    token = token_in(wx.text("确认"))
    return intake_services.open_with_token(dbs, settings, token).id


def run(dbs: Session, clock: FakeClock, settings: Settings) -> list[str]:
    lines = jobs.run_due(dbs, clock, settings)
    dbs.flush()
    return lines


def states(dbs: Session, tip_id: uuid.UUID) -> list[PhotoState]:
    return list(
        dbs.scalars(select(Photo.state).where(Photo.tip_id == tip_id).order_by(Photo.position))
    )


def audit_actions(dbs: Session, tip_id: uuid.UUID) -> list[str]:
    return list(
        dbs.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.object_id == str(tip_id))
            .order_by(AuditRecord.seq)
        )
    )


def test_photos_are_downloaded_scrubbed_and_sealed_to_the_tips_groups(chat: Chat) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    fake_api.media["MEDIA-1"] = ("image/jpeg", jpeg_with_exif("SECRET-CAMERA"))
    fake_api.media["MEDIA-2"] = ("image/jpeg", jpeg_with_exif(size=(32, 32)))
    tip_id = file_with_photos(wx, dbs, settings, ["MEDIA-1", "MEDIA-2"])

    lines = run(dbs, clock, settings)
    assert "wechat photos: 2 stored, 0 lost, 0 still waiting" in lines
    assert states(dbs, tip_id) == [PhotoState.STORED, PhotoState.STORED]
    # One access token for both downloads (cached), fetched with the AppSecret.
    assert len(fake_api.token_requests) == 1
    assert fake_api.token_requests[0]["secret"] == APPSECRET
    assert fake_api.token_requests[0]["force_refresh"] is False
    assert [r["media_id"] for r in fake_api.media_requests] == ["MEDIA-1", "MEDIA-2"]

    photo = dbs.scalars(select(Photo).where(Photo.tip_id == tip_id, Photo.position == 0)).one()
    assert photo.media_id_enc is None  # the MediaId is forgotten
    assert photo.content_enc is not None
    assert b"SECRET-CAMERA" not in photo.content_enc
    sealed_to = {
        (k.group_id, k.group_version)
        for k in dbs.scalars(select(PhotoKey).where(PhotoKey.photo_id == photo.id))
    }
    tip = ready.tip(tip_id)
    recipients = keys.tip_recipients(dbs, settings, tip.division_id, KeyPins(None))
    assert sealed_to == {(r.group_id, r.version) for r in recipients}
    assert audit_actions(dbs, tip_id).count(photos.ADDED) == 2

    # The city triage officer reads it: the pixels are there, the metadata is not.
    city = ready.city
    opened = photos.read_photo(
        dbs, clock, settings, city.user, tip_id, photo_id=photo.id, personal_key=city.key
    )
    assert opened.content_type == "image/jpeg"
    assert b"SECRET-CAMERA" not in opened.data
    picture = Image.open(io.BytesIO(opened.data))
    assert picture.size == (64, 48)
    assert not picture.getexif()
    assert photos.READ in audit_actions(dbs, tip_id)
    listed = photos.tip_photos(dbs, city.user, tip_id)
    assert [(p.position, p.state) for p in listed] == [
        (0, PhotoState.STORED),
        (1, PhotoState.STORED),
    ]

    # An officer of another division may not; one without a key holds none that opens it.
    with pytest.raises(Forbidden):
        photos.read_photo(
            dbs, clock, settings, ready.staff("triage_other").user, tip_id,
            photo_id=photo.id, personal_key=ready.staff("triage_other").key,
        )  # fmt: skip
    from triage.errors import NoTipKey

    keyless = ready.staff("triage_keyless")
    with pytest.raises(NoTipKey):
        photos.read_photo(
            dbs, clock, settings, keyless.user, tip_id, photo_id=photo.id, personal_key=keyless.key
        )
    with pytest.raises(intake_errors.AttachmentNotFound):
        photos.read_photo(
            dbs, clock, settings, city.user, tip_id, photo_id=uuid.uuid4(), personal_key=city.key
        )
    # The tip itself is untouched by the photos: its envelopes still verify.
    intake_services.verify_tip_envelopes(dbs, tip_id)

    # A second run has nothing to do.
    assert "wechat photos: 0 stored, 0 lost, 0 still waiting" in run(dbs, clock, settings)


@pytest.mark.parametrize("errcode", [42001, 40001])
def test_an_expired_or_invalid_token_is_refreshed_once(chat: Chat, errcode: int) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    fake_api.media["M"] = ("image/jpeg", jpeg_with_exif())
    fake_api.media["N"] = ("image/jpeg", jpeg_with_exif())
    first = file_with_photos(wx, dbs, settings, ["M"])
    run(dbs, clock, settings)
    assert states(dbs, first) == [PhotoState.STORED]
    fake_api.expire_current_token(errcode)
    second = file_with_photos(WeChat(wx.client, clock), dbs, settings, ["N"])
    run(dbs, clock, settings)
    assert states(dbs, second) == [PhotoState.STORED]
    assert [r["force_refresh"] for r in fake_api.token_requests] == [False, True]
    assert len(fake_api.tokens_issued) == 2


def test_an_error_answer_with_http_200_loses_the_photo(chat: Chat) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    fake_api.media["GOOD"] = ("image/jpeg", jpeg_with_exif())
    tip_id = file_with_photos(wx, dbs, settings, ["UNKNOWN", "GOOD"])
    assert "wechat photos: 1 stored, 1 lost, 0 still waiting" in run(dbs, clock, settings)
    assert states(dbs, tip_id) == [PhotoState.FAILED, PhotoState.STORED]
    failed = dbs.scalars(select(Photo).where(Photo.tip_id == tip_id, Photo.position == 0)).one()
    assert failed.media_id_enc is None
    lost = dbs.scalars(
        select(AuditRecord).where(
            AuditRecord.action == photos.LOST, AuditRecord.object_id == str(tip_id)
        )
    ).one()
    assert '"unknown_media"' in lost.details


def test_what_is_not_a_picture_is_not_stored(chat: Chat) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    fake_api.media["GIF"] = ("image/gif", b"GIF89a" + bytes(100))
    fake_api.media["BROKEN"] = ("image/jpeg", jpeg_with_exif()[:200])
    tip_id = file_with_photos(wx, dbs, settings, ["GIF", "BROKEN"])
    run(dbs, clock, settings)
    assert states(dbs, tip_id) == [PhotoState.FAILED, PhotoState.FAILED]
    details = dbs.scalars(
        select(AuditRecord.details).where(AuditRecord.action == photos.LOST)
    ).all()
    assert any('"not_a_picture"' in d for d in details)
    assert any('"damaged"' in d for d in details)


def test_server_errors_are_retried_within_the_call(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    monkeypatch.setattr(wechat_api, "RETRY_PAUSE", 0.0)
    fake_api.media["M"] = ("image/jpeg", jpeg_with_exif())
    tip_id = file_with_photos(wx, dbs, settings, ["M"])
    fake_api.failures.extend([502, 503])  # the token call fails twice, then answers
    run(dbs, clock, settings)
    assert states(dbs, tip_id) == [PhotoState.STORED]


def test_no_answer_waits_and_tries_again_later(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    monkeypatch.setattr(wechat_api, "RETRY_PAUSE", 0.0)
    fake_api.media["M"] = ("image/jpeg", jpeg_with_exif())
    tip_id = file_with_photos(wx, dbs, settings, ["M"])
    fake_api.failures.extend([500] * wechat_api.ATTEMPTS)
    assert "wechat photos: 0 stored, 0 lost, 1 still waiting" in run(dbs, clock, settings)
    photo = dbs.scalars(select(Photo).where(Photo.tip_id == tip_id)).one()
    assert photo.attempts == 1
    assert photo.next_attempt_at == clock.now() + dt.timedelta(minutes=5)
    # Not yet due: nothing is asked of the API.
    asked = len(fake_api.token_requests)
    run(dbs, clock, settings)
    assert len(fake_api.token_requests) == asked
    clock.advance(minutes=5)
    run(dbs, clock, settings)
    assert states(dbs, tip_id) == [PhotoState.STORED]


def test_an_unreachable_api_and_expired_media(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    wx, _ready, dbs, clock, settings, _fake_api = chat.parts()
    monkeypatch.setattr(wechat_api, "RETRY_PAUSE", 0.0)
    tip_id = file_with_photos(wx, dbs, settings, ["M"])
    closed_port = settings.with_changes(wechat_api_base="http://127.0.0.1:9")
    run(dbs, clock, closed_port)
    assert states(dbs, tip_id) == [PhotoState.PENDING]
    # WeChat keeps a MediaId three days: after that the photo is given up.
    clock.advance(days=3, hours=1)
    assert "wechat photos: 0 stored, 1 lost, 0 still waiting" in run(dbs, clock, closed_port)
    assert states(dbs, tip_id) == [PhotoState.FAILED]


def test_without_the_token_pepper_the_job_leaves_photos_alone(chat: Chat) -> None:
    wx, _ready, dbs, clock, settings, fake_api = chat.parts()
    tip_id = file_with_photos(wx, dbs, settings, ["M"])
    lines = run(dbs, clock, settings.with_changes(token_pepper=b""))
    assert any("the token pepper is not on this host" in line for line in lines)
    assert states(dbs, tip_id) == [PhotoState.PENDING]
    assert fake_api.token_requests == []


def test_expired_conversations_and_replies_are_removed(
    wx: WeChat, ready: World, dbs: Session, clock: FakeClock, settings: Settings
) -> None:
    wx.text("举报")
    assert dbs.scalar(select(func.count()).select_from(Conversation)) == 1
    assert dbs.scalar(select(func.count()).select_from(CachedReply)) == 1
    clock.advance(seconds=61)
    lines = run(dbs, clock, settings)
    assert lines[0].startswith("wechat: expired 0 conversation(s), 1 cached reply(ies)")
    clock.advance(minutes=30)
    assert run(dbs, clock, settings)[0].startswith("wechat: expired 1 conversation(s)")
    assert dbs.scalar(select(func.count()).select_from(Conversation)) == 0


def test_the_api_client_refuses_a_wrong_secret(settings: Settings, fake_api: FakeApi) -> None:
    client = wechat_api.WeChatApi(settings.with_changes(wechat_appsecret="wrong"))
    with pytest.raises(wechat_api.ApiError) as refused:
        client.access_token()
    assert refused.value.errcode == 40125
    assert "wrong" not in str(refused.value)
    unconfigured = wechat_api.WeChatApi(settings.with_changes(wechat_appid=""))
    with pytest.raises(wechat_api.ApiError):
        unconfigured.download_media("M")
