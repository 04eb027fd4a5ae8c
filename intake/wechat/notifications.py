"""One notification when a tip's state changes, for a reporter who asks for it in the chat.

Only on request, after filing, and only with the token (``订阅 <token>``): the reporter gets a
WeChat *one-time subscription* consent link (``mp.weixin.qq.com/mp/subscribemsg``, reference
§7.2) and WeChat sends their browser back to ``/wechat/subscribed`` with their OpenID, the
scene and our random ``reserved`` value. Consent allows exactly one message; the download job
sends it at the first change of state after the consent and deletes the row.

The row (``wechat_subscriptions``) is the only place where an OpenID and a tip meet. Its
OpenID is encrypted under a server key (the job must be able to send), found for deletion on
unsubscribe by a keyed hash under another key, and the row goes when the message is sent, when
the tip closes, when the reporter sends ``退订`` or unfollows the account, and when a consent is
not given within :data:`CONSENT_WINDOW`. The reporter is told so before they consent.

Subscriptions are not audited: a permanent record would outlive the short-lived link it
records, which is the point of deleting it.

The template of the one-time subscription message is configured on the Official Accounts
Platform; its id comes from ``settings.wechat_subscribe_template_id`` (empty: notifications
are not offered).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.settings import Settings
from crypto import envelope, wechat
from crypto.errors import CryptoError
from intake.models import Tip, TipState
from intake.wechat.models import Subscription, SubscriptionState

#: A consent link must be used within this long.
CONSENT_WINDOW = dt.timedelta(minutes=30)
CONSENT_PAGE = "https://mp.weixin.qq.com/mp/subscribemsg"
NOTIFY_PURPOSE = "wechat/notify"
#: A message that cannot be sent is tried again by this many runs of the job, then dropped.
MAX_ATTEMPTS = 5


def template_id(settings: Settings) -> str:
    """The one-time subscription template configured for the account ("" when none).

    Read defensively: the setting ``QINGLING_WECHAT_SUBSCRIBE_TEMPLATE_ID`` is added to
    ``core.settings`` with this feature; until then notifications are simply not offered.
    """
    value = getattr(settings, "wechat_subscribe_template_id", "")
    return value.strip() if isinstance(value, str) else ""


def available(settings: Settings) -> bool:
    return bool(settings.wechat_appid and settings.wechat_appsecret and template_id(settings))


def _subscriber_index(pepper: bytes, openid: str, tip_id: uuid.UUID) -> bytes:
    """A keyed hash of the OpenID *and the tip*: two subscriptions of one person to two
    reports do not share it, so the table does not link their reports."""
    return wechat.keyed_hash(pepper, "notify-index", openid, tip_id)


def _consent_hash(reserved: str) -> bytes:
    return hashlib.sha256(reserved.encode("ascii")).digest()


def seal_openid(pepper: bytes, openid: str, subscription_id: uuid.UUID, tip_id: uuid.UUID) -> bytes:
    return envelope.wrap(
        wechat.channel_key(pepper, "notify"),
        openid.encode("utf-8"),
        purpose=NOTIFY_PURPOSE,
        context=(subscription_id, tip_id),
    )


def open_openid(pepper: bytes, row: Subscription) -> str:
    """The subscriber's OpenID (for sending only; never stored or logged elsewhere)."""
    return envelope.unwrap(
        wechat.channel_key(pepper, "notify"),
        row.openid_enc,
        purpose=NOTIFY_PURPOSE,
        context=(row.id, row.tip_id),
    ).decode("utf-8")


