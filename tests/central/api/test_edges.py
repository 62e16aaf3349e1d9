"""Per-edge credentials: issued by an admin, secret shown once and kept as an argon2 hash, edge login,
rotation, and an edge token never passes as an operator."""

from __future__ import annotations

from central.orm.users import EdgeCredential

from .conftest import Env


def edge_login(env: Env, edge_id: str, secret: str) -> int:
    return env.client.post("/api/auth/edge-token", data={"edge_id": edge_id, "secret": secret}).status_code


def test_edge_credential_lifecycle(env: Env) -> None:
    admin = env.login("admin")
    body = {"edge_id": "edge-7", "site_id": "site-1", "camera_ids": ["cam-1", "cam-2"]}
    r = env.client.post("/api/edges/credentials", headers=admin, json=body)
    assert r.status_code == 201, r.text
    issued = r.json()
    secret = issued["secret"]
    assert len(secret) >= 32 and issued["camera_ids"] == ["cam-1", "cam-2"]
    assert issued["created_by"] == "admin"
    with env.session() as s:
        row = s.get(EdgeCredential, "edge-7")
        assert row.secret_hash.startswith("$argon2id$") and secret not in row.secret_hash
    assert env.client.post("/api/edges/credentials", headers=admin, json=body).status_code == 409
    listed = env.client.get("/api/edges/credentials", headers=admin).json()
    assert [c["edge_id"] for c in listed] == ["edge-7"] and "secret" not in listed[0]

    ok = env.client.post("/api/auth/edge-token", data={"edge_id": "edge-7", "secret": secret})
    assert ok.status_code == 200 and ok.json()["role"] == "edge"
    edge_headers = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert env.client.get("/api/auth/me", headers=edge_headers).status_code == 401  # not an operator
    me = env.client.get("/api/edges/self", headers=edge_headers)
    assert me.status_code == 200 and me.json()["edge_id"] == "edge-7"
    assert me.json()["camera_ids"] == ["cam-1", "cam-2"]
    assert env.client.get("/api/edges/self", headers=admin).status_code == 401  # an operator is not an edge
    assert edge_login(env, "edge-7", "x" + secret) == 401
    assert edge_login(env, "edge-9", secret) == 401

    rotated = env.client.post("/api/edges/credentials/edge-7/rotate", headers=admin)
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret
    assert edge_login(env, "edge-7", secret) == 401
    assert edge_login(env, "edge-7", rotated.json()["secret"]) == 200
    assert env.client.get("/api/edges/self", headers=edge_headers).status_code == 401  # old secret's token
    new_secret = rotated.json()["secret"]
    fresh = env.client.post("/api/auth/edge-token", data={"edge_id": "edge-7", "secret": new_secret})
    edge_headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert env.client.get("/api/edges/self", headers=edge_headers).status_code == 200

    r = env.client.patch("/api/edges/credentials/edge-7", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert env.client.get("/api/edges/self", headers=edge_headers).status_code == 401  # disabled at once
    assert edge_login(env, "edge-7", rotated.json()["secret"]) == 401
    assert env.client.delete("/api/edges/credentials/edge-7", headers=admin).status_code == 204
    assert env.client.delete("/api/edges/credentials/edge-7", headers=admin).status_code == 404


def test_bad_credential_input_is_422(sqlite_env: Env) -> None:
    admin = sqlite_env.login("admin")
    for body in ({"edge_id": "../x", "site_id": "s"}, {"edge_id": "e1"}, {"edge_id": "e1", "site_id": "s",
                                                                          "camera_ids": ["bad cam"]}):
        assert sqlite_env.client.post("/api/edges/credentials", headers=admin, json=body).status_code == 422


def test_reviewer_cannot_issue_credentials(sqlite_env: Env) -> None:
    r = sqlite_env.client.post("/api/edges/credentials", headers=sqlite_env.login("reviewer"),
                               json={"edge_id": "e1", "site_id": "s"})
    assert r.status_code == 403
