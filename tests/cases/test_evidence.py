"""Evidence files: recognised by content, photos scrubbed of metadata, size and count caps,
stored in the database and read back only by readers of the case."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from cases import errors
from cases import services as cases
from cases.models import CaseEvidence, CaseState
from cases.services import evidence
from core.errors import Forbidden
from intake import media
from tests.cases.conftest import CaseWorld, jpeg_with_gps, png_bytes, upload

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _stored(cw: CaseWorld, case_id: uuid.UUID) -> list[CaseEvidence]:
    return list(
        cw.dbs.scalars(
            select(CaseEvidence)
            .where(CaseEvidence.case_id == case_id)
            .order_by(CaseEvidence.filename)
        )
    )


def test_photos_lose_their_metadata(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    cases.add_progress(
        *cw.args(), case_id, note="现场照片。", files=[upload(original, "IMG_0001.JPG")]
    )
    [stored] = _stored(cw, case_id)
    assert stored.media_type == "image/jpeg"
    assert stored.filename == "IMG_0001.jpg"
    assert stored.size == len(stored.data)
    exif = Image.open(io.BytesIO(stored.data)).getexif()
    assert not exif.get_ifd(0x8825)
    assert b"Officer Phone X" not in stored.data
    downloaded = cases.read_evidence(cw.dbs, cw.user("supervisor"), case_id, stored.id)
    assert downloaded.data == stored.data
    assert downloaded.inline


def test_documents_are_kept_as_they_are(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cases.add_progress(
        *cw.args(),
        case_id,
        note="整改方案。",
        files=[upload(PDF, "../../整改方案.exe"), upload(png_bytes(), "a.png")],
    )
    names = [(e.filename, e.media_type) for e in _stored(cw, case_id)]
    assert names == [("a.png", "image/png"), ("整改方案.pdf", "application/pdf")]
    pdf = next(e for e in _stored(cw, case_id) if e.media_type == "application/pdf")
    assert pdf.data == PDF
    assert not cases.read_evidence(cw.dbs, cw.user("officer"), case_id, pdf.id).inline


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"MZ\x90\x00 not a picture", media.UnsupportedFileType),
        (b"<html><script>alert(1)</script></html>", media.UnsupportedFileType),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", media.UnsupportedFileType),
        (b"\xff\xd8\xff\xe0 broken jpeg", media.BrokenImage),
    ],
)
def test_other_content_is_refused(
    case_world: CaseWorld, data: bytes, error: type[Exception]
) -> None:
    cw = case_world
    case_id = cw.open()
    with pytest.raises(error):
        cases.add_progress(*cw.args(), case_id, note="附件。", files=[upload(data, "photo.jpg")])
    assert _stored(cw, case_id) == []


def test_empty_entries_are_skipped_and_empty_files_refused(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cases.add_progress(*cw.args(), case_id, note="无附件。", files=[upload(b"", "")])
    assert _stored(cw, case_id) == []
    with pytest.raises(media.EmptyFile):
        cases.add_progress(*cw.args(), case_id, note="空文件。", files=[upload(b"", "a.png")])


def test_size_and_count_caps(case_world: CaseWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    cw = case_world
    case_id = cw.open()
    with pytest.raises(errors.TooManyFiles):
        cases.add_progress(
            *cw.args(),
            case_id,
            note="照片。",
            files=[upload() for _ in range(evidence.FILES_MAX + 1)],
        )
    big = PDF + b"0" * evidence.FILE_MAX_BYTES
    with pytest.raises(errors.EvidenceTooLarge):
        cases.add_progress(*cw.args(), case_id, note="大文件。", files=[upload(big, "a.pdf")])
    cases.add_progress(*cw.args(), case_id, note="照片。", files=[upload(PDF, "a.pdf")])
    monkeypatch.setattr(evidence, "CASE_MAX_BYTES", len(PDF) + 10)
    with pytest.raises(errors.CaseEvidenceFull):
        cases.add_progress(*cw.args(), case_id, note="照片。", files=[upload(PDF, "b.pdf")])
    assert len(_stored(cw, case_id)) == 1


def test_evidence_is_read_in_scope_only(case_world: CaseWorld) -> None:
    cw = case_world
    case_id = cw.open()
    cw.drive(case_id, CaseState.AWAITING_ACCEPTANCE)
    [stored] = _stored(cw, case_id)
    for name in ("officer", "triage_own", "triage_city", "supervisor", "finance_officer"):
        assert cases.read_evidence(cw.dbs, cw.user(name), case_id, stored.id).data
    for name in ("officer_other", "triage_other", "administrator", "auditor"):
        with pytest.raises(Forbidden):
            cases.read_evidence(cw.dbs, cw.user(name), case_id, stored.id)
    other_case = cw.open()
    with pytest.raises(errors.EvidenceNotFound):
        cases.read_evidence(cw.dbs, cw.user("officer"), other_case, stored.id)
