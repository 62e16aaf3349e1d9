"""The printable grade board: A5 portrait (148 × 210 mm at 150 dpi), the grade face in its colour, the shop's
name and address, the date of the grade, and a QR code (segno) linking to the public board page. PNG, or PDF
with the page size set to A5.

Chinese text needs a CJK font: the first of `FONT_CANDIDATES` found is used (Debian: `fonts-wqy-microhei`
or `fonts-noto-cjk`); without one, the board still renders, but Chinese characters show as boxes."""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

DPI = 150
A5_PX = (round(148 / 25.4 * DPI), round(210 / 25.4 * DPI))  # 874 × 1240
GRADE_RGB = {"red": (214, 48, 49), "yellow": (242, 177, 22), "green": (39, 174, 96), None: (150, 150, 150)}
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _face(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, grade: str | None) -> None:
    """A round face: smiling (green), straight (yellow), frowning (red)."""
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=GRADE_RGB.get(grade, GRADE_RGB[None]))
    eye = r // 8
    for dx in (-r // 3, r // 3):
        draw.ellipse((cx + dx - eye, cy - r // 4 - eye, cx + dx + eye, cy - r // 4 + eye), fill="white")
    w = max(4, r // 12)
    box = (cx - r // 2, cy - r // 6, cx + r // 2, cy + r // 2)
    if grade == "green":
        draw.arc(box, 20, 160, fill="white", width=w)
    elif grade == "red":
        draw.arc((box[0], cy + r // 5, box[2], cy + r // 5 + (box[3] - box[1])), 200, 340, fill="white", width=w)
    else:
        draw.line((cx - r // 2.5, cy + r // 3, cx + r // 2.5, cy + r // 3), fill="white", width=w)


def _centered(draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill=(20, 20, 20), width: int = A5_PX[0]
              ) -> int:
    """Draw `text` centred (shrunk to fit the width); returns the y below it."""
    while size > 12:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= width - 80:
            break
        size -= 2
    draw.text(((width - (right - left)) // 2 - left, y), text, font=font, fill=fill)
    return y + (bottom - top) + size // 2


def render_board(*, name: str, address: str, grade: str | None, grade_label: str, graded_on: str,
                 title: str, scan_text: str, url: str) -> Image.Image:
    img = Image.new("RGB", A5_PX, "white")
    draw = ImageDraw.Draw(img)
    w, h = A5_PX
    band = GRADE_RGB.get(grade, GRADE_RGB[None])
    draw.rectangle((0, 0, w, 90), fill=band)
    _centered(draw, 22, title, 44, fill="white")
    _face(draw, w // 2, 250, 130, grade)
    y = _centered(draw, 405, name, 56)
    y = _centered(draw, y + 4, address, 30, fill=(70, 70, 70))
    y = _centered(draw, y + 10, grade_label, 40, fill=band)
    y = _centered(draw, y + 4, graded_on, 28, fill=(70, 70, 70))
    qr = segno.make(url, error="m")
    modules = qr.symbol_size(border=4)[0]
    scale = max(1, min(420, h - y - 110) // modules)  # whole pixels per module: crisp edges for scanners
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4)
    buf.seek(0)
    code = Image.open(buf).convert("RGB")
    side = code.width
    img.paste(code, ((w - side) // 2, y + 20))
    _centered(draw, y + 30 + side, scan_text, 28, fill=(70, 70, 70))
    return img


def board_png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def board_pdf(img: Image.Image, *, title: str, when: datetime | None = None) -> bytes:
    """One A5 page: the image at 150 dpi is 148 × 210 mm."""
    out = io.BytesIO()
    img.save(out, format="PDF", resolution=DPI, title=title, creationDate=when, modDate=when)
    return out.getvalue()
