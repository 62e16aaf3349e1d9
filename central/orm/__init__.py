"""ORM tables. Importing this package registers every table on `Base.metadata` (Alembic reads it)."""

from central.orm import (  # noqa: F401
    audit,  # D1: registry, cases, grades, audit
    cases,
    events,  # C: events, evidence, dead letters, edge status, outbox
    grades,
    notices,  # notice delivery, owner links, appeals
    reports,  # citizen reports
    shops,
    users,  # D2: operator accounts, edge credentials
)
from central.orm.base import Base

__all__ = ["Base"]
