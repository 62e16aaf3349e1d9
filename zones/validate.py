"""`python -m zones.validate FILE...` is `doorline-zones check FILE...` (kept for old scripts)."""

from __future__ import annotations

from zones.check import main as _check


def main(argv: list[str] | None = None) -> int:
    import sys

    return _check(["check", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
