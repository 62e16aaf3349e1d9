"""The shop file page: registry fields, grade history as a timeline, cases with their lead picture,
strikes, inspections done and due, complaints — in Chinese, with local times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from central.domain.inspections import record_inspection
from central.orm.cases import Complaint
from central.orm.grades import GradeChange
from central.orm.shops import Shop

from .conftest import PASSWORDS, Env, detected_case


def test_shop_file(sqlite_env: Env) -> None:
    env = sqlite_env
    case_id, sha = detected_case(env, "s1")
    now = datetime.now(UTC)
    with env.session() as s:
        shop = s.get(Shop, "s1")
        shop.name, shop.licence_no, shop.grade = "老街烧饼铺", "91310000-XYZ", "yellow"
        s.add_all([GradeChange(shop_id="s1", at=now - timedelta(days=200), old_grade=None, new_grade="green",
                               rule_set="counts", reason="first grade"),
                   GradeChange(shop_id="s1", at=now - timedelta(days=20), old_grade="green", new_grade="yellow",
                               rule_set="counts", reason="two strikes")])
        record_inspection(s, "s1", inspector="officer-li", waste=90, sanitation=70, advertising=80,
                          at=now - timedelta(days=3), settings=env.settings)
        s.add(Complaint(shop_id="s1", at=now - timedelta(days=1), text="门口堆满纸箱"))
        s.get(Shop, "s1").grade = "yellow"
        s.commit()
    r = env.client.post("/console/login", data={"username": "viewer", "password": PASSWORDS["viewer"]},
                        follow_redirects=False)
    assert r.status_code == 303
    page = env.client.get("/console/shops/s1")
    assert page.status_code == 200
    html = page.text
    assert "老街烧饼铺" in html and "91310000-XYZ" in html and "营业执照号" in html
    # the timeline: a grey spell before the first grade, then green, then yellow up to now
    spells = re.findall(r'class="spell spell-(\w+)"', html)
    assert spells == ["none", "green", "yellow"]
    assert "two strikes" in html and "绿色 → <b>黄色</b>" in html
    assert f'src="/api/evidence/{sha}"' in html and f'href="/console/cases/{case_id}"' in html
    assert "officer-li" in html and "门口堆满纸箱" in html
    assert "下次巡查" in html and "UTC" not in html
    assert "近 365 天内 0 次" in html
    assert env.client.get("/console/shops/nope").status_code == 404
    assert 'href="/console/shops/s1"' in env.client.get("/console/shops").text
