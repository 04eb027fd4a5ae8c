"""Evidence files of a case: photos and documents an officer attaches to a progress update,
a submission for acceptance, the acceptance itself or a re-check.

Evidence is **staff material**, not reporter content (see :mod:`cases.models`): it is
stored in the database in the clear, so every reader of the case can open it, and it is not
sealed to a key group. What protects it is the role and division check on every read. The
checks follow intake's for reporters' files all the same, since a photo of a facility's
premises still carries the officer's phone, its GPS position and time:

* the kind is recognised from the content (:func:`intake.media.check_upload`), never from the
  name or the declared type; photos (JPEG, PNG, WebP, HEIC), PDF, Word and Excel files are
  accepted (no video: the files live in the database);
* photos are re-encoded from their pixels (:func:`intake.media.scrub_image`), which drops
  EXIF (GPS, device), XMP, comments and the rest; HEIC becomes JPEG;
* at most :data:`FILE_MAX_BYTES` per file, :data:`FILES_MAX` files per entry and
  :data:`CASE_MAX_BYTES` per case.

Reads are not audited (they open nothing encrypted); uploads are, with count and sizes.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cases import errors
from cases.models import CaseEvidence, CaseUpdate, HazardCase
from cases.services.access import readable_case
from core.accounts.models import User
from core.clock import Clock
from intake import media

MiB = 1024 * 1024
FILE_MAX_BYTES = 10 * MiB
FILES_MAX = 5
CASE_MAX_BYTES = 200 * MiB
NAME_MAX = 100

#: The kinds an officer may attach.
ALLOWED_KINDS = frozenset(
    {
        media.FileKind.JPEG,
        media.FileKind.PNG,
        media.FileKind.WEBP,
        media.FileKind.HEIC,
        media.FileKind.PDF,
        media.FileKind.DOCX,
        media.FileKind.XLSX,
    }
)
#: Shown inline in the page (the rest are downloads).
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


@dataclass(frozen=True)
class Upload:
    """A file as the site received it: the name the browser sent and a seekable stream."""

    filename: str
    stream: BinaryIO = field(repr=False)


@dataclass(frozen=True)
class PreparedFile:
    """An upload checked and (for photos) scrubbed, ready to store."""

    filename: str
    media_type: str
    data: bytes = field(repr=False)
    scrubbed: bool

    @property
    def size(self) -> int:
        return len(self.data)


def _safe_name(name: str, kind: media.FileKind) -> str:
    """The base name of what the browser sent, without control characters or path, with
    the extension of the recognised kind (a HEIC photo becomes ``….jpg``)."""
    base = os.path.basename(name.replace("\\", "/"))
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    )
    stem = base.rsplit(".", 1)[0].strip(" .") if "." in base else base.strip(" .")
    extension = media.KINDS[kind].extension
    stem = stem[: NAME_MAX - len(extension) - 1] or "evidence"
    return f"{stem}.{extension}"


def prepare(uploads: Sequence[Upload], *, required: bool = False) -> list[PreparedFile]:
    """Check and scrub ``uploads`` (empty entries, with no name and no bytes, are skipped).

    Raises :class:`EvidenceRequired` when ``required`` and nothing was sent,
    :class:`TooManyFiles`, :class:`EvidenceTooLarge`, or intake's typed media errors
    (unsupported, empty, unsafe archive, broken or too large picture)."""
    present = []
    for upload in uploads:
        size = upload.stream.seek(0, os.SEEK_END)
        upload.stream.seek(0)
        if size == 0 and not upload.filename:
            continue
        present.append((upload, size))
    if required and not present:
        raise errors.EvidenceRequired()
    if len(present) > FILES_MAX:
        raise errors.TooManyFiles(max=FILES_MAX)
    prepared = []
    for upload, size in present:
        if size > FILE_MAX_BYTES:
            raise errors.EvidenceTooLarge(limit=FILE_MAX_BYTES // MiB)
        kind = media.check_upload(upload.stream)
        if kind not in ALLOWED_KINDS:
            raise media.UnsupportedFileType()
        data = upload.stream.read()
        scrubbed = False
        if kind in media.IMAGE_KINDS:
            result = media.scrub_image(data, kind)
            data, kind, scrubbed = result.data, result.kind, True
        if len(data) > FILE_MAX_BYTES:  # a re-encoded picture can grow a little
            raise errors.EvidenceTooLarge(limit=FILE_MAX_BYTES // MiB)
        prepared.append(
            PreparedFile(
                filename=_safe_name(upload.filename, kind),
                media_type=media.KINDS[kind].mime_type,
                data=data,
                scrubbed=scrubbed,
            )
        )
    return prepared


def check_room(session: Session, case_id: uuid.UUID, files: Sequence[PreparedFile]) -> None:
    """:class:`CaseEvidenceFull` if ``files`` would take the case past :data:`CASE_MAX_BYTES`.
    Call before changing the case (it queries, and a query flushes)."""
    if not files:
        return
    held = session.scalar(
        select(func.coalesce(func.sum(CaseEvidence.size), 0)).where(CaseEvidence.case_id == case_id)
    )
    if int(held or 0) + sum(f.size for f in files) > CASE_MAX_BYTES:
        raise errors.CaseEvidenceFull(limit=CASE_MAX_BYTES // MiB)


def attach(
    session: Session,
    clock: Clock,
    actor: User,
    case: HazardCase,
    *,
    update: CaseUpdate,
    files: Sequence[PreparedFile],
) -> list[uuid.UUID]:
    """Store ``files`` under ``update`` (already added to the session and flushed)."""
    now = clock.now()
    ids = []
    for f in files:
        evidence_id = uuid.uuid4()
        session.add(
            CaseEvidence(
                id=evidence_id,
                case_id=case.id,
                update_id=update.id,
                filename=f.filename,
                media_type=f.media_type,
                size=f.size,
                sha256=hashlib.sha256(f.data).hexdigest(),
                data=f.data,
                created_at=now,
                created_by_id=actor.id,
            )
        )
        ids.append(evidence_id)
    return ids


@dataclass(frozen=True)
class EvidenceDownload:
    filename: str
    media_type: str
    data: bytes = field(repr=False)

    @property
    def inline(self) -> bool:
        return self.media_type in INLINE_TYPES


def read_evidence(
    session: Session, actor: User, case_id: uuid.UUID, evidence_id: uuid.UUID
) -> EvidenceDownload:
    """An evidence file of a case the actor may read."""
    readable_case(session, actor, case_id)
    row = session.execute(
        select(CaseEvidence.filename, CaseEvidence.media_type, CaseEvidence.data).where(
            CaseEvidence.id == evidence_id, CaseEvidence.case_id == case_id
        )
    ).first()
    if row is None:
        raise errors.EvidenceNotFound()
    return EvidenceDownload(row.filename, row.media_type, row.data)
