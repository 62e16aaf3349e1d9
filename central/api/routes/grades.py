"""Risk grades: current distribution, history, recomputation, rule sets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from central.api.bounds import BoundedDatetime, Offset
from central.api.deps import AdminUser, ScopeDep, SessionDep, SettingsDep, ViewerUser
from central.domain import audit, grades
from central.orm.grades import GradeChange

router = APIRouter(prefix="/api/grades", tags=["grades"])


class GradeChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    shop_id: str
    at: datetime
    old_grade: str | None
    new_grade: str
    rule_set: str
    reason: str


class GradeRunOut(BaseModel):
    rule_set: str
    shops: int
    changed: int
    seconds: float
    distribution: dict[str, int]


@router.get("")
def current(session: SessionDep, settings: SettingsDep, _: ViewerUser, scope: ScopeDep) -> dict[str, Any]:
    """Shops per grade now, and the rule set in use."""
    return {
        "rule_set": settings.grade_rules,
        "rule_sets": sorted(grades.RULE_SETS),
        "distribution": grades.distribution(session, scope),
    }


@router.get("/changes", response_model=list[GradeChangeOut])
def changes(
    session: SessionDep,
    _: ViewerUser,
    scope: ScopeDep,
    shop_id: str | None = None,
    since: BoundedDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    offset: Offset = 0,
) -> Any:
    stmt = scope.filter(select(GradeChange), GradeChange.shop_id)
    if shop_id:
        stmt = stmt.where(GradeChange.shop_id == shop_id)
    if since:
        stmt = stmt.where(GradeChange.at >= since)
    return list(
        session.scalars(stmt.order_by(GradeChange.at.desc(), GradeChange.id.desc()).limit(limit).offset(offset))
    )


@router.post("/recompute", response_model=GradeRunOut)
def recompute(session: SessionDep, settings: SettingsDep, user: AdminUser) -> Any:
    """Grade every shop now with the configured rule set; only changes are written."""
    run = grades.recompute(session, settings=settings, reason_prefix=f"recomputed by {user.username}")
    audit.record(
        session,
        actor=user.username,
        action="grades.recompute",
        details={"rule_set": run.rule_set, "shops": run.shops, "changed": run.changed},
    )
    session.commit()
    return run.__dict__
