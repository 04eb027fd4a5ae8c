"""What a reporter may upload, recognised by content, and photos stripped of what identifies them.

DESIGN.md ("Anonymity"): images lose identifying metadata (EXIF GPS, device, XMP, comments)
before encryption; for the other file types the form warns the reporter. Issue 4: JPEG, PNG,
WebP, HEIC, PDF, MP4, DOCX and XLSX are accepted, checked by content, never by name.

* :func:`detect` / :func:`detect_file` name the :class:`FileKind` from magic bytes (and, for
  the two Office formats, from a bounded look at the ZIP central directory); anything else
  is ``None``. :func:`check_upload` is the same with typed errors and the size limits.
* :func:`scrub_image` decodes a photo and encodes its pixels again, so nothing but pixels
  survives: EXIF (GPS, camera make, model and serial numbers, times, the thumbnail), XMP,
  IPTC, comments, PNG text chunks, MPO side images, C2PA/JUMBF and any other segment. A JPEG
  already laid out exactly as that encoder writes one (standard tables, 4:2:0, baseline) is
  not decoded: its coded picture is kept between fresh headers and every other segment
  dropped, which is as clean and costs a millisecond instead of a full decode and encode.
  Orientation is applied first, so the picture still looks right. An embedded ICC colour
  profile is converted away: pixels go to sRGB and the profile is dropped (a profile is
  itself free-form data — description, copyright, sometimes the device model — and sRGB is
  what every browser assumes). HEIC/HEIF photos are converted to JPEG (``pillow-heif``,
  which bundles libheif); :attr:`ScrubResult.kind` is then ``JPEG``.
* Decompression bombs are refused before decoding: at most :data:`MAX_PIXELS` pixels,
  whatever Pillow's own (process-wide, larger) ``Image.MAX_IMAGE_PIXELS`` says; Pillow's
  ``DecompressionBombWarning``/``Error`` are mapped to the same typed error. A damaged or
  truncated picture is a typed error too, never a 500.
* PDF, MP4, DOCX and XLSX are stored as they are: :func:`needs_metadata_warning` says the
  form must warn about the metadata they may carry (author, software, GPS in a video).

No Flask here; errors are :class:`core.errors.InvalidInput` subclasses with English msgids.
"""

from __future__ import annotations

import enum
import functools
import io
import re
import struct
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import BinaryIO, Final

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from core.errors import N_, InvalidInput

MiB: Final = 1 << 20

#: Largest picture decoded, in pixels (about 8660 × 5770; a 48 MP phone photo fits). Decoding
#: needs 3–4 bytes a pixel, twice over while orientation is applied: about 400 MB at most.
MAX_PIXELS: Final = 50_000_000


