"""An officer's day: the open officer tasks (rechecks, escalations, penalties) and the inspections due
today, for the shops in the officer's scope (district `scope_area`, street `scope_road`), in route order
(area, road, address, numbers compared as numbers: 2号 before 10号)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.domain import inspections
from central.domain.errors import NotFound
from central.domain.inspections import natural_key
from central.domain.scope import Scope
from central.orm.cases import Case, OfficerTask
from central.orm.shops import Shop
from central.orm.users import User
from central.settings import CentralSettings


@dataclass(frozen=True)
class TaskItem:
    task_id: int
    kind: str  # recheck | escalation | penalty
    reason: str
    created_at: datetime
    case_id: str
    violation: str
    strike: int | None
    shop_id: str
    shop_name: str
    address: str
    road: str
    area: str


@dataclass(frozen=True)
class DayPlan:
    day: date
    tasks: list[TaskItem]
    inspections: list[inspections.DueItem]


def shop_for(session: Session, user: User, shop_id: str) -> Shop:
    """The shop if it is in the user's scope; NotFound otherwise (an officer learns nothing of other areas)."""
    return Scope.of(user).shop(session, shop_id)


def task_for(session: Session, user: User, task_id: int) -> OfficerTask:
    task = session.get(OfficerTask, task_id)
    if task is None:
        raise NotFound(f"no officer task {task_id}")
    Scope.of(user).check_shop_id(session, task.shop_id, f"officer task {task_id}")
    return task


def day_plan(session: Session, user: User, day: date, *, settings: CentralSettings) -> DayPlan:
    scope = Scope.of(user)
    stmt = (
        select(OfficerTask, Case, Shop)
        .join(Case, Case.id == OfficerTask.case_id)
        .join(Shop, Shop.id == OfficerTask.shop_id)
        .where(OfficerTask.status == "open", scope.place(Shop.area, Shop.road))
    )
    tasks = [
        TaskItem(t.id, t.kind, t.reason, t.created_at, c.id, c.violation, c.strike, s.id, s.name, s.address, s.road,
                 s.area)
        for t, c, s in session.execute(stmt)
    ]
    tasks.sort(key=lambda t: (natural_key(t.area), natural_key(t.road), natural_key(t.address), t.task_id))
    due = inspections.due_list(session, day, settings=settings, order="route", scope=scope)
    return DayPlan(day, tasks, due)
