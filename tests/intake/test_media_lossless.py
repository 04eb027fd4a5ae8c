"""JPEGs laid out exactly as Qingling's own encoder writes them keep their coded picture: the
metadata segments go, the headers are written afresh (``intake.media._strip_standard_jpeg``).
Every other JPEG is still decoded and re-encoded."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, JpegImagePlugin

from intake import media
from intake.media import FileKind
from tests.intake.test_media import (
    CANARIES,
    XMP,
    assert_clean,
    identifying_exif,
    insert_after_soi,
    jpeg_segment,
    picture,
)


def standard_jpeg(
    image: Image.Image | None = None, *, quality: int = 75, **params: object
) -> bytes:
    """A JPEG as ``media._encode`` writes one (baseline, 4:2:0, standard tables)."""
    out = io.BytesIO()
    (image or picture()).save(out, "JPEG", quality=quality, subsampling="4:2:0", **params)
    return out.getvalue()


TRAILER = b"\x00\x00\x00\x18ftypmp42CANARY-TRAILER-motion-photo"


def identifying_standard_jpeg(orientation: int = 1) -> bytes:
    """A standard JPEG carrying EXIF (GPS, make, model, serial), XMP, a comment, IPTC, a C2PA
    manifest, a second picture and an appended video after its end."""
    plain = standard_jpeg(exif=identifying_exif(orientation), comment=b"CANARY-COMMENT", xmp=XMP)
    iptc = b"8BIM\x04\x04\x00\x00\x00\x00\x00\x14\x1c\x02\x50\x00\x0eCANARY-IPTC-xx"
    side_picture = standard_jpeg(picture((8, 8)), comment=b"CANARY-SIDE")
    return (
        insert_after_soi(
            plain,
            jpeg_segment(0xED, b"Photoshop 3.0\x00" + iptc),  # APP13: IPTC
            jpeg_segment(0xEB, b"JP\x00\x00CANARY-C2PA-manifest"),  # APP11: JUMBF
            jpeg_segment(0xE2, b"FPXR\x00CANARY-FLASHPIX"),  # APP2: FlashPix
        )
        + side_picture
        + TRAILER
    )


def pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).tobytes()


def jpeg(data: bytes) -> JpegImagePlugin.JpegImageFile:
    image = Image.open(io.BytesIO(data))
    assert isinstance(image, JpegImagePlugin.JpegImageFile)
    return image


def tables(data: bytes) -> dict[int, list[int]]:
    """The quantisation tables of a JPEG, by table id."""
    return {key: list(table) for key, table in jpeg(data).quantization.items()}


def test_a_standard_jpeg_loses_every_metadata_segment_and_keeps_its_pixels() -> None:
    original = identifying_standard_jpeg()
    assert all(canary in original for canary in CANARIES)

    result = media.scrub_image(original, FileKind.JPEG)

    assert result.kind is FileKind.JPEG
    image = assert_clean(result.data, FileKind.JPEG)
    for canary in (b"CANARY-IPTC", b"CANARY-C2PA", b"CANARY-FLASHPIX", b"CANARY-SIDE", b"CANARY"):
        assert canary not in result.data
    assert b"ftyp" not in result.data
    assert [marker for marker, _ in jpeg(result.data).applist] == ["APP0"]  # JFIF only
    assert set(result.removed) == {
        media.EXIF,
        media.EXIF_GPS,
        media.XMP,
        media.IPTC,
        media.COMMENT,
        media.OTHER_METADATA,
        media.EXTRA_IMAGES,
    }
    assert (result.width, result.height) == (64, 48) == image.size
    # Not re-compressed: the very same picture, and byte for byte the file the encoder writes
    # for it without any metadata.
    assert pixels(result.data) == pixels(original)
    assert result.data == standard_jpeg()


@pytest.mark.parametrize("quality", [1, 30, 50, 75, 85, 92, 95, 100])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_every_quality_of_the_encoder_is_recognised(quality: int, mode: str) -> None:
    clean = standard_jpeg(picture().convert(mode), quality=quality)
    result = media.scrub_image(clean, FileKind.JPEG)
    assert result.data == clean
    assert result.removed == []


def q92_tables() -> dict[int, list[int]]:
    return tables(standard_jpeg(quality=92))


# Each a JPEG that differs from the encoder's own layout in one respect.
OTHER_LAYOUTS = {
    "a camera's own tables": {"qtables": [[3] * 64, [5] * 64]},
    "tables of two qualities": {
        "qtables": [tables(standard_jpeg(quality=q))[i] for i, q in ((0, 60), (1, 90))]
    },
    "progressive": {"progressive": True},
    "optimised Huffman tables": {"optimize": True},
    "restart markers": {"restart_marker_blocks": 1},
}


@pytest.mark.parametrize("params", OTHER_LAYOUTS.values(), ids=OTHER_LAYOUTS.keys())
def test_other_layouts_are_re_encoded_with_the_encoders_tables(params: dict[str, object]) -> None:
    out = io.BytesIO()
    picture().save(out, "JPEG", quality=75, exif=identifying_exif(), **params)
    original = out.getvalue()
    result = media.scrub_image(original, FileKind.JPEG)
    image = assert_clean(result.data, FileKind.JPEG)
    assert result.data != original
    assert tables(result.data) == q92_tables()  # never the source's tables
    assert "progressive" not in image.info
    assert {media.EXIF, media.EXIF_GPS} <= set(result.removed)


def test_chroma_at_full_resolution_is_re_encoded_at_4_2_0() -> None:
    out = io.BytesIO()
    picture().save(out, "JPEG", quality=75, subsampling="4:4:4")
    result = media.scrub_image(out.getvalue(), FileKind.JPEG)
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(result.data))) == 2  # 4:2:0
    assert tables(result.data) == q92_tables()


def test_an_exif_orientation_is_still_applied() -> None:
    wide = picture((6, 2))
    result = media.scrub_image(
        standard_jpeg(wide, exif=identifying_exif(orientation=6)), FileKind.JPEG
    )
    image = assert_clean(result.data, FileKind.JPEG)
    assert image.size == (2, 6) == (result.width, result.height)


def test_a_truncated_or_oversized_standard_jpeg_is_refused() -> None:
    data = identifying_standard_jpeg()
    with pytest.raises(media.BrokenImage):
        media.scrub_image(data[: len(data) // 2], FileKind.JPEG)
    # The frame header claims 10000 × 10000 pixels: refused before any decoding.
    clean = standard_jpeg()
    frame = clean.index(b"\xff\xc0")
    huge = (10_000).to_bytes(2, "big") * 2
    with pytest.raises(media.ImageTooLarge):
        media.scrub_image(clean[: frame + 5] + huge + clean[frame + 9 :], FileKind.JPEG)


SMALL = identifying_standard_jpeg()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_standard_jpegs_give_a_typed_error_or_a_clean_picture(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(SMALL) - 1))
    noise = data.draw(st.binary(min_size=1, max_size=64))
    mangled = SMALL[:position] + noise + SMALL[position + len(noise) :]
    try:
        result = media.scrub_image(mangled, FileKind.JPEG)
    except (media.BrokenImage, media.ImageTooLarge):
        return
    assert media.detect(result.data) is FileKind.JPEG
    assert b"CANARY" not in result.data
    assert b"Exif\x00\x00" not in result.data