class FileKind(enum.StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    HEIC = "heic"
    PDF = "pdf"
    MP4 = "mp4"
    DOCX = "docx"
    XLSX = "xlsx"


@dataclass(frozen=True)
class KindSpec:
    """What Qingling knows about one accepted kind of file."""

    kind: FileKind
    mime_type: str
    extension: str  # without the dot, for a stored name when the kind changes (HEIC → JPEG)
    label: str  # an English msgid for display
    max_bytes: int
    scrubbed: bool  # metadata removed by scrub_image; False: the form warns the reporter


def _spec(
    kind: FileKind, mime_type: str, extension: str, label: str, *, scrubbed: bool
) -> KindSpec:
    return KindSpec(kind, mime_type, extension, label, 20 * MiB, scrubbed)


#: The accepted kinds and their limits (issue 4: 20 MB per file; per tip in intake.services).
KINDS: Final[Mapping[FileKind, KindSpec]] = MappingProxyType(
    {
        FileKind.JPEG: _spec(FileKind.JPEG, "image/jpeg", "jpg", N_("JPEG photo"), scrubbed=True),
        FileKind.PNG: _spec(FileKind.PNG, "image/png", "png", N_("PNG image"), scrubbed=True),
        FileKind.WEBP: _spec(FileKind.WEBP, "image/webp", "webp", N_("WebP image"), scrubbed=True),
        FileKind.HEIC: _spec(FileKind.HEIC, "image/heic", "heic", N_("HEIC photo"), scrubbed=True),
        FileKind.PDF: _spec(FileKind.PDF, "application/pdf", "pdf", N_("PDF file"), scrubbed=False),
        FileKind.MP4: _spec(FileKind.MP4, "video/mp4", "mp4", N_("MP4 video"), scrubbed=False),
        FileKind.DOCX: _spec(
            FileKind.DOCX,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
            N_("Word document"),
            scrubbed=False,
        ),
        FileKind.XLSX: _spec(
            FileKind.XLSX,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            N_("Excel workbook"),
            scrubbed=False,
        ),
    }
)
ALLOWED: Final = frozenset(KINDS)
IMAGE_KINDS: Final = frozenset(k for k, spec in KINDS.items() if spec.scrubbed)

# ---------------------------------------------------------------- errors


class UnsupportedFileType(InvalidInput):
    status = 415
    message = N_(
        "This type of file is not accepted. Send photos (JPEG, PNG, WebP or HEIC), PDF, "
        "MP4 videos, Word (.docx) or Excel (.xlsx) files."
    )


class EmptyFile(InvalidInput):
    message = N_("The file is empty.")


class FileTooLarge(InvalidInput):
    status = 413
    message = N_("This file is too large: at most %(limit)s MB.")

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(limit=limit_bytes // MiB)


class UnsafeArchive(InvalidInput):
    """A DOCX/XLSX whose ZIP structure is malformed, encrypted, macro-enabled or a bomb."""

    status = 422
    message = N_(
        "This Word or Excel file is damaged, protected, contains macros or would expand to "
        "an unsafe size, so it was refused. Save it again as a plain .docx or .xlsx file."
    )


class ImageTooLarge(InvalidInput):
    status = 413
    message = N_(
        "This picture is too large to process (more than %(megapixels)s megapixels). "
        "Send a smaller photo or a screenshot of it."
    )

    def __init__(self) -> None:
        super().__init__(megapixels=MAX_PIXELS // 1_000_000)


class BrokenImage(InvalidInput):
    status = 422
    message = N_(
        "This picture is damaged or incomplete and cannot be read. "
        "Send it again or choose another photo."
    )


# ---------------------------------------------------------------- detection

#: Bytes of the head that :func:`detect` looks at (magic numbers and an ``ftyp`` box).
HEAD_BYTES: Final = 4096

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")
# ISO base media file format brands (the ``ftyp`` box). HEIF: HEVC-coded still images and
# sequences, and the generic MIAF/HEIF brands phones also write as the major brand.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})  # HEIF with AV1: not accepted (no decoder here)
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"mmp4"}
    | {b"M4V ", b"MSNV", b"dash"}
)
# QuickTime (.mov, brand "qt  ") is not MP4 and is not accepted (issue 4's list).
_FTYP_MAX = 4096

# ZIP (DOCX, XLSX): only the central directory is read, from at most this many bytes at the end.
ZIP_TAIL_BYTES: Final = 2 * MiB
MAX_ZIP_ENTRIES: Final = 10_000
MAX_ZIP_EXPANDED: Final = 1 << 30  # 1 GiB of uncompressed content at most
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_MAGIC = b"PK\x05\x06"
_LOCAL_HEADER_LEN = 30
_OFFICE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})  # all Office writes


def detect(head: bytes) -> FileKind | None:
    """The accepted kind of a file from its content, or ``None``.

    ``head`` is the start of the file (:data:`HEAD_BYTES` are enough) — or, for DOCX and XLSX,
    whose kind is written in the ZIP central directory at the end, the whole file (use
    :func:`detect_file` on a seekable upload). Never raises; an unsafe ZIP is ``None``.
    """
    try:
        return _detect(bytes(head))
    except UnsafeArchive:
        return None


_MAGIC = ((b"\xff\xd8\xff", FileKind.JPEG), (_PNG_MAGIC, FileKind.PNG), (b"%PDF-", FileKind.PDF))


def _detect(head: bytes) -> FileKind | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:16] in _WEBP_CHUNKS:
        return FileKind.WEBP
    if head[4:8] == b"ftyp":
        return _ftyp_kind(head)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head)
    return None


