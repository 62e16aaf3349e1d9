"""The channels a notice can leave by, behind one small interface:

    channel.send(envelope, route) -> Outcome("accepted" | "retryable" | "permanent", detail)

`accepted` means the channel's server took the message (HTTP 2xx, SMTP 250, MQTT PUBACK, push service 201).
Every attempt carries the notice's idempotency key, so a receiver drops a repeat after a crash or a retry.

Signed webhook (how a city plugs in its SMS or WeChat gateway): `POST <target>` with a JSON body
(`idempotency_key`, `audience`, `recipient` — the shop's phone for an owner —, `shop_id`, `case_id`,
`language`, `subject`, `body`, `link`) and

    X-Doorline-Timestamp: <unix seconds>
    X-Doorline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>
    Idempotency-Key: <key>

The receiver recomputes the HMAC over the raw body, compares in constant time and refuses timestamps older
than a few minutes (`verify_webhook` does all three). 2xx accepted; 408, 425, 429 and 5xx retried; any
other status is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal, Protocol

import httpx

from central.settings import CentralSettings
from wire.mqtt import mqtt_client

Status = Literal["accepted", "retryable", "permanent"]
SIGNATURE_HEADER = "X-Doorline-Signature"
TIMESTAMP_HEADER = "X-Doorline-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Envelope:
    """What is sent, whatever the channel."""

    idempotency_key: str
    audience: str  # owner | officer
    shop_id: str | None
    case_id: str | None
    language: str
    subject: str
    body: str
    link: str
    recipient: str = ""  # who the gateway should reach: the shop's phone, the officer's name

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def json_bytes(self) -> bytes:
        return json.dumps(self.payload(), ensure_ascii=False, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class Route:
    """Where to: a shop channel or an officer contact, resolved at send time."""

    kind: str
    target: str
    secret: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    ref: str = ""
    topic_scope: str = "shop"  # MQTT: shop | officer
    topic_id: str = ""


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


ACCEPTED = Outcome("accepted")


def retryable(detail: str) -> Outcome:
    return Outcome("retryable", detail)


def permanent(detail: str) -> Outcome:
    return Outcome("permanent", detail)


class Channel(Protocol):
    kind: str

    def send(self, envelope: Envelope, route: Route) -> Outcome: ...


def _http_outcome(status: int, text: str) -> Outcome:
    if 200 <= status < 300:
        return ACCEPTED
    detail = f"HTTP {status}: {text[:200]}"
    if status in (408, 425, 429) or status >= 500:
        return retryable(detail)
    return permanent(detail)


# ---- webhook --------------------------------------------------------------------------------------------

def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: float = 300,
                   now: float | None = None) -> bool:
    """What a receiver (an SMS/WeChat gateway) does with a Doorline webhook: True if the signature matches
    the raw body and the timestamp is recent. `headers` lookups should be case-insensitive."""
    ts = headers.get(TIMESTAMP_HEADER) or headers.get(TIMESTAMP_HEADER.lower()) or ""
    sig = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()) or ""
    if not ts.isdigit() or abs((now if now is not None else time.time()) - int(ts)) > tolerance_s:
        return False
    return hmac.compare_digest(sig, sign_webhook(secret, ts, body))


class WebhookChannel:
    kind = "webhook"

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, envelope: Envelope, route: Route) -> Outcome:
        if not route.secret:
            return permanent("webhook has no secret")
        body = envelope.json_bytes()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP_HEADER: ts,
                   SIGNATURE_HEADER: sign_webhook(route.secret, ts, body),
                   IDEMPOTENCY_HEADER: envelope.idempotency_key}
        try:
            resp = self._client.post(route.target, content=body, headers=headers)
        except httpx.InvalidURL as exc:
            return permanent(f"bad webhook URL: {exc}")
        except httpx.HTTPError as exc:
            return retryable(f"{type(exc).__name__}: {exc}")
        return _http_outcome(resp.status_code, resp.text)

    def close(self) -> None:
        self._client.close()


# ---- e-mail ---------------------------------------------------------------------------------------------

class EmailChannel:
    kind = "email"

    def __init__(self, settings: CentralSettings) -> None:
        self.n = settings.notices

    def send(self, envelope: Envelope, route: Route) -> Outcome:
        msg = EmailMessage()
        msg["From"] = self.n.smtp_from
        msg["To"] = route.target
        msg["Subject"] = envelope.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{envelope.idempotency_key}@doorline>"
        msg["X-Doorline-Idempotency-Key"] = envelope.idempotency_key
        msg.set_content(envelope.body)
        try:
            with smtplib.SMTP(self.n.smtp_host, self.n.smtp_port, timeout=self.n.timeout_s) as smtp:
                if self.n.smtp_starttls:
                    smtp.starttls()
                if self.n.smtp_user:
                    smtp.login(self.n.smtp_user, self.n.smtp_password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return permanent(f"recipient refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            return permanent(text) if 500 <= exc.smtp_code < 600 else retryable(text)
        except (smtplib.SMTPException, OSError) as exc:
            return retryable(f"{type(exc).__name__}: {exc}")
        if refused:
            return permanent(f"recipient refused: {refused}")
        return ACCEPTED


# ---- MQTT -----------------------------------------------------------------------------------------------

class MqttChannel:
    """QoS 1 to `<prefix>/<notices.mqtt_topic>/shop/<shop id>` (or `/officer/<contact id>`); accepted on the
    broker's PUBACK. One connection per sender, shared by its workers."""

    kind = "mqtt"

    def __init__(self, settings: CentralSettings, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        self._client = None
        self._lock = threading.Lock()

    def _connected(self):
        with self._lock:
            if self._client is None:
                client = mqtt_client(self.settings.mqtt, self.client_id)
                client.connect(self.settings.mqtt.host, self.settings.mqtt.port, self.settings.mqtt.keepalive_s)
                client.loop_start()
                self._client = client
            return self._client

    def topic(self, route: Route) -> str:
        suffix = route.target or route.topic_id
        return f"{self.settings.mqtt.prefix}/{self.settings.notices.mqtt_topic}/{route.topic_scope}/{suffix}"

    def send(self, envelope: Envelope, route: Route) -> Outcome:
        try:
            client = self._connected()
        except OSError as exc:
            return retryable(f"broker unreachable: {exc}")
        info = client.publish(self.topic(route), envelope.json_bytes(), qos=1)
        try:
            info.wait_for_publish(timeout=self.settings.notices.timeout_s)
        except (RuntimeError, ValueError) as exc:  # not connected / queue full
            return retryable(f"publish failed: {exc}")
        return ACCEPTED if info.is_published() else retryable("no PUBACK in time")

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.loop_stop()
                self._client.disconnect()
                self._client = None


# ---- Web Push -------------------------------------------------------------------------------------------

class WebPushChannel:
    """VAPID-signed, aes128gcm-encrypted push (pywebpush) to the subscription the owner's page registered.
    `route.config` is the browser's PushSubscription JSON: {"endpoint", "keys": {"p256dh", "auth"}}."""

    kind = "webpush"

    def __init__(self, settings: CentralSettings) -> None:
        self.n = settings.notices

    def send(self, envelope: Envelope, route: Route) -> Outcome:
        if not self.n.vapid_private_key:
            return permanent("no VAPID key configured (notices.vapid_private_key)")
        from pywebpush import WebPushException, webpush

        sub = dict(route.config or {})
        if not sub.get("endpoint") or not sub.get("keys"):
            return permanent("web push subscription incomplete")
        data = json.dumps({"title": envelope.subject, "body": envelope.body, "url": envelope.link,
                           "key": envelope.idempotency_key}, ensure_ascii=False)
        try:
            resp = webpush(sub, data=data, vapid_private_key=self.n.vapid_private_key,
                           vapid_claims={"sub": self.n.vapid_subject}, ttl=24 * 3600, timeout=self.n.timeout_s,
                           headers={"Topic": envelope.idempotency_key.replace("-", "")[:32]})
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (404, 410):
                return permanent(f"subscription gone (HTTP {status})")
            return _http_outcome(status, str(exc)) if status else retryable(str(exc))
        except Exception as exc:  # requests' connection errors and the like
            return retryable(f"{type(exc).__name__}: {exc}")
        return _http_outcome(resp.status_code, resp.text)


def make_channels(settings: CentralSettings, client_id: str) -> dict[str, Channel]:
    return {
        "webhook": WebhookChannel(settings.notices.timeout_s),
        "email": EmailChannel(settings),
        "mqtt": MqttChannel(settings, f"{client_id}-notices"),
        "webpush": WebPushChannel(settings),
    }
