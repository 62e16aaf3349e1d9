"""EdgeSettings: YAML file, environment, overrides, unknown keys and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from edge.settings import EdgeSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOORLINE_CONFIG", "DOORLINE_MODELS_DIR", "DOORLINE_EDGE_MODELS_DIR", "DOORLINE_EDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_file_env_and_overrides_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(
        tmp_path,
        {
            "site_id": "market-st",
            "model": "a.onnx",
            "analysis_fps": 3,
            "cameras": [
                {"id": "cam-1", "source": "rtsp://10.0.0.5/1", "zones": "z.yaml"},
                {
                    "id": "drone-1",
                    "source": "f.mp4",
                    "zones": "d.yaml",
                    "kind": "drone",
                    "telemetry": "f.csv",
                },
            ],
            "mqtt": {"host": "broker.local"},
            "rules": {"min_dwell_s": 60},
        },
    )
    monkeypatch.setenv("DOORLINE_EDGE_MQTT__PORT", "8883")
    monkeypatch.setenv("DOORLINE_EDGE_ANALYSIS_FPS", "4")
    monkeypatch.setenv("DOORLINE_MODELS_DIR", "/opt/models")
    s = EdgeSettings.load(config, model="b.onnx", site_id=None)
    assert s.site_id == "market-st"  # None overrides don't mask the file
    assert s.model == "b.onnx"  # explicit beats file
    assert s.analysis_fps == 4  # env beats file
    assert (s.mqtt.host, s.mqtt.port) == ("broker.local", 8883)
    assert s.models_dir == Path("/opt/models")
    assert [c.kind for c in s.cameras] == ["fixed", "drone"]
    assert s.rules == {"min_dwell_s": 60}


def test_config_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORLINE_CONFIG", str(write(tmp_path, {"edge_id": "edge-9"})))
    assert EdgeSettings.load().edge_id == "edge-9"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"no_such_key": 1}, "no_such_key"),
        ({"analysis_fps": 0}, "analysis_fps"),
        ({"conf": 2}, "conf"),
        ({"rules": {"min_dwell_s": -1}}, "min_dwell_s"),
        ({"rules": {"dwell": 5}}, "dwell"),
        (
            {"cameras": [{"id": "a", "source": "x", "zones": "z"}, {"id": "a", "source": "y", "zones": "z"}]},
            "unique",
        ),
        ({"cameras": [{"id": "bad id/1", "source": "x", "zones": "z"}]}, "id"),
        ({"cameras": [{"id": "a", "source": "x", "zones": "z", "kind": "satellite"}]}, "kind"),
        ({"evidence": {"quality": 101}}, "quality"),
        ({"inference_workers": 0}, "inference_workers"),
        ({"threads": 0}, "threads"),
    ],
)
def test_invalid_settings(tmp_path: Path, data: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        EdgeSettings.load(write(tmp_path, data))


@pytest.mark.parametrize(
    ("cores", "workers", "threads", "expect"),
    [(2, None, None, (2, 1)), (8, None, None, (4, 2)), (1, None, None, (1, 1)), (8, 1, None, (1, 8)),
     (8, 2, 3, (2, 3))],
)
def test_inference_workers_and_threads_default_to_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int | None, threads: int | None, expect: tuple
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    s = EdgeSettings.load(inference_workers=workers, threads=threads)
    assert (s.workers, s.inference_threads) == expect


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        EdgeSettings.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("defaults", [True, False])
def test_the_cli_publisher_follows_the_settings(tmp_path: Path, monkeypatch, defaults: bool) -> None:
    from edge.cli import _publisher

    monkeypatch.setenv("DOORLINE_EDGE_MQTT__USERNAME", "edge-1")
    monkeypatch.setenv("DOORLINE_EDGE_MQTT__PASSWORD", "edge-1-secret")
    if not defaults:
        monkeypatch.setenv("DOORLINE_EDGE_RECEIPTS", "false")
        monkeypatch.setenv("DOORLINE_EDGE_VERIFY_CENTRAL", "false")
    settings = EdgeSettings.load(spool_path=tmp_path / "spool")
    publisher = _publisher(settings, ["cam-1"])  # not started: no broker needed
    try:
        assert publisher.bundle_evidence  # an event and its pictures travel as one message
        assert publisher.receipts is defaults  # receipts are on by default, off in the second case
        assert publisher.verify_central is defaults  # with a password, central's signature is checked by default
    finally:
        publisher.spool.close()
