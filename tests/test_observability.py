"""Observability: the Grafana dashboard asks only for metrics that exist, the edge's /metrics endpoint serves
a running pipeline's numbers, and JSON-lines logs carry the ids."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from central import metrics as central_metrics
from central.migrate import init_db
from central.orm.notices import NoticeDelivery
from edge import metrics as edge_metrics
from edge.pipeline import Pipeline
from edge.settings import CameraSettings, EdgeSettings
from testkit.footage import bag_zones, make_bag_clip
from wire import logs

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "doorline.json"
_METRIC = re.compile(r"\bdoorline_[a-z0-9_]+")


def _exposed(text: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def central_metric_names(tmp_path: Path) -> set[str]:
    """What central's /metrics really renders (ingest families, table gauges), plus the broker families it
    renders once a $SYS reader runs."""
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    init_db(engine)
    with Session(engine) as session:
        for i, status in enumerate(("sent", "sent", "dead", "pending")):
            session.add(NoticeDelivery(idempotency_key=f"k{i}", audience="owner", route="shop_channel:1",
                                       channel="sms", status=status))
        session.commit()
        body, _ = central_metrics.render(session)
    engine.dispose()
    text = body.decode()
    assert 'doorline_notices{channel="sms",status="sent"} 2' in text
    assert 'doorline_notices{channel="sms",status="dead"} 1' in text
    names = _exposed(text)
    assert {"doorline_ingest_stored_total", "doorline_dead_letters", "doorline_edge_spool_depth"} <= names
    return names | {name for name, _k, _h in central_metrics._BROKER_FAMILIES}


def test_dashboard_asks_only_for_metrics_that_exist(tmp_path: Path) -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 12 and all(p.get("title") for p in dash["panels"])
    known = central_metric_names(tmp_path) | set(edge_metrics.FAMILIES)
    asked = {m for e in exprs for m in _METRIC.findall(e)}
    # a counter's _sum/_count pair is declared under its own names (no histograms here)
    missing = sorted(asked - known)
    assert not missing, f"the dashboard asks for metrics nobody exposes: {missing}"
    for want in ("doorline_ingest_stored_total", "doorline_ingest_latency_seconds_sum", "doorline_dead_letters",
                 "doorline_edge_spool_depth", "doorline_edge_online", "doorline_edge_frames_analysed_total",
                 "doorline_edge_events_total", "doorline_notices"):
        assert want in asked, f"no panel shows {want}"
    for e in exprs:  # balanced brackets: a typo Grafana would only show as a red panel
        assert e.count("(") == e.count(")") and e.count("[") == e.count("]") and e.count("{") == e.count("}"), e


def test_edge_metrics_endpoint_serves_the_running_pipeline(data_dir: Path, models_dir: Path, tmp_path: Path) -> None:
    clip = make_bag_clip(data_dir, tmp_path / "bag.avi", seconds=4.0)
    zones = tmp_path / "zones.yaml"
    zones.write_text(yaml.safe_dump(bag_zones()))
    settings = EdgeSettings.load(model=str(models_dir / "yolox_nano.onnx"), site_id="s", analysis_fps=2.0,
                                 mqtt_enabled=False, reference_dir=None, edge_id="edge-m",
                                 cameras=[CameraSettings(id="cam-1", source=str(clip), zones=zones)])
    pipeline = Pipeline(settings, publisher=None, progress=False)
    pipeline.start()
    server = edge_metrics.MetricsServer(pipeline, "edge-m", "127.0.0.1", 0).start()
    try:
        stats = pipeline.run()
        url = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            text = r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/other", timeout=5)
        assert missing.value.code == 404
    finally:
        server.stop()
        pipeline.close()
    assert stats.frames_analysed > 0
    assert f'doorline_edge_frames_analysed_total{{edge="edge-m",camera="cam-1"}} {stats.frames_analysed}' in text
    assert 'doorline_edge_camera_state{edge="edge-m",camera="cam-1",state="ended"} 1' in text
    assert 'doorline_edge_camera_state{edge="edge-m",camera="cam-1",state="live"} 0' in text
    assert 'doorline_edge_detector_errors_total{edge="edge-m"} 0' in text
    assert f'doorline_edge_detections_skipped_total{{edge="edge-m"}} {stats.detections_skipped}' in text
    assert "doorline_edge_spool_messages" not in text  # no publisher, no spool: not reported as 0


def test_json_log_lines_carry_the_ids(capsys) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(logging.INFO, fmt="json")
        logging.getLogger("doorline.t").info("event %s on case %s", "ev-1", 42,
                                             extra={"camera_id": "cam-9", "case_id": 42, "event_id": "ev-1"})
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("doorline.t").exception("failed", extra={"camera_id": "cam-9"})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert lines[0]["msg"] == "event ev-1 on case 42" and lines[0]["level"] == "INFO"
    assert (lines[0]["camera_id"], lines[0]["case_id"], lines[0]["event_id"]) == ("cam-9", 42, "ev-1")
    assert lines[0]["ts"].endswith("+00:00") and "zone_id" not in lines[0]
    assert "RuntimeError: boom" in lines[1]["exc"]
    with pytest.raises(ValueError, match="json or text"):
        logs.configure(fmt="xml")
