"""The owner's private page (link with its own secret, revocable, one shop only; 'fixed' with a photo starts the
recheck at once; appeal) and the public board (nothing private; printable PNG/PDF whose QR decodes to it)."""

from __future__ import annotations

import io
import re
import time

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from central import workflow
from central.domain import cases, rectification
from central.domain.clock import to_local
from central.notices import links
from central.notices.text import t
from central.orm.cases import Case, Notice
from central.orm.events import Outbox
from central.orm.notices import Appeal, NoticeDelivery
from central.orm.shops import Shop
from wire.schema import RecheckResult

from .conftest import PASSWORDS, Env, detected_case, event_message, tiny_jpeg

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def confirmed(env: Env, shop_id: str, seed: int = 0) -> tuple[str, str, str]:
    """A confirmed case of `shop_id`: (case id, evidence sha, owner token)."""
    case_id, sha = detected_case(env, shop_id, seed=seed)
    with env.session() as s:
        cases.confirm(s, case_id, actor="reviewer", settings=env.settings)
        token = links.owner_token(s, env.settings, shop_id)
        s.commit()
    return case_id, sha, token


def console_login(env: Env, role: str) -> None:
    r = env.client.post("/console/login", data={"username": role, "password": PASSWORDS[role], "next": "/console"},
                        follow_redirects=False)
    assert r.status_code == 303


