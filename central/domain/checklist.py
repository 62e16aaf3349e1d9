"""The inspection checklist as data (central/rules/inspection_checklist.yaml, or the file named by
settings.inspection_checklist_file): items per category with points, and the face thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "rules" / "inspection_checklist.yaml"
CATEGORIES = ("waste", "sanitation", "advertising")  # the Inspection columns, in this order
GREEN, YELLOW, RED = 0, 1, 2


@dataclass(frozen=True)
class Item:
    key: str  # "<category>.<item>"
    zh: str
    en: str
    points: float


@dataclass(frozen=True)
class Category:
    key: str
    zh: str
    en: str
    items: tuple[Item, ...]

    @property
    def points(self) -> float:
        return sum(i.points for i in self.items)


@dataclass(frozen=True)
class Checklist:
    categories: tuple[Category, ...]
    green_from: float
    yellow_from: float
    poor_category: float

    def items(self) -> dict[str, Item]:
        return {i.key: i for c in self.categories for i in c.items}

    def scores(self, results: dict[str, bool | float]) -> tuple[float, float, float]:
        """Category scores 0–100 from item results: True = full points, False = none, a number = points
        earned. Every item must be given (an inspection is the whole menu); unknown items are refused."""
        items = self.items()
        unknown = sorted(set(results) - set(items))
        if unknown:
            raise ValueError(f"unknown checklist items: {', '.join(unknown)}")
        missing = sorted(set(items) - set(results))
        if missing:
            raise ValueError(f"checklist items not marked: {', '.join(missing)}")
        out = []
        for c in self.categories:
            earned = 0.0
            for item in c.items:
                r = results[item.key]
                got = item.points if r is True else 0.0 if r is False else float(r)
                if not 0 <= got <= item.points:
                    raise ValueError(f"{item.key}: {got:g} points is outside 0–{item.points:g}")
                earned += got
            out.append(round(100.0 * earned / c.points, 1))
        return out[0], out[1], out[2]

    def faces(self, scores: np.ndarray) -> np.ndarray:
        """Face codes (0 green, 1 yellow, 2 red) for rows of (waste, sanitation, advertising) scores."""
        scores = np.atleast_2d(scores)
        mean = scores.mean(axis=1)
        codes = np.where(mean >= self.green_from, GREEN, np.where(mean >= self.yellow_from, YELLOW, RED))
        codes = np.where(scores.min(axis=1) < self.poor_category, np.maximum(codes, YELLOW), codes)
        return codes.astype(np.int8)


def parse(doc: object, source: str = "checklist") -> Checklist:
    if not isinstance(doc, dict) or not isinstance(doc.get("categories"), list):
        raise ValueError(f"{source}: needs a `categories` list")
    cats = {c.get("key"): c for c in doc["categories"] if isinstance(c, dict)}
    if sorted(k for k in cats if k) != sorted(CATEGORIES):
        raise ValueError(f"{source}: categories must be exactly {', '.join(CATEGORIES)}")
    categories = []
    for key in CATEGORIES:
        c = cats[key]
        items = []
        for raw in c.get("items") or []:
            if not isinstance(raw, dict) or not raw.get("key") or not float(raw.get("points", 0)) > 0:
                raise ValueError(f"{source}: every item of {key} needs a key and positive points")
            items.append(Item(f"{key}.{raw['key']}", str(raw.get("zh", "")), str(raw.get("en", "")),
                              float(raw["points"])))
        if not items:
            raise ValueError(f"{source}: category {key} has no items")
        categories.append(Category(key, str(c.get("zh", "")), str(c.get("en", "")), tuple(items)))
    faces = doc.get("faces") or {}
    green, yellow, poor = (float(faces.get(k, d)) for k, d in
                           (("green_from", 85), ("yellow_from", 60), ("poor_category", 40)))
    if not 0 <= yellow <= green <= 100:
        raise ValueError(f"{source}: faces need 0 ≤ yellow_from ≤ green_from ≤ 100")
    return Checklist(tuple(categories), green, yellow, poor)


@lru_cache(maxsize=8)
def load(path: Path | None = None) -> Checklist:
    path = Path(path) if path else DEFAULT_FILE
    with path.open(encoding="utf-8") as fp:
        return parse(yaml.safe_load(fp), str(path))
