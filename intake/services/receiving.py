"""Receiving a tip from a channel (web form, JSON API; WeChat later): the one service the
public site's views call.

:func:`receive_tip` checks the uploaded files by content (``intake.media``), checks that a
chosen facility is registered, finds the key groups to seal to (``core.keys.services.
tip_recipients``: the division's triage group if it has one, the city triage group and the
recovery group, each checked against the pinned verifying key and the public site's pins) and
stores the tip with :func:`intake.services.submit_tip`.

Files are stored under neutral names (``photo-1.jpg``, ``file-2.pdf``): a file's own name
often says when and on which device it was made (``IMG_20251127_2130.jpg``) or who wrote it, and
officers gain little from it. Photos are scrubbed (``media.scrub_image``: re-encoded from
their pixels, or, for a JPEG already laid out as that encoder writes, stripped of every
metadata segment) one at a time while the tip is stored, so at most one decoded photo is in
memory.

Nothing is committed here. An error raised part-way (a broken third photo, say) leaves rows
flushed: the caller must roll back, which the sites' request handling does for any exception and
the views do explicitly when they turn an error into a form message.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from sqlalchemy.orm import Session

from core.clock import Clock
from core.errors import InvalidInput
from core.keys.pins import KeyPins
from core.keys.services import tip_recipients
from core.settings import Settings
from crypto.stream import CHUNK_SIZE
from intake import errors, media
from intake.services import (
    MAX_ATTACHMENTS,
    MAX_ATTACHMENTS_MB,
    MIB,
    AttachmentInput,
    Receipt,
    TipSubmission,
    submit_tip,
)
from registry.services.facilities import facility_exists


def _size(fp: BinaryIO) -> int:
    size = fp.seek(0, io.SEEK_END)
    fp.seek(0)
    return size


def check_uploads(uploads: Sequence[BinaryIO]) -> list[media.FileKind]:
    """The kind of each file, by content, or :class:`AttachmentRefused` naming the first bad
    one; the count and the total size are checked first, before anything is read."""
    if len(uploads) > MAX_ATTACHMENTS:
        raise errors.TooManyAttachments(MAX_ATTACHMENTS)
    if sum(_size(fp) for fp in uploads) > MAX_ATTACHMENTS_MB * MIB:
        raise errors.AttachmentsTooLarge(MAX_ATTACHMENTS_MB)
    kinds = []
    for position, fp in enumerate(uploads, start=1):
        try:
            kinds.append(media.check_upload(fp))
        except InvalidInput as exc:
            raise errors.AttachmentRefused(
                position, exc.message, exc.status, **exc.params
            ) from None
    return kinds


def _attachments(
    uploads: Sequence[BinaryIO], kinds: Sequence[media.FileKind]
) -> Iterator[AttachmentInput]:
    """Each file as an attachment, photos scrubbed, as ``submit_tip`` asks for the next one."""
    for position, (fp, kind) in enumerate(zip(uploads, kinds, strict=True), start=1):
        if kind in media.IMAGE_KINDS:
            fp.seek(0)
            try:
                scrubbed = media.scrub_image(fp.read(), kind)
            except InvalidInput as exc:
                raise errors.AttachmentRefused(
                    position, exc.message, exc.status, **exc.params
                ) from None
            spec = media.KINDS[scrubbed.kind]
            data = scrubbed.data
            yield AttachmentInput(
                name=f"photo-{position}.{spec.extension}",
                content_type=spec.mime_type,
                stream=(data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)),
                scrubbed=True,
            )
        else:
            spec = media.KINDS[kind]
            fp.seek(0)
            yield AttachmentInput(
                name=f"file-{position}.{spec.extension}",
                content_type=spec.mime_type,
                stream=iter(lambda fp=fp: fp.read(CHUNK_SIZE), b""),  # type: ignore[misc]
                scrubbed=False,
            )


def receive_tip(
    session: Session,
    clock: Clock,
    settings: Settings,
    submission: TipSubmission,
    uploads: Sequence[BinaryIO] = (),
) -> Receipt:
    """Check, seal and store a tip from any channel; the receipt carries the token to show
    once. Raises the typed errors of ``submit_tip``, :class:`AttachmentRefused`,
    :class:`UnknownFacility`, and ``core.keys`` errors (503) when the key groups are not set
    up or a key record fails its check."""
    kinds = check_uploads(uploads)
    if (
        isinstance(submission.facility_id, int)
        and not isinstance(submission.facility_id, bool)
        and submission.facility_id >= 1
        and not submission.facility_name.strip()
        # Only whether it exists: the public site's role may not read a facility's contacts.
        and not facility_exists(session, submission.facility_id)
    ):
        raise errors.UnknownFacility()
    division = submission.division_id if isinstance(submission.division_id, int) else None
    recipients = tip_recipients(session, settings, division, KeyPins.for_settings(settings))
    return submit_tip(
        session, clock, settings, recipients, submission, _attachments(uploads, kinds)
    )
