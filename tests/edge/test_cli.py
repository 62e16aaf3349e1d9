"""The `doorline-edge` command-line contract, run as a real process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testkit.footage import bag_zones, make_bag_clip

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "edge.cli"]
ZONES = bag_zones("z-bag", camera_id="cli-cam", road=False)
REQUIRED = {
    "event_id",
    "camera_id",
    "zone_id",
    "shop_id",
    "violation",
    "phase",
    "ts",
    "score",
    "boxes",
    "evidence",
}


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def bag_clip(data_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """15 s of PETS2009 with a real rubbish-bag photo in zone z-bag from 4 to 9 s."""
    folder = tmp_path_factory.mktemp("cli")
    video = make_bag_clip(data_dir, folder / "bag.avi", seconds=15.0, bag_on=4.0, bag_off=9.0)
    zones = folder / "zones.yaml"
    zones.write_text(yaml.safe_dump(ZONES))
    return video, zones


def test_run_writes_one_json_line_per_event_phase(bag_clip, models_dir: Path, tmp_path: Path) -> None:
    video, zones = bag_clip
    out, evidence = tmp_path / "events.jsonl", tmp_path / "evidence"
    proc = run(
        "run",
        "--source",
        str(video),
        "--zones",
        str(zones),
        "--model",
        str(models_dir / "yolox_nano.onnx"),
        "--fps",
        "5",
        "--events-out",
        str(out),
        "--evidence-dir",
        str(evidence),
        "--no-mqtt",
        "--as-fast-as-possible",
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["phase"] for x in lines] == ["start", "end"]
    for line in lines:
        assert REQUIRED <= set(line)
        assert line["camera_id"] == "cli-cam" and line["zone_id"] == "z-bag" and line["shop_id"] == "shop-1"
        assert line["violation"] == "piled_goods"
        assert Path(line["evidence"]).is_file() and Path(line["evidence"]).parent.parent.parent == evidence
    start, end = lines
    assert start["event_id"] == end["event_id"]
    # a start needs the bag to cover min_coverage of the zone (score 0.5 there, 1 at twice that); the 90x45 px
    # bag covers about half of the 145x60 px zone; an episode's score is the highest it reached
    assert start["score"] == pytest.approx(1.0) and end["score"] == pytest.approx(1.0)
    assert 5.0 <= start["ts"] <= 10.0 and 8.0 <= end["ts"] <= 14.0  # seconds from the start of the video
    assert len(start["boxes"]) >= 1 and all(len(b) == 4 for b in start["boxes"])
    assert "150 frames decoded" in proc.stderr


@pytest.mark.slow
def test_events_out_starts_afresh_unless_appending(bag_clip, models_dir: Path, tmp_path: Path) -> None:
    # a clip run twice into one file must not list its events twice (a scorer would count false starts)
    video, zones = bag_clip
    out = tmp_path / "events.jsonl"
    out.write_text('{"phase": "start", "zone_id": "stale"}\n')
    args = ["run", "--source", str(video), "--zones", str(zones), "--model", str(models_dir / "yolox_nano.onnx"),
            "--fps", "5", "--events-out", str(out), "--no-mqtt", "--as-fast-as-possible", "--no-progress"]
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["phase"] for x in out.read_text().splitlines()] == ["start", "end"]
    proc = run(*args, "--append-events")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["phase"] for x in lines] == ["start", "end", "start", "end"]
    assert lines[0]["event_id"] != lines[2]["event_id"]


def test_dev_events_clip_layout_is_read_directly(data_dir: Path, models_dir: Path, tmp_path: Path) -> None:
    """The dev-events layout (zones, shops and rules in the clip's JSON) over the first 75 s of its own clip:
    the camera is named after the file, and the two bags set down at 31.5 s (dz-4) and 36 s (dz-1) are raised
    after the file's min_dwell_s of 30 s (the default is 120 s, so a file whose rules were ignored raises
    nothing), in their shops' names."""
    import av

    clip_json = data_dir / "dev-events" / "clip_00.json"
    layout = json.loads(clip_json.read_text())
    zones = tmp_path / "clip_00.json"
    zones.write_text(clip_json.read_text())
    video = tmp_path / "clip_00.mp4"
    with av.open(str(data_dir / "dev-events" / "clip_00.mp4")) as src, av.open(str(video), "w") as dst:
        stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):  # copied, not re-encoded: the first 75 s
            if packet.dts is None or (packet.pts is not None and packet.pts * packet.time_base > 75):
                continue
            packet.stream = out_stream
            dst.mux(packet)
    out = tmp_path / "e.jsonl"
    proc = run("run", "--source", str(video), "--zones", str(zones), "--model", "yolox_nano.onnx",
               "--models-dir", str(models_dir), "--fps", "1", "--events-out", str(out), "--no-mqtt",
               "--as-fast-as-possible", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    analysed = re.search(r"(\d+) analysed", proc.stderr)
    assert "clip_00: ended" in proc.stderr and analysed and 74 <= int(analysed[1]) <= 77  # 75 s at 1 fps
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    on = {t["zone_id"]: t["on"] for t in layout["truth"]}
    starts = [x for x in lines if x["phase"] == "start"]
    assert [x["zone_id"] for x in starts] == ["dz-4", "dz-1"], lines
    for line in starts:
        assert line["camera_id"] == "clip_00" and line["shop_id"] == f"shop-{line['zone_id']}"
        assert on[line["zone_id"]] + 30 <= line["ts"] <= on[line["zone_id"]] + 35  # the README's alert deadline
    # the bags still stand when the file ends: their episodes are ended as such, not as goods removed
    ends = [x for x in lines if x["phase"] == "end"]
    assert sorted((x["zone_id"], x["end_reason"]) for x in ends) == [("dz-1", "end_of_stream"),
                                                                     ("dz-4", "end_of_stream")]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--model": "no_such_model.onnx"}, "model 'no_such_model.onnx' not found"),
        ({"--zones": "missing_zones.yaml"}, "missing_zones.yaml"),
        ({"--source": "missing_clip.mp4"}, "missing_clip.mp4 does not exist"),
        ({"--config": "nope.yaml"}, "settings file nope.yaml does not exist"),
    ],
)
def test_input_errors_exit_2_with_one_line(
    bag_clip, models_dir: Path, tmp_path: Path, change, message
) -> None:
    video, zones = bag_clip
    args = {"--source": str(video), "--zones": str(zones), "--model": str(models_dir / "yolox_nano.onnx")}
    args.update(change)
    proc = run("run", *[x for kv in args.items() for x in kv], "--no-mqtt", "--no-progress")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("doorline-edge: error:")]
    assert len(err) == 1 and message in err[0], proc.stderr


