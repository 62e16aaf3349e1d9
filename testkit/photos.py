"""A real (tiny) JPEG for tests that upload photos: uploads are checked by decoding, so header bytes alone
are refused."""

from __future__ import annotations

import cv2
import numpy as np


def tiny_jpeg(width: int = 64, height: int = 48) -> bytes:
    ramp = np.tile((np.arange(width) * 255 // max(1, width - 1)).astype(np.uint8), (height, 1))
    ok, data = cv2.imencode(".jpg", np.dstack([ramp, ramp[::-1], ramp]))
    assert ok
    return data.tobytes()
