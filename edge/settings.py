"""All edge-worker settings in one class.

Sources, highest first: values given in code / on the command line, env vars `DOORLINE_EDGE_...` (nested
with `__`, e.g. `DOORLINE_EDGE_MQTT__HOST`; `DOORLINE_MODELS_DIR` also sets `models_dir`), then a YAML file
named by `--config` or `DOORLINE_CONFIG`, then defaults. Unknown keys are errors. Loading the settings
only validates them: files, streams and models are opened in the explicit start-up step (edge.pipeline).

    edge_id: edge-7
    site_id: market-st
    model: yolox_nano.onnx
    models_dir: /opt/doorline/models
    analysis_fps: 2
    cameras:
      - {id: cam-1, source: "rtsp://10.0.0.5/stream1", zones: zones/cam-1.yaml}
      - {id: drone-1, source: flights/f1.mp4, zones: zones/drone.yaml, kind: drone, telemetry: flights/f1.csv}
    mqtt: {host: broker.local, prefix: doorline}
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from wire.mqtt import MqttSettings
from zones.rules import RuleConfig, check_overrides


def default_edge_id() -> str:
    """`edge-<hostname>`: two boxes left on the default must not take over each other's MQTT session."""
    host = re.sub(r"[^A-Za-z0-9_.:\-]", "-", socket.gethostname())[:100] or "1"
    return f"edge-{host}"


_Id = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")


class CameraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = _Id
    source: str = Field(min_length=1, description="file, folder, rtsp://, http(s)://, usb:N")
    zones: Path | None = Field(default=None, description="zones file (Doorline YAML/JSON or the dev-events clip "
                                                         "JSON); a drone with footprints needs none")
    fps: float | None = Field(default=None, gt=0, le=60, description="analysis rate; default analysis_fps")
    model: str | None = Field(default=None, description="overrides the worker's model (own detector)")
    kind: Literal["fixed", "drone"] = "fixed"
    telemetry: Path | None = Field(default=None, description="drone telemetry: DJI SRT, CSV or JSON sidecar")
    footprints: Path | None = Field(default=None, description="drone: GeoJSON shop footprints; each goods-like "
                                                            "detection goes to the shop whose footprint holds it")
    calibration: Path | None = Field(default=None, description="drone: camera intrinsics (YAML/JSON); default "
                                                             "from the flight record's 35 mm focal length")
    preset: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$",
                               description="PTZ camera: the preset it is turned to; its reference view and "
                                           "learned empty zones are kept per preset (edge/view_reference.py)")
    presets: dict[str, Path] = Field(default_factory=dict, description="PTZ camera: the zones file of each "
                                                                      "preset; `preset` names the one in use")

    @model_validator(mode="after")
    def _placed(self) -> CameraSettings:
        if self.presets:
            if self.preset not in self.presets:
                raise ValueError(f"camera {self.id}: preset {self.preset!r} is not one of its presets "
                                 f"({', '.join(sorted(self.presets))})")
            if self.zones is not None and self.zones != self.presets[self.preset]:
                raise ValueError(f"camera {self.id}: give its zones per preset (presets) or one zones file, not both")
            self.zones = self.presets[self.preset]
        if self.zones is None and not (self.kind == "drone" and self.footprints is not None):
            raise ValueError(f"camera {self.id}: needs a zones file (or, for a drone, shop footprints)")
        if self.footprints is not None and self.kind != "drone":
            raise ValueError(f"camera {self.id}: footprints are for drone cameras (kind: drone)")
        return self


class EvidenceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quality: int = Field(default=85, ge=10, le=100)
    max_side: int = Field(default=1280, ge=64, le=8192)
    max_bytes: int = Field(default=300_000, ge=10_000, le=1024 * 1024)
    crops: int = Field(default=4, ge=0, le=12)
    clean_copy: bool = True


class TrackerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lost_track_buffer_s: float = Field(default=5.0, ge=0, le=600)
    minimum_consecutive_frames: int = Field(default=2, ge=1, le=30)
    track_activation_threshold: float = Field(default=0.45, ge=0, le=1)


class SavingsSettings(BaseModel):
    """Work the edge may leave out to carry more cameras per box (issue 20). Each saving is switched here;
    `scripts/bench/cameras_per_box.py` measures what they save and BENCHMARKS.md records it together with
    the dev clips' events with every saving on."""

    model_config = ConfigDict(extra="forbid")

    motion_gate: bool = Field(
        default=True,
        description="skip the detector on a camera's frame where nothing moved since the detector last looked "
                    "and nothing needs fresh boxes (edge.motion); the zone analysis still runs on every frame",
    )
    motion_width: int = Field(default=160, ge=16, le=1920, description="the gate's picture width (px)")
    motion_pixel_threshold: int = Field(default=20, ge=1, le=254, description="grey levels that count as moved")
    motion_min_changed_px: int = Field(default=6, ge=1, le=100_000,
                                       description="moved pixels of the gate's picture that make it motion")
    detect_every_s: float = Field(default=5.0, gt=0, le=3600,
                                  description="the detector looks at least this often, motion or not")
    motion_hangover_s: float = Field(default=1.0, ge=0, le=60,
                                     description="and keeps looking this long after the last motion")
    static_model_fps: float = Field(
        default=2.0, gt=0, le=60,
        description="the static-object (piled goods) model runs at most this often per camera; in between "
                    "the zones keep its last state (2: every frame at the default 2 analysed fps; 1 halves its "
                    "cost but moved the dev clips' alerts 0.5 s later, so it is not the default)",
    )
    static_model_max_side: int = Field(
        default=96, ge=16, le=1024,
        description="each zone's crop is downscaled to at most this many px on its longer side before the "
                    "static-object model looks at it (smaller: cheaper, coarser; 64 raised the dev clips' events "
                    "at the very same times, but a false episode on the road zone of the tests' bag clip, so it "
                    "is not the default)",
    )


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOORLINE_EDGE_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    edge_id: str = Field(
        default_factory=lambda: default_edge_id(),
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="stable per box (its MQTT session and client id); default edge-<hostname>",
    )
    site_id: str = Field(default="site-1", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
    cameras: list[CameraSettings] = Field(default_factory=list)
    models_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("models_dir", "DOORLINE_EDGE_MODELS_DIR", "DOORLINE_MODELS_DIR"),
    )
    model: str = Field(default="yolox_nano.onnx", min_length=1)
    backend: str | None = Field(default=None, description="detector back-end type_key; default by file type")
    device: str = "auto"
    conf: float = Field(default=0.25, ge=0.01, le=1.0, description="detector confidence threshold")
    threads: int | None = Field(
        default=None, ge=1, le=64, description="CPU threads per inference; default cores / inference_workers"
    )
    inference_workers: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="detector calls in flight at once, so detection overlaps analysis; default one per core "
        "(at most 4). On a CPU, workers x threads = cores gives the most frames per second",
    )
    batch_size: int = Field(default=8, ge=1, le=64, description="frames per detector call across cameras")
    gil_switch_interval_ms: float = Field(
        default=0.5,
        ge=0,
        le=100,
        description="Python's thread switch interval while the pipeline runs (sys.setswitchinterval); 0 keeps "
        "Python's own 5 ms. An inference worker whose detector call has returned waits up to this long for "
        "the GIL while the pipeline thread analyses, and its core idles meanwhile",
    )
    analysis_fps: float = Field(default=2.0, gt=0, le=60)
    realtime: bool = Field(default=False, description="pace video files to their own fps")
    loop_files: bool = Field(default=False, description="replay video files / image folders endlessly")
    stall_timeout_s: float = Field(default=10.0, ge=0.5, le=600)
    backoff_max_s: float = Field(default=30.0, ge=0.5, le=3600)
    queue_size: int = Field(default=4, ge=1, le=256)
    status_interval_s: float = Field(default=5.0, ge=0.5, le=3600)
    recheck_frames: int = Field(default=4, ge=1, le=100, description="sampled frames judged per recheck")
    recheck_timeout_s: float = Field(
        default=120.0, ge=1, le=86400,
        description="a recheck its camera cannot judge within this (no frames: camera down) is answered unknown",
    )
    command_queue_size: int = Field(
        default=256, ge=1, le=100_000,
        description="central commands waiting to be applied; past it the oldest is dropped and logged",
    )
    mqtt_enabled: bool = True
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    spool_path: Path = Path("var/edge-spool")
    reference_dir: Path | None = Field(
        default=Path("var/edge-reference"),
        description="where live cameras keep what they learned of their empty zones, so that a restart does "
                    "not learn goods standing there as background; none: not kept",
    )
    reference_max_age_s: float = Field(default=1800.0, ge=0, le=7 * 86400,
                                       description="a saved reference older than this is not used (0: never)")
    reference_interval_s: float = Field(default=60.0, ge=1, le=86400, description="how often it is saved")
    spool_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024 * 1024)
    receipts: bool = Field(
        default=True,
        description="keep each sent message until central's receipt says it is stored (survives a broker "
                    "that dies before writing what it acknowledged); false: delete it on the broker's PUBACK",
    )
    receipt_timeout_s: float = Field(default=30.0, ge=1, le=3600, description="send again if no receipt by then")
    verify_central: bool = Field(
        default=True,
        description="with a broker password, act only on commands and receipts that central signed with this "
                    "edge's key (central signs when it has DOORLINE_EDGE_ACCOUNTS)",
    )
    evidence_dir: Path | None = Field(default=None, description="also write evidence JPEGs here")
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    savings: SavingsSettings = Field(default_factory=SavingsSettings)
    events_out: Path | None = Field(
        default=None, description="also write every event phase as JSON lines (the file is started afresh)"
    )
    events_out_append: bool = Field(
        default=False, description="append to events_out instead (a long-running worker that restarts)"
    )
    rules: dict[str, Any] = Field(default_factory=dict, description="RuleConfig overrides for every camera")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve Prometheus metrics at http://metrics_host:PORT/metrics (off)"
    )
    metrics_host: str = Field(default="127.0.0.1", description="address the metrics endpoint listens on")

    @field_validator("rules")
    @classmethod
    def _rules_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        reason = check_overrides(value)
        if reason:
            raise ValueError(reason)
        return value

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, value: list[CameraSettings]) -> list[CameraSettings]:
        ids = [c.id for c in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera ids must be unique, repeated: {dupes}")
        return value

    @property
    def workers(self) -> int:
        return self.inference_workers or max(1, min(4, os.cpu_count() or 1))

    @property
    def inference_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    def rule_config(self, base: RuleConfig) -> RuleConfig:
        return base.merged(self.rules) if self.rules else base

    # ------------------------------------------------------------------ loading
    _yaml_file: ClassVar[str | None] = None
    _load_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings,
        env_settings,
        dotenv_settings,
        file_secret_settings,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = cls._yaml_file or os.environ.get("DOORLINE_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> EdgeSettings:
        """Settings from `config` (or $DOORLINE_CONFIG), the environment and `overrides` (None values are
        ignored, so unset CLI options don't mask the file). Raises ValueError naming a missing file."""
        if config is not None and not Path(config).is_file():
            raise ValueError(f"settings file {config} does not exist")
        env_config = os.environ.get("DOORLINE_CONFIG")
        if config is None and env_config and not Path(env_config).is_file():
            raise ValueError(f"settings file {env_config} (from DOORLINE_CONFIG) does not exist")
        with cls._load_lock:
            cls._yaml_file = None if config is None else str(config)
            try:
                return cls(**{k: v for k, v in overrides.items() if v is not None})
            finally:
                cls._yaml_file = None
