"""Timed work of the WeChat channel, run by ``qingling jobs run-due`` (``core.cli``).

* **Expiry**: conversations idle for 30 minutes, cached replies older than 60 seconds (also
  removed by every push), consent links not used in time.
* **Photos**: each waiting photo is downloaded (``media/get``), checked to be a picture by its
  content, stripped of its metadata and stored encrypted under its own key sealed to the
  tip's key groups (:mod:`intake.wechat.photos`); the MediaId is then forgotten. A failed
  download is tried again with a growing pause until WeChat's three days are over.
* **Notifications**: an active subscription whose tip changed state since the consent gets its
  one message, and goes; subscriptions of closed tips go.

On PostgreSQL the rows are taken with ``FOR UPDATE SKIP LOCKED``, so several nodes may run the
job at once. The job needs the public site's token pepper (the channel's keys derive from it)
and the WeChat AppID and AppSecret; run it where the public site's secrets are (the public
host, or the one host of an embedded setup). It prints counts, never an id that could be
linked to a WeChat user, nor any content.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import ColumnElement, String, and_, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import N_, DomainError, InvalidInput
from core.settings import Settings
from crypto import envelope, wechat
from crypto.errors import CryptoError
from intake import media
from intake.models import Tip, TipState
from intake.wechat import conversation, notifications, photos, texts
from intake.wechat.api import MAX_MEDIA, ApiError, WeChatApi
from intake.wechat.models import Photo, PhotoState, Subscription, SubscriptionState

log = logging.getLogger(__name__)

#: Photos downloaded by one run (each may take seconds).
PHOTO_BATCH = 20
NOTIFY_BATCH = 50
#: The pause after the n-th failed download: 5 min × 2^(n-1), at most 6 hours.
FIRST_PAUSE = dt.timedelta(minutes=5)
LONGEST_PAUSE = dt.timedelta(hours=6)


def run_due(session: Session, clock: Clock, settings: Settings) -> list[str]:
    """Do what is due and return the lines ``qingling jobs run-due`` prints (counts only)."""
    now = clock.now()
    idle, replies = conversation.purge_expired(session, now)
    consents = session.execute(
        delete(Subscription).where(
            Subscription.state == SubscriptionState.PENDING, Subscription.expires_at <= now
        )
    ).rowcount  # type: ignore[attr-defined]
    lines = [
        (
            f"wechat: expired {idle} conversation(s), {replies} cached reply(ies), "
            f"{consents or 0} unused consent link(s)"
        )
    ]
    if not settings.token_pepper:
        waiting = _count(session, Photo.state == PhotoState.PENDING)
        lines.append(
            f"wechat: the token pepper is not on this host, so {waiting} waiting photo(s) and "
            "the notifications were left for a run on the public host"
        )
        return lines
    pepper = wechat.channel_pepper(settings.token_pepper)
    api = WeChatApi(settings)
    stored, lost, waiting = download_photos(session, clock, settings, api, pepper)
    lines.append(f"wechat photos: {stored} stored, {lost} lost, {waiting} still waiting")
    sent, dropped, ended = send_notifications(session, settings, api, pepper)
    lines.append(
        f"wechat notifications: {sent} sent, {dropped} dropped, {ended} ended with their report"
    )
    return lines


def _count(session: Session, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(Photo).where(where)) or 0)


# ---------------------------------------------------------------- photos


def _pause(attempts: int) -> dt.timedelta:
    pause: dt.timedelta = FIRST_PAUSE * (2 ** min(10, max(0, attempts - 1)))
    return min(pause, LONGEST_PAUSE)


def download_photos(
    session: Session, clock: Clock, settings: Settings, api: WeChatApi, pepper: bytes
) -> tuple[int, int, int]:
    """Fetch and store the photos that are due; (stored, lost, still waiting)."""
    now = clock.now()
    rows = session.scalars(
        select(Photo)
        .where(Photo.state == PhotoState.PENDING, Photo.next_attempt_at <= now)
        .order_by(Photo.next_attempt_at, Photo.tip_id, Photo.position)
        .limit(PHOTO_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    stored = lost = 0
    media_key = wechat.channel_key(pepper, "media-id")
    for photo in rows:
        outcome = _fetch_one(
            session, clock, settings, api=api, media_key=media_key, photo=photo, now=now
        )
        if outcome == "stored":
            stored += 1
        elif outcome == "lost":
            lost += 1
    waiting = _count(session, Photo.state == PhotoState.PENDING)
    return stored, lost, waiting


def _fetch_one(  # noqa: PLR0911 - one return per outcome
    session: Session,
    clock: Clock,
    settings: Settings,
    *,
    api: WeChatApi,
    media_key: bytes,
    photo: Photo,
    now: dt.datetime,
) -> str:
    if photo.media_expires_at <= now:
        photos.give_up(session, clock, photo, "expired")
        return "lost"
    if photo.media_id_enc is None:  # the CHECK constraint makes this impossible
        photos.give_up(session, clock, photo, "unknown_media")
        return "lost"
    try:
        media_id = envelope.unwrap(
            media_key,
            photo.media_id_enc,
            purpose=conversation.MEDIA_ID_PURPOSE,
            context=(photo.id, photo.tip_id),
        ).decode("ascii")
    except (CryptoError, UnicodeDecodeError):
        photos.give_up(session, clock, photo, "unknown_media")
        return "lost"
    try:
        fetched = api.download_media(media_id)
    except ApiError as exc:
        if exc.permanent:
            photos.give_up(session, clock, photo, "unknown_media")
            return "lost"
        log.warning("WeChat photo download failed (errcode %s); will try again", exc.errcode)
        return _later(photo, now)
    if len(fetched.data) > MAX_MEDIA:
        photos.give_up(session, clock, photo, "too_large")
        return "lost"
    kind = media.detect(fetched.data[: media.HEAD_BYTES])
    if kind not in media.IMAGE_KINDS:
        photos.give_up(session, clock, photo, "not_a_picture")
        return "lost"
    try:
        picture = media.scrub_image(fetched.data, kind)
    except InvalidInput:
        photos.give_up(session, clock, photo, "damaged")
        return "lost"
    try:
        with session.begin_nested():
            photos.store_photo(session, clock, settings, photo, picture)
    except DomainError as exc:  # key groups not usable right now (503), or the tip went
        log.warning("WeChat photo not stored (%s); will try again", type(exc).__name__)
        session.refresh(photo)
        return _later(photo, now)
    return "stored"


def _later(photo: Photo, now: dt.datetime) -> str:
    photo.attempts += 1
    photo.next_attempt_at = now + _pause(photo.attempts)
    return "waiting"


# ---------------------------------------------------------------- notifications


def send_notifications(
    session: Session, settings: Settings, api: WeChatApi, pepper: bytes
) -> tuple[int, int, int]:
    """Send the due one-time messages; (sent, dropped after failures, ended with the tip)."""
    template = notifications.template_id(settings)
    # Only the rows with something to do: an active subscription whose tip changed state, or
    # any subscription of a closed tip (the rest wait, however many there are).
    due = or_(
        Tip.state == TipState.CLOSED,
        and_(
            Subscription.state == SubscriptionState.ACTIVE,
            cast(Tip.state, String) != Subscription.notified_state,
        ),
    )
    rows = session.execute(
        select(Subscription, Tip.state)
        .join(Tip, Tip.id == Subscription.tip_id)
        .where(due)
        .order_by(Subscription.id)
        .limit(NOTIFY_BATCH)
        .with_for_update(skip_locked=True, of=Subscription)
    ).all()
    sent = dropped = ended = 0
    for subscription, state in rows:
        changed = state.value != subscription.notified_state
        active = subscription.state is SubscriptionState.ACTIVE
        if active and changed and template and api.configured:
            outcome = _notify(
                session, api, pepper, template=template, subscription=subscription, state=state
            )
            sent += outcome == "sent"
            dropped += outcome == "dropped"
        elif state is TipState.CLOSED:
            session.delete(subscription)
            ended += 1
    return sent, dropped, ended


def _notify(
    session: Session,
    api: WeChatApi,
    pepper: bytes,
    *,
    template: str,
    subscription: Subscription,
    state: TipState,
) -> str:
    lang = subscription.lang
    label = texts.STATE_LABELS[texts.PLAIN_STATES[state]]
    title = texts.translate(lang, N_("Report update"))
    content = texts.translate(
        lang,
        N_(
            "The state of your report is now: %(state)s. Send 查询 (status) with your "
            "tracking token for the details."
        ),
        state=texts.translate(lang, label),
    )
    try:
        openid = notifications.open_openid(pepper, subscription)
        api.send_subscribe_message(
            openid, template, scene=subscription.scene, title=title, content=content
        )
    except CryptoError:
        session.delete(subscription)
        return "dropped"
    except ApiError as exc:
        subscription.attempts += 1
        if exc.permanent or subscription.attempts >= notifications.MAX_ATTEMPTS:
            session.delete(subscription)
            return "dropped"
        log.warning("WeChat notification not sent (errcode %s); will try again", exc.errcode)
        return "waiting"
    session.delete(subscription)  # one consent, one message
    return "sent"
