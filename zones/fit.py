"""Do a camera's zones fit its frames? Checked when the frame size becomes known (the first frame, or a
`--frame-size` given to validate-zones), so that zones drawn on another image fail loudly, naming the
camera, the zone, the point and both sizes, instead of being stretched or clipped silently."""

from __future__ import annotations

import numpy as np

from zones.model import CameraZones

ASPECT_TOLERANCE = 0.02  # relative difference of width / height still taken as the same image shape


class ZoneFitError(ValueError):
    """The zones of a camera do not fit its frames; the message says which zone, which point and which sizes."""


def scale_for(zones: CameraZones, frame_size: tuple[int, int], drawn_for: tuple[int, int] | None = None
              ) -> tuple[float, float]:
    """(sx, sy) taking the zones' pixels to frames of `frame_size`: from the file's `frame_size`, else from
    `drawn_for` (the first frame's size, for files without one), else 1."""
    base = zones.frame_size or drawn_for
    if base is None:
        return 1.0, 1.0
    return frame_size[0] / base[0], frame_size[1] / base[1]


def check_fit(zones: CameraZones, frame_size: tuple[int, int], drawn_for: tuple[int, int] | None = None) -> None:
    """Raise ZoneFitError when the zones cannot be used on frames of `frame_size` (w, h): drawn for an image
    of another shape (they would be stretched), or a point outside the frame (it would be clipped)."""
    w, h = frame_size
    base = zones.frame_size or drawn_for
    camera = f"camera {zones.camera_id}"
    if base is not None:
        bw, bh = base
        if abs((w / h) / (bw / bh) - 1.0) > ASPECT_TOLERANCE:
            where = "the zones file's frame_size" if zones.frame_size else "the camera's first frames"
            raise ZoneFitError(
                f"{camera}: zones drawn for {bw}x{bh} ({where}), frames are {w}x{h}: another image shape "
                f"(aspect {bw / bh:.2f} vs {w / h:.2f}), the zones would be stretched; redraw them on this "
                "camera's image (or fix frame_size)")
    sx, sy = scale_for(zones, frame_size, drawn_for)
    for zone in zones.zones:
        pts = zone.polygon * (sx, sy)
        lines = [pts] if zone.door_line is None else [pts, zone.door_line * (sx, sy)]
        for what, arr in zip(("polygon", "door_line"), lines, strict=False):
            bad = (arr[:, 0] < 0) | (arr[:, 0] > w) | (arr[:, 1] < 0) | (arr[:, 1] > h)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                x, y = (zone.polygon if what == "polygon" else zone.door_line)[i]
                hint = ("" if zones.frame_size else "; the zones file has no frame_size, so its points are "
                        "pixels of the camera's frames: set frame_size: [width, height] of the image they were "
                        "drawn on")
                raise ZoneFitError(
                    f"{camera}, zone {zone.zone_id!r}: {what} point {i} ({x:g}, {y:g}) lies outside the "
                    f"{w}x{h} frame{hint}")
