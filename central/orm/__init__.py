"""ORM tables. Importing this package registers every table on `Base.metadata` (Alembic reads it)."""

from central.orm import (  # noqa: F401
    audit,
    cases,
    events,
    grades,
    notices,  # notice delivery, owner links, appeals
    reports,  # citizen reports
    shops,
    users,
)
from central.orm.base import Base

__all__ = ["Base"]