def test_missing_model_message_says_how_to_configure(bag_clip, tmp_path: Path) -> None:
    video, zones = bag_clip
    proc = run("run", "--source", str(video), "--zones", str(zones), "--model", "gone.onnx", "--no-mqtt")
    assert proc.returncode == 2
    assert "--model" in proc.stderr and "DOORLINE_MODELS_DIR" in proc.stderr


def test_bad_zones_file(bag_clip, models_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"camera_id": "c", "zones": [{"zone_id": "z", "polygon": [[0, 0], [1, 1]]}]})
    )
    proc = run("validate-zones", str(bad))
    assert proc.returncode == 2 and "bad.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_validate_zones_and_check_model(data_dir: Path, models_dir: Path) -> None:
    proc = run("validate-zones", str(data_dir / "dev-events" / "clip_00.json"))
    assert proc.returncode == 0, proc.stderr
    assert "camera clip_00, 5 zones" in proc.stdout and "min_dwell_s 30" in proc.stdout
    proc = run("check-model", str(models_dir / "yolox_nano.onnx"))
    assert proc.returncode == 0, proc.stderr
    assert "80 classes" in proc.stdout and "person" in proc.stdout


def test_source_and_zones_go_together(models_dir: Path) -> None:
    proc = run("run", "--source", "x.mp4", "--model", str(models_dir / "yolox_nano.onnx"), "--no-mqtt")
    assert proc.returncode == 2 and "--source and --zones go together" in proc.stderr


def test_a_full_disk_for_local_files_does_not_stop_the_run_or_the_messages(
    bag_clip, models_dir: Path, tmp_path: Path, broker, topic_prefix
) -> None:
    """--events-out on /dev/full (every write fails with ENOSPC) and an evidence folder that cannot be made:
    the run goes on, says what it could not write, and the event and its pictures still go out over MQTT."""
    import os

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from wire import topics
    from wire.schema import decode

    video, zones = bag_clip
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "cli-cam").symlink_to("/dev/full")  # where the camera's folder should be
    heads: list[str] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher", protocol=mqtt.MQTTv5)
    watcher.on_message = lambda _c, _u, m: heads.append(
        f"{decode(m.payload).head.phase}:{len(decode(m.payload).evidence)}")
    watcher.connect(broker.host, broker.port)
    watcher.subscribe(topics.topic("site-1", "cli-cam", "event", topic_prefix), qos=1)
    watcher.loop_start()
    env = {**os.environ, "DOORLINE_EDGE_SITE_ID": "site-1", "DOORLINE_EDGE_MQTT__HOST": broker.host,
           "DOORLINE_EDGE_MQTT__PORT": str(broker.port), "DOORLINE_EDGE_MQTT__PREFIX": topic_prefix,
           "DOORLINE_EDGE_RECEIPTS": "false", "DOORLINE_EDGE_SPOOL_PATH": str(tmp_path / "spool.db")}
    proc = subprocess.run(
        [*CLI, "run", "--source", str(video), "--zones", str(zones), "--model", str(models_dir / "yolox_nano.onnx"),
         "--fps", "5", "--events-out", "/dev/full", "--evidence-dir", str(evidence), "--as-fast-as-possible",
         "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=240, env=env,
    )
    watcher.loop_stop()
    assert proc.returncode == 0, proc.stderr
    assert "2 event phases" in proc.stderr
    assert "--events-out lines could not be written" in proc.stderr and " 2 --events-out" in proc.stderr
    assert "evidence files and" in proc.stderr and "No space left on device" in proc.stderr
    assert [h.split(":")[0] for h in heads] == ["start", "end"] and all(int(h.split(":")[1]) > 0 for h in heads)
