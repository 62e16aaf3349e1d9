"""All central settings in one class: env vars `DOORLINE_...` (nested with `__`), or a YAML file named by
`DOORLINE_CONFIG`. Built by `get_settings()` at start-up, never at import time."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, PositiveInt, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from wire.mqtt import MqttSettings


class NoticeSettings(BaseModel):
    """How notices leave: the sender's retry policy and each channel's server."""

    sender_enabled: bool = Field(default=True, description="run the notice sender inside `serve`")
    poll_s: float = Field(default=0.5, gt=0, description="how often the sender looks for due notices")
    batch: int = Field(default=16, ge=1, le=1000, description="notices one instance claims at a time")
    workers: int = Field(default=8, ge=1, le=64, description="notices sent in parallel by one instance")
    max_attempts: int = Field(default=8, ge=1, description="then the notice is a dead letter")
    backoff_s: float = Field(default=5.0, gt=0, description="first retry delay; doubles each attempt")
    backoff_max_s: float = Field(default=3600.0, gt=0)
    lease_s: float = Field(default=60.0, gt=0, description="a claimed notice is another instance's after this")
    timeout_s: float = Field(default=10.0, gt=0, description="per attempt; keep it well under lease_s")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "doorline@localhost"
    vapid_private_key: str | None = Field(default=None, description="Web Push: VAPID private key (PEM file "
                                                                     "path or base64url raw key)")
    vapid_subject: str = "mailto:doorline@localhost"
    mqtt_topic: str = Field(default="notices", description="topics are <mqtt.prefix>/<this>/shop/<shop id> and "
                                                           "<mqtt.prefix>/<this>/officer/<contact id>")

    @model_validator(mode="after")
    def _lease_outlasts_a_batch(self) -> NoticeSettings:
        """A claimed batch must be sent before its lease ends, or another instance may send it too."""
        worst = self.timeout_s * -(-self.batch // self.workers)
        if self.lease_s <= worst:
            raise ValueError(f"notices.lease_s ({self.lease_s:g} s) must exceed timeout_s × ⌈batch / workers⌉ "
                             f"({worst:g} s): raise lease_s or workers, or lower batch or timeout_s")
        return self


class CentralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORLINE_", env_nested_delimiter="__", extra="forbid")

    database_url: str = Field(default="sqlite:///var/doorline.db", description="SQLAlchemy URL; PostgreSQL for scale")
    evidence_dir: Path = Field(default=Path("var/evidence"), description="content-addressed JPEG store")
    evidence_s3_bucket: str | None = Field(default=None, description="use S3-compatible storage instead")
    evidence_s3_endpoint: str | None = None
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    ingest_group: str = Field(default="central", description="MQTT v5 shared-subscription group")
    ingest_enabled: bool = True
    ingest_client_id: str | None = Field(default=None, max_length=128,
                                         description="MQTT client id of this ingest instance; keep it stable "
                                                     "across restarts and distinct per instance "
                                                     "(default doorline-central-<hostname>)")
    edge_accounts: Path | None = Field(default=None,
                                       description="the broker-config accounts YAML; set, central refuses "
                                                   "upstream messages not signed by the camera's own edge")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = Field(default="change-me-doorline-development-secret-key", min_length=32,
                            description="signs access tokens; set one per deployment")
    token_ttl_s: int = Field(default=8 * 3600, ge=60)
    self_rectify_window_s: float = Field(default=1800, ge=0, description="time a notified shop has to fix it")
    strike_window_days: int = Field(default=365, ge=1)
    lenient_self_rectified: bool = Field(default=True,
                                         description="a case the shop fixed inside the window adds no strike")
    auto_confirm_score: float | None = Field(default=None, ge=0, le=1,
                                             description="confirm without an operator above this score "
                                                         "for cameras marked trusted")
    grade_rules: Literal["counts", "business_type", "inspection_score"] = "counts"
    match_tolerance_m: float = Field(default=15.0, ge=0)
    tick_interval_s: float = Field(default=5.0, gt=0, description="how often timers (windows, grades) run")
    # the domain: recheck timeout, grade refresh, inspection frequency, hot spots
    recheck_timeout_s: float = Field(default=600, gt=0,
                                     description="no recheck answer by then → officer task")
    grade_refresh_interval_s: float = Field(default=3600, gt=0, description="full grade recomputation period")
    inspection_days: dict[Literal["red", "yellow", "green"], PositiveInt] = Field(
        default_factory=lambda: {"red": 1, "yellow": 7, "green": 30},
        description="days between inspections per grade")
    hotspot_tickets: int = Field(default=5, ge=1,
                                 description="tickets at one address that make it a hot spot")
    edge_offline_grace_s: float = Field(default=900, ge=0,
                                        description="an edge camera offline this long: its open episodes end "
                                        "(reason edge_offline); the cases stay for the operator")
    timezone: str = Field(default="Asia/Shanghai",
                          description="IANA zone of the deployment: days are local days and times shown to "
                                      "people are local; stored times stay UTC")
    language: Literal["zh-CN", "en"] = Field(default="zh-CN",
                                            description="default language of pages and notices")
    owner_link_secret: str = Field(default="change-me-doorline-owner-link-secret-key", min_length=32,
                                   description="signs shop-owner links (separate from secret_key); rotate it "
                                               "and keep the old one in owner_link_old_secrets for a while")
    owner_link_old_secrets: list[str] = Field(default_factory=list,
                                              description="earlier owner_link_secret values still accepted")
    public_base_url: str = Field(default="http://127.0.0.1:8000",
                                 description="the address people reach central at, used in links sent out")
    notices: NoticeSettings = Field(default_factory=lambda: NoticeSettings())
    console_queue_order: Literal["newest", "oldest"] = Field(
        default="newest", description="the review queue's order unless the operator picks the other")
    map_tile_url: str | None = Field(
        default=None, description="optional background tiles for the console map, e.g. "
                                  "'https://tiles.example/{z}/{x}/{y}.png'; without it the map draws its layers only")
    map_tile_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="the datum the tiles are drawn in (gcj02 for most tiles of Chinese cities); "
                                     "stored WGS84 points are converted to it")
    map_tile_attribution: str = Field(default="", max_length=300, description="credit shown for the tiles")
    business_types_file: Path | None = Field(default=None,
                                             description="YAML table business type → initial grade (Chinese and "
                                                         "English names, synonyms); default "
                                                         "central/rules/business_types.yaml")
    inspection_checklist_file: Path | None = Field(default=None,
                                                   description="YAML inspection checklist (items per category, "
                                                               "points, face thresholds); default "
                                                               "central/rules/inspection_checklist.yaml")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Asia/Shanghai')") from exc
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings, env_settings,
                                   dotenv_settings, file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("DOORLINE_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)


@lru_cache
def get_settings() -> CentralSettings:
    return CentralSettings()
