"""Uploaded photos are checked by decoding: wrong types, oversized files, decompression bombs and polyglots
are refused; what is accepted comes back as a fresh JPEG without metadata."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from central.domain.photos import MAX_BYTES, PhotoRejected, clean_photo


def jpeg(w: int = 320, h: int = 240, **save) -> bytes:
    rng = np.random.default_rng(0)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(out, format="JPEG", **save)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 30_000) -> bytes:
    """A valid PNG header declaring side×side pixels (900 MP) in a few kilobytes of zeros."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * side
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(64)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def test_a_photo_is_reencoded_without_its_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (31.0, 18.0, 0.0), 3: "E", 4: (120.0, 37.0, 0.0)}
    original = jpeg(exif=exif, comment=b"taken at home")
    assert b"PhoneMaker" in original
    clean = clean_photo(original)
    im = Image.open(io.BytesIO(clean))
    assert im.format == "JPEG" and im.size == (320, 240)
    assert im.getexif() == {} and b"PhoneMaker" not in clean and b"taken at home" not in clean


def test_png_and_webp_are_accepted_as_jpeg() -> None:
    for fmt in ("PNG", "WEBP"):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (10, 200, 30)).save(out, format=fmt)
        assert Image.open(io.BytesIO(clean_photo(out.getvalue()))).format == "JPEG"


@pytest.mark.parametrize("data,why", [
    (b"", "empty"),
    (b"GIF89a" + b"\x00" * 100, "not a photo"),
    (b"<html><script>alert(1)</script></html>", "not a photo"),
    (b"%PDF-1.4\n1 0 obj<<>>endobj\n", "not a photo"),
    (jpeg()[:600], "damaged"),  # truncated
])
def test_wrong_or_broken_files_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(PhotoRejected, match=why):
        clean_photo(data)


def test_a_gif_named_jpg_is_refused_by_its_content() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(PhotoRejected, match="GIF"):
        clean_photo(out.getvalue())


def test_oversized_uploads_are_refused_before_decoding() -> None:
    with pytest.raises(PhotoRejected, match="too large"):
        clean_photo(b"\xff\xd8" + b"\x00" * MAX_BYTES)


def test_a_decompression_bomb_is_refused() -> None:
    bomb = png_bomb()
    assert len(bomb) < 100_000  # tiny on the wire, 900 million pixels when decoded
    with pytest.raises(PhotoRejected, match="too large|DecompressionBomb"):
        clean_photo(bomb)


def test_polyglots_are_refused() -> None:
    photo = jpeg()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("evil.html", "<script>alert(1)</script>")
    # a JPEG that is also a ZIP (archive appended), even when it ends with another FF D9
    with pytest.raises(PhotoRejected, match="other content"):
        clean_photo(photo + archive.getvalue())
    with pytest.raises(PhotoRejected, match="other content"):
        clean_photo(photo + archive.getvalue() + b"\xff\xd9")
    # a JPEG carrying a script in a comment segment (JPEG/HTML polyglot)
    with pytest.raises(PhotoRejected, match="other content"):
        clean_photo(jpeg(comment=b"<html><script>alert(document.cookie)</script>"))
    # a PNG with a page in a text chunk
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="PNG")
    png = out.getvalue()
    evil = png[:33] + png_chunk(b"tEXt", b"Comment\x00<!DOCTYPE html><script>x()</script>") + png[33:]
    with pytest.raises(PhotoRejected, match="other content"):
        clean_photo(evil)
    # zero padding after the end of the image is what some cameras write: accepted
    assert clean_photo(photo + b"\x00" * 64)
