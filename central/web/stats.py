"""The console's statistics pages: grade shares over time, violations per day by type, the self-rectified
rate (of decided cases only), and hot spots with their roads. Charts are inline SVG drawn on the server
(`central.charts`), in the request's language, over local days; the numbers come from the same domain
functions as the API's /api/stats and /api/hotspots routes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from central import i18n
from central.api.deps import SessionDep, SettingsDep
from central.charts import RateBucket, grade_share_svg, self_rectification_svg, share_series, violations_svg
from central.domain import hotspots as hotspots_domain
from central.domain import stats
from central.domain.clock import local_day, now_utc
from central.domain.grades import GRADES, distribution
from central.domain.scope import EVERYWHERE, Scope
from central.web.map_data import addresses_on_map
from central.web.render import console_user, page, request_translator

router = APIRouter(prefix="/console", include_in_schema=False)

Days = Annotated[int, Query(ge=2, le=366)]
WEEK = 7


def _period(days: int, tz: str) -> tuple[date, date]:
    """The last `days` local days, today included."""
    end = local_day(now_utc(), tz)
    return end - timedelta(days=days - 1), end


def weekly_rates(session: Any, start: date, end: date, tz: str, scope: Scope = EVERYWHERE) -> list[RateBucket]:
    """The self-rectification rate of each run of seven local days ending on `end` (the first run may be
    shorter), each from `central.domain.stats.self_rectification_rate`."""
    buckets: list[RateBucket] = []
    last = end
    while last >= start:
        first = max(start, last - timedelta(days=WEEK - 1))
        r = stats.self_rectification_rate(session, first, last, tz=tz, scope=scope)
        buckets.append(RateBucket(first, last, r["judged"], r["self_rectified"]))
        last = first - timedelta(days=1)
    return buckets[::-1]


@router.get("/grades", response_class=HTMLResponse)
def grades(request: Request, session: SessionDep, settings: SettingsDep, days: Days = 30) -> HTMLResponse:
    user = console_user(request, session)
    start, end = _period(days, settings.timezone)
    scope = Scope.of(user)
    series = share_series(stats.grade_distribution_over_time(session, start, end, tz=settings.timezone, scope=scope))
    current = distribution(session, scope)
    graded = sum(current.get(g, 0) for g in GRADES)
    with i18n.use(request_translator(request)):
        chart = grade_share_svg(series)
    return page(request, "grades.html", {"user": user, "active": "grades", "msg": request.query_params.get("msg"),
                                         "chart": chart, "series": series, "current": current, "graded": graded,
                                         "days": days})


@router.get("/stats", response_class=HTMLResponse)
def statistics(request: Request, session: SessionDep, settings: SettingsDep, days: Days = 30) -> HTMLResponse:
    user = console_user(request, session)
    tz = settings.timezone
    start, end = _period(days, tz)
    scope = Scope.of(user)
    series = share_series(stats.grade_distribution_over_time(session, start, end, tz=tz, scope=scope))
    violations = stats.violations_per_day(session, start, end, tz=tz, scope=scope)
    rate = stats.self_rectification_rate(session, start, end, tz=tz, scope=scope)
    weeks = weekly_rates(session, start, end, tz, scope)
    with i18n.use(request_translator(request)):
        charts = {"grades": grade_share_svg(series), "violations": violations_svg(violations),
                  "rate": self_rectification_svg(weeks)}
    totals = {k: sum(r[k] for r in violations)
              for k in ("total", "cross_door_trading", "piled_goods", "confirmed", "dismissed")}
    return page(request, "stats.html", {
        "user": user, "active": "stats", "msg": None, "days": days, "start": start, "end": end,
        "charts": charts, "series": series, "totals": totals, "rate": rate,
        "violations": [{**r, "day": date.fromisoformat(r["day"])} for r in violations],
        "weeks": weeks, "spots": len(hotspots_domain.hotspots(session, scope=scope))})


@router.get("/hotspots", response_class=HTMLResponse)
def hotspots(request: Request, session: SessionDep, settings: SettingsDep,
             cleared: Annotated[bool, Query(description="also list cleared hot spots")] = False) -> HTMLResponse:
    user = console_user(request, session)
    scope = Scope.of(user)
    spots = hotspots_domain.hotspots(session, active_only=not cleared, scope=scope)
    return page(request, "hotspots.html", {
        "user": user, "active": "hotspots", "msg": None, "spots": spots, "cleared": cleared,
        "tickets": settings.hotspot_tickets, "window_days": settings.strike_window_days,
        "on_map": addresses_on_map(session, {h.address for h in spots}),
        "roads": hotspots_domain.road_grades(session, scope=scope)})
