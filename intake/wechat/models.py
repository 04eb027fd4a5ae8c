"""Tables of the WeChat channel. No column holds an OpenID, a MsgId or a MediaId in the clear.

* ``wechat_conversations``: a conversation in progress, found by HMAC(pepper, OpenID) and
  encrypted under HKDF(pepper, OpenID) (``crypto.wechat.sender_index`` / ``sender_key``); it
  goes at submission, at cancellation, on unsubscribe and 30 minutes after the last message.
* ``wechat_replies``: the reply to each push, kept at most 60 seconds so that WeChat's retries
  of the same push get the same answer; found by a keyed hash of the MsgId (of sender, time and
  event for events), encrypted under the sender's key (the reply to a submission carries the
  new token).
* ``wechat_photos`` and ``wechat_photo_keys``: photos sent during a conversation. At submission
  a row waits with the MediaId encrypted under a server key; the download job fetches it,
  strips its metadata, encrypts it under a fresh per-photo key sealed to the tip's key groups,
  and forgets the MediaId.
* ``wechat_subscriptions``: a reporter's opt-in to one notification when the tip's state
  changes, with the OpenID encrypted under a server key (the job must send to it). Deleted
  when the notification is sent, when the tip closes, on unsubscribe, or when the consent is
  not given in time. The OpenID-to-tip link this row is exists only while it does.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from core.models import Base, str_enum

INDEX_LEN = 32
#: A photo key sealed to a group (crypto.wechat.seal_photo_key): a DATA_KEY envelope.
PHOTO_KEY_ENVELOPE_LEN = 83


class Conversation(Base):
    __tablename__ = "wechat_conversations"
    __table_args__ = (
        CheckConstraint(f"length(sender_index) = {INDEX_LEN}", name="sender_index_length"),
    )

    sender_index: Mapped[bytes] = mapped_column(LargeBinary(INDEX_LEN), primary_key=True)
    # WRAPPED envelope (purpose "wechat/conversation", context the sender index) of the padded
    # JSON of intake.wechat.conversation.Draft.
    state_enc: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class CachedReply(Base):
    __tablename__ = "wechat_replies"
    __table_args__ = (CheckConstraint(f"length(retry_key) = {INDEX_LEN}", name="key_length"),)

    retry_key: Mapped[bytes] = mapped_column(LargeBinary(INDEX_LEN), primary_key=True)
    # WRAPPED envelope under the sender's key; NULL while the first delivery is being answered.
    reply_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class PhotoState(enum.StrEnum):
    PENDING = "pending"  # the MediaId waits for the download job
    STORED = "stored"  # downloaded, scrubbed, encrypted; the MediaId is gone
    FAILED = "failed"  # WeChat no longer had it, or it was not a picture; the MediaId is gone


class Photo(Base):
    __tablename__ = "wechat_photos"
    __table_args__ = (
        UniqueConstraint("tip_id", "position"),
        CheckConstraint("position >= 0", name="position_non_negative"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(
            "state <> 'pending' OR (media_id_enc IS NOT NULL AND next_attempt_at IS NOT NULL "
            "AND content_enc IS NULL)",
            name="pending_has_media_id",
        ),
        CheckConstraint(
            "state <> 'stored' OR (media_id_enc IS NULL AND content_enc IS NOT NULL "
            "AND content_type_enc IS NOT NULL)",
            name="stored_has_content",
        ),
        CheckConstraint(
            "state <> 'failed' OR (media_id_enc IS NULL AND content_enc IS NULL)",
            name="failed_has_nothing",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in which the reporter sent them
    state: Mapped[PhotoState] = mapped_column(
        str_enum(PhotoState, "wechat_photo_state", 10), index=True
    )
    # WRAPPED under channel_key("media-id"), context the photo and tip ids.
    media_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # WeChat deletes a MediaId three days after the message; rounded down to the hour.
    media_expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    # WRAPPED under the photo key: the MIME type and the scrubbed picture.
    content_type_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    @validates("id")
    def _check_id(self, _key: str, value: uuid.UUID) -> uuid.UUID:
        if value.version != 4:
            raise ValueError("photo ids are random UUIDv4")
        return value


class PhotoKey(Base):
    """A photo's key sealed to one version of a key group (the groups of the tip's division
    current when the photo was stored)."""

    __tablename__ = "wechat_photo_keys"
    __table_args__ = (
        CheckConstraint("group_version >= 1", name="group_version_positive"),
        CheckConstraint(f"length(envelope) = {PHOTO_KEY_ENVELOPE_LEN}", name="envelope_length"),
    )

    photo_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("wechat_photos.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    group_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    envelope: Mapped[bytes] = mapped_column(LargeBinary(PHOTO_KEY_ENVELOPE_LEN))


class SubscriptionState(enum.StrEnum):
    PENDING = "pending"  # the consent link was sent; WeChat has not redirected back yet
    ACTIVE = "active"  # consent given: one message may be sent


class Subscription(Base):
    __tablename__ = "wechat_subscriptions"
    __table_args__ = (
        CheckConstraint(f"length(subscriber_index) = {INDEX_LEN}", name="index_length"),
        CheckConstraint("scene >= 0 AND scene <= 10000", name="scene_range"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(
            "state <> 'pending' OR (consent_hash IS NOT NULL AND expires_at IS NOT NULL)",
            name="pending_has_consent",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    tip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tips.id", ondelete="CASCADE"), index=True)
    state: Mapped[SubscriptionState] = mapped_column(
        str_enum(SubscriptionState, "wechat_subscription_state", 10)
    )
    # keyed_hash(pepper, "notify-index", OpenID, tip id): finds the rows to delete on
    # unsubscribe, and links no two reports of one person.
    subscriber_index: Mapped[bytes] = mapped_column(LargeBinary(INDEX_LEN))
    # WRAPPED under channel_key("notify"), context the subscription and tip ids.
    openid_enc: Mapped[bytes] = mapped_column(LargeBinary)
    scene: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the random ``reserved`` value of the consent link (one use).
    consent_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # The tip's state when the reporter subscribed: a change from it is notified.
    notified_state: Mapped[str] = mapped_column(String(30))
    lang: Mapped[str] = mapped_column(String(10))  # the language of the notification
    # Pending: the consent deadline. Active: NULL (the row goes when the tip closes).
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    @validates("id")
    def _check_id(self, _key: str, value: uuid.UUID) -> uuid.UUID:
        if value.version != 4:
            raise ValueError("subscription ids are random UUIDv4")
        return value
