"""Each channel against a real local server; the outbox written with the confirm; retries, dead letters and
re-sending; two senders on one outbox never send a notice twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from central.domain import cases
from central.notices import links, outbox
from central.notices.channels import Envelope, Route, WebhookChannel
from central.notices.sender import NoticeSender
from central.orm.cases import Notice
from central.orm.notices import NoticeDelivery, OfficerContact, ShopChannel
from central.settings import CentralSettings

from .conftest import T0, add_case, add_shop, make_settings
from .notice_receivers import MqttSubscriber, PushEndpoint, SmtpServer, WebhookReceiver, vapid_keypair

SECRET = "gateway-shared-secret"


def drain(sender: NoticeSender, factory: sessionmaker[Session], timeout: float = 15.0) -> dict[str, int]:
    """Run the sender until no delivery is pending; the count of rows per status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sender.drain_once()
        with factory() as s:
            counts = dict(s.execute(select(NoticeDelivery.status, func.count()).group_by(NoticeDelivery.status)).all())
        if not counts.get("pending"):
            return counts
        time.sleep(0.02)
    raise AssertionError(f"still pending after {timeout} s: {counts}")


def confirm_with(factory, settings: CentralSettings, shop_id: str, channels: list[dict],
                 officers: list[dict] = ()) -> str:
    with factory() as s:
        add_shop(s, shop_id)
        for ch in channels:
            s.add(ShopChannel(shop_id=shop_id, **ch))
        for oc in officers:
            s.add(OfficerContact(**oc))
        case = add_case(s, shop_id)
        cases.confirm(s, case.id, actor="op", settings=settings, now=T0)
        s.commit()
        return case.id


def test_confirm_queues_owner_and_officer_notices_in_the_same_transaction(factory, settings) -> None:
    with factory() as s:
        add_shop(s, "s1")
        s.add(ShopChannel(shop_id="s1", kind="webhook", target="http://x/", secret=SECRET))
        s.add(ShopChannel(shop_id="s1", kind="email", target="owner@example.com", language="en"))
        s.add(OfficerContact(area="姑苏区", road="人民路", name="李警官", kind="webhook", target="http://y/",
                             secret=SECRET))
        s.add(OfficerContact(area="姑苏区", road="", name="area desk", kind="email", target="desk@example.com"))
        s.add(OfficerContact(area="吴中区", road="", name="elsewhere", kind="email", target="no@example.com"))
        case = add_case(s, "s1")
        s.commit()
        cases.confirm(s, case.id, actor="op", settings=settings, now=T0)
        assert s.scalar(select(func.count()).select_from(NoticeDelivery)) == 3
        s.rollback()  # the confirm did not happen: neither did its notices
        assert s.scalar(select(func.count()).select_from(NoticeDelivery)) == 0
        assert s.scalar(select(func.count()).select_from(Notice)) == 0
        cases.confirm(s, case.id, actor="op", settings=settings, now=T0)
        s.commit()
        rows = list(s.scalars(select(NoticeDelivery).order_by(NoticeDelivery.id)))
        token = links.owner_token(s, settings, "s1")
    zh, en, officer = rows
    assert [r.audience for r in rows] == ["owner", "owner", "officer"]
    assert officer.route.startswith("officer_contact:") and "李警官" in officer.body  # the road's officer only
    # what, where, when and the deadline in local time (Asia/Shanghai: UTC+8), and the owner's link
    assert "占道堆物" in zh.body and "人民路 s1 号" in zh.body and "2026-03-02 09:30" in zh.body
    assert "2026-03-02 10:00" in zh.body and f"https://doorline.example/owner/{token}" in zh.body
    assert "【劝导】" in zh.subject and "第1次" in zh.body
    assert "Piled goods" in en.body and "before 2026-03-02 10:00" in en.body
    assert f"/console/cases/{case.id}" in officer.body and "/owner/" not in officer.body
    assert len({r.idempotency_key for r in rows}) == 3