def _ftyp_kind(head: bytes) -> FileKind | None:
    size = int.from_bytes(head[:4], "big")
    if not 16 <= size <= _FTYP_MAX or size % 4:
        return None
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return None
    if major in _HEIC_BRANDS or major in _HEIF_GENERIC_BRANDS:
        return FileKind.HEIC
    if major in _MP4_BRANDS or (major != b"qt  " and brands & {b"isom", b"mp41", b"mp42"}):
        return FileKind.MP4
    return None


def detect_file(fp: BinaryIO) -> FileKind | None:
    """:func:`detect` for a seekable file (an upload's spool): reads at most
    :data:`HEAD_BYTES` from the start and, for a ZIP, :data:`ZIP_TAIL_BYTES` from the end;
    leaves the position at 0."""
    try:
        return _detect_file(fp)
    except UnsafeArchive:
        return None


def _detect_file(fp: BinaryIO) -> FileKind | None:
    fp.seek(0)
    head = fp.read(HEAD_BYTES)
    try:
        if not head.startswith(b"PK\x03\x04"):
            return _detect(head)
        size = fp.seek(0, io.SEEK_END)
        fp.seek(max(0, size - ZIP_TAIL_BYTES))
        return _zip_kind(fp.read(ZIP_TAIL_BYTES))
    finally:
        fp.seek(0)


def _zip_kind(tail: bytes) -> FileKind | None:
    """DOCX or XLSX from the end of a ZIP file (or the whole of it), else ``None``.

    Raises :class:`UnsafeArchive` for a structure that no Office program writes and that
    could hurt whoever opens it: more than :data:`MAX_ZIP_ENTRIES` entries, more than
    :data:`MAX_ZIP_EXPANDED` bytes once inflated, overlapping entries (the way non-recursive
    zip bombs reach ratios of millions), duplicate names, encryption, unknown compression.
    The count and directory size are checked from the end record before :mod:`zipfile`
    parses anything, and nothing is ever decompressed.
    """
    eocd = tail.rfind(_EOCD_MAGIC, max(0, len(tail) - _EOCD.size - 0xFFFF))
    if eocd < 0 or len(tail) - eocd < _EOCD.size:
        return None  # no end record in what we were given: not a whole ZIP
    _, disk, cd_disk, disk_entries, entries, cd_size, _, _ = _EOCD.unpack_from(tail, eocd)
    if disk or cd_disk or disk_entries != entries:
        raise UnsafeArchive  # split archives: never an Office file
    if entries > MAX_ZIP_ENTRIES or cd_size > eocd:
        raise UnsafeArchive  # also ZIP64's 0xFFFF / 0xFFFFFFFF markers
    try:
        with zipfile.ZipFile(io.BytesIO(tail[: eocd + _EOCD.size])) as archive:
            infos = archive.infolist()
            directory_start = archive.start_dir
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # zipfile's word for a multi-disk archive
        ValueError,
        struct.error,
        EOFError,
    ) as exc:
        raise UnsafeArchive from exc
    names = [info.filename for info in infos]
    if len(infos) != entries or len(set(names)) != len(names):
        raise UnsafeArchive
    expanded = 0
    end_of_previous = None
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.flag_bits & 0x1 or info.compress_type not in _OFFICE_METHODS:
            raise UnsafeArchive  # encrypted, or compressed in a way Office never uses
        if end_of_previous is not None and info.header_offset < end_of_previous:
            raise UnsafeArchive  # overlapping entries
        expanded += info.file_size
        end_of_previous = (
            info.header_offset
            + _LOCAL_HEADER_LEN
            + len(info.orig_filename.encode("utf-8", "surrogateescape"))
            + info.compress_size
        )
    if expanded > MAX_ZIP_EXPANDED or (end_of_previous or 0) > directory_start:
        raise UnsafeArchive
    return _office_kind(set(names))


