"""Issue 23 through the API: datetime parameters normalised to UTC (item 5), the local day as the default
day of the API and the console's due list (item 4), and a registry from Chinese Excel uploaded (item 13).
SQLite and PostgreSQL collated by ICU."""

from __future__ import annotations

from datetime import UTC, datetime

from central.api.deps import COOKIE_NAME
from central.domain.clock import local_day
from central.orm.grades import GradeChange
from central.orm.shops import Shop


def test_datetime_params_are_utc_and_the_default_day_is_local(api) -> None:
    with api.factory() as s:
        s.add(Shop(id="s1", name="One", address="1 Main Road", road="Main Road", area="North"))
        s.flush()
        s.add(GradeChange(shop_id="s1", at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), old_grade=None,
                          new_grade="red", rule_set="counts", reason="r"))
        s.commit()
    # 16:30 Beijing time is 08:30 UTC: the 09:00 UTC change is after it
    r = api.get("/api/grades/changes", params={"since": "2026-03-02T16:30:00+08:00"})
    assert r.status_code == 200 and [c["shop_id"] for c in r.json()] == ["s1"]
    r = api.get("/api/grades/changes", params={"since": "2026-03-02T17:30:00+08:00"})
    assert r.json() == []

    # a zone whose local date differs from the UTC date right now
    now = datetime.now(UTC)
    api.settings.timezone = "Etc/GMT-14" if now.hour >= 10 else "Etc/GMT+11"
    tz = api.settings.timezone
    assert local_day(now, tz) != now.date()
    body = api.get("/api/inspections/due").json()
    after = datetime.now(UTC)
    assert body["day"] in {local_day(now, tz).isoformat(), local_day(after, tz).isoformat()}  # a day may turn
    assert body["day"] not in {now.date().isoformat(), after.date().isoformat()}

    # and so does the console's inspections page
    api.client.cookies.set(COOKIE_NAME, api.headers["viewer"]["Authorization"].split()[1])
    page = api.client.get("/console/inspections")
    after = datetime.now(UTC)
    assert page.status_code == 200
    assert any(local_day(t, tz).isoformat() in page.text for t in (now, after))
    assert not any(t.date().isoformat() in page.text for t in (now, after))



def test_a_chinese_excel_csv_uploads_and_a_wrong_encoding_is_one_clear_error(api) -> None:
    data = "id,name,address,business_type\nG1,鲜果铺,人民路 1 号,水果店\n".encode("gb18030")
    r = api.post("/api/shops/import", files={"file": ("店铺.csv", data, "text/csv")})
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    assert api.get("/api/shops/G1").json()["business_type"] == "水果店"
    r = api.post("/api/shops/import", params={"encoding": "utf-8"}, files={"file": ("店铺.csv", data, "text/csv")})
    assert r.status_code == 400 and "line 2 is not valid utf-8" in r.json()["detail"], r.text