def test_webhook_is_signed_and_verified_by_the_receiver(factory, settings) -> None:
    good, wrong = WebhookReceiver(SECRET).start(), WebhookReceiver("another-secret").start()
    try:
        confirm_with(factory, settings, "s1", [
            {"kind": "webhook", "target": good.url, "secret": SECRET},
            {"kind": "webhook", "target": wrong.url, "secret": SECRET},  # receiver expects another key
        ])
        sender = NoticeSender(settings, factory, owner="t")
        counts = drain(sender, factory)
        assert counts == {"sent": 1, "dead": 1}
        got = good.wait_for(1)
        assert got[0].payload["shop_id"] == "s1" and "占道堆物" in got[0].payload["body"]
        assert got[0].payload["recipient"] == "13800000000"  # the SMS gateway learns whom to text
        assert wrong.refused == 1 and wrong.received == []  # a bad signature is refused, not retried
        with factory() as s:
            dead = s.scalar(select(NoticeDelivery).where(NoticeDelivery.status == "dead"))
            assert "HTTP 401" in dead.last_error and dead.attempts == 1
        sender.stop()
    finally:
        good.stop()
        wrong.stop()


def test_stale_or_forged_webhooks_do_not_verify() -> None:
    from central.notices.channels import sign_webhook, verify_webhook

    body = b'{"a":1}'
    ts = str(int(time.time()))
    headers = {"X-Doorline-Timestamp": ts, "X-Doorline-Signature": sign_webhook(SECRET, ts, body)}
    assert verify_webhook(SECRET, headers, body)
    assert not verify_webhook(SECRET, headers, b'{"a":2}')
    assert not verify_webhook("other", headers, body)
    old = str(int(time.time()) - 3600)
    assert not verify_webhook(SECRET, {"X-Doorline-Timestamp": old,
                                       "X-Doorline-Signature": sign_webhook(SECRET, old, body)}, body)


def test_retries_with_backoff_then_dead_letter_then_resend(factory) -> None:
    settings = make_settings(max_attempts=3, backoff_s=0.1, backoff_max_s=1)
    rx = WebhookReceiver(SECRET).start()
    try:
        rx.fail_next = 2  # two 503s, then accepted on the third attempt
        confirm_with(factory, settings, "s1", [{"kind": "webhook", "target": rx.url, "secret": SECRET}])
        sender = NoticeSender(settings, factory, owner="t")
        t0 = time.monotonic()
        assert drain(sender, factory) == {"sent": 1}
        assert time.monotonic() - t0 >= 0.08 + 0.16  # waited ~0.1 s then ~0.2 s (±20 %)
        assert len(rx.wait_for(1)) == 1
        with factory() as s:
            row = s.scalar(select(NoticeDelivery))
            assert row.attempts == 3 and row.sent_at is not None
        rx.fail_next = 100
        confirm_with(factory, settings, "s2", [{"kind": "webhook", "target": rx.url, "secret": SECRET}])
        assert drain(sender, factory) == {"sent": 1, "dead": 1}
        with factory() as s:
            dead = s.scalar(select(NoticeDelivery).where(NoticeDelivery.status == "dead"))
            assert dead.attempts == 3 and "HTTP 503" in dead.last_error
            rx.fail_next = 0
            outbox.resend(s, dead.id)
            s.commit()
        assert drain(sender, factory) == {"sent": 2}
        assert sorted(r.payload["shop_id"] for r in rx.wait_for(2)) == ["s1", "s2"]
        sender.stop()
    finally:
        rx.stop()


def test_email_through_a_real_smtp_server(factory) -> None:
    smtp = SmtpServer().start()
    try:
        settings = make_settings(smtp_port=smtp.port)
        confirm_with(factory, settings, "s1", [
            {"kind": "email", "target": "owner@shop.example"},
            {"kind": "email", "target": "nobody@refused.example"},
        ])
        sender = NoticeSender(settings, factory, owner="t")
        assert drain(sender, factory) == {"sent": 1, "dead": 1}
        (mail,) = smtp.wait_for(1)
        assert mail.payload["to"] == ["owner@shop.example"]
        assert "劝导" in mail.payload["subject"] and "2026-03-02 10:00" in mail.payload["body"]
        assert mail.key.startswith("notice-") and mail.payload["message_id"] == f"<{mail.key}@doorline>"
        sender.stop()
    finally:
        smtp.stop()


