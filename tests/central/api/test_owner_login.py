"""Phone number + one-time code through the shop's webhook (SMS) gateway opens the owner's page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from central.domain.clock import now_utc
from central.notices.sender import NoticeSender
from central.orm.notices import NoticeDelivery, OwnerLoginCode, ShopChannel
from tests.central.notices.notice_receivers import WebhookReceiver

from .conftest import Env, add_shop

SECRET = "sms-gateway-secret-0123"
ZH = {"Accept-Language": "zh-CN"}


def setup_shop(env: Env, rx: WebhookReceiver) -> None:
    with env.session() as s:
        add_shop(s, "s1", phone="138 0000-1111")
        s.add(ShopChannel(shop_id="s1", kind="webhook", target=rx.url, secret=SECRET))
        s.commit()


def deliver(env: Env) -> None:
    sender = NoticeSender(env.settings, env.factory, owner="t")
    sender.drain_once()
    sender.stop()


def test_a_code_sent_through_the_gateway_opens_the_owner_page(sqlite_env: Env) -> None:
    env = sqlite_env
    rx = WebhookReceiver(SECRET).start()
    try:
        setup_shop(env, rx)
        r = env.client.post("/owner/login", data={"phone": "13800001111"}, headers=ZH)
        assert r.status_code == 200 and "验证码将很快送达" in r.text
        deliver(env)
        (sms,) = rx.wait_for(1)
        assert sms.payload["recipient"] == "13800001111" and sms.payload["audience"] == "owner"
        code = re.search(r"\d{6}", sms.payload["body"]).group(0)
        wrong = env.client.post("/owner/login/verify", data={"phone": "13800001111",
                                                             "code": f"{(int(code) + 1) % 10**6:06d}"})
        assert wrong.status_code == 400
        ok = env.client.post("/owner/login/verify", data={"phone": "138-0000-1111", "code": code},
                             follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"].startswith("/owner/s1.")
        assert "Shop s1" in env.client.get(ok.headers["location"]).text
        again = env.client.post("/owner/login/verify", data={"phone": "13800001111", "code": code})
        assert again.status_code == 400  # one time only
        with env.session() as s:
            assert code not in s.scalar(select(OwnerLoginCode.code_hash))  # only a keyed hash is kept
    finally:
        rx.stop()


def test_unknown_numbers_look_the_same_and_nothing_is_sent(sqlite_env: Env) -> None:
    env = sqlite_env
    rx = WebhookReceiver(SECRET).start()
    try:
        setup_shop(env, rx)
        r = env.client.post("/owner/login", data={"phone": "13999999999"}, headers=ZH)
        assert r.status_code == 200 and "验证码将很快送达" in r.text
        with env.session() as s:
            assert s.scalar(select(func.count()).select_from(NoticeDelivery)) == 0
    finally:
        rx.stop()


def test_codes_expire_guesses_are_limited_and_requests_too(sqlite_env: Env) -> None:
    env = sqlite_env
    rx = WebhookReceiver(SECRET).start()
    try:
        setup_shop(env, rx)
        env.client.post("/owner/login", data={"phone": "13800001111"})
        deliver(env)
        code = re.search(r"\d{6}", rx.wait_for(1)[0].payload["body"]).group(0)
        for _ in range(5):
            env.client.post("/owner/login/verify", data={"phone": "13800001111", "code": "000000"
                                                         if code != "000000" else "111111"})
        locked = env.client.post("/owner/login/verify", data={"phone": "13800001111", "code": code})
        assert locked.status_code == 400  # five wrong guesses used the code up
        env.client.post("/owner/login", data={"phone": "13800001111"})
        deliver(env)
        code = re.search(r"\d{6}", rx.wait_for(2)[1].payload["body"]).group(0)
        with env.session() as s:
            row = s.scalar(select(OwnerLoginCode).order_by(OwnerLoginCode.id.desc()))
            row.expires_at = now_utc() - timedelta(seconds=1)
            s.commit()
        assert env.client.post("/owner/login/verify", data={"phone": "13800001111", "code": code}).status_code == 400
        assert env.client.post("/owner/login", data={"phone": "13800001111"}).status_code == 200
        assert env.client.post("/owner/login", data={"phone": "13800001111"}).status_code == 429  # 4th in 15 min
    finally:
        rx.stop()
