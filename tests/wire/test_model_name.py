"""The detector's name on events and reload commands: a file name, never a path."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wire.schema import CommandMessage, EventMessage, decode, encode, model_name


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("yolox_nano.onnx", "yolox_nano.onnx"),
        ("/opt/doorline/models/piles-v2.onnx", "piles-v2.onnx"),
        ("C:\\models\\vendors v1.onnx", "vendors_v1.onnx"),
        ("", "unknown"),
    ],
)
def test_model_name(key: str, name: str) -> None:
    assert model_name(key) == name


def test_event_and_command_carry_the_model() -> None:
    ev = EventMessage(site_id="s", camera_id="c", event_id="e", seq=0, zone_id="z", violation="piled_goods",
                      phase="start", ts=1.0, score=0.5, model="piles-v2.onnx")
    assert decode(encode(ev)).model == "piles-v2.onnx"
    assert decode(encode(ev.model_copy(update={"model": None}))).model is None  # older edges name none
    cmd = CommandMessage(site_id="s", camera_id="c", cmd="reload_zones", model="piles-v2.onnx")
    assert decode(encode(cmd)).model == "piles-v2.onnx"
    with pytest.raises(ValidationError):
        EventMessage(site_id="s", camera_id="c", event_id="e", seq=0, zone_id="z", violation="piled_goods",
                     phase="start", ts=1.0, score=0.5, model="/etc/x.onnx")
