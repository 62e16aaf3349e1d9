"""People-facing words of notices and of the owner and public pages, by key. The source strings are English
and marked for extraction (`N_`); `central.i18n` (Babel catalogs, zh-CN default) translates them:
`t(key, lang, **values)` for a message in a given language, e.g. the one a shop's channel asked for."""

from __future__ import annotations

from central.i18n import DEFAULT_LANGUAGE, N_, translator

CATALOG: dict[str, str] = {
    # notice kinds, violations, grades (the console's labels, same msgids)
    "kind.advice": N_("Advice"),
    "kind.rectification_notice": N_("Written rectification notice"),
    "kind.penalty_notice": N_("Penalty notice"),
    "kind.appeal_upheld": N_("Appeal upheld"),
    "kind.appeal_rejected": N_("Appeal rejected"),
    "violation.cross_door_trading": N_("Cross-door trading"),
    "violation.piled_goods": N_("Piled goods"),
    "grade.red": N_("Red — high risk"),
    "grade.yellow": N_("Yellow — medium risk"),
    "grade.green": N_("Green — low risk"),
    "grade.none": N_("Not graded yet"),
    # the owner's message
    "owner.subject": N_("[%(kind)s] %(shop)s: %(violation)s"),
    "owner.body": N_("Dear %(owner)s,\n%(violation)s was seen in front of \"%(shop)s\" (%(address)s) at %(when)s.\n"
                     "This is violation %(strike)s in %(window_days)s days (%(kind)s).\n"
                     "Please clear the door strip before %(deadline)s; the camera will check again then.\n"
                     "Photos, 'fixed' and appeals: %(link)s"),
    # the owner's message when a reviewer decided their appeal (`appeal_message`)
    "appeal_upheld.subject": N_("[Appeal upheld] %(shop)s: %(violation)s"),
    "appeal_upheld.body": N_("Dear %(owner)s,\nYour appeal about %(violation)s in front of \"%(shop)s\" at %(when)s "
                             "was upheld: the violation is annulled, it no longer counts against your shop and no "
                             "penalty follows from it.\nYour grade is now: %(grade)s."),
    "appeal_rejected.subject": N_("[Appeal rejected] %(shop)s: %(violation)s"),
    "appeal_rejected.body": N_("Dear %(owner)s,\nYour appeal about %(violation)s in front of \"%(shop)s\" at "
                               "%(when)s was rejected: the violation stands (violation %(strike)s in "
                               "%(window_days)s days)."),
    "appeal.note": N_("The reviewer's note: %(note)s"),
    "appeal.next.deadline": N_("The rectification deadline still applies: please clear the door strip before "
                               "%(deadline)s; the camera will check again then."),
    "appeal.next.passed": N_("The rectification deadline (%(deadline)s) has passed; the case goes on as before: "
                             "the recheck, an officer's visit if needed and, from the 3rd violation, a penalty "
                             "ticket."),
    "appeal.next.closed": N_("This case is closed; it still counts for your grade, which is now: %(grade)s."),
    "appeal.link": N_("Your shop page: %(link)s"),
    # the street officer's message
    "officer.subject": N_("[Street] %(shop)s: %(violation)s (strike %(strike)s)"),
    "officer.body": N_("%(officer)s:\n%(violation)s at \"%(shop)s\" (%(address)s) at %(when)s; the owner was sent "
                       "a %(kind)s (strike %(strike)s in %(window_days)s days).\nDeadline: %(deadline)s.\n"
                       "Case: %(link)s"),
    # the owner's page
    "page.title": N_("Your shop"),
    "page.open_case": N_("Open problem"),
    "page.no_open_case": N_("Nothing to fix right now. Thank you for keeping your door clear!"),
    "page.found": N_("Seen at"),
    "page.deadline": N_("Fix it before"),
    "page.remaining": N_("Time left"),
    "page.overdue": N_("Deadline passed; waiting for the recheck"),
    "page.strike": N_("Violation %(strike)s in %(window_days)s days (%(kind)s)"),
    "page.strike_meaning": N_("1st: advice; 2nd: written rectification notice; 3rd and later: penalty. Every "
                              "confirmed violation counts; fixing it in time lightens the penalty, it does not "
                              "erase the violation."),
    "page.grade": N_("Current grade"),
    "page.improve": N_("To improve your grade: keep the door strip free of goods and trading, and fix problems "
                       "before the deadline; after a clean period the grade goes back to green by itself."),
    "page.fixed": N_("I have fixed it"),
    "page.fixed_help": N_("Take a photo of your door strip; the camera checks again at once."),
    "page.photo": N_("Photo"),
    "page.submit": N_("Submit"),
    "page.appeal": N_("Appeal"),
    "page.appeal_reason": N_("Why do you disagree?"),
    "page.recheck": N_("Recheck"),
    "page.recheck.waiting": N_("The camera is checking now…"),
    "page.recheck.clear": N_("Recheck passed: fixed, thank you!"),
    "page.recheck.present": N_("Still there at the recheck; an officer will come by."),
    "page.recheck.unknown": N_("The camera could not tell; an officer will check."),
    "page.history": N_("Notices"),
    "page.state": N_("Status"),
    "page.appealed": N_("Your appeal was sent; it waits for review."),
    "page.fixed_sent": N_("Sent; the camera is checking now."),
    "page.push": N_("Turn on phone notifications"),
    "page.evidence": N_("Photo of the problem"),
    "page.bad_photo": N_("That file is not a photo we can read (JPEG, PNG or WebP, at most 8 MB)."),
    "page.need_reason": N_("Please write a reason."),
    # the public board
    "board.title": N_("Street-front grade board"),
    "board.since": N_("Graded on"),
    "board.scan": N_("Scan to see this shop's grade"),
    "board.report": N_("Report a problem here"),
    "board.owner": N_("Your shop? Open your page"),
    # phone + one-time code
    "login.subject": N_("Your Doorline code"),
    "login.body": N_("Your code for your shop page: %(code)s (valid %(minutes)s minutes). Do not share it."),
    "login.title": N_("Open your shop page"),
    "login.phone": N_("The shop's phone number"),
    "login.send": N_("Send me a code"),
    "login.sent": N_("If this number belongs to a shop, a code is on its way."),
    "login.code": N_("Code"),
    "login.open": N_("Open my page"),
    "login.wrong": N_("That code does not open a page. Ask for a new one if it has expired."),
    "login.too_many": N_("Too many codes asked for; wait a quarter of an hour."),
    "login.choose": N_("This number belongs to several shops:"),
    # citizen reports
    "report.title": N_("Report a problem on the street"),
    "report.about": N_("About"),
    "report.where": N_("Where (street and number, or a landmark)"),
    "report.use_location": N_("Use my location"),
    "report.text": N_("What did you see?"),
    "report.photos": N_("Photos (up to %(n)s)"),
    "report.contact": N_("Your phone or e-mail (optional)"),
    "report.contact_help": N_("Only the city sees it; it counts your valid reports."),
    "report.send": N_("Send report"),
    "report.thanks": N_("Thank you! Report %(id)s was received and will be checked."),
    "report.too_many": N_("Too many photos."),
    "report.incomplete": N_("Please say where, and add a photo, a video or a few words."),
    "report.video": N_("Or a short video (MP4 or MOV, up to %(seconds)s s and %(mb)s MB)"),
    "report.bad_video": N_("That file is not a video we can take (MP4 or MOV, at most %(seconds)s s and %(mb)s MB)."),
    "report.limit": N_("You have sent the reports allowed for this hour; please try again later."),
}


def t(key: str, lang: str | None = None, /, **values: object) -> str:
    """The text for `key` in `lang` (zh-CN when missing or unknown), with `values` filled in."""
    return translator(lang or DEFAULT_LANGUAGE).gettext(CATALOG[key], **values)


def appeal_message(kind: str, lang: str | None, /, *, next_step: str | None = None, note: str = "",
                   **values: object) -> tuple[str, str]:
    """Subject and body telling an owner how their appeal was decided: `kind` is `appeal_upheld` or
    `appeal_rejected`; a rejection carries the reviewer's `note` (if any) and `next_step`, the catalog key
    of what happens now (`appeal.next.*`). `values` as for the owner's notice, plus `grade` and `link`."""
    subject = t(f"{kind}.subject", lang, **values)
    lines = [t(f"{kind}.body", lang, **values)]
    if note.strip():
        lines.append(t("appeal.note", lang, note=note.strip()))
    if next_step:
        lines.append(t(next_step, lang, **values))
    if values.get("link"):
        lines.append(t("appeal.link", lang, link=values["link"]))
    return subject, "\n".join(lines)
