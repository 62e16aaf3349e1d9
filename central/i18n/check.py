"""Which strings people see are not translated: extracts every marked string as `make i18n` does
(babel.cfg: templates and Python) and compares with a catalog. `python -m central.i18n.check` lists them
and exits 1 if any is missing (`make i18n` runs it after updating the catalogs)."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from central.i18n import DOMAIN, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]


def extracted(root: Path = ROOT) -> dict[str, str]:
    """msgid → the file it was first found in, for every marked string under `root`/central."""
    with (root / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    out: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map, options_map):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                out.setdefault(msgid, filename)
    return out


def catalog(name: str = "zh_CN") -> dict[str, str]:
    """msgid → translation of one catalog (fuzzy entries count as untranslated)."""
    with (LOCALE_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as fh:
        cat = read_po(fh, locale=name)
    out: dict[str, str] = {}
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strs = m.string if isinstance(m.string, tuple) else (m.string,)
        text = next((s for s in strs if s), "")
        for msgid in ids:
            out[msgid] = text
    return out


def missing(name: str = "zh_CN", root: Path = ROOT) -> dict[str, str]:
    """msgid → file, for every extracted string the catalog does not translate."""
    have = catalog(name)
    return {m: f for m, f in extracted(root).items() if not have.get(m)}


def main() -> int:
    gaps = missing()
    for msgid, filename in sorted(gaps.items(), key=lambda kv: (kv[1], kv[0])):
        print(f"{filename}: {msgid!r}")
    if gaps:
        print(f"{len(gaps)} strings have no zh_CN translation: fill them in "
              f"{LOCALE_DIR / 'zh_CN' / 'LC_MESSAGES' / (DOMAIN + '.po')}", file=sys.stderr)
        return 1
    print("every string has a zh_CN translation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
