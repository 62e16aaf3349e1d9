"""The texture cue's hold where a person stood: it holds what is new, and keeps what was already there."""

from __future__ import annotations

import cv2
import numpy as np

from testkit.static_zone import ZoneStaticModel

W, H = 160, 120
ZONE = np.array([[40, 30], [100, 30], [100, 80], [40, 80]], float)  # 60 x 50 px
SACK = (50, 45, 75, 65)  # x1, y1, x2, y2


def _frame(t: float) -> np.ndarray:
    """Pale, plain paving and, from 10 s, a sack of nearly its grey whose folds (±20 levels, 5 px) pass the
    lower threshold on some frames and not on others; a camera shaking by 1.5 px."""
    img = np.full((H, W, 3), 185.0, np.float32)
    if t >= 10.0:
        x1, y1, x2, y2 = SACK
        folds = np.random.default_rng(4).uniform(-20, 20, ((y2 - y1) // 5 + 1, (x2 - x1) // 5 + 1))
        img[y1:y2, x1:x2] += (10.0 + np.repeat(np.repeat(folds, 5, 0), 5, 1)[:y2 - y1, :x2 - x1])[..., None]
    shake = np.float32([[1, 0, 1.5 * np.sin(t * 7.3)], [0, 1, 1.5 * np.cos(t * 5.1)]])
    img = cv2.warpAffine(img, shake, (W, H), borderMode=cv2.BORDER_REFLECT)
    img += np.random.default_rng(int(t * 2)).normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_a_faint_sack_a_person_stood_by_keeps_its_pixels_while_they_are_held() -> None:
    """Someone stood by the sack and left (their box, from 40 to 42 s, is a standing person's): for the 10 s of
    the hold after, the sack's pixels pass only the lower threshold and are held, neither object nor ground.
    Held, they keep the hysteresis that found them; if they lost it (as they did at first) most of them would
    read as ground within a step or two and be released: the sack's static pixels would melt to about an eighth."""
    model = ZoneStaticModel(ZONE, (W, H))
    person = np.array([[45.0, 20.0, 80.0, 70.0]])
    counts = {}
    for k in range(2 * 60):
        t = k / 2
        standing = person if 40.0 <= t < 42.0 else None
        model.update(_frame(t), t, np.zeros((0, 4)), standing)
        counts[t] = int(model.static[model.at(SACK)].sum())
    before = counts[39.5]
    assert before > 100  # the sack was found
    assert min(counts[t] for t in np.arange(42.0, 52.0, 0.5)) > 0.6 * before
