"""Broker connection settings shared by edge and central (embedded in each service's settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from wire.topics import DEFAULT_PREFIX


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    prefix: str = Field(default=DEFAULT_PREFIX, description="topic root; tests use a unique one per run")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    tls_ca: Path | None = Field(default=None, description="CA file; setting it turns TLS on")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_insecure: bool = Field(default=False, description="skip hostname check (self-signed test brokers)")
