"""The audit chain: intact after a story, and any edit, deletion or truncation is detected."""

from __future__ import annotations

import json

from sqlalchemy import text

from central.domain import audit

from .conftest import T0


def _chain(session, n: int = 5) -> None:
    for i in range(n):
        audit.record(
            session,
            actor="op",
            action="case.test",
            case_id=f"c{i}",
            details={"i": i, "note": "ok"},
            evidence=["ab" * 32],
            at=T0,
        )
    session.commit()


def test_intact_chain_verifies(any_session) -> None:
    _chain(any_session)
    assert audit.verify_chain(any_session) == []


def test_edited_row_is_detected(any_session) -> None:
    _chain(any_session)
    any_session.execute(text("UPDATE audit_records SET details = :d WHERE seq = 3"), {"d": '{"i":2,"note":"changed"}'})
    any_session.commit()
    problems = audit.verify_chain(any_session)
    assert len(problems) == 1 and problems[0].startswith("record 3: content does not match")


def test_rehashed_edit_breaks_the_link(session) -> None:
    _chain(session)
    rec = session.get(audit.AuditRecord, 2)
    rec.actor = "mallory"  # the forger recomputes this row's hash, but the next row still points at the old one
    rec.hash = audit.row_hash(
        rec.seq,
        rec.at,
        rec.actor,
        rec.action,
        rec.case_id,
        rec.shop_id,
        rec.details,
        rec.evidence,
        rec.prev_hash,
    )
    session.commit()
    assert any(p.startswith("record 3: prev_hash") for p in audit.verify_chain(session))


def test_deleted_rows_are_detected(session) -> None:
    _chain(session)
    session.execute(text("DELETE FROM audit_records WHERE seq = 2"))
    session.commit()
    assert any("expected sequence 2" in p for p in audit.verify_chain(session))
    session.execute(text("DELETE FROM audit_records WHERE seq = 5"))
    session.commit()
    assert any("head says 5" in p for p in audit.verify_chain(session))


def test_cli_command(session, tmp_path, monkeypatch, capsys) -> None:
    _chain(session, 3)
    url = str(session.get_bind().url)
    monkeypatch.setenv("DOORLINE_DATABASE_URL", url)
    from central.cli import main

    assert main(["audit-verify"]) == 0
    assert "audit chain intact" in capsys.readouterr().out
    session.execute(text("UPDATE audit_records SET actor = 'x' WHERE seq = 1"))
    session.commit()
    assert main(["audit-verify"]) == 1


def test_concurrent_writers_keep_one_chain(any_session) -> None:
    """Writers in parallel transactions queue on the chain head instead of forking the chain."""
    import threading

    from sqlalchemy.orm import Session

    engine = any_session.get_bind()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(10):
                with Session(engine) as s:
                    audit.record(s, actor=f"w{k}", action="case.test", details={"i": i})
                    s.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert audit.verify_chain(any_session) == []
    assert any_session.scalar(text("SELECT count(*) FROM audit_records")) == 40


def test_every_change_of_a_case_is_recorded(any_session, any_world, settings) -> None:
    """An update phase without a picture still moves the case's last-seen time: that is a record too, and
    a phase that changes nothing (a replay of an older update) is not."""
    from datetime import timedelta

    from central import workflow

    any_world.shop("s1", zone="z1")
    start = any_world.event(zone="z1")
    case = workflow.handle_event(any_session, start, settings, now=T0)
    before = any_session.query(audit.AuditRecord).count()
    update = any_world.event(zone="z1", phase="update", event_id=start.event_id, seq=1,
                             at=T0 + timedelta(minutes=2), score=0.9).model_copy(update={"evidence": []})
    workflow.handle_event(any_session, update, settings, now=T0 + timedelta(minutes=2))
    any_session.commit()
    rows = any_session.query(audit.AuditRecord).order_by(audit.AuditRecord.seq).all()
    assert len(rows) == before + 1
    assert rows[-1].action == "case.seen" and rows[-1].case_id == case.id
    assert json.loads(rows[-1].details)["score"] == 0.9
    stale = update.model_copy(update={"seq": 2, "ts": (T0 + timedelta(minutes=1)).timestamp(), "score": 0.5})
    workflow.handle_event(any_session, stale, settings, now=T0 + timedelta(minutes=3))
    any_session.commit()
    assert any_session.query(audit.AuditRecord).count() == before + 1
    assert audit.verify_chain(any_session) == []