def _office_kind(names: set[str]) -> FileKind | None:
    if "[Content_Types].xml" not in names:
        return None
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise UnsafeArchive  # macro-enabled (.docm, .xlsm): not a plain document
    word = any(name.startswith("word/") for name in names)
    excel = any(name.startswith("xl/") for name in names)
    if word and not excel and "word/document.xml" in names:
        return FileKind.DOCX
    if excel and not word and "xl/workbook.xml" in names:
        return FileKind.XLSX
    return None  # .xlsb, PowerPoint, OpenDocument, a plain ZIP, …


def check_upload(fp: BinaryIO) -> FileKind:
    """The kind of a seekable upload, or a typed error: empty, unsupported, unsafe, too large.

    The size comes from the file itself (``seek``), not from what the client declared."""
    size = fp.seek(0, io.SEEK_END)
    fp.seek(0)
    if size == 0:
        raise EmptyFile
    try:
        kind = _detect_file(fp)
    finally:
        fp.seek(0)
    if kind is None:
        raise UnsupportedFileType
    if size > KINDS[kind].max_bytes:
        raise FileTooLarge(KINDS[kind].max_bytes)
    return kind


def needs_metadata_warning(kind: FileKind) -> bool:
    """True for kinds stored as uploaded, whose metadata the reporter must be warned about."""
    return not KINDS[kind].scrubbed


# ---------------------------------------------------------------- scrubbing

#: Labels of what :func:`scrub_image` found and removed (stable: they may be stored).
EXIF = "exif"
EXIF_GPS = "exif-gps"
XMP = "xmp"
IPTC = "iptc"
COMMENT = "comment"
ICC_PROFILE = "icc-profile"
TEXT_CHUNKS = "text-chunks"
EXTRA_IMAGES = "extra-images"  # MPO side images, animation frames, HEIF thumbnails and depth maps
OTHER_METADATA = "other-metadata"  # any other JPEG APPn segment (C2PA/JUMBF, FlashPix, …)

_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
_JPEG_QUALITY = 92
_PIL_FORMATS = {FileKind.JPEG: "JPEG", FileKind.PNG: "PNG", FileKind.WEBP: "WEBP"}
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"})
# Known JPEG APPn segments (marker, identifier prefix) reported under their own label.
_KNOWN_APP = (
    ("APP0", b"JFIF", ""),
    ("APP14", b"Adobe", ""),
    ("APP1", b"Exif", EXIF),
    ("APP1", b"http://ns.adobe.com/xap/1.0/", XMP),
    ("APP1", b"http://ns.adobe.com/xmp/extension/", XMP),
    ("APP2", b"ICC_PROFILE", ICC_PROFILE),
    ("APP13", b"Photoshop 3.0", IPTC),
    ("COM", b"", COMMENT),
)
# What Pillow raises for a picture it cannot decode (or whose metadata it cannot parse).
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    struct.error,
    EOFError,
    ZeroDivisionError,
    Warning,  # only raised where warnings are errors (the tests): then refused too
)


@dataclass(frozen=True)
class ScrubResult:
    """A picture re-encoded from its pixels alone.

    ``kind`` is the kind of ``data`` (``JPEG`` for a converted HEIC); ``removed`` lists, with
    the labels above, what the original carried and the copy does not (empty: nothing was
    found, the picture was re-encoded all the same)."""

    data: bytes = field(repr=False)
    kind: FileKind
    removed: list[str]
    width: int
    height: int


def scrub_image(data: bytes, kind: FileKind) -> ScrubResult:
    """Re-encode a JPEG, PNG, WebP or HEIC picture from its pixels, orientation applied.

    JPEG (and HEIC, converted) at quality 92; PNG lossless; WebP lossless when the original is
    (``VP8L``), else quality 92. Animated and multi-picture files keep their first picture.
    A JPEG that is already laid out exactly as this encoder would write it is not decoded at
    all: its metadata segments are dropped and its coded picture kept (see
    :func:`_strip_standard_jpeg`).
    Raises :class:`ImageTooLarge` (decompression bomb), :class:`BrokenImage` (damaged or
    truncated, or not of ``kind``) or ``ValueError`` for a kind that is not a picture.
    """
    if kind not in IMAGE_KINDS:
        raise ValueError(f"{kind} is not a picture kind")
    if kind is FileKind.JPEG:
        stripped = _strip_standard_jpeg(data)
        if stripped is not None:
            return stripped
    if kind is FileKind.HEIC:
        image, found = _open_heic(data)
        out_kind = FileKind.JPEG
    else:
        image, found = _open_pillow(data, kind)
        out_kind = kind
    try:
        image = _to_srgb(image, found)
        transparency = image.info.get("transparency")
        if transparency is not None and out_kind is not FileKind.PNG:
            image, transparency = image.convert("RGBA"), None  # alpha channel instead of tRNS
        image.info = {}  # nothing from the original travels with the pixels
        encoded = _encode(
            image, out_kind, lossless=_webp_is_lossless(data, kind), transparency=transparency
        )
    except (ValueError, OSError) as exc:  # an odd mode the encoder refuses
        raise BrokenImage from exc
    return ScrubResult(encoded, out_kind, sorted(found), image.width, image.height)


