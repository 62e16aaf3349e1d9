"""The door line's street side is the side the zone touches, whatever the polygon's vertex mean says."""

from __future__ import annotations

import numpy as np

from zones.door import door_line_problem, on_street_side, street_normal


def test_points_along_the_doorway_do_not_flip_the_street_side() -> None:
    # a shallow strip below a door at y=100 with many points crowded along the door: the vertex mean lies
    # almost on the door line, and the old rule's side flipped with the points; the street side does not
    door = np.array([[0.0, 100.0], [200.0, 100.0]])
    strip = np.array([[0, 100], *[[x, 100] for x in range(10, 200, 10)], [200, 100], [200, 130], [0, 130]], float)
    for polygon in (strip, np.array([[0, 100], [200, 100], [200, 130], [0, 130]], float)):
        assert door_line_problem(polygon, door) is None
        n = street_normal(polygon, door)
        assert np.allclose(n, [0.0, 1.0])
        assert on_street_side(door, n, np.array([[50.0, 120.0], [50.0, 90.0]])).tolist() == [True, False]
    # the same door drawn the other way round: the same street side
    assert np.allclose(street_normal(strip, door[::-1]), [0.0, 1.0])
