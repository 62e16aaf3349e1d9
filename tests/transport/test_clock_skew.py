"""An edge whose clock is 10 minutes off (issue 15's fault list): nothing it sends is lost or doubled, and once
its clock is put right (NTP), its statuses are applied again at once, not ignored for 10 minutes as "older"
than the one it sent while it was ahead."""

from __future__ import annotations

import time

from sqlalchemy import select

from central.orm.events import EdgeStatus, EventPhaseRecord
from testkit.reliability import record
from testkit.transport import SITE, count, make_event, raw_client, send, wait_for
from wire import topics
from wire.schema import StatusMessage, encode

SKEW_S = 600


def _status(state: str, offset: float) -> StatusMessage:
    return StatusMessage(site_id=SITE, camera_id="cam-1", edge_id="edge-1", state=state, detail=f"offset {offset}",
                         sent_at=time.time() + offset)


def test_an_edge_clock_10_minutes_off_loses_nothing_and_recovers(broker, topic_prefix, make_central) -> None:
    central = make_central(broker, topic_prefix)
    f = central.session_factory
    c = raw_client(broker)
    t_ev, t_st = (topics.topic(SITE, "cam-1", k, topic_prefix) for k in ("event", "status"))
    events = []
    for i, offset in enumerate((SKEW_S, -SKEW_S, 0)):
        ev = make_event(i).model_copy(update={"ts": time.time() + offset, "sent_at": time.time() + offset})
        events.append(ev)
        send(c, t_ev, encode(ev))
        send(c, t_ev, encode(ev))  # and once more: a duplicate stays a duplicate whatever the clock says
    wait_for(lambda: count(f, EventPhaseRecord) == 3 and central.stats()["duplicates"] == 3, 10, "3 events, 3 dups")

    def state() -> str | None:
        with f() as s:
            row = s.scalars(select(EdgeStatus)).first()
            return None if row is None else row.state

    send(c, t_st, encode(_status("degraded", SKEW_S)))  # sent while the clock was 10 min ahead
    wait_for(lambda: state() == "degraded", 10, "the status from the fast clock")
    send(c, t_st, encode(_status("online", 0)))  # the clock put right: this is the newest status
    wait_for(lambda: state() == "online", 10, "the status after the clock was put right")
    send(c, t_st, encode(_status("degraded", -5)))  # a genuinely older one (delivered late) is still ignored
    time.sleep(1.0)
    assert state() == "online"
    c.loop_stop()
    record("edge-clock-10min", skew_s=SKEW_S, events_sent=3, stored=3, doubled=0,
           status_after_correction="applied at once")