def request(
    session: Session,
    clock: Clock,
    settings: Settings,
    pepper: bytes,
    tip: Tip,
    *,
    openid: str,
    lang: str,
    consent_url: str,
) -> str | None:
    """Store a pending subscription of ``openid`` to ``tip`` and return the consent link
    (None for a closed tip). The reporter has proved the token. An earlier subscription of
    the same person to the same tip is replaced."""
    if tip.state is TipState.CLOSED:
        return None
    subscriber = _subscriber_index(pepper, openid, tip.id)
    session.execute(
        delete(Subscription).where(
            Subscription.tip_id == tip.id, Subscription.subscriber_index == subscriber
        )
    )
    reserved = secrets.token_hex(24)
    # One consent per scene gives one message; a scene per subscription keeps two reports of
    # one person apart.
    scene = secrets.randbelow(10_000) + 1
    subscription_id = uuid.uuid4()
    session.add(
        Subscription(
            id=subscription_id,
            tip_id=tip.id,
            state=SubscriptionState.PENDING,
            subscriber_index=subscriber,
            openid_enc=seal_openid(pepper, openid, subscription_id, tip.id),
            scene=scene,
            consent_hash=_consent_hash(reserved),
            notified_state=tip.state.value,
            lang=lang,
            expires_at=clock.now() + CONSENT_WINDOW,
            attempts=0,
        )
    )
    query = urlencode(
        {
            "action": "get_confirm",
            "appid": settings.wechat_appid,
            "scene": str(scene),
            "template_id": template_id(settings),
            "redirect_url": consent_url,
            "reserved": reserved,
        }
    )
    return f"{CONSENT_PAGE}?{query}#wechat_redirect"


class ConsentOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    INVALID = "invalid"  # unknown, used, expired, or not from the person who asked


@dataclass(frozen=True)
class Consent:
    """What WeChat's redirect after the consent page carries (``openid`` only on confirm)."""

    reserved: str = field(repr=False)
    openid: str = field(repr=False)
    action: str
    scene: str
    template_id: str


def confirm(session: Session, clock: Clock, settings: Settings, consent: Consent) -> ConsentOutcome:
    """Record the reporter's answer on WeChat's consent page.

    The pending row is found by the hash of ``reserved`` (random, sent only in the chat); the
    scene and template must be those of the link, and the OpenID that WeChat adds must be the
    one that asked (compared in constant time). A confirmation makes the row active; a
    cancellation deletes it; anything else changes nothing.
    """
    row = _pending(session, clock, settings, consent)
    if row is None:
        return ConsentOutcome.INVALID
    if consent.action == "cancel":
        session.delete(row)
        return ConsentOutcome.CANCELLED
    if consent.action != "confirm" or not _same_person(settings, row, consent.openid):
        return ConsentOutcome.INVALID
    row.state = SubscriptionState.ACTIVE
    row.consent_hash = None
    row.expires_at = None
    return ConsentOutcome.CONFIRMED


def _pending(
    session: Session, clock: Clock, settings: Settings, consent: Consent
) -> Subscription | None:
    """The pending subscription the consent answers, if it is valid and in time."""
    reserved = consent.reserved
    if not (0 < len(reserved) <= 128 and reserved.isascii() and reserved.isalnum()):
        return None
    row = session.scalar(
        select(Subscription)
        .where(
            Subscription.consent_hash == _consent_hash(reserved),
            Subscription.state == SubscriptionState.PENDING,
        )
        .with_for_update()
    )
    if row is None or row.expires_at is None or row.expires_at <= clock.now():
        return None
    if consent.scene != str(row.scene) or consent.template_id != template_id(settings):
        return None
    return row


def _same_person(settings: Settings, row: Subscription, openid: str) -> bool:
    if not settings.token_pepper:
        return False
    try:
        asked = open_openid(wechat.channel_pepper(settings.token_pepper), row)
    except CryptoError:
        return False
    return hmac.compare_digest(asked.encode("utf-8"), openid.encode("utf-8"))


def forget_subscriber(session: Session, pepper: bytes, openid: str) -> int:
    """Delete every subscription of ``openid`` (``退订``, or the account unfollowed).

    The index is per tip, so every row's is computed again: the table holds only the
    subscriptions of open tips whose reporters opted in, a short list."""
    mine = [
        row.id
        for row in session.execute(
            select(Subscription.id, Subscription.tip_id, Subscription.subscriber_index)
        )
        if hmac.compare_digest(row.subscriber_index, _subscriber_index(pepper, openid, row.tip_id))
    ]
    if mine:
        session.execute(delete(Subscription).where(Subscription.id.in_(mine)))
    return len(mine)
