"""Ghosts: what the static-object model learned as ground, then saw taken away, is not an object."""

from __future__ import annotations

import numpy as np

from edge.background import StaticModelParams
from edge.background.ghosts import ghosts
from testkit.static_zone import ZoneStaticModel

W, H = 160, 120
ZONE = np.array([[40, 30], [100, 30], [100, 80], [40, 80]], float)  # 60 x 50 px


def _ground() -> np.ndarray:
    """Rough asphalt: every pixel its own grey (the shake tolerance's min / max spans it)."""
    return np.random.default_rng(3).uniform(70, 130, (H, W, 1)).repeat(3, axis=2).astype(np.float32)


GROUND = _ground()


SACK = (50, 45, 75, 65)  # x1, y1, x2, y2 frame px
BOX = (80, 40, 95, 60)


def _frame(t: float, sack: tuple[float, float] | None, box: tuple[float, float] | None) -> np.ndarray:
    img = GROUND.copy()
    if sack is not None and sack[0] <= t < sack[1]:
        img[SACK[1]:SACK[3], SACK[0]:SACK[2]] = 100.0  # a smooth sack of the asphalt's mean grey: hides texture
    if box is not None and box[0] <= t < box[1]:
        img[BOX[1]:BOX[3], BOX[0]:BOX[2]] = 20.0  # a dark box: plainly an object
    noise = np.random.default_rng(int(t * 2)).normal(0, 1.5, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _static_seconds(p: StaticModelParams, sack: tuple[float, float] | None = None,
                    box: tuple[float, float] | None = None, until: float = 260.0) -> dict[str, float]:
    """Seconds the zone held static pixels where the sack was and where the box is, after the sack went."""
    model = ZoneStaticModel(ZONE, (W, H), p)
    held = {"sack": 0.0, "box": 0.0}
    for k in range(int(until * 2)):
        t = k / 2
        model.update(_frame(t, sack, box), t, np.zeros((0, 4)))
        if sack is not None and t >= sack[1] and model.static[model.at(SACK)].any():
            held["sack"] += 0.5
        if box is not None and model.static[model.at(BOX)].any():
            held["box"] += 0.5
    return held


def test_a_sack_learned_as_ground_then_taken_away_leaves_no_ghost() -> None:
    """The smooth sack is invisible to the model (it changes no level beyond the asphalt's own spread, and hides
    texture the min / max of the shake tolerance already spans), so in two minutes it is learned as ground.
    Taken away, the asphalt's texture comes back against that reference: without the ghost check it stands there
    as an object from then on (a pile a dwell later); with it, it is learned afresh within seconds."""
    sack = (10.0, 150.0)
    plain = StaticModelParams(ghost_share=0.0)  # no component is ever nearer the older reference than 0 x
    assert _static_seconds(plain, sack)["sack"] > 60.0
    assert _static_seconds(StaticModelParams(), sack)["sack"] < 5.0


def test_a_real_object_set_down_is_not_taken_for_a_ghost() -> None:
    """A box set down after the warm-up differs from both references alike: it stays an object."""
    got = _static_seconds(StaticModelParams(), sack=(10.0, 150.0), box=(100.0, 400.0))
    assert got["box"] > 150.0


def test_ghosts_picks_the_component_nearer_the_older_reference() -> None:
    static = np.zeros((20, 30), bool)
    static[2:6, 2:8] = True  # a ghost: the frame is the older picture
    static[10:15, 15:25] = True  # an object: unlike both
    cur = np.full((20, 30), 100.0, np.float32)
    ref = cur.copy()
    ref[2:6, 2:8] = 60.0  # learned the object that was there
    cur[10:15, 15:25] = 30.0
    old = np.full((20, 30), 100.0, np.float32)
    old[2:6, 2:8] = 92.0  # the older reference moved a little towards it
    new = static.copy()
    out = ghosts(static, new, cur, ref, old, share=0.5)
    assert out[2:6, 2:8].all() and out[1, 2] and not out[10:15, 15:25].any()
    # components with no pixel turned static this step are not judged
    assert not ghosts(static, np.zeros_like(static), cur, ref, old, share=0.5).any()
