"""Precision per camera and per model from operator verdicts: `GET /api/stats/precision` (viewer) and the
section of the console's edges page (zh-CN by default)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from central.api.deps import COOKIE_NAME
from central.domain import registry
from central.domain.shop_schema import ShopIn
from central.orm.cases import Case, CaseEvent
from central.orm.events import Event, EventPhaseRecord
from wire.ids import new_id
from wire.schema import EventMessage

# two days ago at 10:00 in Shanghai: inside the console's last 30 days
T = datetime.combine((datetime.now(UTC) - timedelta(days=2)).date(), time(2, 0), tzinfo=UTC)
DAY = T.date()


def _reviewed(s, camera: str, model: str | None, verdict: str, at: datetime) -> None:
    # closed cases (one shop may hold only one open case per violation): resolved after a confirmation
    case = Case(id=new_id(), shop_id="s1", violation="piled_goods", state="resolved" if verdict == "confirmed"
                else "dismissed", is_open=False, opened_at=at, site_id="site-1", camera_id=camera)
    if verdict == "confirmed":
        case.confirmed_at, case.confirmed_by = at, "op"
    else:
        case.closed_at, case.closed_reason = at, "not goods"
    s.add(case)
    msg = EventMessage(site_id="site-1", camera_id=camera, event_id=new_id(), seq=0, zone_id="z1",
                       violation="piled_goods", phase="start", ts=at.timestamp(), score=0.7, model=model)
    s.add(Event(event_id=msg.event_id, site_id="site-1", camera_id=camera, zone_id="z1", violation="piled_goods",
                phase="start", first_ts=at, last_ts=at, score=0.7, phase_count=1))
    s.add(EventPhaseRecord(message_id=msg.message_id, event_id=msg.event_id, seq=0, phase="start", ts=at,
                           sent_at=msg.sent_at, payload=msg.model_dump_json()))
    s.add(CaseEvent(case_id=case.id, event_id=msg.event_id))


def test_precision_route_and_console(sqlite_api) -> None:
    api = sqlite_api
    with api.factory() as s:
        registry.create_shop(s, ShopIn(id="s1", name="Shop 1"))
        for verdict in ("confirmed", "confirmed", "confirmed", "dismissed"):
            _reviewed(s, "cam-1", "yolox_nano.onnx", verdict, T)
        _reviewed(s, "cam-1", "piles-v2.onnx", "dismissed", T)
        _reviewed(s, "cam-2", None, "confirmed", T - timedelta(days=3))  # an older edge: no model named
        s.commit()
    r = api.get("/api/stats/precision", params={"start": str(DAY - timedelta(days=9)), "end": str(DAY)})
    assert r.status_code == 200, r.text
    assert [(x["camera_id"], x["model"], x["confirmed"], x["dismissed"], x["precision"]) for x in r.json()] == [
        ("cam-1", "piles-v2.onnx", 0, 1, 0.0),
        ("cam-1", "yolox_nano.onnx", 3, 1, 0.75),
        ("cam-2", "unknown", 1, 0, 1.0),
    ]
    # local days: DAY in Shanghai only (cam-2's verdict was 3 days earlier)
    only = api.get("/api/stats/precision", params={"start": str(DAY), "end": str(DAY)}).json()
    assert {x["camera_id"] for x in only} == {"cam-1"}
    assert api.client.get("/api/stats/precision").status_code == 401

    api.client.cookies.set(COOKIE_NAME, api.headers["viewer"]["Authorization"].split()[1])
    page = api.client.get("/console/edges")
    assert page.status_code == 200
    text = page.text
    assert "各摄像头与模型的检测准确率" in text  # zh-CN by default
    section = text[text.index("各摄像头与模型的检测准确率"):text.index("各摄像头与模型的检测准确率") + 3000]
    assert "yolox_nano.onnx</td>\n    <td>3</td><td>1</td><td>75.0%" in section and "未知" in section, section


def test_model_rollout_queues_a_reload_naming_the_model(sqlite_api) -> None:
    from sqlalchemy import select

    from central.orm.audit import AuditRecord
    from central.orm.events import Outbox
    from wire.schema import CommandMessage, decode

    api = sqlite_api
    path = "/api/cameras/site-1/cam-1/model"
    assert api.post(path, role="reviewer", json={"model": "piles-v2.onnx"}).status_code == 403
    assert api.post(path, json={"model": "../piles.onnx"}).status_code == 422
    r = api.post(path, json={"model": "piles-v2.onnx"})
    assert r.status_code == 202, r.text
    back = api.post(path, json={"model": "yolox_nano.onnx"})  # the rollback: the previous model named again
    with api.factory() as s:
        rows = list(s.scalars(select(Outbox).order_by(Outbox.id)))
        cmds = [decode(row.payload.encode()) for row in rows]
        assert all(isinstance(c, CommandMessage) and c.cmd == "reload_zones" for c in cmds)
        assert [(c.site_id, c.camera_id, c.model) for c in cmds] == [("site-1", "cam-1", "piles-v2.onnx"),
                                                                     ("site-1", "cam-1", "yolox_nano.onnx")]
        assert [c.command_id for c in cmds] == [r.json()["command_id"], back.json()["command_id"]]
        actions = list(s.scalars(select(AuditRecord.action).where(AuditRecord.action == "camera.model_rollout")))
        assert len(actions) == 2
