"""A camera that was bumped or turned: how its view moved, and where its zones now lie.

The view check (`edge.background`) says *that* a view changed; this says *how*. Features of a reference
frame (taken when the zones were loaded) are matched to the new view (ORB on contrast-equalised grey
images, so a change of light alone matches at no shift), a homography is fitted with RANSAC and refined
on the inliers, and the zones' polygons and door lines are carried through it. A proposal is only made
when enough features agree; otherwise the zones must be redrawn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from zones.model import CameraZones


@dataclass(frozen=True)
class Realignment:
    homography: np.ndarray | None  # reference pixels → new view pixels
    matches: int
    inliers: int
    shift_px: float  # median displacement of the reference's zone points (or of the frame's corners)
    moved: bool
    reason: str

    @property
    def usable(self) -> bool:
        return self.homography is not None


def _grey(image: np.ndarray) -> np.ndarray:
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)


def estimate(reference: np.ndarray, current: np.ndarray, *, probe: np.ndarray | None = None,
             min_inliers: int = 30, move_px: float = 2.0, features: int = 3000,
             max_turn_deg: float = 30.0, max_scale: float = 1.6) -> Realignment:
    """How `current` moved against `reference`. `probe`: the points whose displacement decides 'moved'
    (the zones' vertices); the frame's corners when not given."""
    if reference.shape[:2] != current.shape[:2]:
        return Realignment(None, 0, 0, float("nan"), True, "the frame size changed: redraw the zones")
    orb = cv2.ORB_create(nfeatures=features, fastThreshold=10)
    ka, da = orb.detectAndCompute(_grey(reference), None)
    kb, db = orb.detectAndCompute(_grey(current), None)
    if da is None or db is None or len(ka) < min_inliers or len(kb) < min_inliers:
        return Realignment(None, 0, 0, float("nan"), True, "too few features in the view to realign")
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.75 * rest[0].distance]
    if len(good) < min_inliers:
        return Realignment(None, len(good), 0, float("nan"), True,
                           f"only {len(good)} features match the reference: redraw the zones")
    src = np.float32([ka[m.queryIdx].pt for m in good])
    dst = np.float32([kb[m.trainIdx].pt for m in good])
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 3.0, maxIters=5000, confidence=0.999)
    if h is None or mask is None or int(mask.sum()) < min_inliers:
        n = 0 if mask is None else int(mask.sum())
        return Realignment(None, len(good), n, float("nan"), True,
                           f"only {n} features agree on one movement: redraw the zones")
    keep = mask.ravel().astype(bool)
    refined, _ = cv2.findHomography(src[keep], dst[keep], 0)  # least squares on the inliers
    if refined is not None:
        h = refined
    h = h / h[2, 2]
    turn = abs(np.degrees(np.arctan2(h[1, 0], h[0, 0])))
    scale = float(np.sqrt(abs(np.linalg.det(h[:2, :2]))))
    if turn > max_turn_deg or not (1 / max_scale <= scale <= max_scale):
        # A bump turns a camera by a few degrees; this is another view (or a PTZ preset) altogether.
        return Realignment(None, len(good), int(keep.sum()), float("nan"), True,
                           f"the view turned {turn:.0f} deg / zoomed x{scale:.2f}: too far to realign, "
                           "redraw the zones")
    height, width = reference.shape[:2]
    pts = probe if probe is not None and len(probe) else np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float64)
    moved_pts = apply(h, pts)
    shift = float(np.median(np.linalg.norm(moved_pts - pts, axis=1)))
    moved = shift > move_px
    reason = f"the view moved {shift:.1f} px" if moved else "the view did not move (light or scene changed)"
    return Realignment(h, len(good), int(keep.sum()), shift, moved, reason)


def apply(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(pts, h).reshape(-1, 2)


def zone_points(zones: CameraZones, frame_size: tuple[int, int]) -> np.ndarray:
    """Every zone vertex in pixels of a `frame_size` frame."""
    sx = sy = 1.0
    if zones.frame_size is not None:
        sx, sy = frame_size[0] / zones.frame_size[0], frame_size[1] / zones.frame_size[1]
    return np.concatenate([z.polygon * (sx, sy) for z in zones.zones]) if zones.zones else np.zeros((0, 2))


def realign_zones(zones: CameraZones, h: np.ndarray, frame_size: tuple[int, int]) -> CameraZones:
    """The zones carried through `h` (pixels of `frame_size` frames), drawn for that frame size."""
    sx = sy = 1.0
    if zones.frame_size is not None:
        sx, sy = frame_size[0] / zones.frame_size[0], frame_size[1] / zones.frame_size[1]
    moved = []
    for z in zones.zones:
        poly = apply(h, z.polygon * (sx, sy))
        line = None if z.door_line is None else apply(h, z.door_line * (sx, sy))
        moved.append(replace(z, polygon=poly, door_line=line))
    return replace(zones, zones=moved, frame_size=frame_size)
