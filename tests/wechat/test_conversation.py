"""Whole conversations driven through ``/wechat`` by the simulated WeChat server, in safe,
compatible and (sandbox) plaintext mode: filing a tip with photos and a location, the token in
the reply, the status by token, English on request, cancelling, help, expiry, and what the
database keeps (and does not keep) about the sender."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import FakeClock
from core.settings import Settings
from intake import services as intake_services
from intake.models import Channel, Tip, TipCategory, TipState
from intake.wechat import texts
from intake.wechat.models import CachedReply, Conversation, Photo, PhotoState
from intake.wechat.texts import ZH
from public_site.limits import limiter_of
from tests.triage.conftest import World
from tests.wechat.conftest import WeChat, division_number, facility_id

NOTICE = (
    "Qingling hazard reporting. Please note: Tencent can see this chat, your WeChat account "
    "and any tracking token shown here. For a more anonymous report, use the web form without "
    "WeChat: %(report_url)s — there you can also replace a token that was shown here: "
    "%(status_url)s"
)
HELP = (
    "Send one of these words:\n"
    "举报 (report) – report a hazard\n"
    "查询 (status) – follow a report with its tracking token\n"
    "订阅 (notify) – be told once when a report's state changes\n"
    "取消 (cancel) – discard the report you are writing\n"
    "帮助 (help) – this list\n"
    "English / 中文 – change the language"
)
SUMMARY = (
    "Please check your report:\n"
    "Kind: %(category)s\n"
    "Town or street: %(division)s\n"
    "Institution: %(place)s\n"
    "Location: %(location)s\n"
    "Photos: %(photos)s\n"
    "Description: %(description)s\n\n"
    "Reply 确认 (confirm) to send it, or 取消 (cancel) to discard it."
)
SUMMARY_FIELDS = ("category", "division", "place", "location", "photos", "description")
PHOTOS_PROMPT = (
    "Send photos of the hazard if you have them (at most %(max)s). Their location and camera "
    "details are removed before they are stored. Reply 完成 (done) when you have finished, or "
    "跳过 (skip)."
)
TOKEN_RE = re.compile(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b")


def t(msgid: str, lang: str = ZH, **params: object) -> str:
    """What the channel says for ``msgid`` (the catalogue decides the words; these tests check
    the conversation, tests/core/test_i18n.py the catalogue)."""
    return texts.translate(lang, msgid, **params)


def token_in(reply: str) -> str:
    match = TOKEN_RE.search(reply)
    assert match, reply
    return match.group(1)


def count(dbs: Session, model: type) -> int:
    return int(dbs.scalar(select(func.count()).select_from(model)) or 0)


def file_tip(wx: WeChat, dbs: Session, *, photos: tuple[str, ...] = ("MEDIA-1",)) -> str:
    """The whole conversation of a tip at a registered facility; the reply with the token."""
    wx.text("举报")
    wx.text("2")  # fire safety
    wx.text(str(division_number(dbs)))
    wx.text("夕阳红")
    wx.text("1")
    wx.text("二楼的消防通道被杂物堵死了，")
    wx.text("夜间只有一名护工值班。")
    wx.text("完成")
    for media_id in photos:
        wx.image(media_id)
    wx.text("完成")
    wx.location(31.87, 120.55, "杨舍镇长安南路")
    return wx.text("确认")


@pytest.mark.parametrize("mode", ["safe", "compat"])
def test_a_whole_conversation_files_the_same_tip_as_the_web(
    wx: WeChat, ready: World, dbs: Session, settings: Settings, mode: str
) -> None:
    wx.mode = mode
    first = wx.text("举报")
    # The first reply says plainly what Tencent sees and where the web form is.
    assert first.startswith(
        t(NOTICE, report_url="https://localhost/report", status_url="https://localhost/status")
    )
    assert t("Elderly-care service safety") in first

    reply = wx.text("2")
    assert "杨舍镇" in reply
    reply = wx.text(str(division_number(dbs)))
    reply = wx.text("夕阳红")
    assert "夕阳红托老所" in reply
    reply = wx.text("1")
    assert reply == t(
        "Describe the hazard: what you saw, where exactly, since when. You can send several "
        "messages, and photos. Reply 完成 (done) when you have finished."
    )
    wx.text("二楼的消防通道被杂物堵死了，")
    reply = wx.text("夜间只有一名护工值班。")
    assert reply == t(
        "Noted (%(count)s characters so far). Send more, or reply 完成 (done).",
        count=len("二楼的消防通道被杂物堵死了，\n夜间只有一名护工值班。"),
    )
    wx.text("完成")
    assert wx.image("MEDIA-A").startswith(t("Photo %(count)s received.", count=1))
    wx.image("MEDIA-B")
    reply = wx.text("完成")
    assert "+" in reply  # the location prompt
    summary = wx.location(31.873456, 120.551234, "杨舍镇长安南路 88 号")
    assert "夕阳红托老所" in summary
    assert "二楼的消防通道被杂物堵死了， 夜间只有一名护工值班。" in summary
    assert "31.873456, 120.551234" in summary
    assert summary.endswith(t(SUMMARY, **dict.fromkeys(SUMMARY_FIELDS, "")).split("\n")[-1])

    reply = wx.text("确认")
    token = token_in(reply)
    assert "/status" in reply

    # The same tip as one filed on the web: opened with the token, channel wechat.
    opened = intake_services.open_with_token(dbs, settings, token)
    assert opened.channel is Channel.WECHAT
    assert opened.category is TipCategory.FIRE
    assert opened.state is TipState.SUBMITTED
    assert opened.facility_id == facility_id(dbs)
    assert opened.content.description == "二楼的消防通道被杂物堵死了，\n夜间只有一名护工值班。"
    assert opened.content.location == "杨舍镇长安南路 88 号 (31.873456, 120.551234)"
    assert opened.content.facility_name == ""
    intake_services.verify_tip_envelopes(dbs, opened.id)
    # Both photos wait for the download job; the conversation is gone.
    photos = dbs.scalars(select(Photo).where(Photo.tip_id == opened.id).order_by(Photo.position))
    assert [(p.position, p.state) for p in photos] == [
        (0, PhotoState.PENDING),
        (1, PhotoState.PENDING),
    ]
    assert count(dbs, Conversation) == 0
    assert opened.submitted_at.minute == 0


# ---------------------------------------------------------------- modes


@pytest.fixture
def sandbox_client(
    settings: Settings, session_factory: object, dbs: Session, clock: FakeClock, ready: World
) -> object:
    import public_site

    app: Flask = public_site.create_app(
        settings.with_changes(wechat_sandbox=True, wechat_encoding_aes_key=""),
        session_factory=session_factory,  # type: ignore[arg-type]
        clock=clock,
    )
    limiter_of(app).enabled = False
    return app.test_client()


def test_plaintext_mode_works_only_for_the_sandbox_account(
    wx: WeChat, sandbox_client: object, clock: FakeClock, dbs: Session, settings: Settings
) -> None:
    refused = wx.post(*wx.envelope(b"<xml/>", mode="plain"))
    assert refused.status_code == 403
    assert refused.get_data() == b""

    sandbox = WeChat(sandbox_client, clock, mode="plain")  # type: ignore[arg-type]
    reply = file_tip(sandbox, dbs)
    token = token_in(reply)
    assert intake_services.open_with_token(dbs, settings, token).channel is Channel.WECHAT
    # Encrypted pushes need the AES key, which the sandbox app does not have.
    assert sandbox.post(*sandbox.envelope(b"<xml/>", mode="safe")).status_code == 403


def test_the_sandbox_warning_is_logged_at_start_up(
    settings: Settings,
    session_factory: object,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import public_site

    public_site.create_app(settings, session_factory=session_factory, clock=clock)  # type: ignore[arg-type]
    assert "sandbox" not in caplog.text
    public_site.create_app(
        settings.with_changes(wechat_sandbox=True),
        session_factory=session_factory,  # type: ignore[arg-type]
        clock=clock,
    )
    assert "WeChat sandbox mode" in caplog.text


# ---------------------------------------------------------------- language, help, cancelling


def test_english_on_request_and_back(wx: WeChat, ready: World) -> None:
    reply = wx.text("English")
    assert "Replies are now in English. Send 中文 for Chinese." in reply
    assert "Tencent can see this chat" in reply  # the notice, in English
    reply = wx.text("report")
    assert "What kind of hazard is it?" in reply
    assert "2 Fire safety" in reply
    reply = wx.text("2")
    assert "In which town or street is it?" in reply
    assert "Yangshe" in reply  # the divisions' English names
    reply = wx.text("中文")
    assert reply.startswith(t("Replies are now in Chinese. Send English for English."))
    assert "杨舍镇" in reply  # the prompt again, in Chinese


def test_help_cancel_and_what_is_not_understood(wx: WeChat, ready: World) -> None:
    help_text = t(HELP)
    assert wx.text("你好").endswith(t("I did not understand that.") + "\n\n" + help_text)
    assert wx.text("帮助") == help_text
    assert wx.text("取消") == t("There is nothing to cancel.")
    wx.text("举报")
    wx.text("1")
    reply = wx.text("帮助")
    assert reply.startswith(help_text)
    assert "杨舍镇" in reply  # and the question of the step again
    assert wx.text("取消") == t("Your report was discarded. Nothing was sent.")
    assert wx.text("1").startswith(t("I did not understand that."))


def test_a_menu_click_starts_a_report(wx: WeChat, ready: World) -> None:
    reply = wx.event("CLICK", "REPORT")
    assert reply is not None
    assert t("Fire safety") in reply
    assert wx.event("CLICK", "SOMETHING_ELSE") is None
    assert wx.event("VIEW", "https://example.org/") is None


def test_following_the_account_greets_with_the_notice(wx: WeChat, ready: World) -> None:
    reply = wx.event("subscribe")
    assert reply is not None
    assert reply.startswith(
        t(NOTICE, report_url="https://localhost/report", status_url="https://localhost/status")
    )
    assert reply.endswith(t(HELP))


def test_an_idle_draft_is_discarded_after_30_minutes(
    wx: WeChat, ready: World, clock: FakeClock, dbs: Session
) -> None:
    wx.text("举报")
    wx.text("2")
    clock.advance(minutes=31)
    reply = wx.text(str(division_number(dbs)))
    assert (
        t(
            "Your unfinished report was discarded after %(minutes)s minutes without a message. "
            "Nothing was sent.",
            minutes=30,
        )
        in reply
    )
    assert t("I did not understand that.") in reply
    assert count(dbs, Tip) == 0


# ---------------------------------------------------------------- the steps


def test_an_unregistered_place_a_typed_address_and_no_photos(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    wx.text("举报")
    wx.text("1")
    wx.text(str(division_number(dbs, "塘桥镇")))
    reply = wx.text("幸福里日间照料中心")
    assert reply.startswith(
        t("It is not in the registry; what you typed is kept as the place's name.")
    )
    wx.text("护理站的氧气瓶放在走廊里，没有固定。")
    assert "10" in wx.text("完成")  # the photo prompt, with its limit
    reply = wx.text("跳过")  # no photos
    assert "+" in reply  # the location prompt
    summary = wx.text("塘桥镇幸福路 3 号后院")
    assert "幸福里日间照料中心" in summary
    token = token_in(wx.text("确认"))
    opened = intake_services.open_with_token(dbs, settings, token)
    assert opened.facility_id is None
    assert opened.content.facility_name == "幸福里日间照料中心"
    assert opened.content.location == "塘桥镇幸福路 3 号后院"
    assert opened.category is TipCategory.ELDERLY_CARE_SAFETY
    assert count(dbs, Photo) == 0


def test_choosing_a_facility_of_another_division_routes_the_tip_there(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs, "塘桥镇")))
    reply = wx.text("夕阳红")
    assert "1 夕阳红托老所（杨舍镇" in reply
    wx.text("1")
    wx.text("厨房燃气管道漏气，有明显的气味。")
    wx.text("完成")
    wx.text("跳过")
    wx.text("跳过")
    token = token_in(wx.text("确认"))
    opened = intake_services.open_with_token(dbs, settings, token)
    assert opened.division_id == ready.own  # 杨舍镇, the facility's division
    assert opened.facility_id == facility_id(dbs)


def test_none_of_the_hits_keeps_the_typed_name(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("夕阳红")
    assert wx.text("0").startswith(
        t(
            "Describe the hazard: what you saw, where exactly, since when. You can send several messages, and photos. Reply 完成 (done) when you have finished."
        )
    )
    wx.text("消防通道被堵。" * 3)
    wx.text("完成")
    wx.text("跳过")
    wx.text("跳过")
    opened = intake_services.open_with_token(dbs, settings, token_in(wx.text("确认")))
    assert (opened.facility_id, opened.content.facility_name) == (None, "夕阳红")


def test_a_location_can_stand_for_the_institution(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    wx.text("举报")
    wx.text("3")
    wx.text(str(division_number(dbs)))
    reply = wx.location(31.9, 120.5, "杨舍镇某工地")
    assert reply.startswith(t("Location received."))
    wx.text("工地围墙开裂，随时可能倒塌，旁边是老年活动室。")
    wx.text("完成")
    summary = wx.text("完成")  # photos done: the location is known, straight to the summary
    assert "杨舍镇某工地 (31.900000, 120.500000)" in summary
    opened = intake_services.open_with_token(dbs, settings, token_in(wx.text("确认")))
    assert opened.content.location == "杨舍镇某工地 (31.900000, 120.500000)"
    assert opened.facility_id is None


def test_a_description_needs_ten_characters_and_has_a_limit(
    wx: WeChat, ready: World, dbs: Session
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("太危险")
    assert wx.text("完成") == t(
        "Please describe the hazard in at least %(min)s characters.", min=10
    )
    wx.text("了，消防栓被锁住了。")
    assert wx.text("完成") == t(PHOTOS_PROMPT, max=10)
    assert wx.text("跳过")


def test_photos_are_counted_and_limited(wx: WeChat, ready: World, dbs: Session) -> None:
    # The first message of this follower: the notice comes first, then the answer.
    assert wx.image("EARLY").endswith(
        t("To send photos, start a report first: send 举报 (report).")
    )
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("消防通道被杂物堵死，无法通行。")
    wx.image("IN-DESCRIPTION")  # photos are welcome while describing
    wx.text("完成")
    for n in range(2, 11):
        assert wx.image(f"M{n}").startswith(t("Photo %(count)s received.", count=n))
    assert wx.image("M11") == t(
        "A report can have at most %(max)s photos; this one was not added.", max=10
    )
    wx.text("完成")
    summary = wx.text("跳过")
    assert "10" in summary


def test_voice_video_and_links_are_explained(wx: WeChat, ready: World) -> None:
    voice = wx.deliver(wx.fields("voice", MediaId="V1", Format="amr")).reply
    assert voice is not None
    assert voice.endswith(t("Voice messages cannot be used here. Please type your message."))
    video = wx.deliver(wx.fields("shortvideo", MediaId="V2", ThumbMediaId="T2")).reply
    assert video is not None
    assert "https://localhost/report" in video
    link = wx.deliver(
        wx.fields("link", Title="x", Description="y", Url="https://example.org")
    ).reply
    assert link is not None
    assert link.endswith(t("Please send text, photos or a location."))


def test_text_that_would_close_cdata_is_carried_safely(
    wx: WeChat, ready: World, dbs: Session
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("门口写着 ]]></Content><MsgType>image</MsgType> 的牌子挡住了消防通道")
    wx.text("完成")
    wx.text("跳过")
    summary = wx.text("跳过")  # the simulator parses the reply: an unescaped ]]> would break it
    assert "]]></Content><MsgType>image</MsgType>" in summary


# ---------------------------------------------------------------- status by token


def test_the_status_by_token(wx: WeChat, ready: World, dbs: Session, settings: Settings) -> None:
    token = token_in(file_tip(wx, dbs))
    # Filing ended the conversation: the next one starts with the notice again.
    assert wx.text("查询").endswith(
        t(
            "Send your tracking token (16 characters, such as 7KQ2-M9XD-4R8T-ZP3W), or 取消 (cancel)."
        )
    )
    reply = wx.text(token.lower())
    assert t("Received") in reply
    assert "2026年11月1日" in reply
    # A typo is caught by the check character, before any derivation.
    typo = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert wx.text("查询 " + typo) == t(
        "The tracking token has a typo. Check each character and try again."
    )
    # A well-formed token of no tip.
    from crypto import tokens

    other = tokens.generate_token().display
    assert wx.text(other) == t("No report matches this tracking token.")
    # A token on its own works too, and so does 查询 with the token.
    assert t("Received") in wx.text(token)
    assert t("Received") in wx.text(f"查询：{token}")


def test_the_status_shows_the_deadline_and_an_officers_question(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    from triage import services as triage

    token = token_in(file_tip(wx, dbs))
    tip_id = intake_services.open_with_token(dbs, settings, token).id
    ready.drive(tip_id, TipState.VERIFYING)
    city = ready.city
    triage.ask_reporter(
        dbs, ready.clock, settings, city.user, tip_id, personal_key=city.key,
        body="请问通道被堵了多长时间？",
    )  # fmt: skip
    reply = wx.text(token)
    assert t("Being verified") in reply
    assert t("Deadline of this step: %(date)s", date="").split("%")[0] in reply
    assert "请问通道被堵了多长时间？" in reply
    assert "https://localhost/status" in reply


def test_the_status_of_a_concluded_tip(
    wx: WeChat, ready: World, dbs: Session, settings: Settings
) -> None:
    token = token_in(file_tip(wx, dbs))
    tip_id = intake_services.open_with_token(dbs, settings, token).id
    ready.drive(tip_id, TipState.SUBSTANTIATED)
    reply = wx.text(token)
    assert t("Verification concluded") in reply
    assert t("Confirmed") in reply
    assert "经核查，二楼消防通道确被杂物占用" in reply


# ---------------------------------------------------------------- retries and duplicates


def test_a_retried_push_gets_the_same_reply_and_acts_once(
    wx: WeChat, ready: World, dbs: Session
) -> None:
    wx.text("举报")
    first = wx.deliver(wx.fields("text", Content="2"))
    again = wx.retry(first)
    assert again.reply == first.reply
    assert again.response.get_data() != first.response.get_data()  # encrypted afresh
    # The draft moved one step, not two: the next answer is the division.
    assert "杨舍镇" not in wx.text(str(division_number(dbs)))


def test_a_retried_confirmation_files_one_tip_with_one_token(
    wx: WeChat, ready: World, dbs: Session, clock: FakeClock
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("消防通道被杂物堵死，无法通行。")
    wx.text("完成")
    wx.text("跳过")
    wx.text("跳过")
    confirmation = wx.deliver(wx.fields("text", Content="确认"))
    clock.advance(seconds=5)
    retries = [wx.retry(confirmation) for _ in range(3)]
    assert {r.reply for r in retries} == {confirmation.reply}
    assert count(dbs, Tip) == 1
    # The cached reply carries the token, encrypted: not in the row.
    token = token_in(confirmation.reply or "")
    row = dbs.scalars(select(CachedReply)).all()
    assert row
    assert all(token.encode() not in (r.reply_enc or b"") for r in row)
    # After a minute the cached replies are gone (removed by the next push).
    clock.advance(seconds=61)
    wx.text("帮助")
    assert count(dbs, CachedReply) == 1  # the reply to that last push only


def test_a_retried_event_is_recognised_by_sender_and_time(
    wx: WeChat, ready: World, clock: FakeClock
) -> None:
    first = wx.deliver(wx.fields("event", Event="CLICK", EventKey="REPORT"))
    again = wx.retry(first)
    assert again.reply == first.reply is not None
    # The same click a second later is a new event.
    clock.advance(seconds=1)
    later = wx.deliver(wx.fields("event", Event="CLICK", EventKey="REPORT"))
    assert later.reply is not None
    assert later.reply.startswith(t("Your unfinished report was discarded; starting again."))


def test_two_followers_do_not_share_a_conversation(
    client: object, clock: FakeClock, ready: World, dbs: Session
) -> None:
    one = WeChat(client, clock)  # type: ignore[arg-type]
    two = WeChat(client, clock)  # type: ignore[arg-type]
    one.text("举报")
    one.text("2")
    assert two.text("1").startswith(
        t(NOTICE, report_url="https://localhost/report", status_url="https://localhost/status")
    )
    assert "杨舍镇" in one.text("帮助")  # one is still at the division step
    assert count(dbs, Conversation) == 2


def test_unfollowing_forgets_the_sender(wx: WeChat, ready: World, dbs: Session) -> None:
    wx.text("举报")
    wx.text("2")
    assert count(dbs, Conversation) == 1
    assert wx.event("unsubscribe") is None
    assert count(dbs, Conversation) == 0


def test_what_is_stored_of_a_conversation_names_nobody(
    wx: WeChat, ready: World, dbs: Session
) -> None:
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("秘密的描述文字：消防通道被堵。")
    (row,) = dbs.scalars(select(Conversation)).all()
    for blob in (row.sender_index, row.state_enc):
        assert wx.openid.encode() not in blob
        assert "秘密".encode() not in blob
    assert len(row.sender_index) == 32


# ---------------------------------------------------------------- limits and failures


def test_per_sender_limits(public_app: Flask, ready: World, clock: FakeClock) -> None:
    client = public_app.test_client()  # limits on
    wx = WeChat(client, clock)
    for _ in range(10):
        wx.text("查询 0000-0000-0000-0000")
    assert wx.text("查询 0000-0000-0000-0000") == t(
        "Too many attempts. Please wait a few minutes and try again."
    )
    # Another follower is not affected.
    other = WeChat(client, clock)
    assert t("Too many attempts") not in other.text("查询 0000-0000-0000-0000")
    for _ in range(20):
        reply = wx.text("帮助")
    assert reply == t("Too many messages. Please wait a few minutes and try again.")


def test_reporting_not_set_up_keeps_the_draft(
    public_app: Flask, clock: FakeClock, dbs: Session
) -> None:
    # No token parameters and no key groups: nothing can be sealed.
    client = public_app.test_client()
    limiter_of(public_app).enabled = False
    wx = WeChat(client, clock)
    wx.text("举报")
    wx.text("2")
    wx.text(str(division_number(dbs)))
    wx.text("跳过")
    wx.text("消防通道被杂物堵死，无法通行。")
    wx.text("完成")
    wx.text("跳过")
    wx.text("跳过")
    reply = wx.text("确认")
    assert reply == t(
        "Reporting is not available right now. Nothing was sent; your report is kept for "
        "%(minutes)s minutes. Reply 确认 (confirm) to try again.",
        minutes=30,
    )
    assert count(dbs, Tip) == 0
    assert count(dbs, Conversation) == 1  # the draft is kept


def test_a_failure_inside_is_an_apology_not_a_500(
    wx: WeChat, ready: World, monkeypatch: pytest.MonkeyPatch, dbs: Session
) -> None:
    from public_site.views import wechat as view

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(view, "handle_push", broken)
    reply = wx.text("举报")
    assert reply == t("Something went wrong and nothing was saved. Please try again.")


def test_cancelling_the_wait_for_a_token(wx: WeChat, ready: World) -> None:
    wx.text("查询")
    assert wx.text("取消") == t("Cancelled.")
    assert wx.text("取消") == t("There is nothing to cancel.")
