"""Bounded parameter types for the API schema. Unbounded numbers and dates reach the database or date
arithmetic and fail there (an offset of 2^63 overflows SQLite's integer, an id of 2^31 PostgreSQL's, year
9999 + 1 day overflows `datetime`), which is a 500; bounded here they are a 422 naming the limit, and the
OpenAPI schema says so.

Dates and times are accepted from the year 2000 to 2100: Doorline keeps no record from before, and anything
later is a typo or an attack."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2100, 12, 31)
MAX_OFFSET = 10_000_000  # rows skipped in a listing; far past any real table, far below 2^63
MAX_INT_ID = 2**31 - 1  # the integer primary keys (officer tasks) are 32-bit on PostgreSQL
MAX_PAGE = MAX_OFFSET // 50  # console pages of 50 rows


def _in_years(value: datetime) -> datetime:
    if not (MIN_DAY.year <= value.year <= MAX_DAY.year):
        raise ValueError(f"time must be between {MIN_DAY.year} and {MAX_DAY.year}")
    return value


BoundedDay = Annotated[date, Field(ge=MIN_DAY, le=MAX_DAY, description="a day from 2000-01-01 to 2100-12-31")]
BoundedDatetime = Annotated[datetime, AfterValidator(_in_years),
                            Field(description="a time between 2000 and 2100 (ISO 8601)")]

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
PageNo = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]
IntId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]
