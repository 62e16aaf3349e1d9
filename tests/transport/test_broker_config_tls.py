"""The TLS listener that `doorline-central broker-config --port --tls-ca --tls-cert --tls-key
[--require-client-cert]` writes, run by a real Mosquitto exactly as generated (included from a two-line
wrapper), with a CA and certificates made here by the openssl CLI: TLS clients that trust the CA connect and
publish, and plain TCP on that port gets no MQTT session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from central.orm.events import EventPhaseRecord
from testkit.ports import free_port
from testkit.transport import (
    REPO_DIR,
    SITE,
    count,
    make_event,
    make_test_pki,
    mqtt_connect_packet,
    plain_mqtt_answer,
    wait_for,
)
from wire import topics
from wire.mqtt import MqttSettings
from wire.schema import encode

PASSWORDS = {"central": "central-secret-1", "edge-1": "edge-one-secret"}

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


def _broker_config(tmp_path: Path, prefix: str, port: int, pki: dict[str, Path], *extra: str) -> Path:
    """Run the real CLI; returns the output directory."""
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump(
            {
                "prefix": prefix,
                "central": {"username": "central", "password": PASSWORDS["central"]},
                "edges": [
                    {"edge_id": "edge-1", "site_id": SITE, "password": PASSWORDS["edge-1"], "camera_ids": ["cam-1"]}
                ],
            }
        )
    )
    out = tmp_path / "brokercfg"
    args = ["broker-config", str(accounts), "--out-dir", str(out), "--port", str(port)]
    args += ["--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]), *extra]
    r = subprocess.run(
        [sys.executable, "-m", "central.cli", *args], cwd=REPO_DIR, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert (out / "mosquitto.conf").is_file() and (out / "passwd").is_file() and (out / "acl").is_file()
    return out


@pytest.fixture
def run_generated(tmp_path: Path) -> Iterator:
    """Start Mosquitto on a generated config directory: the wrapper only adds what this test machine needs
    (run as root when we are root, so it can read the 0600 password file) and includes the generated file."""
    procs: list[subprocess.Popen] = []

    def start(out_dir: Path, port: int) -> SimpleNamespace:
        wrapper = tmp_path / "wrapper.conf"
        lines = [f"include_dir {out_dir}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.insert(0, "user root")
        wrapper.write_text("\n".join(lines) + "\n")
        log = open(tmp_path / "mosquitto.log", "ab")  # noqa: SIM115 -- the broker writes it
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        p = subprocess.Popen([mosquitto, "-c", str(wrapper)], stdout=log, stderr=log)
        log.close()
        procs.append(p)
        deadline = time.monotonic() + 10
        while True:
            assert p.poll() is None, (tmp_path / "mosquitto.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"mosquitto not listening on {port}") from None
                time.sleep(0.05)
        return SimpleNamespace(host="127.0.0.1", port=port, log=tmp_path / "mosquitto.log")

    yield start
    for p in procs:
        p.kill()
        p.wait(10)


def _tls_client(broker, user: str, password: str, client_id: str, **tls) -> tuple[mqtt.Client, dict]:
    state: dict = {"connack": threading.Event(), "rc": None, "acks": {}}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.tls_set(**tls)

    def on_connect(_c, _u, _f, rc, _p) -> None:
        state["rc"] = rc
        state["connack"].set()

    c.on_connect = on_connect
    c.on_publish = lambda _c, _u, mid, rc, _p: state["acks"].__setitem__(mid, rc)
    return c, state


def _plain_tcp_gets_no_session(broker) -> None:
    answer = plain_mqtt_answer(broker.host, broker.port, mqtt_connect_packet("plain", "edge-1", PASSWORDS["edge-1"]))
    assert not answer.startswith(b"\x20"), f"plain TCP got a CONNACK from the TLS listener: {answer!r}"
    # and the paho client without TLS never gets its session either
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain-paho", protocol=mqtt.MQTTv5)
    c.username_pw_set("edge-1", PASSWORDS["edge-1"])
    connected = threading.Event()
    c.on_connect = lambda _c, _u, _f, rc, _p: connected.set() if not rc.is_failure else None
    try:
        c.connect(broker.host, broker.port)
        c.loop_start()
        assert not connected.wait(3), "a plain-TCP client connected to the TLS listener"
    except OSError:
        pass  # refused outright: as good
    finally:
        c.loop_stop()


def test_probe_gets_a_connack_from_a_plain_listener(broker) -> None:
    """The control for the plain-TCP probe below: on a plain listener it does get a CONNACK."""
    assert plain_mqtt_answer(broker.host, broker.port, mqtt_connect_packet("probe")).startswith(b"\x20")


def _connect_and_publish(c: mqtt.Client, st: dict, broker, port: int, topic: str, event) -> None:
    """Connect `c` (a `_tls_client`), expect CONNACK success, publish `event` QoS 1, expect PUBACK success."""
    c.connect(broker.host, port)
    c.loop_start()
    try:
        assert st["connack"].wait(5) and not st["rc"].is_failure, st["rc"]
        info = c.publish(topic, encode(event), qos=1)
        wait_for(lambda: info.mid in st["acks"], 5, "the PUBACK over TLS")
        assert not st["acks"][info.mid].is_failure
    finally:
        c.loop_stop()
        c.disconnect()


def test_generated_tls_listener_takes_tls_clients_and_refuses_plain_tcp(
    tmp_path, topic_prefix, run_generated, make_central, make_edge
) -> None:
    pki = make_test_pki(tmp_path / "pki")
    port = free_port()
    out = _broker_config(tmp_path, topic_prefix, port, pki)
    conf = (out / "mosquitto.conf").read_text()
    assert f"listener {port}\ncafile {pki['ca']}\ncertfile {pki['cert']}\nkeyfile {pki['key']}\n" in conf
    broker = run_generated(out, port)

    # central and the edge (the real IngestService and Publisher) over TLS with the CA: the event is stored
    def settings(user: str) -> MqttSettings:
        return MqttSettings(
            host=broker.host, port=port, prefix=topic_prefix, username=user, password=PASSWORDS[user], tls_ca=pki["ca"]
        )

    central = make_central(broker, topic_prefix, mqtt=settings("central"))
    edge = make_edge(broker, topic_prefix, mqtt=settings("edge-1"))
    ev = make_event(1)
    edge.publish(ev)
    assert edge.wait_drained(10), edge.stats()
    wait_for(lambda: count(central.session_factory, EventPhaseRecord) == 1, 10, "the event over TLS")
    with central.session_factory() as s:
        assert s.get(EventPhaseRecord, ev.message_id) is not None

    # a bare paho client with the CA: CONNACK success, PUBACK success on its own topic
    c, st = _tls_client(broker, "edge-1", PASSWORDS["edge-1"], "tls-probe", ca_certs=str(pki["ca"]))
    _connect_and_publish(c, st, broker, port, topics.topic(SITE, "cam-1", "event", topic_prefix), make_event(2))
    wait_for(lambda: count(central.session_factory, EventPhaseRecord) == 2, 10, "the second event over TLS")

    _plain_tcp_gets_no_session(broker)


def test_generated_tls_listener_with_client_certificates_required(tmp_path, topic_prefix, run_generated) -> None:
    pki = make_test_pki(tmp_path / "pki")
    port = free_port()
    out = _broker_config(tmp_path, topic_prefix, port, pki, "--require-client-cert")
    assert "require_certificate true" in (out / "mosquitto.conf").read_text()
    broker = run_generated(out, port)

    # the CA alone is not enough: no session without a client certificate
    bare, st_bare = _tls_client(broker, "edge-1", PASSWORDS["edge-1"], "no-client-cert", ca_certs=str(pki["ca"]))
    try:
        bare.connect(broker.host, port)
        bare.loop_start()
        ok = st_bare["connack"].wait(3) and not st_bare["rc"].is_failure
        assert not ok, "connected to a require_certificate listener without a client certificate"
    except OSError:
        pass  # the handshake failed in connect(): as it should
    finally:
        bare.loop_stop()

    # with a client certificate signed by the CA: connected, and the publish is acknowledged
    c, st = _tls_client(
        broker,
        "edge-1",
        PASSWORDS["edge-1"],
        "with-client-cert",
        ca_certs=str(pki["ca"]),
        certfile=str(pki["client_cert"]),
        keyfile=str(pki["client_key"]),
    )
    _connect_and_publish(c, st, broker, port, topics.topic(SITE, "cam-1", "event", topic_prefix), make_event(3))
    _plain_tcp_gets_no_session(broker)
