"""Events API: list with filters (camera, zone, violation, phase, date range), detail with phases, evidence
references and the case — on SQLite and PostgreSQL. Rows are what helper C's ingest stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from central.orm.events import Event, EventPhaseRecord, Evidence
from central.workflow import handle_event
from wire.ids import new_id
from wire.schema import EventMessage, EvidenceRef

from .conftest import T0, Env, add_shop, tiny_jpeg

DAY = timedelta(days=1)


def store_event(env: Env, s, *, camera: str, zone: str, violation: str, phases: list[str], at: datetime,
                seed: int = 0) -> tuple[str, list[EventMessage], str]:
    """Store one episode the way ingest does: an events row, one row per phase message, the evidence."""
    event_id = new_id()
    jpeg = tiny_jpeg(seed)
    sha = env.store.put(jpeg)
    ev_id = new_id()
    ref = EvidenceRef(evidence_id=ev_id, sha256=sha, size=len(jpeg))
    msgs = [EventMessage(site_id="site-1", camera_id=camera, event_id=event_id, seq=i, zone_id=zone,
                         violation=violation, phase=ph, ts=(at + timedelta(minutes=5 * i)).timestamp(),
                         score=0.5 + 0.1 * i, evidence=[ref] if i == 0 else [])
            for i, ph in enumerate(phases)]
    s.add(Event(event_id=event_id, site_id="site-1", camera_id=camera, zone_id=zone, violation=violation,
                phase=phases[-1], last_seq=len(phases) - 1, first_ts=at,
                last_ts=at + timedelta(minutes=5 * (len(phases) - 1)), score=max(m.score for m in msgs),
                source_kind="fixed", phase_count=len(phases)))
    for m in msgs:
        s.add(EventPhaseRecord(message_id=m.message_id, event_id=event_id, seq=m.seq, phase=m.phase,
                               ts=datetime.fromtimestamp(m.ts, T0.tzinfo), sent_at=m.sent_at,
                               payload=m.model_dump_json()))
    s.add(Evidence(evidence_id=ev_id, sha256=sha, event_id=event_id, kind="annotated", size=len(jpeg),
                   width=160, height=90, stored=True, site_id="site-1", camera_id=camera))
    s.flush()
    return event_id, msgs, sha


@pytest.fixture
def three(env: Env) -> dict[str, str]:
    with env.session() as s:
        add_shop(s, "s1", zone="z1")
        e1, msgs1, _ = store_event(env, s, camera="cam-1", zone="z1", violation="piled_goods",
                                   phases=["start", "end"], at=T0)
        handle_event(s, msgs1[0], env.settings)
        e2, _, _ = store_event(env, s, camera="cam-2", zone="z2", violation="cross_door_trading",
                               phases=["start"], at=T0 + DAY, seed=1)
        e3, _, _ = store_event(env, s, camera="cam-1", zone="z3", violation="piled_goods",
                               phases=["start", "update"], at=T0 + 2 * DAY, seed=2)
        s.commit()
    return {"e1": e1, "e2": e2, "e3": e3}


FILTERS = [
    ({}, ["e3", "e2", "e1"]),
    ({"camera_id": "cam-1"}, ["e3", "e1"]),
    ({"zone_id": "z2"}, ["e2"]),
    ({"violation": "cross_door_trading"}, ["e2"]),
    ({"phase": "end"}, ["e1"]),
    ({"since": (T0 + DAY).date().isoformat()}, ["e3", "e2"]),
    ({"until": T0.date().isoformat()}, ["e1"]),
    ({"since": (T0 + DAY).date().isoformat(), "until": (T0 + DAY).date().isoformat()}, ["e2"]),
    ({"camera_id": "cam-1", "violation": "cross_door_trading"}, []),
    ({"limit": 1, "offset": 1}, ["e2"]),
]


def test_list_filters(env: Env, three: dict[str, str]) -> None:
    viewer = env.login("viewer")
    names = {v: k for k, v in three.items()}
    for params, expected in FILTERS:
        r = env.client.get("/api/events", params=params, headers=viewer)
        assert r.status_code == 200, (params, r.text)
        page = r.json()
        assert [names[e["event_id"]] for e in page["items"]] == expected, params
    assert env.client.get("/api/events", params={"limit": 1}, headers=viewer).json()["total"] == 3


@pytest.mark.parametrize("params", [{"violation": "graffiti"}, {"phase": "middle"}, {"since": "yesterday"},
                                    {"limit": 0}, {"limit": 501}, {"offset": -1}])
def test_bad_filters_are_422(shared_env: Env, params: dict) -> None:
    assert shared_env.client.get("/api/events", params=params, headers=shared_env.login("viewer")
                                 ).status_code == 422


def test_detail_with_phases_evidence_and_case(env: Env, three: dict[str, str]) -> None:
    viewer = env.login("viewer")
    assert env.client.get(f"/api/events/{three['e1']}").status_code == 401
    r = env.client.get(f"/api/events/{three['e1']}", headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(p["seq"], p["phase"]) for p in body["phases"]] == [(0, "start"), (1, "end")]
    assert body["case_id"] is not None and body["violation"] == "piled_goods"
    (ev,) = body["evidence"]
    assert ev["stored"] is True and ev["url"] == f"/api/evidence/{ev['sha256']}"
    img = env.client.get(ev["url"], headers=viewer)
    assert img.status_code == 200 and img.content == tiny_jpeg(0)
    case = env.client.get(f"/api/cases/{body['case_id']}", headers=viewer)
    assert case.status_code == 200 and case.json()["shop_id"] == "s1"
    assert env.client.get(f"/api/events/{three['e2']}", headers=viewer).json()["case_id"] is None
    assert env.client.get("/api/events/no-such-event", headers=viewer).status_code == 404


def test_phase_count(env: Env, three: dict[str, str]) -> None:
    r = env.client.get("/api/events/phases/count", headers=env.login("viewer"))
    assert r.status_code == 200 and r.json() == {"count": 5}


def test_payload_is_kept_verbatim(sqlite_env: Env) -> None:
    with sqlite_env.session() as s:
        eid, msgs, _ = store_event(sqlite_env, s, camera="cam-9", zone="z9", violation="piled_goods",
                                   phases=["start"], at=T0)
        s.commit()
        row = s.get(EventPhaseRecord, msgs[0].message_id)
        assert json.loads(row.payload)["event_id"] == eid


def test_console_detections_page(sqlite_env: Env) -> None:
    env = sqlite_env
    with env.session() as s:
        add_shop(s, "s1", zone="z1")
        e1, msgs, _ = store_event(env, s, camera="cam-1", zone="z1", violation="piled_goods",
                                  phases=["start"], at=T0)
        handle_event(s, msgs[0], env.settings)
        e2, _, _ = store_event(env, s, camera="cam-2", zone="z2", violation="cross_door_trading",
                               phases=["start"], at=T0 + DAY, seed=1)
        s.commit()
    env.client.cookies.set("doorline_token", env.login("viewer")["Authorization"].split()[1])
    # a submitted filter form sends blank fields
    r = env.client.get("/console/events?camera_id=&zone_id=&violation=&phase=&since=&until=")
    assert r.status_code == 200 and r.text.count("<tr><td>") == 2
    assert "/console/cases/" in r.text  # e1 went to a case
    r = env.client.get("/console/events?violation=cross_door_trading")
    assert r.text.count("<tr><td>") == 1 and "cam-2 / z2" in r.text
    bad = env.client.get("/console/events?since=not-a-date")  # a page that says which value, not JSON
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html") and "since" in bad.text