# ---------------------------------------------------------------- standard JPEGs, losslessly
#
# Re-encoding costs a full decode and encode (about 20 ms for a 1 MB photo, more than the token
# KDF at lower costs) and makes a re-compressed copy. A JPEG whose coded picture is already
# exactly what this module's encoder would write — baseline, 8-bit, greyscale or YCbCr 4:2:0,
# the IJG quantisation tables at one quality setting, the standard Huffman tables, one
# interleaved scan, no restart markers — needs neither: its metadata segments are dropped and
# the coded picture is copied between headers written afresh, byte for byte those of
# ``_encode`` at that quality. So the result differs from a re-encoded file only in the quality
# setting (the source's, not 92) and in keeping the original's pixels exactly; the tables that
# can tell which camera or app made a photo are never copied (a file with other tables is
# re-encoded). Anything else — an ICC profile to convert, an EXIF orientation to apply, an
# Adobe colour transform, progressive or arithmetic coding, restart intervals, 16-bit tables,
# an odd marker, a file that does not end with EOI — goes the decoding way, which also gives
# the typed errors. Data after EOI (MPO side images, appended videos, vendor trailers) is
# dropped. The coded picture itself is copied as it is, so what only a decode would notice
# stays too: damage inside it (which decoders show as grey blocks and re-encoding would have
# frozen into pixels) and bytes an encoder left between the last block and EOI (which a
# decoder skips and re-encoding would have dropped).

_EOI, _SOF0, _DHT, _DQT, _SOS, _COM = 0xD9, 0xC0, 0xC4, 0xDB, 0xDA, 0xFE
_APP0, _APP15 = 0xE0, 0xEF
# The JFIF header _encode writes: version 1.01, no units, 1:1 density, no thumbnail.
_JFIF = bytes.fromhex("ffe000104a46494600010100000100010000")
# Sampling and table selectors of _encode's output (JPEG component ids 1, 2, 3).
_SOF_COMPONENTS = {1: ((1, 0x22, 0),), 3: ((1, 0x22, 0), (2, 0x11, 1), (3, 0x11, 1))}
_SOS_COMPONENTS = {1: ((1, 0x00),), 3: ((1, 0x00), (2, 0x11), (3, 0x11))}
# The first byte after an 0xFF in coded data that is neither stuffing (00) nor fill (FF).
_CODED_MARKER = re.compile(rb"\xff[^\x00\xff]")


@dataclass(frozen=True)
class _EncoderTables:
    """The DQT and DHT tables ``_encode`` writes, as their segment payloads (one table each)."""

    quantisation: frozenset[tuple[bytes, ...]]  # (luma,) or (luma, chroma) at one quality
    huffman: Mapping[int, bytes]  # by class/id byte: 0x00, 0x10, 0x01, 0x11


@functools.cache
def _encoder_tables() -> _EncoderTables:
    """Read from this module's own encoder once per process (quality 1 to 100, in colour; a
    greyscale file uses the luminance tables alone)."""
    quantisation: set[tuple[bytes, ...]] = set()
    huffman: dict[int, bytes] = {}
    for quality in range(1, 101):
        out = io.BytesIO()
        Image.new("RGB", (16, 16)).save(out, format="JPEG", quality=quality, subsampling="4:2:0")
        layout = _jpeg_layout(out.getvalue())
        if layout is None:  # pragma: no cover - the encoder's own output always parses
            raise RuntimeError("cannot read the JPEG encoder's own tables")
        luma, chroma = layout.quantisation[0], layout.quantisation[1]
        quantisation |= {(luma, chroma), (luma,)}
        huffman.update(layout.huffman)
    return _EncoderTables(frozenset(quantisation), MappingProxyType(huffman))


