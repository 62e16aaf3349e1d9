"""Zones drawn for another image fail loudly, naming the camera, the zone, the point and both sizes, instead of
being stretched or clipped silently: at validate-zones with --frame-size, and at a camera's first frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.analyzer import SceneAnalyzer
from edge.cli import main
from models.detections import Detections
from zones.fit import ZoneFitError, check_fit
from zones.io import parse_zones

SQUARE = [[100, 100], [300, 100], [300, 200], [100, 200]]


def cam(frame_size=None, polygon=SQUARE) -> dict:
    doc = {"camera_id": "cam-7", "zones": [{"zone_id": "z-1", "polygon": polygon}]}
    return doc | ({"frame_size": frame_size} if frame_size else {})


def test_another_image_shape_would_stretch_the_zones() -> None:
    zones = parse_zones(cam([1920, 1080]))
    check_fit(zones, (1280, 720))  # the same shape: scaled
    with pytest.raises(ZoneFitError, match=r"camera cam-7: zones drawn for 1920x1080 .* frames are 640x480"):
        check_fit(zones, (640, 480))


def test_without_frame_size_a_point_past_the_frame_is_named() -> None:
    zones = parse_zones(cam(polygon=[[100, 100], [700, 100], [700, 200]]))
    check_fit(zones, (800, 600))
    with pytest.raises(ZoneFitError, match=r"zone 'z-1': polygon point 1 \(700, 100\) lies outside the 640x480 frame"
                                           r".*no frame_size"):
        check_fit(zones, (640, 480))


def test_the_analyzer_refuses_frames_its_zones_do_not_fit_and_keeps_them_scaled_after_a_size_change() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    with pytest.raises(ZoneFitError, match="1920x1080"):
        SceneAnalyzer(parse_zones(cam([1920, 1080]))).update(frame, 0.0, Detections.empty())
    # no frame_size: the first frames' size is what the points are drawn on; a later size scales them
    analyzer = SceneAnalyzer(parse_zones(cam()))
    analyzer.update(frame, 0.0, Detections.empty())
    analyzer.update(np.zeros((240, 320, 3), np.uint8), 0.5, Detections.empty())
    assert analyzer.frame_size_changes == 1
    np.testing.assert_allclose(analyzer.polygon("z-1", (320, 240)), np.array(SQUARE) / 2)
    with pytest.raises(ZoneFitError, match="another image shape"):
        analyzer.update(np.zeros((240, 640, 3), np.uint8), 1.0, Detections.empty())


def test_validate_zones_checks_a_frame_size_when_given(tmp_path: Path, capsys) -> None:
    path = tmp_path / "zones.yaml"
    path.write_text(yaml.safe_dump(cam(polygon=[[100, 100], [700, 100], [700, 200]])))
    assert main(["validate-zones", str(path)]) == 0
    assert "no frame_size" in capsys.readouterr().out
    assert main(["validate-zones", str(path), "--frame-size", "640x480"]) == 2
    assert "polygon point 1 (700, 100) lies outside the 640x480 frame" in capsys.readouterr().err
    assert main(["validate-zones", str(path), "--frame-size", "1280x720"]) == 0
