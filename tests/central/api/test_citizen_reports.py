"""Citizen reports: from a shop's board or the general page, photos or a short video, hostile uploads refused
over HTTP, rate-limited per client (one count shared by every central instance on the database), into the
operator queue; a confirmed report counts against the shop and for its reporter."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from central.app import create_app
from central.db import make_engine, make_session_factory
from central.evidence_store import LocalEvidenceStore
from central.orm.base import Base
from central.orm.cases import Complaint
from central.orm.reports import CitizenReport
from testkit.clips import small_clip, with_metadata

from .conftest import PASSWORDS, Env, add_shop, make_settings

ZH = {"Accept-Language": "zh-CN"}


def photo(exif_make: str | None = "PhoneMaker") -> bytes:
    img = Image.fromarray(np.full((120, 160, 3), 120, np.uint8))
    out = io.BytesIO()
    exif = Image.Exif()
    if exif_make:
        exif[0x010F] = exif_make
        exif[0x8825] = {1: "N", 2: (31.0, 18.0, 0.0)}
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def shop(env: Env, shop_id: str = "s1") -> None:
    with env.session() as s:
        add_shop(s, shop_id)
        s.commit()


def count(env: Env) -> int:
    with env.session() as s:
        return s.scalar(select(func.count()).select_from(CitizenReport))


def test_a_report_from_the_board_is_queued_confirmed_and_counted(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env)
    assert 'href="/report?shop=s1"' in env.client.get("/board/s1").text
    form = env.client.get("/report?shop=s1", headers=ZH)
    assert "Shop s1" in form.text and "街面问题举报" in form.text
    r = env.client.post("/report", headers=ZH, data={"shop_id": "s1", "text": "门口堆满纸箱", "contact": "13900001111"},
                        files=[("photos", ("IMG_1.jpg", photo(), "image/jpeg"))])
    assert r.status_code == 200 and "已收到" in r.text
    with env.session() as s:
        report = s.scalar(select(CitizenReport))
        assert report.shop_id == "s1" and report.status == "open" and len(report.photos) == 1
        stored = env.store.get(report.photos[0])
    assert Image.open(io.BytesIO(stored)).getexif() == {} and b"PhoneMaker" not in stored
    queue = env.client.get("/api/citizen-reports", headers=env.login("reviewer")).json()
    assert [q["id"] for q in queue] == [report.id]
    env.client.post("/console/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"]})
    page = env.client.get("/console/reports")
    assert f'data-report="{report.id}"' in page.text and f"/api/evidence/{report.photos[0]}" in page.text
    env.client.post(f"/console/reports/{report.id}", data={"outcome": "confirm", "shop_id": "s1"})
    with env.session() as s:
        assert s.get(CitizenReport, report.id).status == "confirmed"
        complaint = s.scalar(select(Complaint))
        assert complaint.shop_id == "s1" and complaint.valid and complaint.source == "citizen"
    csv = env.client.get("/api/citizen-reports/tally.csv", headers=env.login("reviewer")).text.splitlines()
    assert csv == ["contact,valid_reports,all_reports", "13900001111,1,1"]
    assert env.client.get("/api/citizen-reports/tally.csv", headers=env.login("viewer")).status_code == 403


def test_a_general_report_needs_a_place_and_the_operator_names_the_shop(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env, "s2")
    bad = env.client.post("/report", data={"text": "somewhere"})
    assert bad.status_code == 400 and count(env) == 0
    ok = env.client.post("/report", data={"text": "goods on the pavement", "place": "Main Road 12",
                                          "lat": "31.3", "lon": "120.6"})
    assert ok.status_code == 200
    reviewer = env.login("reviewer")
    (report,) = env.client.get("/api/citizen-reports", headers=reviewer).json()
    assert report["shop_id"] is None and report["place"] == "Main Road 12" and report["lat"] == 31.3
    assert env.client.post(f"/api/citizen-reports/{report['id']}/confirm", headers=reviewer,
                           json={}).status_code == 409  # which shop?
    done = env.client.post(f"/api/citizen-reports/{report['id']}/confirm", headers=reviewer, json={"shop_id": "s2"})
    assert done.json()["status"] == "confirmed" and done.json()["complaint_id"]


def _bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    side = 30_000
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(b"\x00" * (side + 1)) for _ in range(16)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_hostile_uploads_are_refused_and_nothing_is_stored(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env)
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.html", "<script>alert(1)</script>")
    hostile = {
        "wrong type (a GIF named .jpg)": gif.getvalue(),
        "a page named .jpg": b"<html><script>alert(1)</script></html>",
        "oversized": b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024 + 10),
        "decompression bomb": _bomb(),
        "polyglot JPEG+ZIP": photo(None) + archive.getvalue(),
    }
    before = set((env.settings.evidence_dir).rglob("*")) if env.settings.evidence_dir.exists() else set()
    for what, data in hostile.items():
        r = env.client.post("/report", headers=ZH, data={"shop_id": "s1", "text": what},
                            files=[("photos", ("photo.jpg", data, "image/jpeg"))])
        assert r.status_code == 400, what
        assert "无法识别该文件" in r.text, what
    assert count(env) == 0
    after = set((env.settings.evidence_dir).rglob("*")) if env.settings.evidence_dir.exists() else set()
    assert after == before  # no hostile file reached the evidence store


def test_reports_are_rate_limited_per_client(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env)
    codes = [env.client.post("/report", data={"shop_id": "s1", "text": f"report {i}"}).status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]
    assert count(env) == 5


def test_a_video_report_is_cleaned_and_shown_in_the_queue(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env)
    original = with_metadata(small_clip(seconds=2.0), location="+31.2990+120.5853/", make="PhoneMaker")
    assert 'name="video"' in env.client.get("/report?shop=s1").text
    r = env.client.post("/report", headers=ZH, data={"shop_id": "s1", "text": "三轮车占道"},
                        files=[("video", ("VID_0001.mov", original, "video/quicktime"))])
    assert r.status_code == 200 and "已收到" in r.text
    with env.session() as s:
        report = s.scalar(select(CitizenReport))
        assert report.video and len(report.video_frames) == 3 and report.photos == []
        clip = env.store.get(report.video)
    assert clip[4:8] == b"ftyp" and b"PhoneMaker" not in clip and b"31.2990" not in clip
    reviewer = env.login("reviewer")
    served = env.client.get(f"/api/evidence/{report.video}", headers=reviewer)
    assert served.headers["content-type"] == "video/mp4" and served.content == clip
    frame = env.client.get(f"/api/evidence/{report.video_frames[0]}", headers=reviewer)
    assert frame.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(frame.content)).size == (160, 120)
    (queued,) = env.client.get("/api/citizen-reports", headers=reviewer).json()
    assert queued["video"] == report.video and queued["video_frames"] == report.video_frames
    env.client.post("/console/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"]})
    page = env.client.get("/console/reports").text
    assert f'<video class="evidence" src="/api/evidence/{report.video}"' in page
    assert all(f"/api/evidence/{sha}" in page for sha in report.video_frames)
    env.client.post(f"/console/reports/{report.id}", data={"outcome": "confirm", "shop_id": "s1"})
    with env.session() as s:
        assert s.scalar(select(Complaint)).evidence["video"] == report.video


def test_hostile_videos_are_refused_and_not_charged(sqlite_env: Env) -> None:
    env = sqlite_env
    shop(env)
    clip = small_clip(seconds=1.0)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.html", "<script>alert(1)</script>")
    hostile = {
        "a photo named .mp4": photo(),
        "oversized": clip + b"\x00" * (20 * 1024 * 1024),
        "truncated": clip[: len(clip) // 2],
        "polyglot MP4+ZIP": clip + archive.getvalue(),
        "too long": small_clip(seconds=31.0, fps=2.0, size=(64, 48)),
        "another container (AVI)": small_clip(seconds=0.5, fourcc="MJPG", suffix=".avi"),
    }
    for what, data in hostile.items():
        r = env.client.post("/report", headers=ZH, data={"shop_id": "s1", "text": what},
                            files=[("video", ("clip.mp4", data, "video/mp4"))])
        assert r.status_code == 400 and "无法接收该视频" in r.text, what
    assert count(env) == 0 and not list(env.settings.evidence_dir.rglob("*.*"))
    # six refused uploads used none of the hour's five reports
    codes = [env.client.post("/report", data={"shop_id": "s1", "text": f"r{i}"}).status_code for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_the_report_limit_is_shared_by_two_instances(db_url: str, tmp_path) -> None:
    """Two central apps on one database (SQLite file, PostgreSQL): a client's five reports an hour are five in
    all, whichever instance takes them; another client has its own five."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        add_shop(s, "s1")
        s.commit()
    settings = make_settings(tmp_path, db_url)
    apps = [create_app(settings, make_session_factory(make_engine(db_url)), store=LocalEvidenceStore(tmp_path / "ev"))
            for _ in range(2)]
    with TestClient(apps[0], client=("203.0.113.7", 5000)) as a, \
            TestClient(apps[1], client=("203.0.113.7", 5001)) as b, \
            TestClient(apps[1], client=("198.51.100.9", 5002)) as other:
        def post(c: TestClient, i: int) -> int:
            return c.post("/report", data={"shop_id": "s1", "text": f"report {i}"}).status_code

        codes = [post(c, i) for i, c in enumerate((a, b, a, b, a, b, a))]
        assert codes == [200] * 5 + [429, 429]
        limited = b.post("/report", data={"shop_id": "s1", "text": "x"})
        assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 3601
        assert post(other, 0) == 200
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(CitizenReport)) == 6
    engine.dispose()
