"""File kinds by content, and photos scrubbed of what identifies the reporter (intake.media)."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, PngImagePlugin

from core.errors import InvalidInput
from crypto.spool import EncryptedSpool
from intake import media
from intake.media import FileKind

CANARIES = (b"CanaryMake", b"CanaryModel", b"CANARY-SERIAL", b"CANARY-XMP", b"CANARY-COMMENT")
GPS_IFD = 0x8825
ORIENTATION = 0x0112

# ---------------------------------------------------------------- samples


def identifying_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CanaryMake"  # Make
    exif[0x0110] = "CanaryModel"  # Model
    exif[0x0132] = "2025:11:27 21:30:00"  # DateTime
    exif[ORIENTATION] = orientation
    exif.get_ifd(0x8769)[0xA431] = "CANARY-SERIAL"  # BodySerialNumber, in the Exif IFD
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 52.0, 12.5)  # Zhangjiagang
    gps[3] = "E"
    gps[4] = (120.0, 33.0, 7.25)
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>CANARY-XMP</rdf:RDF></x:xmpmeta>'


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size)
    for x in range(size[0]):
        for y in range(size[1]):
            value = (x * 4 % 256, y * 5 % 256, 128)
            image.putpixel((x, y), value if mode != "RGBA" else (*value, 200))
    return image


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def insert_after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def identifying_jpeg(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    out = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture(size).save(
        out,
        "JPEG",
        exif=identifying_exif(orientation),
        comment=b"CANARY-COMMENT",
        xmp=XMP,
        icc_profile=icc,
    )
    iptc = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", 20) + b"\x1c\x02\x50\x00\x0eCANARY-IPTC-xx"
    jumbf = b"JP\x00\x00CANARY-C2PA-manifest"
    return insert_after_soi(
        out.getvalue(),
        jpeg_segment(0xED, b"Photoshop 3.0\x00" + iptc),  # APP13: IPTC
        jpeg_segment(0xEB, jumbf),  # APP11: JUMBF (C2PA content credentials)
    )


def png_bytes(image: Image.Image | None = None, **params: object) -> bytes:
    out = io.BytesIO()
    (image or picture()).save(out, "PNG", **params)
    return out.getvalue()


def identifying_png(orientation: int = 1, image: Image.Image | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "CANARY-COMMENT")
    info.add_text("Comment", "CANARY-COMMENT zipped", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_itxt("Description", "CANARY-COMMENT 中文", lang="zh", tkey="说明")
    return png_bytes(image, pnginfo=info, exif=identifying_exif(orientation))


def webp_bytes(*, lossless: bool, **params: object) -> bytes:
    out = io.BytesIO()
    picture().save(out, "WEBP", lossless=lossless, quality=80, **params)
    return out.getvalue()


def heic_bytes(image: Image.Image | None = None, **params: object) -> bytes:
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(image or picture()).save(out, quality=80, **params)
    return out.getvalue()


PDF = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def mp4_bytes(major: bytes = b"isom", *compatible: bytes) -> bytes:
    brands = b"".join(compatible or (b"isom", b"iso2", b"avc1", b"mp41"))
    ftyp = struct.pack(">I", 16 + len(brands)) + b"ftyp" + major + b"\x00\x00\x02\x00" + brands
    mdat = struct.pack(">I", 16) + b"mdat" + os.urandom(8)
    return ftyp + mdat


def office_zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


CONTENT_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
RELS = b'<?xml version="1.0"?><Relationships/>'


def docx_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    return office_zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": RELS,
            "word/document.xml": b"<w:document>hazard</w:document>",
            "docProps/core.xml": b"<cp:coreProperties/>",
            **(extra or {}),
        }
    )


def xlsx_bytes() -> bytes:
    return office_zip(
        {
            "[Content_Types].xml": CONTENT_TYPES,
            "_rels/.rels": RELS,
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"<worksheet/>",
        }
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in IHDR, with one tiny (wrong) IDAT: for bomb checks."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        (identifying_jpeg, FileKind.JPEG),
        (png_bytes, FileKind.PNG),
        (lambda: webp_bytes(lossless=True), FileKind.WEBP),
        (lambda: webp_bytes(lossless=False), FileKind.WEBP),
        (heic_bytes, FileKind.HEIC),
        (lambda: PDF, FileKind.PDF),
        (mp4_bytes, FileKind.MP4),
        (lambda: mp4_bytes(b"mp42", b"isom", b"mp42"), FileKind.MP4),
        (lambda: mp4_bytes(b"3gp5", b"isom"), FileKind.MP4),
        (docx_bytes, FileKind.DOCX),
        (xlsx_bytes, FileKind.XLSX),
        # Refused: not in the list, or not what it claims.
        (lambda: b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(100), None),  # Windows .exe
        (lambda: b"\x7fELF\x02\x01\x01" + bytes(100), None),
        (lambda: b"GIF89a" + bytes(20), None),
        (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (lambda: b"", None),
        (lambda: b"\xff\xd8", None),  # too short to be a JPEG
        (lambda: mp4_bytes(b"qt  ", b"qt  "), None),  # QuickTime .mov
        (lambda: mp4_bytes(b"avif", b"avif", b"mif1", b"miaf"), None),  # AVIF
        (lambda: mp4_bytes(b"mif1", b"mif1", b"avif"), None),  # AVIF under a generic brand
        (lambda: office_zip({"a.txt": b"plain zip"}), None),
        (
            lambda: office_zip({"[Content_Types].xml": CONTENT_TYPES, "ppt/presentation.xml": b""}),
            None,
        ),
        (lambda: office_zip({"mimetype": b"application/vnd.oasis.opendocument.text"}), None),
        (lambda: docx_bytes()[:200], None),  # a ZIP cut short: no central directory
    ],
)
def test_detection_table(sample: object, kind: FileKind | None) -> None:
    data = sample()  # type: ignore[operator]
    assert media.detect(data) == kind
    assert media.detect_file(io.BytesIO(data)) == kind


def test_heif_brands() -> None:
    for major in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        assert media.detect(mp4_bytes(major, b"mif1", b"heic")) == FileKind.HEIC


def test_name_does_not_matter_content_does() -> None:
    """Upload names are not even an input: a PNG called .jpg is a PNG, an .exe called .jpg is
    refused, a photo called .pdf is a photo."""
    uploads = {
        "photo.jpg": png_bytes(),
        "现场照片.JPG": b"MZ\x90\x00" + bytes(200),
        "report.pdf": identifying_jpeg(),
        "表格.xlsx": docx_bytes(),
    }
    kinds = {name: media.detect(data) for name, data in uploads.items()}
    assert kinds == {
        "photo.jpg": FileKind.PNG,
        "现场照片.JPG": None,
        "report.pdf": FileKind.JPEG,
        "表格.xlsx": FileKind.DOCX,
    }
    with pytest.raises(media.UnsupportedFileType) as caught:
        media.check_upload(io.BytesIO(uploads["现场照片.JPG"]))
    assert caught.value.status == 415
    assert isinstance(caught.value, InvalidInput)


def test_detect_file_reads_the_zip_directory_from_the_end_of_a_large_upload() -> None:
    big = docx_bytes({"word/media/image1.png": os.urandom(3 * media.MiB)})
    assert len(big) > media.ZIP_TAIL_BYTES
    assert media.detect(big[: media.HEAD_BYTES]) is None  # the head alone cannot tell
    spool = EncryptedSpool(1024)
    spool.write(big)
    assert media.detect_file(spool) == FileKind.DOCX  # type: ignore[arg-type]
    assert spool.tell() == 0
    assert media.check_upload(spool) == FileKind.DOCX  # type: ignore[arg-type]


def test_check_upload_errors() -> None:
    with pytest.raises(media.EmptyFile):
        media.check_upload(io.BytesIO(b""))
    too_big = io.BytesIO(PDF + bytes(20 * media.MiB))
    with pytest.raises(media.FileTooLarge) as caught:
        media.check_upload(too_big)
    assert caught.value.status == 413
    assert caught.value.params == {"limit": 20}
    assert media.check_upload(io.BytesIO(PDF)) == FileKind.PDF


def test_kinds_are_data() -> None:
    assert set(FileKind) == media.ALLOWED
    assert {FileKind.JPEG, FileKind.PNG, FileKind.WEBP, FileKind.HEIC} == media.IMAGE_KINDS
    assert {spec.mime_type for spec in media.KINDS.values()} >= {"image/jpeg", "video/mp4"}
    assert all(spec.max_bytes == 20 * media.MiB for spec in media.KINDS.values())
    warned = {kind for kind in FileKind if media.needs_metadata_warning(kind)}
    assert warned == {FileKind.PDF, FileKind.MP4, FileKind.DOCX, FileKind.XLSX}


# ---------------------------------------------------------------- unsafe ZIPs


def test_macro_enabled_office_files_are_refused() -> None:
    docm = docx_bytes({"word/vbaProject.bin": b"Attribute VB_Name"})
    assert media.detect(docm) is None
    with pytest.raises(media.UnsafeArchive):
        media.check_upload(io.BytesIO(docm))


def test_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media, "MAX_ZIP_ENTRIES", 50)
    many = docx_bytes({f"word/part{i}.xml": b"<x/>" for i in range(60)})
    assert media.detect(many) is None
    with pytest.raises(media.UnsafeArchive):
        media.check_upload(io.BytesIO(many))
    monkeypatch.setattr(media, "MAX_ZIP_ENTRIES", 100)
    assert media.detect(many) == FileKind.DOCX


def test_too_much_once_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = docx_bytes({"word/media/zeros.bin": bytes(4 * media.MiB)})  # deflates to about 4 KB
    assert len(bomb) < 20_000
    assert media.detect(bomb) == FileKind.DOCX
    monkeypatch.setattr(media, "MAX_ZIP_EXPANDED", 2 * media.MiB)
    assert media.detect(bomb) is None
    with pytest.raises(media.UnsafeArchive):
        media.check_upload(io.BytesIO(bomb))


def _central_entries(data: bytes) -> list[int]:
    """Offsets of the central-directory file headers of a ZIP."""
    positions, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:
        positions.append(found)
        start = found + 4
    return positions


def test_overlapping_entries_are_refused() -> None:
    """The non-recursive zip bomb: many central entries pointing into one compressed stream."""
    data = bytearray(docx_bytes())
    entries = _central_entries(bytes(data))
    first_offset = struct.unpack_from("<I", data, entries[0] + 42)[0]
    struct.pack_into("<I", data, entries[-1] + 42, first_offset)  # last entry overlaps the first
    assert media.detect(bytes(data)) is None
    with pytest.raises(media.UnsafeArchive):
        media.check_upload(io.BytesIO(bytes(data)))


def test_encrypted_entries_and_odd_compression_are_refused() -> None:
    for offset, value in ((8, 0x0001), (10, zipfile.ZIP_BZIP2)):  # flag bits, method
        data = bytearray(docx_bytes())
        entry = _central_entries(bytes(data))[0]
        struct.pack_into("<H", data, entry + offset, value)
        assert media.detect(bytes(data)) is None


def test_duplicate_names_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", b"<a/>")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("word/document.xml", b"<b/>")
    assert media.detect(out.getvalue()) is None


# ---------------------------------------------------------------- scrubbing


def assert_clean(data: bytes, kind: FileKind) -> Image.Image:
    for canary in (*CANARIES, b"CANARY", b"Canary"):
        assert canary not in data, canary
    for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"ICC_PROFILE"):
        assert marker not in data, marker
    image = Image.open(io.BytesIO(data))
    assert image.format == {FileKind.JPEG: "JPEG", FileKind.PNG: "PNG", FileKind.WEBP: "WEBP"}[kind]
    assert len(image.getexif()) == 0
    assert not image.getexif().get_ifd(GPS_IFD)
    for key in ("exif", "xmp", "comment", "icc_profile", "photoshop", "XML:com.adobe.xmp"):
        assert key not in image.info, key
    return image


def test_jpeg_with_gps_xmp_iptc_comment_and_c2pa_comes_out_clean() -> None:
    original = identifying_jpeg()
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(GPS_IFD)[2] == (31.0, 52.0, 12.5)  # the sample is real
    assert all(canary in original for canary in CANARIES)
    assert b"CANARY-IPTC" in original
    assert b"CANARY-C2PA" in original

    result = media.scrub_image(original, FileKind.JPEG)

    assert result.kind is FileKind.JPEG
    assert set(result.removed) >= {
        media.EXIF,
        media.EXIF_GPS,
        media.XMP,
        media.IPTC,
        media.COMMENT,
        media.ICC_PROFILE,
        media.OTHER_METADATA,
    }
    image = assert_clean(result.data, FileKind.JPEG)
    assert [marker for marker, _ in image.applist] == ["APP0"]  # JFIF only
    assert image.size == (64, 48) == (result.width, result.height)
    assert media.detect(result.data) is FileKind.JPEG


def test_orientation_is_applied_before_exif_goes() -> None:
    wide = Image.new("RGB", (2, 1))
    wide.putpixel((0, 0), (255, 0, 0))
    wide.putpixel((1, 0), (0, 0, 255))
    # Orientation 6: the camera was turned; the viewer rotates 90° clockwise.
    out = io.BytesIO()
    wide.save(out, "JPEG", exif=identifying_exif(orientation=6), quality=100)
    scrubbed = media.scrub_image(out.getvalue(), FileKind.JPEG)
    assert Image.open(io.BytesIO(scrubbed.data)).size == (1, 2)

    png = media.scrub_image(identifying_png(orientation=6, image=wide), FileKind.PNG)
    upright = Image.open(io.BytesIO(png.data))
    assert upright.size == (1, 2)
    assert upright.getpixel((0, 0)) == (255, 0, 0)  # lossless: red on top, as displayed
    assert upright.getpixel((0, 1)) == (0, 0, 255)


def test_png_text_xmp_and_exif_chunks_are_gone() -> None:
    original = identifying_png()
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert chunk in original
    result = media.scrub_image(original, FileKind.PNG)
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
        assert chunk not in result.data, chunk
    assert {media.TEXT_CHUNKS, media.EXIF, media.EXIF_GPS, media.XMP} <= set(result.removed)
    image = assert_clean(result.data, FileKind.PNG)
    assert not getattr(image, "text", {})
    assert list(image.get_flattened_data()) == list(picture().get_flattened_data())  # lossless


def test_png_palette_transparency_is_pixels_and_stays() -> None:
    palette = picture(mode="RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    original = png_bytes(palette, transparency=3)
    result = media.scrub_image(original, FileKind.PNG)
    image = Image.open(io.BytesIO(result.data))
    assert image.mode == "P"
    assert image.info.get("transparency") == 3
    assert result.removed == []


def test_png_with_alpha_stays_lossless() -> None:
    rgba = picture(mode="RGBA")
    result = media.scrub_image(png_bytes(rgba), FileKind.PNG)
    assert list(Image.open(io.BytesIO(result.data)).get_flattened_data()) == list(
        rgba.get_flattened_data()
    )


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_exif_and_xmp_are_gone_and_compression_kept(lossless: bool) -> None:
    original = webp_bytes(lossless=lossless, exif=identifying_exif(), xmp=XMP)
    assert b"EXIF" in original
    assert b"XMP " in original
    assert b"CANARY-XMP" in original
    result = media.scrub_image(original, FileKind.WEBP)
    assert {media.EXIF, media.EXIF_GPS, media.XMP} <= set(result.removed)
    assert b"EXIF" not in result.data
    assert b"XMP " not in result.data
    assert_clean(result.data, FileKind.WEBP)
    assert (b"VP8L" in result.data) is lossless
    if lossless:
        assert list(Image.open(io.BytesIO(result.data)).get_flattened_data()) == list(
            picture().get_flattened_data()
        )


def test_cmyk_jpeg_becomes_rgb() -> None:
    out = io.BytesIO()
    picture().convert("CMYK").save(out, "JPEG")
    result = media.scrub_image(out.getvalue(), FileKind.JPEG)
    assert Image.open(io.BytesIO(result.data)).mode == "RGB"


def test_icc_profile_is_converted_to_srgb_and_dropped() -> None:
    lab_ish = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for icc in (srgb, lab_ish, b"not a profile"):
        out = io.BytesIO()
        picture().save(out, "JPEG", icc_profile=icc)
        result = media.scrub_image(out.getvalue(), FileKind.JPEG)
        assert "icc_profile" not in Image.open(io.BytesIO(result.data)).info
        assert media.ICC_PROFILE in result.removed


def test_heic_is_converted_to_a_clean_jpeg() -> None:
    original = heic_bytes(
        picture((40, 20)), exif=identifying_exif(orientation=6).tobytes(), xmp=XMP
    )
    assert b"CanaryMake" in original
    assert b"CANARY-XMP" in original
    result = media.scrub_image(original, FileKind.HEIC)
    assert result.kind is FileKind.JPEG
    assert {media.EXIF, media.EXIF_GPS, media.XMP} <= set(result.removed)
    image = assert_clean(result.data, FileKind.JPEG)
    assert image.size == (20, 40)  # the rotation the phone recorded is applied


def test_multi_frame_files_keep_the_first_picture() -> None:
    out = io.BytesIO()
    frames = [picture(), Image.new("RGB", (64, 48), (0, 255, 0))]
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    result = media.scrub_image(out.getvalue(), FileKind.WEBP)
    assert media.EXTRA_IMAGES in result.removed
    image = Image.open(io.BytesIO(result.data))
    assert getattr(image, "n_frames", 1) == 1
    assert b"VP8L" in result.data


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (10_000, 5_001),  # just over MAX_PIXELS, under Pillow's own limit
        (10_000, 9_000),  # over Pillow's warning limit (89 MP)
        (100_000, 100_000),  # over Pillow's error limit
        (1, 2**31 - 1),  # a thin sliver
    ],
)
def test_decompression_bombs_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(media.ImageTooLarge) as caught:
        media.scrub_image(png_header_only(width, height), FileKind.PNG)
    assert caught.value.status == 413
    assert caught.value.params == {"megapixels": 50}


def test_a_real_bomb_within_the_byte_limit() -> None:
    """60 MP of one colour: a few kilobytes of PNG, 180 MB of pixels."""
    data = png_bytes(Image.new("1", (10_000, 6_000)), optimize=False)
    assert len(data) < 100_000
    with pytest.raises(media.ImageTooLarge):
        media.scrub_image(data, FileKind.PNG)


def test_heic_bomb_is_refused_from_its_container() -> None:
    """The size a HEIC claims (its ``ispe`` box) is checked before anything is decoded."""
    data = bytearray(heic_bytes(picture((64, 64))))  # square: no crop box beside the extents
    ispe = data.find(b"ispe")
    assert struct.unpack_from(">II", data, ispe + 8) == (64, 64)
    struct.pack_into(">II", data, ispe + 8, 10_000, 9_000)
    with pytest.raises(media.ImageTooLarge):
        media.scrub_image(bytes(data), FileKind.HEIC)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (identifying_jpeg, FileKind.JPEG),
        (png_bytes, FileKind.PNG),
        (lambda: webp_bytes(lossless=False), FileKind.WEBP),
        (heic_bytes, FileKind.HEIC),
    ],
)
def test_truncated_and_damaged_pictures_are_refused(make: object, kind: FileKind) -> None:
    data: bytes = make()  # type: ignore[operator]
    for broken in (data[: len(data) // 2], data[:40], data[:8] + os.urandom(200)):
        with pytest.raises(media.BrokenImage) as caught:
            media.scrub_image(broken, kind)
        assert caught.value.status == 422


def test_a_picture_of_another_kind_is_refused() -> None:
    with pytest.raises(media.BrokenImage):
        media.scrub_image(png_bytes(), FileKind.JPEG)
    with pytest.raises(ValueError, match="not a picture"):
        media.scrub_image(PDF, FileKind.PDF)


# ---------------------------------------------------------------- properties

PREFIXES = [
    b"",
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"%PDF-",
    b"\x00\x00\x00\x18ftypmif1",
    b"\x00\x00\x00\x18ftypisom",
    b"PK\x03\x04",
    b"PK\x05\x06",
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PREFIXES), st.binary(max_size=600))
def test_detect_never_crashes(prefix: bytes, tail: bytes) -> None:
    assert media.detect(prefix + tail) in {None, *FileKind}
    assert media.detect_file(io.BytesIO(prefix + tail)) in {None, *FileKind}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 1000))
def test_detect_survives_mangled_zips(noise: bytes, position: int) -> None:
    data = bytearray(docx_bytes())
    position = 4 + position % (len(data) - 4)  # the ZIP magic stays: only ZIP code runs
    data[position : position + len(noise)] = noise
    assert media.detect(bytes(data)) in {None, FileKind.DOCX}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([FileKind.JPEG, FileKind.PNG, FileKind.WEBP, FileKind.HEIC]), st.data())
def test_scrub_raises_only_typed_errors(kind: FileKind, data: st.DataObject) -> None:
    valid = {
        FileKind.JPEG: SMALL_JPEG,
        FileKind.PNG: SMALL_PNG,
        FileKind.WEBP: SMALL_WEBP,
        FileKind.HEIC: SMALL_HEIC,
    }[kind]
    position = data.draw(st.integers(0, len(valid) - 1))
    noise = data.draw(st.binary(min_size=1, max_size=64))
    mangled = valid[:position] + noise + valid[position + len(noise) :]
    try:
        result = media.scrub_image(mangled, kind)
    except (media.BrokenImage, media.ImageTooLarge):
        return
    assert media.detect(result.data) is result.kind


SMALL_JPEG = identifying_jpeg((16, 8))
SMALL_PNG = identifying_png()
SMALL_WEBP = webp_bytes(lossless=True, exif=identifying_exif())
SMALL_HEIC = heic_bytes(picture((16, 8)))


@pytest.mark.parametrize("kind", [FileKind.PNG, FileKind.WEBP, FileKind.JPEG])
def test_an_unreadable_icc_profile_is_dropped_too(kind: FileKind) -> None:
    """A profile that cannot be converted is not kept "as is": nothing but pixels survives."""
    out = io.BytesIO()
    picture().save(
        out, {"png": "PNG", "webp": "WEBP", "jpeg": "JPEG"}[kind], icc_profile=b"CANARY-ICC" * 20
    )
    assert b"CANARY-ICC" in out.getvalue() or kind is FileKind.PNG  # PNG stores it deflated
    result = media.scrub_image(out.getvalue(), kind)
    assert media.ICC_PROFILE in result.removed
    assert b"iCCP" not in result.data
    assert b"ICCP" not in result.data
    assert_clean(result.data, kind)
