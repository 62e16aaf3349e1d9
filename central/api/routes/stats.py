"""Statistics: grade distribution over time (numbers, and as an SVG chart), violations per day,
self-rectification rate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from central import i18n
from central.api.bounds import BoundedDay
from central.api.deps import ScopeDep, SessionDep, SettingsDep, ViewerUser
from central.charts import grade_share_svg, share_series
from central.domain import stats
from central.domain.clock import local_day, local_day_bounds, now_utc

router = APIRouter(prefix="/api/stats", tags=["statistics"])

Day = Annotated[BoundedDay | None, Query(description="local day (settings.timezone); default: the last 30 days "
                                                     "to today")]


def _period(start: date | None, end: date | None, tz: str) -> tuple[date, date]:
    end = end or local_day(now_utc(), tz)
    start = start or end - timedelta(days=29)
    if end < start:
        raise HTTPException(422, "end is before start")
    if (end - start).days > 3660:
        raise HTTPException(422, "period longer than ten years")
    return start, end


@router.get("/grades")
def grade_distribution(session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep, start: Day = None,
                       end: Day = None) -> list[dict[str, Any]]:
    """Shops per grade at the end of each day, from the grade history."""
    return stats.grade_distribution_over_time(session, *_period(start, end, tz := settings.timezone), tz=tz,
                                              scope=scope)


@router.get("/grades/chart", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def grade_chart(request: Request, session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep,
                start: Day = None, end: Day = None) -> Response:
    """The grade distribution over time as a chart: each grade's share of graded shops per day, stacked
    (the same chart as the console's grade page), its text in the Accept-Language's language (else the
    deployment's) and dates in the deployment's time zone."""
    tz = settings.timezone
    series = share_series(stats.grade_distribution_over_time(session, *_period(start, end, tz), tz=tz, scope=scope))
    language = i18n.negotiate(request.headers.get("accept-language")) or settings.language
    with i18n.use(i18n.translator(language, tz)):
        svg = grade_share_svg(series)
    return Response(str(svg), media_type="image/svg+xml",
                    headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"})


@router.get("/violations")
def violations(session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep, start: Day = None,
               end: Day = None) -> list[dict[str, Any]]:
    """Cases opened per day, by violation type."""
    return stats.violations_per_day(session, *_period(start, end, tz := settings.timezone), tz=tz, scope=scope)


@router.get("/self-rectification")
def self_rectification(session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep, start: Day = None,
                       end: Day = None) -> dict[str, Any]:
    """Share of decided cases the shop fixed itself within its window (cases still waiting are left out)."""
    return stats.self_rectification_rate(session, *_period(start, end, tz := settings.timezone), tz=tz,
                                         scope=scope)


@router.get("/precision")
def detection_precision(session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep,
                        start: Day = None, end: Day = None) -> list[dict[str, Any]]:
    """Per site, camera and detector model: cases operators confirmed and dismissed (verdicts given in the
    period, local days) and the precision confirmed / (confirmed + dismissed). The model is the one the
    edge named on the episode ("unknown" from edges that do not name it)."""
    from central.domain.verdicts import precision_by_camera_and_model

    tz = settings.timezone
    first, last = _period(start, end, tz)
    rows = precision_by_camera_and_model(session, since=local_day_bounds(first, tz)[0],
                                         until=local_day_bounds(last, tz)[1], scope=scope)
    return [r.to_dict() for r in rows]
