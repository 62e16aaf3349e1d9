"""An edge credential issued over the API logs in to a real Mosquitto configured from the exported
password file and ACL; a wrong or rotated secret does not."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from .conftest import Env


def mqtt_login(port: int, username: str, password: str) -> bool:
    done = threading.Event()
    result: dict[str, bool] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        result["ok"] = not reason_code.is_failure
        done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK from the broker"
        return result["ok"]
    finally:
        client.loop_stop()
        client.disconnect()


def test_issued_secret_opens_the_broker(sqlite_env: Env, broker_factory, tmp_path: Path) -> None:
    env = sqlite_env
    admin = env.login("admin")
    r = env.client.post("/api/edges/credentials", headers=admin,
                        json={"edge_id": "edge-1", "site_id": "site-1", "camera_ids": ["cam-1"]})
    secret = r.json()["secret"]
    env.client.post("/api/edges/credentials", headers=admin, json={"edge_id": "edge-0", "site_id": "site-1"})
    files = env.client.get("/api/edges/credentials/mosquitto", headers=admin)
    assert files.status_code == 200
    body = files.json()
    assert body["edges"] == ["edge-1"] and body["skipped"] == ["edge-0"]  # edge-0 has no cameras
    assert body["passwd"].startswith("edge-1:$7$101$") and secret not in body["passwd"]
    assert f"topic read {env.settings.mqtt.prefix}/v1/site-1/cam-1/cmd" in body["acl"]
    reviewer = env.login("reviewer")
    assert env.client.get("/api/edges/credentials/mosquitto", headers=reviewer).status_code == 403

    (tmp_path / "passwd").write_text(body["passwd"])
    (tmp_path / "acl").write_text(body["acl"])
    # run as root: Mosquitto would otherwise drop to its own user, which cannot read pytest's tmp dir
    broker = broker_factory(f"user root\nallow_anonymous false\npassword_file {tmp_path / 'passwd'}\n"
                            f"acl_file {tmp_path / 'acl'}\n")
    assert mqtt_login(broker.port, "edge-1", secret)
    assert not mqtt_login(broker.port, "edge-1", secret + "x")
    assert not mqtt_login(broker.port, "edge-0", secret)
