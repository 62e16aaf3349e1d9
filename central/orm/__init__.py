"""ORM tables. Importing this package registers every table on `Base.metadata` (Alembic reads it)."""

from central.orm.base import Base

__all__ = ["Base"]
