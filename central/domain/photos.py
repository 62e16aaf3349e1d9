"""Photos people upload (an officer's result, a case closed on site, an owner's 'fixed' photo, a citizen's
report): checked by decoding, never by name or declared type; size- and pixel-capped before decoding
(decompression bombs); refused when other content rides along (a polyglot: an archive, a script or a page
hidden in or after the image); re-encoded as a fresh JPEG, which drops EXIF/GPS and every other piece of
metadata. `store_photo` keeps the clean copy in the evidence store."""

from __future__ import annotations

import io
import re
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from central.domain.errors import DomainError
from central.evidence_store import EvidenceStore

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decoded size cap (a 40 MP phone photo is about the largest honest upload)
MAX_SIDE = 2048  # stored photos are scaled down to this
FORMATS = {"JPEG", "PNG", "WEBP"}
# markers of other file types or active content inside an image
SMUGGLED = re.compile(rb"PK\x03\x04|<script|<html|<svg|<\?php|<!doctype|%PDF-|\x7fELF|MZ\x90\x00", re.I)


def _metadata(data: bytes, fmt: str) -> bytes:
    """The parts of the file that are not pixel data (JPEG segments before the scan, PNG chunks other than
    IDAT, WebP chunks other than the bitstream): where a polyglot hides its payload. Compressed pixel data is
    left out, so random bytes there cannot look like a smuggled marker."""
    out = bytearray()
    if fmt == "JPEG":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker, size = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
            if marker == 0xDA:  # start of scan: entropy-coded data follows
                break
            out += data[i + 4:i + 2 + size]
            i += 2 + size
    elif fmt == "PNG":
        i = 8
        while i + 8 <= len(data):
            size, kind = int.from_bytes(data[i:i + 4], "big"), data[i + 4:i + 8]
            if kind != b"IDAT":
                out += data[i + 8:i + 8 + size]
            i += 12 + size
    elif fmt == "WEBP":
        i = 12
        while i + 8 <= len(data):
            kind, size = data[i:i + 4], int.from_bytes(data[i + 4:i + 8], "little")
            if kind not in (b"VP8 ", b"VP8L", b"ALPH", b"ANMF"):
                out += data[i + 8:i + 8 + size]
            i += 8 + size + (size & 1)
    return bytes(out)


class PhotoRejected(DomainError):
    """Not a photo we accept; the message says why (safe to show)."""

    status = 422


class PhotoTooLarge(PhotoRejected):
    status = 413


def _jpeg_end(data: bytes) -> int:
    """Offset just past the JPEG's real end-of-image marker, walking segments and entropy-coded scans (the
    last FF D9 in the file may belong to something appended after the image)."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return len(data)  # not where a marker should be: let the decoder's verdict stand
        marker = data[i + 1]
        if marker == 0xD9:
            return i + 2
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        size = int.from_bytes(data[i + 2:i + 4], "big")
        i += 2 + size
        if marker == 0xDA:  # scan data runs to the next marker that is not a stuffed FF00 or a restart
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= len(data):
                    return len(data)
                nxt = data[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    i = j + (1 if nxt == 0xFF else 2)
                    continue
                i = j
                break
    return len(data)


def _trailing(data: bytes, fmt: str) -> bytes:
    """Bytes after the image's own end (JPEG EOI, PNG IEND chunk); WebP's RIFF size says where it ends."""
    if fmt == "JPEG":
        return data[_jpeg_end(data):]
    if fmt == "PNG":
        end = data.rfind(b"IEND")
        return data[end + 8:] if end >= 0 else b""
    if fmt == "WEBP" and len(data) >= 8:
        return data[8 + int.from_bytes(data[4:8], "little"):]
    return b""


def clean_photo(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> bytes:
    """A metadata-free JPEG of the uploaded photo, or PhotoRejected."""
    if not data:
        raise PhotoRejected("empty upload")
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"photo too large ({len(data)} bytes; at most {max_bytes})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format or ""
                if fmt not in FORMATS:
                    raise PhotoRejected(f"not a JPEG, PNG or WebP photo ({fmt or 'unknown'})")
                if im.width * im.height > max_pixels:
                    raise PhotoRejected(f"image too large ({im.width}×{im.height} pixels)")
                if getattr(im, "n_frames", 1) > 1:
                    raise PhotoRejected("animated images are not accepted")
                im.load()
                upright = ImageOps.exif_transpose(im).convert("RGB")
                # pixels only: a new image has no info dict, so no comment, ICC, XMP or EXIF is carried over
                photo = Image.frombytes("RGB", upright.size, upright.tobytes())
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(f"not a photo we can read: {type(exc).__name__}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
        raise PhotoRejected(f"damaged image: {exc}") from None
    if _trailing(data, fmt).strip(b"\x00\r\n \t") or SMUGGLED.search(_metadata(data, fmt)):
        raise PhotoRejected("the file carries other content besides the photo")
    photo.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=85, optimize=True)  # no exif=: nothing of the original's metadata
    return out.getvalue()


OFFICER_MAX_BYTES = 10 * 1024 * 1024  # a photo taken on a visit, straight from an officer's phone
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


def store_photo(store: EvidenceStore, data: bytes, *, max_bytes: int = OFFICER_MAX_BYTES) -> str:
    """Keep the clean copy of a photo taken on a visit; its sha256 (PhotoRejected otherwise)."""
    return store.put(clean_photo(data, max_bytes=max_bytes))


def require_photos(store: EvidenceStore, shas: list[str]) -> list[str]:
    """The given evidence ids, each checked to be in the store (the first missing one is named)."""
    out = []
    for sha in shas:
        if not SHA256_RE.fullmatch(sha) or not store.exists(sha.lower()):
            raise PhotoRejected(f"no evidence {sha} in the store: upload the photo first")
        out.append(sha.lower())
    return out
