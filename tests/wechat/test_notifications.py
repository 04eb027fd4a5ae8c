"""One notification when a tip's state changes, only after the reporter opts in with the token:
the consent link, WeChat's redirect back (``/wechat/subscribed``), the one message sent by the
job through the fake API, and every way the OpenID-to-tip row goes away."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import FakeClock
from core.settings import Settings
from intake import services as intake_services
from intake.models import TipState
from intake.wechat import jobs, notifications, texts
from intake.wechat.models import Subscription, SubscriptionState
from intake.wechat.texts import ZH
from tests.triage.conftest import World
from tests.wechat.conftest import APPID, TEMPLATE, Chat, WeChat
from tests.wechat.test_conversation import file_tip, t, token_in


def subscriptions(dbs: Session) -> list[Subscription]:
    return list(dbs.scalars(select(Subscription)))


def consent_link(reply: str) -> dict[str, str]:
    line = next(line for line in reply.splitlines() if line.startswith("https://mp.weixin.qq.com/"))
    parts = urlsplit(line)
    assert parts.path == "/mp/subscribemsg"
    assert parts.fragment == "wechat_redirect"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def consent(client: FlaskClient, link: dict[str, str], openid: str, action: str = "confirm") -> int:
    """What WeChat does after the consent page: send the browser back to redirect_url."""
    redirect = urlsplit(link["redirect_url"])
    assert (redirect.scheme, redirect.netloc, redirect.path) == (
        "https",
        "localhost",
        "/wechat/subscribed",
    )
    query = {
        "template_id": link["template_id"],
        "action": action,
        "scene": link["scene"],
        "reserved": link["reserved"],
    }
    if action == "confirm":
        query["openid"] = openid
    return client.get(redirect.path, query_string=query).status_code


@pytest.fixture
def filed(wx: WeChat, ready: World, dbs: Session, settings: Settings) -> tuple[str, uuid.UUID]:
    token = token_in(file_tip(wx, dbs))
    return token, intake_services.open_with_token(dbs, settings, token).id


def test_one_notification_after_consent(chat: Chat, filed: tuple[str, uuid.UUID]) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    token, tip_id = filed
    assert wx.text("订阅").endswith(
        t(
            "Send your tracking token (16 characters, such as 7KQ2-M9XD-4R8T-ZP3W), or 取消 (cancel)."
        )
    )
    reply = wx.text(token)
    link = consent_link(reply)
    assert link["appid"] == APPID
    assert link["template_id"] == TEMPLATE
    assert 1 <= int(link["scene"]) <= 10_000
    (row,) = subscriptions(dbs)
    assert row.state is SubscriptionState.PENDING
    assert wx.openid.encode() not in row.openid_enc
    assert wx.openid.encode() not in row.subscriber_index

    # A stranger who learnt the link cannot confirm it for another account.
    assert consent(wx.client, link, "o-someone-else") == 400
    assert consent(wx.client, link, wx.openid) == 200
    dbs.refresh(row)
    (active,) = subscriptions(dbs)
    assert active.state is SubscriptionState.ACTIVE
    assert active.consent_hash is None
    assert consent(wx.client, link, wx.openid) == 400  # used

    # Nothing changed yet: nothing is sent.
    jobs.run_due(dbs, clock, settings)
    assert fake_api.sent == []
    ready.drive(tip_id, TipState.ACCEPTED)
    lines = jobs.run_due(dbs, clock, settings)
    assert "wechat notifications: 1 sent, 0 dropped, 0 ended with their report" in lines
    (message,) = fake_api.sent
    assert message["touser"] == wx.openid
    assert message["template_id"] == TEMPLATE
    assert message["scene"] == link["scene"]
    assert message["title"] == t("Report update")
    assert t("Accepted") in message["data"]["content"]["value"]
    # One consent, one message: the row is gone, the next change sends nothing.
    assert subscriptions(dbs) == []
    from triage import services as triage

    triage.start_verification(*ready.args(), tip_id)
    jobs.run_due(dbs, clock, settings)
    assert len(fake_api.sent) == 1


def test_subscribing_with_the_token_in_one_message_and_cancelling(
    wx: WeChat, ready: World, dbs: Session, filed: tuple[str, uuid.UUID]
) -> None:
    token, _ = filed
    link = consent_link(wx.text(f"订阅 {token}"))
    assert consent(wx.client, link, wx.openid, action="cancel") == 200
    assert subscriptions(dbs) == []


def test_a_consent_link_expires(chat: Chat, filed: tuple[str, uuid.UUID]) -> None:
    wx, _ready, dbs, clock, settings, _fake_api = chat.parts()
    token, _ = filed
    link = consent_link(wx.text(f"订阅 {token}"))
    clock.advance(minutes=31)
    assert consent(wx.client, link, wx.openid) == 400
    lines = jobs.run_due(dbs, clock, settings)
    assert "1 unused consent link(s)" in lines[0]
    assert subscriptions(dbs) == []


def test_withdrawing_and_unfollowing_delete_the_subscription(
    wx: WeChat, ready: World, dbs: Session, filed: tuple[str, uuid.UUID]
) -> None:
    token, _ = filed
    consent(wx.client, consent_link(wx.text(f"订阅 {token}")), wx.openid)
    assert wx.text("退订") == t("You will not be notified about your reports.")
    assert subscriptions(dbs) == []
    assert wx.text("退订") == t("You have no notifications to withdraw.")
    consent(wx.client, consent_link(wx.text(f"订阅 {token}")), wx.openid)
    assert len(subscriptions(dbs)) == 1
    wx.event("unsubscribe")
    assert subscriptions(dbs) == []


def test_another_followers_withdrawal_leaves_mine(
    wx: WeChat, ready: World, dbs: Session, clock: FakeClock, filed: tuple[str, uuid.UUID]
) -> None:
    token, _ = filed
    consent(wx.client, consent_link(wx.text(f"订阅 {token}")), wx.openid)
    other = WeChat(wx.client, clock)
    assert other.text("退订").endswith(t("You have no notifications to withdraw."))
    assert len(subscriptions(dbs)) == 1


def test_subscribing_again_replaces_the_earlier_row(
    wx: WeChat, ready: World, dbs: Session, filed: tuple[str, uuid.UUID]
) -> None:
    token, _ = filed
    wx.text(f"订阅 {token}")
    wx.text(f"订阅 {token}")
    assert len(subscriptions(dbs)) == 1


def test_the_closing_of_a_tip_is_notified_and_ends_the_subscription(
    chat: Chat, filed: tuple[str, uuid.UUID]
) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    token, tip_id = filed
    consent(wx.client, consent_link(wx.text(f"订阅 {token}")), wx.openid)
    ready.drive(tip_id, TipState.CLOSED)
    jobs.run_due(dbs, clock, settings)
    assert len(fake_api.sent) == 1
    assert t("Closed") in fake_api.sent[0]["data"]["content"]["value"]
    assert subscriptions(dbs) == []
    # A closed report cannot be subscribed to.
    assert wx.text(f"订阅 {token}").endswith(
        t("This report is closed; there will be no further changes to notify.")
    )
    assert subscriptions(dbs) == []


def test_a_refusal_by_wechat_drops_the_subscription(
    chat: Chat, filed: tuple[str, uuid.UUID]
) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    token, tip_id = filed
    consent(wx.client, consent_link(wx.text(f"订阅 {token}")), wx.openid)
    ready.drive(tip_id, TipState.ACCEPTED)
    fake_api.send_errors.append(45009)  # call limit reached: tried again
    assert "0 sent, 0 dropped" in jobs.run_due(dbs, clock, settings)[-1]
    assert len(subscriptions(dbs)) == 1
    fake_api.send_errors.append(43101)  # no consent (any more): given up
    assert "0 sent, 1 dropped" in jobs.run_due(dbs, clock, settings)[-1]
    assert subscriptions(dbs) == []


def test_notifications_are_not_offered_without_a_template(
    client: FlaskClient, clock: FakeClock, settings: Settings, ready: World
) -> None:
    object.__setattr__(settings, "wechat_subscribe_template_id", "")
    assert not notifications.available(settings)
    wx = WeChat(client, clock)
    # The app holds the same settings object: the chat says there are none.
    assert wx.text("订阅").endswith(
        t("Notifications are not available. Send 查询 to check your report.")
    )


def test_the_notification_speaks_the_language_of_the_chat(
    chat: Chat, filed: tuple[str, uuid.UUID]
) -> None:
    wx, ready, dbs, clock, settings, fake_api = chat.parts()
    token, tip_id = filed
    wx.text("English")
    consent(wx.client, consent_link(wx.text(f"notify {token}")), wx.openid)
    ready.drive(tip_id, TipState.ACCEPTED)
    jobs.run_due(dbs, clock, settings)
    (message,) = fake_api.sent
    assert message["title"] == "Report update"
    assert message["data"]["content"]["value"].startswith(
        "The state of your report is now: Accepted."
    )
    assert dbs.scalar(select(func.count()).select_from(Subscription)) == 0
    assert texts.translate(ZH, "Accepted")  # the Chinese label exists for the other case
