"""Photos a reporter sent in the chat: stored by the download job, read by triage officers.

When a tip is filed over WeChat its photos are still at Tencent (a MediaId each, valid three
days). The job (:mod:`intake.wechat.jobs`) downloads each, checks that it is a picture by its
content, re-encodes it from its pixels (``intake.media.scrub_image``: no EXIF, GPS, device or
XMP) and stores it here: encrypted (AES-256-GCM, ``crypto.envelope.wrap``) under a fresh
per-photo key, that key sealed (HPKE) to the key groups of the tip's division — the groups
:func:`core.keys.services.tip_recipients` gives for a new tip, checked against the pinned
verifying key. The job has no access to the tip's data key, which is why a photo has its own
key. The hashes of what was stored go into the audit chain (``tip.wechat_photo_added``), as a
tip's envelopes do at submission.

Officers read them with :func:`read_photo` (role, division and key checked here, every read
audited as ``tip.attachment_read``), listed by :func:`tip_photos`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.audit import services as audit
from core.audit.services import SYSTEM_ACTOR, actor_of
from core.clock import Clock, HourClock
from core.keys import services as keys
from core.keys.models import GroupGrant, GroupKind, KeyGroup, PersonalKey
from core.keys.pins import KeyPins
from core.settings import Settings
from crypto import envelope, wechat
from crypto.errors import CryptoError
from intake import errors, media
from intake.models import Tip
from intake.wechat.models import Photo, PhotoKey, PhotoState
from triage import errors as triage_errors
from triage.services.common import officer_tip

PHOTO_PURPOSE = "wechat/photo"
PHOTO_TYPE_PURPOSE = "wechat/photo-type"
ADDED = "tip.wechat_photo_added"
LOST = "tip.wechat_photo_lost"
#: The action triage writes for an attachment read; a WeChat photo is one to the officer.
READ = "tip.attachment_read"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_photo(
    session: Session,
    clock: Clock,
    settings: Settings,
    photo: Photo,
    picture: media.ScrubResult,
) -> None:
    """Encrypt a scrubbed picture into ``photo`` (a pending row), seal its key to the tip's
    key groups and audit the stored envelopes' hashes. Raises the ``core.keys`` errors (503)
    when the key groups cannot be used; nothing is changed then."""
    tip = session.get(Tip, photo.tip_id)
    if tip is None:  # the tip went (retention): the row went with it by cascade
        raise errors.TipNotFound()
    recipients = keys.tip_recipients(
        session, settings, tip.division_id, KeyPins.for_settings(settings)
    )
    photo_key = wechat.new_photo_key()
    spec = media.KINDS[picture.kind]
    context = (photo.tip_id, photo.id)
    content_enc = envelope.wrap(photo_key, picture.data, purpose=PHOTO_PURPOSE, context=context)
    type_enc = envelope.wrap(
        photo_key, spec.mime_type.encode("ascii"), purpose=PHOTO_TYPE_PURPOSE, context=context
    )
    sealed = []
    for recipient in recipients:
        blob = wechat.seal_photo_key(
            recipient.public_key,
            photo_key,
            tip_id=photo.tip_id,
            photo_id=photo.id,
            group_id=recipient.group_id,
            group_version=recipient.version,
        )
        session.add(
            PhotoKey(
                photo_id=photo.id,
                group_id=recipient.group_id,
                group_version=recipient.version,
                envelope=blob,
            )
        )
        sealed.append([recipient.group_id, recipient.version, _sha256(blob)])
    photo.state = PhotoState.STORED
    photo.media_id_enc = None
    photo.next_attempt_at = None
    photo.content_enc = content_enc
    photo.content_type_enc = type_enc
    audit.record(
        session,
        HourClock(clock),
        SYSTEM_ACTOR,
        ADDED,
        "tip",
        str(photo.tip_id),
        {
            "photo": str(photo.id),
            "position": photo.position,
            "scrubbed": True,
            "content_sha256": _sha256(content_enc),
            "content_type_sha256": _sha256(type_enc),
            "keys": sealed,
        },
    )


def give_up(session: Session, clock: Clock, photo: Photo, reason: str) -> None:
    """Mark a photo that cannot be had (``expired``, ``unknown_media``, ``not_a_picture``,
    ``damaged``, ``too_large``): the MediaId is forgotten, the officer sees that it is missing."""
    photo.state = PhotoState.FAILED
    photo.media_id_enc = None
    photo.next_attempt_at = None
    audit.record(
        session,
        HourClock(clock),
        SYSTEM_ACTOR,
        LOST,
        "tip",
        str(photo.tip_id),
        {"photo": str(photo.id), "position": photo.position, "reason": reason},
    )


# ---------------------------------------------------------------- officers


@dataclass(frozen=True)
class PhotoInfo:
    id: uuid.UUID
    position: int
    state: PhotoState


@dataclass(frozen=True)
class OpenedPhoto:
    id: uuid.UUID
    content_type: str
    data: bytes = field(repr=False)


def tip_photos(session: Session, actor: User, tip_id: uuid.UUID) -> list[PhotoInfo]:
    """The WeChat photos of a tip (waiting, stored or lost), for a triage officer in scope
    (:class:`Forbidden` otherwise). Nothing is decrypted, so nothing is audited."""
    officer_tip(session, actor, tip_id)
    rows = session.execute(
        select(Photo.id, Photo.position, Photo.state)
        .where(Photo.tip_id == tip_id)
        .order_by(Photo.position)
    )
    return [PhotoInfo(row.id, row.position, row.state) for row in rows]


def read_photo(
    session: Session,
    clock: Clock,
    settings: Settings,
    actor: User,
    tip_id: uuid.UUID,
    *,
    photo_id: uuid.UUID,
    personal_key: bytes,
) -> OpenedPhoto:
    """A stored photo decrypted for a triage officer in scope who holds a grant of a group
    version it was sealed to. :class:`Forbidden` (role, division), :class:`AttachmentNotFound`
    (another tip's, or not stored), :class:`NoTipKey` (no grant), :class:`AttachmentDamaged`.
    Writes ``tip.attachment_read``."""
    tip = officer_tip(session, actor, tip_id)
    photo = session.get(Photo, photo_id)
    if photo is None or photo.tip_id != tip.id or photo.state is not PhotoState.STORED:
        raise errors.AttachmentNotFound()
    row = session.execute(
        select(PhotoKey.group_id, PhotoKey.group_version, PhotoKey.envelope)
        .join(KeyGroup, KeyGroup.id == PhotoKey.group_id)
        .join(
            GroupGrant,
            (GroupGrant.group_id == PhotoKey.group_id)
            & (GroupGrant.group_version == PhotoKey.group_version),
        )
        .join(
            PersonalKey,
            (PersonalKey.user_id == GroupGrant.user_id)
            & (PersonalKey.version == GroupGrant.user_key_version),
        )
        .where(
            PhotoKey.photo_id == photo.id,
            GroupGrant.user_id == actor.id,
            KeyGroup.kind == GroupKind.TRIAGE,
            (KeyGroup.division_id.is_(None)) | (KeyGroup.division_id == tip.division_id),
        )
        .order_by(PhotoKey.group_version.desc(), PhotoKey.group_id)
        .limit(1)
    ).first()
    if row is None:
        raise triage_errors.NoTipKey()
    group_key = keys.unlock_group(session, actor, personal_key, row.group_id, row.group_version)
    opened = open_photo(
        session,
        photo,
        group_id=row.group_id,
        group_version=row.group_version,
        group_private_key=group_key,
    )
    audit.record(
        session,
        clock,
        actor_of(actor),
        READ,
        "tip",
        str(tip.id),
        {
            "wechat_photo": str(photo.id),
            "group_id": row.group_id,
            "group_version": row.group_version,
        },
    )
    return opened


def open_photo(
    session: Session,
    photo: Photo,
    *,
    group_id: int,
    group_version: int,
    group_private_key: bytes,
) -> OpenedPhoto:
    """Decrypt a stored photo with a group key it was sealed to. No access check: the caller
    checks role and scope (:func:`read_photo` is the officers' way in)."""
    if photo.content_enc is None or photo.content_type_enc is None:
        raise errors.AttachmentNotFound()
    sealed = session.scalar(
        select(PhotoKey.envelope).where(
            PhotoKey.photo_id == photo.id,
            PhotoKey.group_id == group_id,
            PhotoKey.group_version == group_version,
        )
    )
    if sealed is None:
        raise errors.WrongKey()
    context = (photo.tip_id, photo.id)
    try:
        photo_key = wechat.open_photo_key(
            group_private_key,
            sealed,
            tip_id=photo.tip_id,
            photo_id=photo.id,
            group_id=group_id,
            group_version=group_version,
        )
        data = envelope.unwrap(photo_key, photo.content_enc, purpose=PHOTO_PURPOSE, context=context)
        content_type = envelope.unwrap(
            photo_key, photo.content_type_enc, purpose=PHOTO_TYPE_PURPOSE, context=context
        ).decode("ascii")
    except (CryptoError, UnicodeDecodeError):
        raise errors.AttachmentDamaged() from None
    return OpenedPhoto(photo.id, content_type, data)
