"""Query parameter types shared by the routes.

`UtcDateTime`: a datetime parameter normalised to UTC before it reaches SQL. SQLite stores naive UTC
strings and compares text, so `…16:30+08:00` must become `…08:30` UTC first; a value without an offset
is taken as UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from central.domain.clock import as_utc

UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
