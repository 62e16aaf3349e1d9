"""Drone telemetry sidecar: time, lat, lon, alt, heading rows, interpolated to each frame's time.

DJI's own SRT flight record (`DJI_0001.SRT` beside `DJI_0001.MP4`) is read by `edge.sources.dji_srt`, which
adds the gimbal's pitch and roll and the focal length, so detections can be projected onto the ground
(`pose_at`, `zones.projection`).

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
from zones.projection import CameraPose

_ALIASES = {
    "time": ("time", "t", "ts", "time_s"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "longitude"),
    "alt": ("alt", "alt_m", "altitude"),
    "heading": ("heading", "yaw", "heading_deg", "gimbal_yaw"),
    "pitch": ("pitch", "gimbal_pitch", "pitch_deg"),
    "roll": ("roll", "gimbal_roll", "roll_deg"),
    "focal35": ("focal35", "focal_35mm", "focal_len"),
}
_OPTIONAL = ("alt", "heading", "pitch", "roll", "focal35")


class Telemetry:
    def __init__(
        self,
        time_s: np.ndarray,
        lat: np.ndarray,
        lon: np.ndarray,
        alt: np.ndarray | None,
        heading: np.ndarray | None,
        *,
        pitch: np.ndarray | None = None,
        roll: np.ndarray | None = None,
        focal35: np.ndarray | None = None,
    ) -> None:
        order = np.argsort(time_s, kind="stable")
        self.time_s = time_s[order]
        self.lat, self.lon = lat[order], lon[order]
        self.alt = None if alt is None else alt[order]
        # Unwrapped so 359° → 1° interpolates through 0°, not backwards through 180°.
        self.heading = None if heading is None else np.rad2deg(np.unwrap(np.deg2rad(heading[order])))
        self.pitch = None if pitch is None else pitch[order]
        self.roll = None if roll is None else roll[order]
        self.focal35 = None if focal35 is None else focal35[order]

    @classmethod
    def load(cls, path: Path) -> Telemetry:
        if path.suffix.lower() == ".srt":
            from edge.sources.dji_srt import load_srt

            return load_srt(path)
        rows = _read_rows(path)
        if len(rows) < 1:
            raise SourceError(f"telemetry {path}: no rows")
        columns = {}
        for name, aliases in _ALIASES.items():
            key = next((a for a in aliases if a in rows[0]), None)
            if key is None:
                if name in _OPTIONAL:
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
        return cls(t, lat, lon, columns["alt"], columns["heading"],
                   pitch=columns["pitch"], roll=columns["roll"], focal35=columns["focal35"])

    def at(self, t: float) -> tuple[GeoPoint, float | None]:
        """Position (and heading in degrees 0..360) at `t` seconds; clamped to the first/last row."""
        lat = float(np.interp(t, self.time_s, self.lat))
        lon = float(np.interp(t, self.time_s, self.lon))
        alt = None if self.alt is None else float(np.interp(t, self.time_s, self.alt))
        heading = None if self.heading is None else float(np.interp(t, self.time_s, self.heading)) % 360.0
        return GeoPoint(lat=lat, lon=lon, alt_m=alt), heading

    @property
    def has_pose(self) -> bool:
        """Enough to project pixels onto the ground: height, heading and gimbal pitch."""
        return self.alt is not None and self.heading is not None and self.pitch is not None

    def pose_at(self, t: float) -> CameraPose | None:
        """The camera's pose at `t` (None without height, heading or pitch). `alt` is taken as the height
        above the ground the detections stand on (DJI's rel_alt: above the take-off point)."""
        if not self.has_pose:
            return None
        geo, heading = self.at(t)
        roll = 0.0 if self.roll is None else float(np.interp(t, self.time_s, self.roll))
        focal = None if self.focal35 is None else float(np.interp(t, self.time_s, self.focal35))
        return CameraPose(lat=geo.lat, lon=geo.lon, height_m=float(geo.alt_m), yaw_deg=float(heading),
                          pitch_deg=float(np.interp(t, self.time_s, self.pitch)), roll_deg=roll,
                          focal35_mm=focal)


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
    """DJI's `clip.SRT`, or `clip.telemetry.csv` / `clip.telemetry.json` / `clip.csv` next to `clip.mp4`."""
    for suffix in (".SRT", ".srt", ".telemetry.csv", ".telemetry.json", ".csv"):
        candidate = video.with_name(video.stem + suffix)
        if candidate.is_file():
            return candidate
    return None
