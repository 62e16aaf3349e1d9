"""Broker connection settings and the MQTT client shared by edge and central."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field

from wire.topics import DEFAULT_PREFIX

SESSION_EXPIRY_S = 7 * 24 * 3600


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


def mqtt_client(settings: MqttSettings, client_id: str, **kwargs: Any) -> mqtt.Client:
    """A paho v2 MQTT v5 client with the credentials and TLS of `settings` (shared by edge and central)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs)
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls_ca is not None:
        client.tls_set(
            ca_certs=str(settings.tls_ca),
            certfile=str(settings.tls_cert) if settings.tls_cert else None,
            keyfile=str(settings.tls_key) if settings.tls_key else None,
        )
        client.tls_insecure_set(settings.tls_insecure)
    client.reconnect_delay_set(min_delay=1, max_delay=16)
    # an exception in one of our callbacks is logged by paho and the network thread goes on; without this it
    # would end the thread (no more traffic, while the client still looks connected)
    client.suppress_exceptions = True
    return client


def session_properties(expiry_s: int = SESSION_EXPIRY_S, receive_maximum: int | None = None) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props
