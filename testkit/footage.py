"""The bag clip: real PETS2009 street footage (people walking) with a real rubbish-bag photo set down in a
shop's zone for a while, and the zones file that watches that spot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

BAG_ON, BAG_OFF = 6.0, 13.0  # seconds of the bag clip during which the bag lies in the bag zone
BAG_POLYGON = [[20, 262], [165, 262], [165, 322], [20, 322]]
ROAD_POLYGON = [[300, 200], [500, 200], [500, 300], [300, 300]]
FRAME_SIZE = (768, 576)
FPS = 10.0


def bag_zones(bag_zone_id: str = "z-bag", *, camera_id: str = "cam-1", road: bool = True) -> dict:
    """A zones file whose zone `bag_zone_id` covers the spot where the bag is set down (and, with `road`, a
    second zone z-road on the road); short timers, so a test sees a whole episode in seconds."""
    zones = [{"zone_id": bag_zone_id, "shop_id": "shop-1", "polygon": BAG_POLYGON, "violations": ["piled_goods"]}]
    if road:
        zones.append({"zone_id": "z-road", "shop_id": "shop-2", "polygon": ROAD_POLYGON})
    return {
        "camera_id": camera_id,
        "frame_size": list(FRAME_SIZE),
        "rules": {"min_dwell_s": 2, "clear_s": 2, "static_after_s": 1, "cooldown_s": 1},
        "zones": zones,
    }


def bag_photo(data_dir: Path) -> np.ndarray:
    """The rubbish-bag photo (90 x 45 px) from sidewalk-bags/valid."""
    bag = cv2.imread(str(sorted((data_dir / "sidewalk-bags" / "valid" / "images").glob("*.jpg"))[0]))
    return cv2.resize(bag[160:480, 160:480], (90, 45))


def set_down(frame: np.ndarray, bag: np.ndarray) -> None:
    """Paste the bag photo into the bag zone of a PETS2009 frame, in place."""
    frame[270:315, 45:135] = bag


def make_bag_clip(data_dir: Path, out: Path, seconds: float = 20.0, bag_on: float = BAG_ON,
                  bag_off: float = BAG_OFF) -> Path:
    """PETS2009 frames with the bag lying in the bag zone from `bag_on` to `bag_off` seconds; 10 fps MJPEG."""
    cap = cv2.VideoCapture(str(data_dir / "pets2009" / "vtest.avi"))
    bag = bag_photo(data_dir)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME_SIZE)
    try:
        for i in range(int(seconds * FPS)):
            ok, frame = cap.read()
            if not ok:
                raise RuntimeError("pets2009/vtest.avi is shorter than the clip")
            if bag_on <= i / FPS < bag_off:
                set_down(frame, bag)
            writer.write(frame)
    finally:
        writer.release()
        cap.release()
    return out
