"""An optional, tiny Prometheus endpoint on the edge box (`metrics_port` / `--metrics-port`).

Off by default. When on, `GET /metrics` on `metrics_host:metrics_port` (default 127.0.0.1) serves, for the
running pipeline: frames analysed and event phases per camera (counters: `rate()` gives analysed fps and
events per hour), detector errors, each camera's source state, and the local spool's depth and bytes. No
other path, no request body, standard library only. Central's /metrics shows every edge's spool depth as of
its last status message; this one shows it live, also while the broker is unreachable.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger("doorline.edge.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATES = ("connecting", "live", "stalled", "reconnecting", "ended", "failed")

# name → (type, help); the dashboard test checks its expressions against these names
FAMILIES: dict[str, tuple[str, str]] = {
    "doorline_edge_frames_analysed_total": ("counter", "frames analysed per camera (rate = analysed fps)"),
    "doorline_edge_events_total": ("counter", "event phases raised per camera"),
    "doorline_edge_detector_errors_total": ("counter", "detector batches that raised and were skipped"),
    "doorline_edge_detections_skipped_total": ("counter", "frames analysed with their camera's last detections, "
                                               "nothing having moved near its zones (the motion gate)"),
    "doorline_edge_camera_state": ("gauge", "1 for the camera's current source state"),
    "doorline_edge_spool_messages": ("gauge", "messages in the local spool, not yet acknowledged"),
    "doorline_edge_spool_local_bytes": ("gauge", "bytes in the local spool"),
    "doorline_edge_mqtt_connected": ("gauge", "1 when the publisher is connected to the broker"),
}


class _Pipeline(Protocol):
    cameras: dict[str, Any]
    stats: Any
    publisher: Any


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(pipeline: _Pipeline, edge_id: str) -> str:
    edge = f'edge="{_label(edge_id)}"'
    out: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for cid, camera in list(pipeline.cameras.items()):
        cam = f'{edge},camera="{_label(cid)}"'
        out["doorline_edge_frames_analysed_total"].append(f"{{{cam}}} {camera.analysed}")
        out["doorline_edge_events_total"].append(f"{{{cam}}} {camera.events}")
        state = camera.state
        out["doorline_edge_camera_state"] += [f'{{{cam},state="{s}"}} {int(s == state)}' for s in STATES]
    out["doorline_edge_detector_errors_total"].append(f"{{{edge}}} {pipeline.stats.detector_errors}")
    out["doorline_edge_detections_skipped_total"].append(f"{{{edge}}} {pipeline.stats.detections_skipped}")
    publisher = pipeline.publisher
    if publisher is not None:
        st = publisher.stats()
        out["doorline_edge_spool_messages"].append(f"{{{edge}}} {st.get('depth', 0)}")
        out["doorline_edge_spool_local_bytes"].append(f"{{{edge}}} {st.get('bytes', 0)}")
        out["doorline_edge_mqtt_connected"].append(f"{{{edge}}} {int(bool(st.get('connected')))}")
    lines: list[str] = []
    for name, (kind, help_) in FAMILIES.items():
        if out[name]:
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"] + [name + s for s in out[name]]
    return "\n".join(lines) + "\n"


class MetricsServer:
    """Serves `render(pipeline)` at /metrics from a daemon thread until `stop()`."""

    def __init__(self, pipeline: _Pipeline, edge_id: str, host: str, port: int) -> None:
        def handler_factory(*args: Any) -> BaseHTTPRequestHandler:
            return _Handler(pipeline, edge_id, *args)

        self.httpd = ThreadingHTTPServer((host, port), handler_factory)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="edge-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", *self.httpd.server_address[:2])
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, pipeline: _Pipeline, edge_id: str, *args: Any) -> None:
        self.pipeline, self.edge_id = pipeline, edge_id
        super().__init__(*args)

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404)
            return
        try:
            body = render(self.pipeline, self.edge_id).encode("utf-8")
        except Exception as exc:  # noqa: BLE001 -- a scrape must never take the worker down
            log.warning("metrics not rendered: %s", exc)
            self.send_error(500)
            return
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- scrapes are not worth a log line
        pass
