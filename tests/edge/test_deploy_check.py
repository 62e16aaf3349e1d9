"""`doorline-edge check` on a new box, run as the deployer would: one line per check, exit 1 on a failure."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, data_dir: Path, models_dir: Path, broker, *, password: str, zones: Path,
            spool: Path) -> Path:
    cfg = {
        "model": "yolox_nano.onnx", "models_dir": str(models_dir), "edge_id": "edge-check",
        "spool_path": str(spool),
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "username": "edge-check", "password": password},
        "cameras": [{"id": "cam-1", "source": str(data_dir / "dev-events" / "clip_00.mp4"), "zones": str(zones)}],
    }
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _check(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", "check", "--config", str(config), "--timeout", "10"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.fixture
def auth_broker(broker_factory, tmp_path: Path):
    passwd = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    pwfile = tmp_path / "passwd"
    subprocess.run([passwd, "-c", "-b", str(pwfile), "edge-check", "s3cret-edge"], check=True, capture_output=True)
    pwfile.chmod(0o600)
    return broker_factory(f"allow_anonymous false\npassword_file {pwfile}\n")


@pytest.mark.slow
def test_a_good_box_passes_and_each_fault_is_named(tmp_path: Path, data_dir: Path, models_dir: Path,
                                                   auth_broker) -> None:
    zones = data_dir / "dev-events" / "clip_00.json"
    good = _config(tmp_path, data_dir, models_dir, auth_broker, password="s3cret-edge", zones=zones,
                   spool=tmp_path / "spool")
    run = _check(good)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "ok   model yolox_nano.onnx", "ok   camera cam-1", "ok   zones cam-1",
        f"ok   broker 127.0.0.1:{auth_broker.port}", f"ok   spool {tmp_path / 'spool'}"]
    assert "CPUExecutionProvider" in lines[0] and "accepted as edge-check" in lines[3]
    assert not (tmp_path / "spool").exists()  # left for the worker to create as its database file

    # a wrong password, zones drawn for a 16:9 picture (the clip is 4:3), a spool path that is no database
    clip = json.loads(zones.read_text())
    clip["size"] = [1920, 1080]
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps(clip))
    (tmp_path / "spool-file").write_text("not a database, but a page of text long enough to be read as one")
    bad = _config(tmp_path, data_dir, models_dir, auth_broker, password="wrong", zones=wide,
                  spool=tmp_path / "spool-file")
    run = _check(bad)
    assert run.returncode == 1
    failed = {line.split(": ")[0] for line in run.stdout.splitlines() if line.startswith("FAIL")}
    assert failed == {"FAIL zones cam-1", f"FAIL broker 127.0.0.1:{auth_broker.port}",
                      f"FAIL spool {tmp_path / 'spool-file'}"}
    assert "redraw them" in run.stdout and "refused as edge-check" in run.stdout
    assert "2 of 5 checks passed" in run.stderr


def test_spool_check_names_the_database_file(tmp_path: Path) -> None:
    """`spool_path` is the spool's SQLite file (edge.spool.Spool): the check must not leave a directory there
    (the systemd unit runs the check before the worker), and refuses a directory or a file that is no
    database."""
    from edge.deploy_check import check_spool
    from edge.settings import EdgeSettings
    from edge.spool import Spool

    def check(path: Path):
        return check_spool(EdgeSettings.load(spool_path=path, mqtt_enabled=False))

    fresh = tmp_path / "state" / "spool"
    first = check(fresh)
    assert first.ok, first.line()
    assert fresh.parent.is_dir() and not fresh.exists()
    spool = Spool(fresh)  # what the worker then opens
    spool.put("t/event", b"x", kind="event")
    spool.close()
    again = check(fresh)
    assert again.ok and "1 messages waiting" in again.detail, again.line()

    folder = tmp_path / "a-directory"
    folder.mkdir()
    assert not check(folder).ok and "is a directory" in check(folder).detail
    text = tmp_path / "text"
    text.write_text("not a database, but a page of text long enough to be read as one" * 20)
    assert not check(text).ok and "cannot be opened" in check(text).detail


def test_a_missing_model_and_cameras_that_give_no_frame_are_named(tmp_path: Path, data_dir: Path,
                                                                   models_dir: Path) -> None:
    """The other two checks the command names: the model must load and run, and every camera must give a
    frame (a file that is not there, a live camera nobody answers for)."""
    from edge.deploy_check import check_camera, check_model
    from edge.settings import CameraSettings, EdgeSettings
    from testkit.ports import free_port

    zones = data_dir / "dev-events" / "clip_00.json"
    gone = CameraSettings(id="cam-gone", source=str(tmp_path / "no-such-clip.mp4"), zones=zones)
    silent = CameraSettings(id="cam-silent", source=f"http://127.0.0.1:{free_port()}/video.mjpg", zones=zones)
    settings = EdgeSettings.load(model="no-such-model.onnx", models_dir=models_dir, mqtt_enabled=False,
                                 cameras=[gone, silent])
    [model] = check_model(settings)
    assert not model.ok and model.name == "model no-such-model.onnx" and "no-such-model" in model.detail
    [opened] = check_camera(gone, settings, timeout_s=2)
    assert not opened.ok and opened.name == "camera cam-gone" and "cannot open" in opened.detail
    [heard] = check_camera(silent, settings, timeout_s=2)
    assert not heard.ok and "no frame" in heard.detail, heard.line()
    good = EdgeSettings.load(model="yolox_nano.onnx", models_dir=models_dir, mqtt_enabled=False, cameras=[gone])
    assert all(c.ok for c in check_model(good))
