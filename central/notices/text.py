"""People-facing words for notices and the owner/public pages: zh-CN first, English second.

A small catalogue on purpose: `t(key, lang, **values)` is the one function the pages and messages call, so
the console's Babel catalogue can take these strings over without touching the callers."""

from __future__ import annotations

DEFAULT_LANGUAGE = "zh-CN"

CATALOG: dict[str, dict[str, str]] = {
    # notice kinds and violations
    "kind.advice": {"zh-CN": "劝导提醒", "en": "Advice"},
    "kind.rectification_notice": {"zh-CN": "责令整改通知书", "en": "Written rectification notice"},
    "kind.penalty_notice": {"zh-CN": "处罚告知书", "en": "Penalty notice"},
    "violation.cross_door_trading": {"zh-CN": "跨门经营", "en": "cross-door trading"},
    "violation.piled_goods": {"zh-CN": "门前堆物", "en": "goods piled outside the door"},
    "grade.red": {"zh-CN": "红色（高风险）", "en": "Red (high risk)"},
    "grade.yellow": {"zh-CN": "黄色（中风险）", "en": "Yellow (medium risk)"},
    "grade.green": {"zh-CN": "绿色（低风险）", "en": "Green (low risk)"},
    "grade.none": {"zh-CN": "尚未评级", "en": "Not graded yet"},
    # the owner's message
    "owner.subject": {"zh-CN": "【{kind}】{shop}：{violation}", "en": "[{kind}] {shop}: {violation}"},
    "owner.body": {
        "zh-CN": "{owner}您好：\n{when}，在“{shop}”（{address}）门前发现{violation}。\n"
                 "这是{window_days}天内第{strike}次（{kind}）。\n请在{deadline}前清理门前区域，届时摄像头将复查。\n"
                 "查看照片、申报已整改或提出申诉：{link}",
        "en": "Dear {owner},\n{violation} was seen in front of \"{shop}\" ({address}) at {when}.\n"
              "This is violation {strike} in {window_days} days ({kind}).\nPlease clear the door strip before "
              "{deadline}; the camera will check again then.\nPhotos, 'fixed' and appeals: {link}",
    },
    # the street officer's message
    "officer.subject": {"zh-CN": "【街面】{shop}：{violation}（第{strike}次）",
                        "en": "[Street] {shop}: {violation} (strike {strike})"},
    "officer.body": {
        "zh-CN": "{officer}：\n{when}，“{shop}”（{address}）门前发现{violation}，已向店主发出{kind}"
                 "（{window_days}天内第{strike}次）。\n整改期限：{deadline}。\n案件：{link}",
        "en": "{officer}:\n{violation} at \"{shop}\" ({address}) at {when}; the owner was sent a {kind} "
              "(strike {strike} in {window_days} days).\nDeadline: {deadline}.\nCase: {link}",
    },
    # the owner's page
    "page.title": {"zh-CN": "店铺整改页", "en": "Shop page"},
    "page.open_case": {"zh-CN": "待处理问题", "en": "Open problem"},
    "page.no_open_case": {"zh-CN": "目前没有待处理的问题。感谢您保持门前整洁！",
                          "en": "Nothing to fix right now. Thank you for keeping your door clear!"},
    "page.found": {"zh-CN": "发现时间", "en": "Seen at"},
    "page.deadline": {"zh-CN": "整改期限", "en": "Fix it before"},
    "page.remaining": {"zh-CN": "剩余时间", "en": "Time left"},
    "page.overdue": {"zh-CN": "已超过期限，等待复查", "en": "Deadline passed; waiting for the recheck"},
    "page.strike": {"zh-CN": "本年度第 {strike} 次（{kind}）", "en": "Violation {strike} this year ({kind})"},
    "page.strike_meaning": {
        "zh-CN": "第1次：劝导；第2次：书面责令整改；第3次及以上：处罚。按期自行整改的不计入后续次数。",
        "en": "1st: advice; 2nd: written rectification notice; 3rd and later: penalty. Problems you fix in "
              "time do not count towards later strikes.",
    },
    "page.grade": {"zh-CN": "当前评级", "en": "Current grade"},
    "page.improve": {
        "zh-CN": "如何提升评级：保持门前区域无堆物、不跨门经营；收到提醒后按期整改；"
                 "连续一段时间无违规，评级会自动恢复为绿色。",
        "en": "To improve your grade: keep the door strip free of goods and trading, fix problems before the "
              "deadline; after a clean period the grade goes back to green by itself.",
    },
    "page.fixed": {"zh-CN": "我已整改", "en": "I have fixed it"},
    "page.fixed_help": {"zh-CN": "拍一张门前照片，提交后摄像头会立即复查。",
                        "en": "Take a photo of your door strip; the camera checks again at once."},
    "page.photo": {"zh-CN": "整改照片", "en": "Photo"},
    "page.submit": {"zh-CN": "提交", "en": "Submit"},
    "page.appeal": {"zh-CN": "提出申诉", "en": "Appeal"},
    "page.appeal_reason": {"zh-CN": "申诉理由", "en": "Reason"},
    "page.recheck": {"zh-CN": "复查结果", "en": "Recheck"},
    "page.recheck.waiting": {"zh-CN": "正在复查，请稍候…", "en": "Checking now…"},
    "page.recheck.clear": {"zh-CN": "复查通过：已整改，谢谢！", "en": "Recheck passed: fixed, thank you!"},
    "page.recheck.present": {"zh-CN": "复查仍发现问题，执法队员将到场处理。",
                             "en": "Still present at the recheck; an officer will come by."},
    "page.recheck.unknown": {"zh-CN": "摄像头无法判断，执法队员将到场复查。",
                             "en": "The camera could not tell; an officer will check."},
    "page.history": {"zh-CN": "通知记录", "en": "Notices"},
    "page.closed": {"zh-CN": "已结案", "en": "Closed"},
    "page.appealed": {"zh-CN": "申诉已提交，等待审核。", "en": "Appeal sent; it waits for review."},
    "page.fixed_sent": {"zh-CN": "已提交，摄像头正在复查。", "en": "Sent; the camera is checking now."},
    "page.push": {"zh-CN": "开启手机通知", "en": "Turn on phone notifications"},
    "page.evidence": {"zh-CN": "现场照片", "en": "Photo of the problem"},
    # the public board
    "board.title": {"zh-CN": "门前责任公示牌", "en": "Street-front grade board"},
    "board.since": {"zh-CN": "评级日期", "en": "Graded on"},
    "board.scan": {"zh-CN": "扫码查看评级", "en": "Scan to see the grade"},
}


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The text for `key` in `lang` (zh-CN when missing), with `values` filled in."""
    entry = CATALOG[key]
    text = entry.get(lang or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text
