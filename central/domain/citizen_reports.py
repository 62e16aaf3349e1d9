"""Citizen reports: submitted from a shop's public board or the general report page, decided by an operator.
A confirmed report becomes a valid citizen complaint against the shop (complaints count towards grades) and
counts for its reporter (`tally`, exportable: some cities reward valid reports). Functions flush, never
commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from central.domain import audit
from central.domain.clock import as_utc, now_utc
from central.domain.errors import InvalidTransition, NotFound
from central.orm.cases import Complaint
from central.orm.reports import CitizenReport
from central.orm.shops import Shop
from central.settings import CentralSettings


class BadReport(ValueError):
    """The report cannot be accepted as sent; the message is safe to show."""


def check(session: Session, *, shop_id: str | None, text: str, place: str = "", lat: float | None = None,
          lon: float | None = None, has_media: bool = False) -> None:
    """BadReport unless the report says where and what (a photo, a video or some text)."""
    if shop_id and session.get(Shop, shop_id) is None:
        raise BadReport("unknown shop")
    if not shop_id and not place.strip() and (lat is None or lon is None):
        raise BadReport("say where: a place, or the phone's location")
    if lat is not None and not (-90 <= lat <= 90) or lon is not None and not (-180 <= lon <= 180):
        raise BadReport("location out of range")
    if not has_media and not text.strip():
        raise BadReport("add a photo, a video or a few words")


def submit(session: Session, *, shop_id: str | None, text: str, photos: list[str], contact: str = "",
           place: str = "", lat: float | None = None, lon: float | None = None, video: str | None = None,
           video_frames: list[str] | None = None, now: datetime | None = None) -> CitizenReport:
    """A new report in the operator queue; `photos`, `video` (an MP4) and `video_frames` (its key frames) are
    evidence sha256s of cleaned files already in the store."""
    text, place, contact = text.strip()[:2000], place.strip()[:300], contact.strip()[:200]
    check(session, shop_id=shop_id, text=text, place=place, lat=lat, lon=lon, has_media=bool(photos or video))
    row = CitizenReport(shop_id=shop_id or None, text=text, photos=photos, contact=contact, place=place,
                        lat=lat, lon=lon, video=video, video_frames=list(video_frames or []),
                        created_at=as_utc(now) or now_utc())
    session.add(row)
    session.flush()
    return row


def _open(session: Session, report_id: int) -> CitizenReport:
    row = session.get(CitizenReport, report_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no citizen report {report_id}")
    if row.status != "open":
        raise InvalidTransition(f"citizen report {report_id} is already {row.status}")
    return row


def confirm(session: Session, report_id: int, *, actor: str, settings: CentralSettings, shop_id: str | None = None,
            now: datetime | None = None) -> CitizenReport:
    """The operator accepts the report: a valid complaint against the shop (named by the report or by the
    operator), the shop regraded."""
    now = as_utc(now) or now_utc()
    row = _open(session, report_id)
    shop_id = shop_id or row.shop_id
    if not shop_id or session.get(Shop, shop_id) is None:
        raise InvalidTransition("name the shop this report is about")
    complaint = Complaint(shop_id=shop_id, at=row.created_at, source="citizen", text=row.text, valid=True,
                          evidence={"report_id": row.id, "photos": row.photos, "video": row.video,
                                    "video_frames": row.video_frames})
    session.add(complaint)
    session.flush()
    row.shop_id, row.status, row.decided_by, row.decided_at = shop_id, "confirmed", actor, now
    row.complaint_id = complaint.id
    session.flush()
    audit.record(session, actor=actor, action="report.confirm", shop_id=shop_id, at=now,
                 details={"report_id": row.id, "complaint_id": complaint.id},
                 evidence=[*row.photos, *([row.video] if row.video else []), *row.video_frames])
    from central.domain import grades

    grades.regrade_shops(session, [shop_id], now=now, settings=settings, reason_prefix="citizen report")
    return row


def reject(session: Session, report_id: int, *, actor: str, reason: str = "", now: datetime | None = None
           ) -> CitizenReport:
    now = as_utc(now) or now_utc()
    row = _open(session, report_id)
    row.status, row.decided_by, row.decided_at = "rejected", actor, now
    session.flush()
    audit.record(session, actor=actor, action="report.reject", shop_id=row.shop_id, at=now,
                 details={"report_id": row.id, "reason": reason})
    return row


@dataclass(frozen=True)
class Tally:
    contact: str
    confirmed: int
    reports: int


def tally(session: Session) -> list[Tally]:
    """Per reporter (by the contact they gave): valid (confirmed) reports and all reports, most valid first."""
    confirmed = func.sum(case((CitizenReport.status == "confirmed", 1), else_=0))
    rows = session.execute(select(CitizenReport.contact, confirmed, func.count())
                           .where(CitizenReport.contact != "").group_by(CitizenReport.contact)
                           .order_by(confirmed.desc(), CitizenReport.contact))
    return [Tally(c, int(n or 0), int(total)) for c, n, total in rows]