def photo_with_gps() -> bytes:
    img = Image.fromarray(np.full((120, 160, 3), 90, np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 18.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_an_owner_link_opens_its_own_shop_and_nothing_of_another(sqlite_env: Env) -> None:
    env = sqlite_env
    c1, sha1, t1 = confirmed(env, "s1", seed=1)
    c2, sha2, t2 = confirmed(env, "s2", seed=2)
    page = env.client.get(f"/owner/{t1}", headers=ZH)
    assert page.status_code == 200
    assert "Shop s1" in page.text and f"/owner/{t1}/evidence/{sha1}" in page.text
    assert "Shop s2" not in page.text and sha2 not in page.text and c2 not in page.text
    assert "整改期限" in page.text and 'class="countdown"' in page.text and "第 1 次" in page.text
    assert env.client.get(f"/owner/{t1}/evidence/{sha1}").content == tiny_jpeg(1)
    assert env.client.get(f"/owner/{t1}/evidence/{sha2}").status_code == 404  # the other shop's photo
    assert [c["id"] for c in env.client.get(f"/owner/{t1}/status").json()["cases"]] == [c1]
    # acting on the other shop's case through my link fails, and changes nothing
    r = env.client.post(f"/owner/{t1}/cases/{c2}/appeal", data={"reason": "not mine"})
    assert r.status_code == 404
    # a token for s1 with s2's id put in does not verify
    forged = t1.replace("s1.", "s2.", 1)
    assert env.client.get(f"/owner/{forged}").status_code == 404
    assert env.client.get(f"/owner/{t2}").status_code == 200
    with env.session() as s:
        assert s.scalar(select(Appeal)) is None


def test_owner_links_use_their_own_secret_and_are_revoked_and_reissued(sqlite_env: Env) -> None:
    env = sqlite_env
    confirmed(env, "s1")
    admin, reviewer = env.login("admin"), env.login("reviewer")
    first = env.client.get("/api/shops/s1/owner-link", headers=reviewer).json()["url"]
    token = first.rsplit("/", 1)[1]
    assert env.client.get(f"/owner/{token}").status_code == 200
    assert env.client.delete("/api/shops/s1/owner-link", headers=reviewer).status_code == 403
    assert env.client.delete("/api/shops/s1/owner-link", headers=admin).json()["url"] is None
    assert env.client.get(f"/owner/{token}").status_code == 404
    new = env.client.post("/api/shops/s1/owner-link", headers=admin).json()["url"]
    new_token = new.rsplit("/", 1)[1]
    assert new_token != token and env.client.get(f"/owner/{new_token}").status_code == 200
    assert env.client.get(f"/owner/{token}").status_code == 404  # re-issuing does not revive the old link
    # the operators' secret_key plays no part; rotating owner_link_secret keeps old links while listed
    s = env.settings
    with env.session() as session:
        other_key = s.model_copy(update={"secret_key": "x" * 40})
        assert links.shop_for_token(session, other_key, new_token) == "s1"
        rotated = s.model_copy(update={"owner_link_secret": "n" * 40, "owner_link_old_secrets": [s.owner_link_secret]})
        assert links.shop_for_token(session, rotated, new_token) == "s1"
        assert links.shop_for_token(session, rotated.model_copy(update={"owner_link_old_secrets": []}),
                                    new_token) is None
        # unset, the owner-link key is derived from secret_key: never a known default, and not secret_key itself
        derived = s.model_copy(update={"owner_link_secret": None})
        assert derived.owner_link_key not in (s.secret_key, s.owner_link_secret) and len(derived.owner_link_key) == 64
        assert derived.model_copy(update={"secret_key": "y" * 40}).owner_link_key != derived.owner_link_key


def test_fixed_with_a_photo_rechecks_at_once_and_shows_the_result(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _, token = confirmed(env, "s1")
    bad = env.client.post(f"/owner/{token}/cases/{case_id}/fixed",
                          files={"photo": ("fixed.jpg", b"<html>not a photo</html>", "image/jpeg")},
                          follow_redirects=False)
    assert bad.headers["location"].endswith("msg=bad_photo")
    with env.session() as s:
        assert s.get(Case, case_id).state == "notified"
    r = env.client.post(f"/owner/{token}/cases/{case_id}/fixed",
                        files={"photo": ("IMG_0001.jpg", photo_with_gps(), "image/jpeg")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("msg=fixed")
    with env.session() as s:
        case = s.get(Case, case_id)
        assert case.state == "rechecking" and case.recheck_command_id
        cmd = s.scalar(select(Outbox).where(Outbox.command_id == case.recheck_command_id))
        assert cmd is not None and cmd.cmd == "recheck" and cmd.camera_id == "cam-1"
        stored = env.store.get(case.evidence[-1])
        assert Image.open(io.BytesIO(stored)).getexif() == {}  # GPS and camera make are gone
        command_id = case.recheck_command_id
    page = env.client.get(f"/owner/{token}?msg=fixed", headers=ZH)
    assert "摄像头正在复查" in page.text and "已提交，摄像头正在复查" in page.text
    # the camera answers (the edge's recheck result); the page's status then says it passed
    with env.session() as s:
        rectification.apply_recheck(s, RecheckResult(site_id="site-1", camera_id="cam-1", command_id=command_id,
                                             case_id=case_id, zone_id="z-s1", result="clear", ts=time.time(),
                                             score=0.1), settings=env.settings)
        s.commit()
    status = env.client.get(f"/owner/{token}/status", headers=ZH).json()["cases"][0]
    assert status["state"] == "rectified" and status["self_rectified"] is True
    assert status["text"] == "复查通过：已整改，谢谢！"
    again = env.client.post(f"/owner/{token}/cases/{case_id}/fixed",
                            files={"photo": ("a.jpg", tiny_jpeg(3), "image/jpeg")})
    assert again.status_code == 409  # closed: nothing to fix


def test_an_appeal_goes_to_the_review_queue(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, _, token = confirmed(env, "s1")
    assert env.client.post(f"/owner/{token}/cases/{case_id}/appeal", data={"reason": "  "},
                           follow_redirects=False).headers["location"].endswith("msg=need_reason")
    r = env.client.post(f"/owner/{token}/cases/{case_id}/appeal", data={"reason": "那是快递员的箱子，已搬走"},
                        follow_redirects=False)
    assert r.headers["location"].endswith("msg=appealed")
    assert env.client.post(f"/owner/{token}/cases/{case_id}/appeal", data={"reason": "again"}).status_code == 409
    assert env.client.get("/api/appeals", headers=env.login("viewer")).status_code == 403
    (appeal,) = env.client.get("/api/appeals", headers=env.login("reviewer")).json()
    assert appeal["case_id"] == case_id and appeal["reason"] == "那是快递员的箱子，已搬走"
    console_login(env, "reviewer")
    page = env.client.get("/console/notices")
    assert "那是快递员的箱子" in page.text and f'data-appeal="{appeal["id"]}"' in page.text
    env.client.post(f"/console/notices/appeals/{appeal['id']}", data={"outcome": "upheld"})
    with env.session() as s:
        assert s.get(Appeal, appeal["id"]).status == "upheld"
    # upheld: the case is annulled and no longer counts (the strike rules themselves: tests/central/domain)
    case = env.client.get(f"/api/cases/{case_id}", headers=env.login("viewer")).json()
    assert (case["state"], case["is_open"]) == ("annulled", False)
    again = env.client.post(f"/api/appeals/{appeal['id']}/decide", headers=env.login("reviewer"),
                            json={"outcome": "rejected"})
    assert again.status_code == 409  # decided once


def test_the_owner_page_lists_the_decisions_on_appeals_and_the_shop_is_sent_them(sqlite_env: Env) -> None:
    """A reviewer rejects one appeal through the API (with a note) and upholds another in the console: the
    owner's page lists both decisions with their message, and each went to the shop's channel."""
    env = sqlite_env
    rejected_case, _, token = confirmed(env, "s1")
    r = env.client.post("/api/shops/s1/channels", headers=env.login("admin"),
                        json={"kind": "webhook", "target": "https://gw.example/sms", "secret": "s" * 20})
    assert r.status_code == 201
    channel = r.json()["id"]
    with env.session() as s:  # a second case of the shop, for another violation
        sha = env.store.put(tiny_jpeg(7))
        upheld_case = workflow.handle_event(s, event_message(zone="z-s1", sha=sha, violation="cross_door_trading"),
                                            env.settings).id
        cases.confirm(s, upheld_case, actor="reviewer", settings=env.settings)
        deadline = to_local(s.get(Case, rejected_case).window_ends_at, "Asia/Shanghai").strftime("%Y-%m-%d %H:%M")
        s.commit()
    for case_id in (rejected_case, upheld_case):
        assert env.client.post(f"/owner/{token}/cases/{case_id}/appeal", data={"reason": "不是我们的"},
                               follow_redirects=False).status_code == 303
    ids = {a["case_id"]: a["id"] for a in env.client.get("/api/appeals", headers=env.login("reviewer")).json()}
    r = env.client.post(f"/api/appeals/{ids[rejected_case]}/decide", headers=env.login("reviewer"),
                        json={"outcome": "rejected", "note": "箱子在责任区内"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    console_login(env, "reviewer")
    env.client.post(f"/console/notices/appeals/{ids[upheld_case]}", data={"outcome": "upheld"})

    page = env.client.get(f"/owner/{token}", headers=ZH)
    assert page.status_code == 200
    history = page.text[page.text.index('class="history"'):]
    rejected = re.search(r'<li data-kind="appeal_rejected">(.*?)</li>', history, re.S)
    upheld = re.search(r'<li data-kind="appeal_upheld">(.*?)</li>', history, re.S)
    assert rejected and upheld
    assert "申诉被驳回" in rejected[1] and "审核人员说明：箱子在责任区内" in rejected[1]
    assert f"请在{deadline}前清理" in rejected[1]  # the deadline still applies, in Shanghai time
    assert "申诉成立" in upheld[1] and "该违规已撤销" in upheld[1]
    with env.session() as s:
        grade = s.get(Shop, "s1").grade
    assert f"您的店铺等级现为：{t(f'grade.{grade}', 'zh-CN')}" in upheld[1]
    # the rejected case is still open: its strike line names its own notice, not the appeal decision
    assert t("page.strike", "zh-CN", strike=1, window_days=env.settings.strike_window_days,
             kind=t("kind.advice", "zh-CN")) in page.text
    # in English the list names them in English
    en = env.client.get(f"/owner/{token}", headers={"Accept-Language": "en"}).text
    assert "Appeal rejected" in en and "Appeal upheld" in en
    with env.session() as s:
        rows = s.scalars(select(NoticeDelivery).join(Notice, Notice.id == NoticeDelivery.notice_id)
                         .where(Notice.kind.like("appeal_%")).order_by(NoticeDelivery.id)).all()
    assert [(r.case_id, r.route, r.audience, r.language) for r in rows] == [
        (rejected_case, f"shop_channel:{channel}", "owner", "zh-CN"),
        (upheld_case, f"shop_channel:{channel}", "owner", "zh-CN")]
    assert rows[0].subject.startswith("【申诉被驳回】") and rows[1].subject.startswith("【申诉成立】")


def test_dead_letters_are_listed_and_resent_from_the_console_and_api(sqlite_env: Env) -> None:
    env = sqlite_env
    admin = env.login("admin")
    detected_case(env, "s1")
    r = env.client.post("/api/shops/s1/channels", headers=admin,
                        json={"kind": "webhook", "target": "http://127.0.0.1:9/x", "secret": "s" * 20})
    assert r.status_code == 201 and r.json()["has_secret"] and "secret" not in r.json()
    assert env.client.post("/api/shops/s1/channels", headers=admin,
                           json={"kind": "webhook", "target": "ftp://x", "secret": "s"}).status_code == 422
    with env.session() as s:
        case = s.scalar(select(Case).where(Case.shop_id == "s1"))
        cases.confirm(s, case.id, actor="reviewer", settings=env.settings)
        s.commit()
        row = s.scalar(select(NoticeDelivery))
        row.status, row.attempts, row.last_error = "dead", 8, "HTTP 503: gateway down"
        s.commit()
        row_id = row.id
    dead = env.client.get("/api/notices/deliveries?status=dead", headers=env.login("reviewer")).json()
    assert [d["id"] for d in dead] == [row_id] and dead[0]["last_error"] == "HTTP 503: gateway down"
    console_login(env, "reviewer")
    page = env.client.get("/console/notices")
    assert f'data-delivery="{row_id}"' in page.text and "gateway down" in page.text
    env.client.post(f"/console/notices/{row_id}/resend")
    with env.session() as s:
        row = s.get(NoticeDelivery, row_id)
        assert row.status == "pending" and row.attempts == 0
    r = env.client.post(f"/api/notices/deliveries/{row_id}/resend", headers=env.login("reviewer"))
    assert r.status_code == 409  # not dead any more


PRIVATE = ("555", "Owner s1", "Advice", "劝导", "/owner/s1", "evidence")


def test_the_public_board_shows_the_grade_and_nothing_private(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, sha, token = confirmed(env, "s1")
    page = env.client.get("/board/s1", headers=ZH)
    assert token not in page.text
    assert page.status_code == 200
    assert "Shop s1" in page.text and "s1 Main Road" in page.text and "评级日期" in page.text
    assert re.search(r"grade-(red|yellow|green)", page.text)
    for secret in (*PRIVATE, sha, case_id):
        assert secret not in page.text, secret
    assert env.client.get("/board/nope").status_code == 404


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_the_printable_board_is_a5_and_its_qr_decodes_to_the_board(sqlite_env: Env, fmt: str) -> None:
    env = sqlite_env
    confirmed(env, "s1")
    r = env.client.get(f"/board/s1.{fmt}")
    assert r.status_code == 200
    if fmt == "pdf":
        assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
        box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", r.content)
        w_mm, h_mm = (float(v) / 72 * 25.4 for v in box.groups())
        assert abs(w_mm - 148) < 1 and abs(h_mm - 210) < 1  # A5
        stream = re.search(rb"stream\r?\n(.*?)\r?\nendstream", r.content, re.S).group(1)
        img = cv2.imdecode(np.frombuffer(stream, np.uint8), cv2.IMREAD_COLOR)  # the page image (JPEG)
    else:
        img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape[:2] == (1240, 874)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    assert text == f"{env.settings.public_base_url}/board/s1"


def test_the_owner_page_is_installable(sqlite_env: Env) -> None:
    env = sqlite_env
    _, _, token = confirmed(env, "s1")
    page = env.client.get(f"/owner/{token}")
    assert f'<link rel="manifest" href="/owner/{token}/manifest.webmanifest">' in page.text
    manifest = env.client.get(f"/owner/{token}/manifest.webmanifest").json()
    assert manifest["start_url"] == f"/owner/{token}" and manifest["display"] == "standalone"
    sw = env.client.get("/owner/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript") and "showNotification" in sw.text
    plain = {"endpoint": "http://127.0.0.1:5432/", "keys": {"p256dh": "BPk", "auth": "xyz"}}
    assert env.client.post(f"/owner/{token}/push-subscription", json=plain).status_code == 400
    sub = {"endpoint": "https://push.example/abc", "keys": {"p256dh": "BPk", "auth": "xyz"}}
    assert env.client.post(f"/owner/{token}/push-subscription", json=sub).status_code == 201
    channels = env.client.get("/api/shops/s1/channels", headers=env.login("reviewer")).json()
    assert [c["kind"] for c in channels] == ["webpush"]
