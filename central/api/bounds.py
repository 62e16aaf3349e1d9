"""Bounded parameter types for the API schema. Unbounded numbers reach the database and fail there (an offset
of 2^63 overflows SQLite's integer, an id of 2^31 PostgreSQL's), which is a 500; bounded here they are a 422
naming the limit, and the OpenAPI schema says so. Days and times: `central.domain.bounds`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from central.domain.bounds import BoundedDatetime, BoundedDay

__all__ = ["BoundedDatetime", "BoundedDay", "IntId", "MAX_INT_ID", "MAX_OFFSET", "Offset", "PageNo"]

MAX_OFFSET = 10_000_000  # rows skipped in a listing; far past any real table, far below 2^63
MAX_INT_ID = 2**31 - 1  # the integer primary keys (officer tasks) are 32-bit on PostgreSQL
MAX_PAGE = MAX_OFFSET // 50  # console pages of 50 rows

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
PageNo = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]
IntId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]