@dataclass
class _JpegLayout:
    """What :func:`_jpeg_layout` read from a JPEG's segments."""

    quantisation: dict[int, bytes] = field(default_factory=dict)  # by table id: tq ‖ 64 values
    huffman: dict[int, bytes] = field(default_factory=dict)  # by tc/th byte: it ‖ counts ‖ values
    frame: bytes = b""  # the SOF0 payload
    scan: bytes = b""  # the SOS payload
    coded: bytes = b""  # the entropy-coded picture, without fill bytes
    applist: list[tuple[str, bytes]] = field(default_factory=list)  # (APPn or COM, payload)
    trailer: bytes = b""  # after EOI


def _jpeg_layout(data: bytes) -> _JpegLayout | None:  # noqa: PLR0911, PLR0912 - one parser
    """The segments of a single-scan baseline JPEG, or None for anything else (including
    damage): the caller then decodes the file the ordinary way."""
    if not data.startswith(b"\xff\xd8"):
        return None
    layout = _JpegLayout()
    position = 2
    while True:
        if position + 4 > len(data) or data[position] != 0xFF:
            return None
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        payload = data[position + 4 : position + 2 + length]
        if length < 2 or len(payload) != length - 2:
            return None
        position += 2 + length
        if _APP0 <= marker <= _APP15 or marker == _COM:
            name = "COM" if marker == _COM else f"APP{marker - _APP0}"
            layout.applist.append((name, payload))
        elif marker == _DQT:
            while payload:
                if payload[0] >> 4 or len(payload) < 65 or payload[0] in layout.quantisation:
                    return None  # 16-bit tables, cut short, or redefined
                layout.quantisation[payload[0]] = payload[:65]
                payload = payload[65:]
        elif marker == _DHT:
            while payload:
                size = 17 + sum(payload[1:17])
                if len(payload) < size or payload[0] in layout.huffman:
                    return None
                layout.huffman[payload[0]] = payload[:size]
                payload = payload[size:]
        elif marker == _SOF0 and not layout.frame:
            layout.frame = payload
        elif marker == _SOS and layout.frame:
            layout.scan = payload
            break
        else:  # other frames, DRI, DNL, a second SOF0, a marker out of place
            return None
    found = _CODED_MARKER.search(data, position)
    if found is None or data[found.start() + 1] != _EOI:
        return None  # no end, restart markers, or more scans
    layout.coded = data[position : found.start()].rstrip(b"\xff")
    layout.trailer = data[found.end() :]
    return layout if layout.coded else None


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _strip_standard_jpeg(data: bytes) -> ScrubResult | None:  # noqa: PLR0911 - one check each
    """The picture of a JPEG laid out as ``_encode`` writes it, between fresh headers, or None
    when it must be decoded and re-encoded (see the section comment above)."""
    layout = _jpeg_layout(data)
    if layout is None or len(layout.frame) < 6:
        return None
    precision = layout.frame[0]
    height = int.from_bytes(layout.frame[1:3], "big")
    width = int.from_bytes(layout.frame[3:5], "big")
    count = layout.frame[5]
    components = _SOF_COMPONENTS.get(count)
    if precision != 8 or components is None or not 0 < width * height <= MAX_PIXELS:
        return None
    if layout.frame[6:] != bytes(b for c in components for b in c):
        return None
    if layout.scan != bytes((count, *(b for c in _SOS_COMPONENTS[count] for b in c), 0, 63, 0)):
        return None
    tables = _encoder_tables()
    used = sorted(layout.quantisation)
    if used != list(range(len(used))) or len(used) != (1 if count == 1 else 2):
        return None
    quantisation = tuple(layout.quantisation[i] for i in used)
    huffman_ids = (0x00, 0x10) if count == 1 else (0x00, 0x10, 0x01, 0x11)
    if quantisation not in tables.quantisation or sorted(layout.huffman) != sorted(huffman_ids):
        return None
    if any(layout.huffman[i] != tables.huffman.get(i) for i in huffman_ids):
        return None
    found = _segment_labels(layout)
    if found is None:
        return None
    stripped = b"".join(
        (
            b"\xff\xd8",
            _JFIF,
            *(_segment(_DQT, table) for table in quantisation),
            _segment(_SOF0, layout.frame),
            *(_segment(_DHT, layout.huffman[i]) for i in huffman_ids),
            _segment(_SOS, layout.scan),
            layout.coded,
            b"\xff\xd9",
        )
    )
    return ScrubResult(stripped, FileKind.JPEG, sorted(found), width, height)