def test_mqtt_topic_per_shop(factory, broker, topic_prefix) -> None:
    from wire.mqtt import MqttSettings

    settings = make_settings()
    settings = settings.model_copy(update={"mqtt": MqttSettings(host=broker.host, port=broker.port,
                                                                prefix=topic_prefix)})
    sub = MqttSubscriber(broker.host, broker.port, f"{topic_prefix}/notices/#")
    try:
        confirm_with(factory, settings, "s1", [{"kind": "mqtt", "target": ""}],
                     officers=[{"area": "姑苏区", "name": "desk", "kind": "mqtt", "target": ""}])
        sender = NoticeSender(settings, factory, owner="t")
        assert drain(sender, factory) == {"sent": 2}
        got = sub.wait_for(2)
        assert sorted(sub.topics) == [f"{topic_prefix}/notices/officer/1", f"{topic_prefix}/notices/shop/s1"]
        assert {r.payload["audience"] for r in got} == {"owner", "officer"}
        sender.stop()
    finally:
        sub.stop()


def test_web_push_is_encrypted_and_vapid_signed(factory, tmp_path: Path) -> None:
    pem, public = vapid_keypair(tmp_path)
    push = PushEndpoint(public).start()
    try:
        settings = make_settings(vapid_private_key=pem)
        confirm_with(factory, settings, "s1", [{"kind": "webpush", "target": "", "config": push.subscription()}])
        sender = NoticeSender(settings, factory, owner="t")
        assert drain(sender, factory) == {"sent": 1}, push.errors
        (msg,) = push.wait_for(1)
        assert "占道堆物" in msg.payload["body"] and "/owner/" in msg.payload["url"]
        sender.stop()
    finally:
        push.stop()


def test_web_push_to_a_gone_subscription_is_a_dead_letter(factory, tmp_path: Path) -> None:
    pem, public = vapid_keypair(tmp_path)
    push = PushEndpoint(public).start()
    push.stop()  # nothing listens: a connection error is retried, then dead after max_attempts
    settings = make_settings(vapid_private_key=pem, max_attempts=2)
    confirm_with(factory, settings, "s1", [{"kind": "webpush", "target": "", "config": push.subscription()}])
    sender = NoticeSender(settings, factory, owner="t")
    assert drain(sender, factory) == {"dead": 1}
    sender.stop()


def test_channel_outcomes_from_http_statuses() -> None:
    rx = WebhookReceiver(SECRET).start()
    ch = WebhookChannel(timeout_s=2)
    env = Envelope("k1", "owner", "s1", "c1", "zh-CN", "subj", "body", "https://x/")
    try:
        assert ch.send(env, Route("webhook", rx.url, SECRET)).status == "accepted"
        rx.fail_next, rx.fail_status = 1, 429
        assert ch.send(env, Route("webhook", rx.url, SECRET)).status == "retryable"
        rx.fail_next, rx.fail_status = 1, 400
        assert ch.send(env, Route("webhook", rx.url, SECRET)).status == "permanent"
        assert ch.send(env, Route("webhook", rx.url, "")).status == "permanent"  # unsigned: never sent
    finally:
        ch.close()
        rx.stop()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def test_two_senders_never_send_one_notice_twice(backend, request, settings) -> None:
    factory = request.getfixturevalue("factory" if backend == "sqlite" else "pg_factory")
    rx = WebhookReceiver(SECRET).start()
    try:
        with factory() as s:
            for i in range(40):
                add_shop(s, f"s{i}")
                s.add(ShopChannel(shop_id=f"s{i}", kind="webhook", target=rx.url, secret=SECRET))
                case = add_case(s, f"s{i}")
                cases.confirm(s, case.id, actor="op", settings=settings, now=T0)
            s.commit()
        senders = [NoticeSender(make_settings(batch=5, workers=4), factory, owner=f"inst-{i}") for i in range(3)]
        threads = [threading.Thread(target=drain, args=(snd, factory)) for snd in senders]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        keys = rx.keys()
        assert len(keys) == 40 and len(set(keys)) == 40
        assert sum(snd.sent for snd in senders) == 40 and sum(1 for snd in senders if snd.sent) >= 2
        for snd in senders:
            snd.stop()
    finally:
        rx.stop()


def test_a_lease_shorter_than_a_batch_can_take_is_refused() -> None:
    from pydantic import ValidationError

    from central.settings import NoticeSettings

    with pytest.raises(ValidationError, match="lease_s"):
        NoticeSettings(batch=100, workers=2, timeout_s=10, lease_s=60)  # 50 rounds of 10 s > 60 s
    assert NoticeSettings(batch=16, workers=8, timeout_s=10, lease_s=60).lease_s == 60
