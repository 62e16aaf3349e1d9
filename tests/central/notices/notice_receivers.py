"""Real local servers the notice channels deliver to: an HTTP receiver that verifies webhook signatures, an
SMTP server (aiosmtpd), a Web Push endpoint that checks the VAPID token and decrypts the payload (http_ece),
and an MQTT subscriber. Each records what it accepted; the webhook one can fail or stall on purpose."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from central.notices.channels import verify_webhook


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    key: str
    payload: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.refused = 0
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.received]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{type(self).__name__}: {len(self.received)} of {n} messages after {timeout} s")


class _WebhookHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        owner: WebhookReceiver = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if owner.stall_s:
            time.sleep(owner.stall_s)
        if not verify_webhook(owner.secret, self.headers, body):
            with owner.lock:
                owner.refused += 1
            self.send_response(401)
            self.end_headers()
            return
        with owner.lock:
            if owner.fail_next > 0:
                owner.fail_next -= 1
                status = owner.fail_status
            else:
                status = 200
                owner.received.append(Received(self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"try later")


class WebhookReceiver(_Server):
    """Accepts only correctly signed, fresh requests (401 otherwise)."""

    def __init__(self, secret: str) -> None:
        super().__init__(_WebhookHandler)
        self.secret = secret
        self.fail_next = 0
        self.fail_status = 503
        self.stall_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/doorline"


class _PushHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        owner: PushEndpoint = self.server.owner  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            owner.check_vapid(self.headers.get("Authorization", ""))
            if self.headers.get("Content-Encoding") != "aes128gcm":
                raise ValueError("not aes128gcm")
            clear = http_ece.decrypt(body, private_key=owner.private_key, auth_secret=owner.auth,
                                     version="aes128gcm")
            payload = json.loads(clear)
        except Exception as exc:  # noqa: BLE001 - the test reads `errors`
            with owner.lock:
                owner.refused += 1
                owner.errors.append(repr(exc))
            self.send_response(400)
            self.end_headers()
            return
        with owner.lock:
            owner.received.append(Received(payload["key"], payload))
        self.send_response(201)
        self.end_headers()


class PushEndpoint(_Server):
    """A push service and the browser in one: holds the subscription's private key and auth secret,
    verifies the VAPID JWT against the application server key, decrypts what it is sent."""

    def __init__(self, vapid_public_b64: str) -> None:
        super().__init__(_PushHandler)
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.vapid_public_b64 = vapid_public_b64
        self.errors: list[str] = []

    def subscription(self) -> dict[str, Any]:
        pub = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"http://127.0.0.1:{self.port}/push/sub-1", "keys": {"p256dh": b64u(pub),
                                                                                  "auth": b64u(self.auth)}}

    def check_vapid(self, header: str) -> None:
        scheme, _, rest = header.partition(" ")
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        if scheme.lower() != "vapid" or parts.get("k") != self.vapid_public_b64:
            raise ValueError(f"bad VAPID header {header[:60]!r}")
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(parts["k"]))
        claims = jwt.decode(parts["t"], key, algorithms=["ES256"], audience=f"http://127.0.0.1:{self.port}")
        if not str(claims.get("sub", "")).startswith("mailto:"):
            raise ValueError("VAPID sub must be a mailto: or https: contact")


def vapid_keypair(tmp: Path) -> tuple[str, str]:
    """(private key PEM path, public key base64url) for the application server."""
    from py_vapid import Vapid

    v = Vapid()
    v.generate_keys()
    path = tmp / "vapid.pem"
    v.save_key(str(path))
    pub = v.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return str(path), b64u(pub)


class SmtpServer:
    """aiosmtpd on a free port; records (idempotency key, subject, body, to)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.received: list[Received] = []
        server = self

        class Handler:
            async def handle_RCPT(self, srv, session, envelope, address, rcpt_options):  # noqa: N802
                if address.endswith("@refused.example"):
                    return "550 no such mailbox"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv, session, envelope):  # noqa: N802
                msg = message_from_bytes(envelope.content)
                body = msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8")
                with server.lock:
                    server.received.append(Received(msg["X-Doorline-Idempotency-Key"], {
                        "subject": str(make_header(decode_header(msg["Subject"]))), "body": body,
                        "to": envelope.rcpt_tos, "message_id": msg["Message-ID"]}))
                return "250 Message accepted"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"SMTP: {len(self.received)} of {n} messages after {timeout} s")


class MqttSubscriber:
    def __init__(self, host: str, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.topics: list[str] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{os.getpid()}-{time.time_ns()}")
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError("MQTT subscriber not subscribed")

    def _on_message(self, _c, _u, msg) -> None:
        payload = json.loads(msg.payload)
        with self.lock:
            self.received.append(Received(payload["idempotency_key"], payload))
            self.topics.append(msg.topic)

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"MQTT: {len(self.received)} of {n} messages after {timeout} s")

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
