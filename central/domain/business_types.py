"""Business type → initial risk grade, as data (central/rules/business_types.yaml, or the file named by
settings.business_types_file): Chinese and English names and synonyms per type, matched case- and
space-insensitively, exact names first, then the longest name the shop's business type contains."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "rules" / "business_types.yaml"
GRADE_NAMES = ("green", "yellow", "red")


@dataclass(frozen=True)
class BusinessType:
    key: str
    grade: str
    zh: str
    en: str
    names: tuple[str, ...]  # normalised: zh, en and the synonyms


@dataclass(frozen=True)
class BusinessTypeTable:
    types: tuple[BusinessType, ...]
    default: str

    def match(self, business_type: str) -> BusinessType | None:
        text = normalise(business_type)
        if not text:
            return None
        for t in self.types:
            if text in t.names:
                return t
        best: tuple[int, BusinessType] | None = None
        for t in self.types:
            for name in t.names:
                if name in text and (best is None or len(name) > best[0]):
                    best = (len(name), t)
        return best[1] if best else None

    def grade(self, business_type: str) -> str:
        t = self.match(business_type)
        return t.grade if t else self.default


def normalise(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip().casefold())


def parse(doc: object, source: str = "business types") -> BusinessTypeTable:
    """The table from a loaded YAML document; a clear ValueError naming what is wrong."""
    if not isinstance(doc, dict) or not isinstance(doc.get("types"), list):
        raise ValueError(f"{source}: needs a `types` list")
    default = doc.get("default", "green")
    if default not in GRADE_NAMES:
        raise ValueError(f"{source}: default grade {default!r} is not one of {', '.join(GRADE_NAMES)}")
    types, seen = [], {}
    for i, item in enumerate(doc["types"], start=1):
        if not isinstance(item, dict) or not item.get("key") or item.get("grade") not in GRADE_NAMES:
            raise ValueError(f"{source}: type {i} needs a key and a grade (red, yellow or green)")
        names = [item.get("zh"), item.get("en"), *(item.get("synonyms") or [])]
        norm = tuple(dict.fromkeys(normalise(str(n)) for n in names if n is not None and normalise(str(n))))
        for n in norm:
            if n in seen and seen[n] != item["key"]:
                raise ValueError(f"{source}: name {n!r} is given to both {seen[n]} and {item['key']}")
            seen[n] = item["key"]
        types.append(BusinessType(str(item["key"]), item["grade"], str(item.get("zh") or ""),
                                  str(item.get("en") or ""), norm))
    return BusinessTypeTable(tuple(types), default)


@lru_cache(maxsize=8)
def load(path: Path | None = None) -> BusinessTypeTable:
    path = Path(path) if path else DEFAULT_FILE
    with path.open(encoding="utf-8") as fp:
        return parse(yaml.safe_load(fp), str(path))
