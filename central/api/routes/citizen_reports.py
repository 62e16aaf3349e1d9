"""Citizen reports in the operator queue: list, confirm (a valid complaint against the shop, which counts
towards its grade and the reporter's tally), reject; the per-reporter tally as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from central.api.bounds import IntId
from central.api.deps import ReviewerUser, SessionDep, SettingsDep
from central.domain import citizen_reports
from central.orm.reports import CitizenReport

router = APIRouter(prefix="/api/citizen-reports", tags=["citizen reports"])


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shop_id: str | None
    lat: float | None
    lon: float | None
    place: str
    text: str
    photos: list[str]
    video: str | None = None  # the re-encoded MP4 (evidence sha256), its key frames as JPEGs
    video_frames: list[str] = []
    contact: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    complaint_id: int | None


class ConfirmIn(BaseModel):
    shop_id: str | None = None


class RejectIn(BaseModel):
    reason: str = ""


@router.get("", summary="citizen reports (status=open: the queue)")
def list_reports(session: SessionDep, user: ReviewerUser,
                 state: Annotated[Literal["open", "confirmed", "rejected"] | None, Query(alias="status")] = "open",
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ReportOut]:
    from sqlalchemy import select

    stmt = select(CitizenReport).order_by(CitizenReport.id).limit(limit)
    if state:
        stmt = stmt.where(CitizenReport.status == state)
    return [ReportOut.model_validate(r) for r in session.scalars(stmt)]


@router.post("/{report_id}/confirm", summary="accept a report: a valid complaint against the shop")
def confirm_report(report_id: IntId, body: ConfirmIn, session: SessionDep, settings: SettingsDep,
                   user: ReviewerUser) -> ReportOut:
    row = citizen_reports.confirm(session, report_id, actor=user.username, settings=settings, shop_id=body.shop_id)
    session.commit()
    return ReportOut.model_validate(row)


@router.post("/{report_id}/reject", summary="reject a report")
def reject_report(report_id: IntId, body: RejectIn, session: SessionDep, user: ReviewerUser) -> ReportOut:
    row = citizen_reports.reject(session, report_id, actor=user.username, reason=body.reason)
    session.commit()
    return ReportOut.model_validate(row)


@router.get("/tally.csv", summary="valid reports per reporter (CSV)")
def tally_csv(session: SessionDep, user: ReviewerUser) -> Response:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["contact", "valid_reports", "all_reports"])
    for row in citizen_reports.tally(session):
        w.writerow([row.contact, row.confirmed, row.reports])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="citizen-report-tally.csv"'})
