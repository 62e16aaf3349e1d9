"""An object's onset outlives a moment of reading as ground (a faint object flickers), not a passer-by's."""

from __future__ import annotations

import numpy as np

from edge.background import StaticModelParams
from testkit.static_zone import ZoneStaticModel

W, H = 160, 120
ZONE = np.array([[40, 30], [100, 30], [100, 80], [40, 80]], float)


def _frame(t: float, gone: tuple[float, float]) -> np.ndarray:
    """Paving; from 10 s a dark box, which reads as ground from `gone[0]` to `gone[1]` (a flicker of a faint
    object, here made plain)."""
    img = np.full((H, W, 3), 150.0, np.float32)
    if t >= 10.0 and not gone[0] <= t < gone[1]:
        img[45:65, 50:75] = 40.0
    img += np.random.default_rng(int(t * 2)).normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _onset_age(p: StaticModelParams, gone: tuple[float, float], at: float = 50.0) -> float:
    model = ZoneStaticModel(ZONE, (W, H), p)
    state = None
    for k in range(int(at * 2) + 1):
        state = model.update(_frame(k / 2, gone), k / 2, np.zeros((0, 4)))
    assert state is not None and state.coverage > 0
    return state.onset_age_s


def test_an_object_released_for_a_moment_keeps_its_onset() -> None:
    """Read as ground for 2 s at 30 s (released after 1 s), the box is an object again at 32 s: its dwell goes on
    from 10 s. Without the memory it would start again from 32 s, and its alert come 22 s late."""
    age = _onset_age(StaticModelParams(), gone=(30.0, 32.0))
    assert 39.0 <= age <= 41.0
    assert _onset_age(StaticModelParams(onset_memory_s=0.0), gone=(30.0, 32.0)) < 20.0


def test_an_object_gone_for_longer_than_the_memory_starts_afresh() -> None:
    assert _onset_age(StaticModelParams(), gone=(25.0, 38.0)) < 13.0
