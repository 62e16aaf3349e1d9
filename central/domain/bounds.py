"""Bounded values for days and times. Unbounded dates reach date arithmetic and fail there (year 9999 + 1 day
overflows `datetime`), which would be a 500; bounded they are a 422 naming the limit.

Dates and times are accepted from the year 2000 to 2100: Doorline keeps no record from before, and anything
later is a typo or an attack."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from central.domain.clock import as_utc

MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2100, 12, 31)


def _in_years(value: datetime) -> datetime:
    if not (MIN_DAY.year <= value.year <= MAX_DAY.year):
        raise ValueError(f"time must be between {MIN_DAY.year} and {MAX_DAY.year}")
    return value


BoundedDay = Annotated[date, Field(ge=MIN_DAY, le=MAX_DAY, description="a day from 2000-01-01 to 2100-12-31")]
# normalised to UTC before it reaches SQL: SQLite compares stored naive UTC text, so `…16:30+08:00` must
# become `…08:30` first; a value without an offset is taken as UTC
BoundedDatetime = Annotated[datetime, AfterValidator(_in_years), AfterValidator(as_utc),
                            Field(description="a time between 2000 and 2100 (ISO 8601; without an offset: UTC)")]
