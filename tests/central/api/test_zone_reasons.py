"""The zone editor says what is wrong with a drawing in the operator's language: `zones` gives each error a
stable code and params (and stays free of central), central translates the code through its catalogs."""

from __future__ import annotations

import copy
import re

from central.domain import zone_editor
from central.web.zone_reasons import REASONS, RULE_REASONS
from testkit.footage import bag_zones
from zones import check, io, rules

from .conftest import PASSWORDS, Env, add_shop

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_code_has_a_message_using_only_its_params() -> None:
    codes = io.ERROR_CODES | check.CHECK_CODES | zone_editor.EDITOR_CODES
    assert not set(io.ERROR_CODES) & set(zone_editor.EDITOR_CODES), "a code means one thing"
    for code, params in codes.items():
        if code == "rule_invalid":
            continue  # said by RULE_REASONS, per kind
        assert code in REASONS, f"no message for zone error {code!r}"
        named = set(re.findall(r"%\((\w+)\)s", REASONS[code]))
        assert named <= set(params), f"{code}: the message names {named - set(params)}, which it never gets"
    kinds = {kind for kind, _ in rules._KINDS.values()} | {"invalid"}
    assert kinds == set(RULE_REASONS)


def _save(env: Env, doc: dict, language: str) -> list[dict]:
    r = env.client.post("/console/zones/cam-1", json={"document": doc},
                        headers={"Accept-Language": language, "origin": "http://testserver"})
    assert r.status_code == 200, r.text
    return r.json()["errors"]


def _drawings() -> dict[str, dict]:
    """One bad drawing per kind of problem the editor meets."""
    out = {}
    crossed = copy.deepcopy(bag_zones())
    crossed["zones"][0]["polygon"] = [[0, 0], [100, 100], [100, 0], [0, 100]]
    out["polygon_self_intersection"] = crossed
    outside = copy.deepcopy(bag_zones())
    outside["zones"][1]["polygon"][2] = [900, 300]
    out["point_outside_picture"] = outside
    flat = copy.deepcopy(bag_zones())
    flat["zones"][0]["polygon"] = [[0, 0], [10, 10], [20, 20]]
    out["polygon_degenerate"] = flat
    twice = copy.deepcopy(bag_zones())
    twice["zones"][1]["zone_id"] = twice["zones"][0]["zone_id"]
    out["duplicate_zone_id"] = twice
    door = copy.deepcopy(bag_zones())
    door["zones"][0]["door_line"] = [[20, 100], [165, 100]]
    out["door_point_off_edge"] = door
    shop = copy.deepcopy(bag_zones())
    shop["zones"][0]["shop_id"] = "shop-404"
    out["unknown_shop"] = shop
    rule = copy.deepcopy(bag_zones())
    rule["zones"][0]["rules"] = {"min_coverage": 3}
    out["rule_invalid"] = rule
    anchor = copy.deepcopy(bag_zones())
    anchor["rules"]["anchor"] = "top"
    out["rule_not_allowed"] = anchor
    out["camera_id_mismatch"] = bag_zones(camera_id="cam-2")
    empty = copy.deepcopy(bag_zones())
    empty["zones"] = []
    out["zones_empty"] = empty
    return out


def test_the_editor_says_why_in_chinese_and_in_english(sqlite_env: Env) -> None:
    env = sqlite_env
    with env.session() as s:
        add_shop(s, "shop-1", camera="cam-1", zone="z-old-1")
        add_shop(s, "shop-2", camera="cam-1", zone="z-old-2")
        s.commit()
    r = env.client.post("/console/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"]},
                        follow_redirects=False)
    assert r.status_code == 303
    for code, doc in _drawings().items():
        zh, *_ = _save(env, doc, "zh-CN")  # (a door line has two points: each can be off the edge)
        en, *_ = _save(env, doc, "en")
        assert zh["code"] == en["code"] == code.replace("rule_not_allowed", "rule_invalid")
        assert CJK.search(zh["reason"]), f"{code}: {zh['reason']!r} is not Chinese"
        # ids, rule names and their values stay as they are written in a zones file
        words = re.sub(r"[\w-]*_[\w-]*|shop-\d+|cam-\d+|z-\w+|px|anchor|center|overlap", "", zh["reason"])
        assert not re.search(r"[A-Za-z]{3,}", words), f"{code}: English left in {zh['reason']!r}"
        assert not CJK.search(en["reason"]) and en["reason"] != zh["reason"]
    crossed = _save(env, _drawings()["polygon_self_intersection"], "en")[0]["reason"]
    assert "not simple" in crossed and "(50, 50)" in crossed
    assert _save(env, _drawings()["rule_invalid"], "en")[0]["reason"] == "rule min_coverage must be at most 1."
    assert _save(env, _drawings()["rule_not_allowed"], "zh-CN")[0]["reason"] == \
        "规则 anchor 必须是以下之一：bottom_center，center，overlap。"