def _segment_labels(layout: _JpegLayout) -> set[str] | None:
    """Labels of the metadata dropped, or None when a segment changes how the pixels look (an
    ICC profile, an EXIF orientation other than upright, an Adobe colour transform)."""
    found: set[str] = set()
    for marker, payload in layout.applist:
        if marker == "APP2" and payload.startswith(b"ICC_PROFILE"):
            return None
        if marker == "APP14" and payload.startswith(b"Adobe"):
            return None
        if marker == "APP1" and payload.startswith(b"Exif"):
            try:
                orientation = Image.Exif()
                orientation.load(payload)
                upright = orientation.get(_ORIENTATION, 1) == 1
            except _DECODE_ERRORS:
                return None  # an orientation we cannot read: let the decoder decide
            if not upright:
                return None
            found |= {EXIF} | _exif_labels(payload)
    found |= _app_labels(layout.applist)
    if layout.trailer.strip(b"\x00"):
        found.add(EXTRA_IMAGES if b"\xff\xd8\xff" in layout.trailer else OTHER_METADATA)
    return found


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise BrokenImage
    if width * height > MAX_PIXELS:
        raise ImageTooLarge


def _open_pillow(data: bytes, kind: FileKind) -> tuple[Image.Image, set[str]]:
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge from exc
    except _DECODE_ERRORS as exc:
        raise BrokenImage from exc
    try:
        _check_pixels(image.size)  # from the header: before a single pixel is decoded
        image.load()  # the first frame only; a truncated file fails here
        found = _metadata_of(image, kind)  # after load: PNG text chunks may follow the pixels
        oriented = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge from exc
    except _DECODE_ERRORS as exc:
        raise BrokenImage from exc
    finally:
        image.close()
    if oriented is None:  # only with in_place=True; keeps mypy and a future Pillow honest
        raise BrokenImage
    _check_pixels(oriented.size)
    return oriented, found


def _metadata_of(image: Image.Image, kind: FileKind) -> set[str]:
    """Labels of the metadata ``image`` carries (read from the headers Pillow parsed)."""
    info = image.info
    found = _exif_labels(image) | _app_labels(getattr(image, "applist", ()))
    if info.get("exif"):
        found.add(EXIF)
    if info.get("xmp") or "XML:com.adobe.xmp" in info:
        found.add(XMP)
    if info.get("photoshop") or any("iptc" in str(key).lower() for key in info):
        found.add(IPTC)
    if info.get("comment"):
        found.add(COMMENT)
    if info.get("icc_profile"):
        found.add(ICC_PROFILE)
    if kind is FileKind.PNG and getattr(image, "text", None):
        found.add(TEXT_CHUNKS)
    if getattr(image, "n_frames", 1) > 1:
        found.add(EXTRA_IMAGES)
    return found


def _exif_labels(source: Image.Image | bytes) -> set[str]:
    found: set[str] = set()
    try:
        if isinstance(source, bytes):
            exif = Image.Exif()
            exif.load(source)
        else:
            exif = source.getexif()
        if len(exif):
            found.add(EXIF)
        if exif.get_ifd(_GPS_IFD):
            found.add(EXIF_GPS)
    except _DECODE_ERRORS:
        found.add(EXIF)  # present but unparseable: gone all the same
    return found


