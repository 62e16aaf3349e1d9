"""Drone telemetry sidecar: time, lat, lon, alt, heading rows, interpolated to each frame's time.

CSV (header row naming the columns) or JSON (a list of objects, or {"rows": [...]}) with columns
`time` (seconds from the start of the video, or unix seconds — then measured from the first row),
`lat`, `lon`, and optional `alt` (metres) and `heading` (degrees). Aliases: t/ts, latitude, longitude/lng,
alt_m/altitude, yaw.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from edge.sources.frame import SourceError
from wire.schema import GeoPoint

_ALIASES = {
    "time": ("time", "t", "ts", "time_s"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "longitude"),
    "alt": ("alt", "alt_m", "altitude"),
    "heading": ("heading", "yaw", "heading_deg"),
}


class Telemetry:
    def __init__(
        self,
        time_s: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        alt: np.ndarray | None,
        heading: np.ndarray | None,
    ) -> None:
        order = np.argsort(time_s, kind="stable")
        self.time_s = time_s[order]
        self.lat, self.lon = lat[order], lon[order]
        self.alt = None if alt is None else alt[order]
        # Unwrapped so 359° → 1° interpolates through 0°, not backwards through 180°.
        self.heading = None if heading is None else np.rad2deg(np.unwrap(np.deg2rad(heading[order])))

    @classmethod
    def load(cls, path: Path) -> Telemetry:
        rows = _read_rows(path)
        if len(rows) < 1:
            raise SourceError(f"telemetry {path}: no rows")
        columns = {}
        for name, aliases in _ALIASES.items():
            key = next((a for a in aliases if a in rows[0]), None)
            if key is None:
                if name in ("alt", "heading"):
                    columns[name] = None
                    continue
                raise SourceError(f"telemetry {path}: missing column {name!r} (or one of {aliases})")
            try:
                columns[name] = np.array([float(r[key]) for r in rows], dtype=np.float64)
            except (TypeError, ValueError, KeyError) as exc:
                raise SourceError(f"telemetry {path}: column {key!r} is not numeric in every row") from exc
        t = columns["time"]
        if t[0] > 1e9:  # unix seconds: measure from the first row
            t = t - t.min()
        lat, lon = columns["lat"], columns["lon"]
        if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
            raise SourceError(f"telemetry {path}: lat/lon out of range")
        return cls(t, lat, lon, columns["alt"], columns["heading"])

    def at(self, t: float) -> tuple[GeoPoint, float | None]:
        """Position (and heading in degrees 0..360) at `t` seconds; clamped to the first/last row."""
        lat = float(np.interp(t, self.time_s, self.lat))
        lon = float(np.interp(t, self.time_s, self.lon))
        alt = None if self.alt is None else float(np.interp(t, self.time_s, self.alt))
        heading = None if self.heading is None else float(np.interp(t, self.time_s, self.heading)) % 360.0
        return GeoPoint(lat=lat, lon=lon, alt_m=alt), heading


def _read_rows(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"cannot read telemetry {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SourceError(f"telemetry {path}: not JSON: {exc}") from exc
        if isinstance(data, dict):
            data = data.get("rows", data.get("telemetry"))
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise SourceError(f"telemetry {path}: expected a list of objects")
        return [{k.strip().lower(): v for k, v in r.items()} for r in data]
    reader = csv.DictReader(text.splitlines())
    return [{(k or "").strip().lower(): v for k, v in r.items()} for r in reader]


def sidecar_for(video: Path) -> Path | None:
    """`clip.csv` / `clip.json` / `clip.telemetry.csv` next to `clip.mp4`, if one exists."""
    for suffix in (".telemetry.csv", ".telemetry.json", ".csv"):
        candidate = video.with_name(video.stem + suffix)
        if candidate.is_file():
            return candidate
    return None
