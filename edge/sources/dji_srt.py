"""DJI's SRT flight-record subtitles: one cue per video frame (or per second on older firmware), read as
`Telemetry` with the camera's pose.

Layouts read (DJI changed them across models and firmware):
- bracketed (Mini 2/3/4, Air 2/2S/3, Mavic 3, Matrice): `[latitude: 31.23] [longitude: 121.47]`
  (Mini 3 firmware spells it `longtitude`), `[rel_alt: 50.0 abs_alt: 62.5]` or `[altitude: 50.0]`, and on
  enterprise models the gimbal `[gb_yaw: 90.0 gb_pitch: -45.0 gb_roll: 0.0]`, `[focal_len: 24.00]`
  (35 mm equivalent) and `[dzoom_ratio: 1.00]`; key and colon may be separated by spaces;
- parenthesised (Phantom 4, Mavic Pro, Spark): `GPS(121.4737,31.2304,16)` (longitude first, then satellites
  or altitude), `BAROMETER:50.0` (height above take-off), `HOME(121.47,31.23)`.

A file whose cues carry no position, or a cue whose timing line or a numeric field is malformed, is
refused with the file's line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.sources.frame import SourceError

_TIMING = re.compile(
    r"^\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{1,3})\s*$"
)
_BRACKET_FIELD = re.compile(r"([A-Za-z_]+)\s*:\s*([^\s\]\[,]+)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_GPS = re.compile(r"GPS\s*\(\s*([^,()]+)\s*,\s*([^,()]+)\s*(?:,\s*([^,()]+)\s*)?\)")
_BAROMETER = re.compile(r"BAROMETER\s*:\s*(\S+)")
_HTML_TAG = re.compile(r"<[^>]*>")

_KEYS = {
    "latitude": "lat", "lat": "lat",
    "longitude": "lon", "longtitude": "lon", "lon": "lon", "lng": "lon",
    "rel_alt": "rel_alt", "altitude": "rel_alt", "height": "rel_alt",
    "abs_alt": "abs_alt",
    "gb_yaw": "yaw", "gimbal_yaw": "yaw", "yaw": "yaw",
    "gb_pitch": "pitch", "gimbal_pitch": "pitch", "pitch": "pitch",
    "gb_roll": "roll", "gimbal_roll": "roll", "roll": "roll",
    "focal_len": "focal35", "focal_length": "focal35",
    "dzoom_ratio": "dzoom", "dzoom": "dzoom",
}
_NUMERIC = frozenset(_KEYS.values())


@dataclass(frozen=True)
class SrtCue:
    """One cue's flight record. `rel_alt` is metres above the take-off point, `abs_alt` above sea level;
    `yaw` is the gimbal's heading (degrees clockwise from north), `pitch` 0 level and -90 straight down."""

    line: int
    start_s: float
    lat: float
    lon: float
    rel_alt: float | None = None
    abs_alt: float | None = None
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    focal35: float | None = None
    dzoom: float | None = None


def _seconds(h: str, m: str, s: str, frac: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000.0


def _number(text: str, where: str, key: str) -> float:
    try:
        value = float(text.rstrip("m").rstrip(","))
    except ValueError:
        raise SourceError(f"{where}: {key} is not a number: {text!r}") from None
    if not np.isfinite(value):
        raise SourceError(f"{where}: {key} is not finite: {text!r}")
    return value


def _fields(body: list[tuple[int, str]], path: str) -> tuple[dict[str, float], int]:
    """The cue's numeric fields, and the line its position was read from."""
    values: dict[str, float] = {}
    position_line = body[0][0] if body else 0
    for lineno, raw in body:
        text = _HTML_TAG.sub(" ", raw)
        where = f"{path}:{lineno}"
        for group in _BRACKET.findall(text):
            for key, value in _BRACKET_FIELD.findall(group):
                name = _KEYS.get(key.lower())
                if name in _NUMERIC:
                    values[name] = _number(value, where, key)
                    if name == "lat":
                        position_line = lineno
        gps = _GPS.search(text)
        if gps:
            # Old firmware writes longitude first; the third value is satellites or altitude, not used.
            values["lon"] = _number(gps.group(1), where, "GPS longitude")
            values["lat"] = _number(gps.group(2), where, "GPS latitude")
            position_line = lineno
        baro = _BAROMETER.search(text)
        if baro:
            values["rel_alt"] = _number(baro.group(1), where, "BAROMETER")
    return values, position_line


def parse_srt(text: str, path: str = "<srt>") -> list[SrtCue]:
    """Every cue of a DJI SRT text, in file order. Raises `SourceError` naming the line that is wrong."""
    lines = text.replace("\ufeff", "").splitlines()
    cues: list[SrtCue] = []
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].strip():
            i += 1
            continue
        first = i + 1  # 1-based line number of the cue's counter
        if not lines[i].strip().isdigit():
            raise SourceError(f"{path}:{first}: expected a cue number, got {lines[i].strip()[:60]!r}")
        i += 1
        if i >= n:
            raise SourceError(f"{path}:{first}: cue has no timing line")
        timing = _TIMING.match(lines[i])
        if timing is None:
            raise SourceError(f"{path}:{i + 1}: malformed timing line {lines[i].strip()[:60]!r} "
                              "(expected 'HH:MM:SS,mmm --> HH:MM:SS,mmm')")
        start = _seconds(*timing.groups()[:4])
        i += 1
        body: list[tuple[int, str]] = []
        while i < n and lines[i].strip():
            body.append((i + 1, lines[i]))
            i += 1
        values, position_line = _fields(body, path)
        if "lat" not in values or "lon" not in values:
            raise SourceError(f"{path}:{first}: cue has no latitude/longitude")
        if abs(values["lat"]) > 90 or abs(values["lon"]) > 180:
            raise SourceError(f"{path}:{position_line}: position out of range "
                              f"({values['lat']}, {values['lon']})")
        cues.append(SrtCue(line=first, start_s=start, **values))
    if not cues:
        raise SourceError(f"{path}: no cues")
    return cues


def load_srt(path: Path):
    """The SRT file as `Telemetry` (position, height above take-off, gimbal pose, focal length)."""
    from edge.sources.telemetry import Telemetry

    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise SourceError(f"cannot read telemetry {path}: {exc.strerror or exc}") from exc
    cues = parse_srt(text, str(path))
    # (0, 0) is what some firmware writes before the GPS fix: such cues carry no position.
    cues = [c for c in cues if not (c.lat == 0.0 and c.lon == 0.0)]
    if not cues:
        raise SourceError(f"{path}: no cue has a GPS fix")

    def column(name: str) -> np.ndarray | None:
        vals = [getattr(c, name) for c in cues]
        if all(v is None for v in vals):
            return None
        arr = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        ok = np.isfinite(arr)
        if not ok.all():  # a field missing in a few cues: carry the neighbours' values over
            idx = np.arange(len(arr))
            arr = np.interp(idx, idx[ok], arr[ok])
        return arr

    t = np.array([c.start_s for c in cues])
    focal35 = column("focal35")
    dzoom = column("dzoom")
    if focal35 is not None and dzoom is not None:
        focal35 = focal35 * np.where(dzoom > 0, dzoom, 1.0)
    return Telemetry(
        t, np.array([c.lat for c in cues]), np.array([c.lon for c in cues]),
        column("rel_alt"), column("yaw"),
        pitch=column("pitch"), roll=column("roll"), focal35=focal35,
    )