def _app_labels(applist: Iterable[tuple[str, bytes]]) -> set[str]:
    """Labels of a JPEG's APPn and COM segments (Pillow's ``applist``: marker name and
    payload); unknown ones are OTHER_METADATA."""
    found: set[str] = set()
    for marker, payload in applist:
        labels = [
            label
            for known, prefix, label in _KNOWN_APP
            if known == marker and payload.startswith(prefix)
        ]
        found.update(label for label in labels if label)
        if not labels:
            found.add(OTHER_METADATA)
    return found


def _open_heic(data: bytes) -> tuple[Image.Image, set[str]]:
    """Decode the primary picture of a HEIC/HEIF file with pillow-heif (libheif).

    libheif applies the container's rotation and mirroring while decoding, and pillow-heif
    resets the EXIF orientation to 1 to match, so no EXIF transpose follows. The size is
    checked from the container before any pixel is decoded; libheif's own security limits
    stay on. Imported here so the public site loads libheif only for a HEIC upload."""
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        _check_pixels(heif.size)
        info = heif.info
        image = heif.to_pillow()
        images = len(heif)
    except (ImageTooLarge, BrokenImage):
        raise
    except (RuntimeError, *_DECODE_ERRORS) as exc:
        raise BrokenImage from exc
    found: set[str] = set()
    if info.get("exif"):
        found |= {EXIF} | _exif_labels(bytes(info["exif"]))
    if info.get("xmp"):
        found.add(XMP)
    if info.get("metadata"):
        found.add(OTHER_METADATA)
    if info.get("icc_profile"):
        found.add(ICC_PROFILE)
    if images > 1 or info.get("thumbnails") or info.get("depth_images") or info.get("aux"):
        found.add(EXTRA_IMAGES)
    return image, found


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(image: Image.Image, found: set[str]) -> Image.Image:
    """Pixels in sRGB without an embedded profile (CMYK and odd modes converted too)."""
    icc = image.info.get("icc_profile")
    if icc and image.mode in {"RGB", "RGBA", "CMYK"}:
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # a broken profile: the pixels stay as they are, profile dropped
        if converted is not None:
            found.add(ICC_PROFILE)
            return converted
    if image.mode == "CMYK":
        return image.convert("RGB")
    return image


def _webp_is_lossless(data: bytes, kind: FileKind) -> bool:
    """A WebP whose (first) image is VP8L, the lossless codec; extended files (VP8X) are
    scanned chunk by chunk for the first VP8/VP8L."""
    if kind is not FileKind.WEBP:
        return False
    position = 12
    while position + 8 <= len(data):
        fourcc = data[position : position + 4]
        if fourcc == b"VP8L":
            return True
        if fourcc == b"VP8 ":
            return False
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        if fourcc == b"ANMF":  # an animation frame: its image chunks are inside it
            position += 8 + 16
            continue
        position += 8 + length + (length & 1)
    return False


def _encode(
    image: Image.Image, kind: FileKind, *, lossless: bool, transparency: object = None
) -> bytes:
    out = io.BytesIO()
    if kind is FileKind.JPEG:
        if image.mode not in {"L", "RGB"}:
            image = image.convert("RGB")
        # No ``optimize`` (a second Huffman pass): it saves ~15 % of the bytes and costs
        # about 2.5x the encoding time, the largest part of a photo submission's extra work
        # after the token KDF (bench/intake.py). Subsampling is fixed at 4:2:0 rather than
        # copied from the original, and so are the quantisation tables (``quality``, never
        # "keep"): both can tell which camera or app made a photo.
        image.save(out, format="JPEG", quality=_JPEG_QUALITY, subsampling="4:2:0")
    elif kind is FileKind.PNG:
        if image.mode not in _PNG_MODES:
            image, transparency = image.convert("RGBA"), None
        if transparency is None:
            image.save(out, format="PNG")
        else:  # the tRNS chunk of a palette or grey image: pixels, not metadata
            image.save(out, format="PNG", transparency=transparency)
    else:
        if image.mode not in {"RGB", "RGBA"}:
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        if lossless:
            image.save(out, format="WEBP", lossless=True, quality=100, method=4)
        else:
            image.save(out, format="WEBP", quality=_JPEG_QUALITY, method=4)
    return out.getvalue()
