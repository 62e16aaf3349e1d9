"""Log set-up shared by `doorline-edge` and `doorline-central`: text lines, or JSON lines for a collector.

`DOORLINE_LOG_FORMAT=json` (or `configure(fmt="json")`) writes one JSON object per line on stderr:
`ts` (UTC, ISO 8601), `level`, `logger`, `msg`, and the ids a record carries in `extra=` — `camera_id`,
`zone_id`, `event_id`, `case_id`, `shop_id`, `site_id`, `edge_id` — plus `exc` with the traceback. Anything
else (`text`, unset) keeps the usual `time level logger: message` lines.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

ENV = "DOORLINE_LOG_FORMAT"
IDS = ("camera_id", "zone_id", "event_id", "case_id", "shop_id", "site_id", "edge_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in IDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: int = logging.INFO, fmt: str | None = None) -> None:
    """Root logging on stderr in `fmt` ("json" or "text"; default from DOORLINE_LOG_FORMAT, else text)."""
    fmt = (fmt or os.environ.get(ENV) or "text").strip().lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"{ENV} must be json or text, got {fmt!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
