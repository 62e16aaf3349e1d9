"""The installed `doorline-models` script: models.cli's commands (eval, eval-events, split, train, register)
plus `export-reviews`, which reads central's database and evidence store and so lives on this side."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from models import cli as models_cli


def main(argv: Sequence[str] | None = None) -> int:
    from central.review_export import add_arguments, run

    ap, sub = models_cli.build_parser()
    p = sub.add_parser("export-reviews", help="operator verdicts as a YOLO dataset (confirmed boxes, negatives)")
    add_arguments(p)
    p.set_defaults(handler=run)
    return models_cli.run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
