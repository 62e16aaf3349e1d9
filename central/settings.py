"""All central settings in one class: env vars `DOORLINE_...` (nested with `__`), or a YAML file named by
`DOORLINE_CONFIG`. Built by `get_settings()` at start-up, never at import time."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, PositiveInt, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, YamlConfigSettingsSource

from wire.mqtt import MqttSettings

DEFAULT_SECRET_KEY = "change-me-doorline-development-secret-key"
MIN_SECRET_BYTES = 32
SECRET_KEY_HOWTO = ("set DOORLINE_SECRET_KEY to a random value, e.g. "
                    "DOORLINE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')")
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_\-]+=*")


class InsecureSecretKey(ValueError):
    """The service refuses to start: its token-signing key is the shipped default or too weak."""


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
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, min_length=32,
                            description="signs access tokens; set one per deployment (32+ random bytes)")
    allow_insecure_key: bool = Field(default=False,
                                     description="development only: serve even with the default or a weak "
                                                 "secret_key (anyone could forge tokens)")
    token_ttl_s: int = Field(default=8 * 3600, ge=60)
    trusted_proxies: list[str] = Field(default_factory=list,
                                       description="addresses or networks of reverse proxies whose "
                                                   "X-Forwarded-Proto and X-Forwarded-For are believed (Secure "
                                                   "cookies behind TLS; login limits per real client)")
    metrics_token: str | None = Field(default=None, min_length=16,
                                      description="bearer token a Prometheus scraper sends to /metrics "
                                                  "(operator tokens work too; anonymous scrapes get 401)")
    password_hash_concurrency: int = Field(default=4, ge=1, le=64,
                                           description="argon2 hashes computed at once (64 MiB each)")
    password_hash_memory_kib: int = Field(default=65536, ge=1024, le=4 * 1024 * 1024,
                                          description="argon2 memory cost of new password hashes (KiB; the "
                                                      "default is argon2-cffi's, RFC 9106's second choice)")
    password_hash_time_cost: int = Field(default=3, ge=1, le=20, description="argon2 passes of new password hashes")
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
    owner_link_secret: str | None = Field(default=None, min_length=32,
                                          description="signs shop-owner links, apart from secret_key so either can "
                                                      "be rotated alone (keep the old one in owner_link_old_secrets "
                                                      "for a while); unset, a key derived from secret_key")
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

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted proxy {item!r} is not an IP address or network") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Asia/Shanghai')") from exc
        return value

    @property
    def owner_link_key(self) -> str:
        """The key shop-owner links are signed with: `owner_link_secret`, else one derived from `secret_key`
        (so links never sign with a known default)."""
        if self.owner_link_secret is not None:
            return self.owner_link_secret
        return hmac.new(self.secret_key.encode(), b"doorline owner links", hashlib.sha256).hexdigest()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings, env_settings,
                                   dotenv_settings, file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("DOORLINE_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)


def secret_key_bytes(key: str) -> float:
    """Roughly how many random bytes `key` can hold: a hex string 4 bits a character, a base64/URL-safe
    one 6 bits, anything else its UTF-8 length."""
    if _HEX.fullmatch(key):
        return len(key) / 2
    if _BASE64.fullmatch(key):
        return len(key) * 6 / 8
    return len(key.encode("utf-8"))


def secret_key_weakness(key: str) -> str | None:
    """Why `key` is not fit to sign tokens, or None: the shipped default or a placeholder, under 32 random
    bytes' worth (`secret_key_bytes`), or a repetition of a few characters."""
    if key == DEFAULT_SECRET_KEY or "change-me" in key.lower():
        return "is the shipped development default"
    if secret_key_bytes(key) < MIN_SECRET_BYTES:
        return f"holds less than {MIN_SECRET_BYTES} random bytes"
    if len(set(key)) < 10:
        return "repeats fewer than 10 distinct characters"
    return None


def check_secret_key(settings: CentralSettings) -> None:
    """Raise InsecureSecretKey (one line saying how to fix it) unless the keys are strong or the development
    flag `allow_insecure_key` (DOORLINE_ALLOW_INSECURE_KEY=1) is set."""
    why = secret_key_weakness(settings.secret_key)
    if why is not None and not settings.allow_insecure_key:
        raise InsecureSecretKey(f"refusing to start: the secret key {why}, so anyone could forge an admin "
                                f"token; {SECRET_KEY_HOWTO} (development only: DOORLINE_ALLOW_INSECURE_KEY=1)")
    if settings.owner_link_secret is not None and not settings.allow_insecure_key:
        why = secret_key_weakness(settings.owner_link_secret)
        if why is not None:
            raise InsecureSecretKey(f"refusing to start: the owner link secret {why}, so anyone could open any "
                                    f"shop owner's page; {SECRET_KEY_HOWTO.replace('SECRET_KEY', 'OWNER_LINK_SECRET')}")


@lru_cache
def get_settings() -> CentralSettings:
    return CentralSettings()
