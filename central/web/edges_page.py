"""The console's edges page: every camera's last status (state, frame rate, spool), the detection precision
of each camera and model over operators' verdicts, and the edges' credentials for admins."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from central.api.deps import SessionDep
from central.auth import has_role
from central.domain.clock import now_utc
from central.domain.scope import Scope
from central.domain.verdicts import precision_by_camera_and_model
from central.orm.events import EdgeStatus
from central.orm.users import EdgeCredential
from central.web.render import console_user, page

router = APIRouter(prefix="/console", include_in_schema=False)

PRECISION_DAYS = 30  # precision of each camera and model over verdicts of the last 30 days


@router.get("/edges", response_class=HTMLResponse)
def edges(request: Request, session: SessionDep) -> HTMLResponse:
    user = console_user(request, session)
    # credentials are for admins, as in the API (GET /api/edges/credentials)
    creds = list(session.scalars(select(EdgeCredential).order_by(EdgeCredential.edge_id))) \
        if has_role(user.role, "admin") else None
    cameras = list(session.scalars(select(EdgeStatus).order_by(EdgeStatus.site_id, EdgeStatus.camera_id)))
    since = now_utc() - timedelta(days=PRECISION_DAYS)
    precision = precision_by_camera_and_model(session, since=since, scope=Scope.of(user))
    return page(request, "edges.html", {"user": user, "active": "edges", "msg": request.query_params.get("msg"),
                                        "cameras": cameras, "creds": creds, "precision": precision,
                                        "precision_days": PRECISION_DAYS})
