"""Risk grades: a vectorised engine with pluggable rule sets.

A run loads, for the shops concerned, a few parallel arrays (`GradeInputs`: ids, business type, current
grade, violation and complaint counts in the window, latest inspection scores) with one grouped query per
source, asks the selected rule set for new grade codes, and writes only the shops whose grade changed
(bulk UPDATE + one `GradeChange` row each, with the rule set's reason). 250,000 shops take a few seconds.

Rule sets (settings.grade_rules):
- counts:           ≥5 violations or complaints in the window → red, 3–4 → yellow, ≤2 → green
- business_type:    new shops start from their business type (a data file: 水果店 fruit red; 小餐饮 small
                    restaurants, 五金店 hardware yellow; others green) and never grade better than that
                    during `probation_days`; after that the counts decide
- inspection_score: the latest checklist (waste, door-front sanitation, outdoor advertising) decides;
                    shops never inspected fall back to counts
Register more with `register_rule_set`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import perf_counter
from typing import Protocol

import numpy as np
from sqlalchemy import ARRAY, String, any_, cast, func, select, update
from sqlalchemy.orm import Session

from central.domain import business_types, checklist, strikes
from central.domain.bulk import bulk_insert
from central.domain.clock import as_utc, now_utc
from central.domain.scope import EVERYWHERE, Scope
from central.orm.cases import Case, Complaint
from central.orm.grades import GradeChange, Inspection
from central.orm.shops import Shop
from central.settings import CentralSettings

GRADES = ("green", "yellow", "red")  # code = index; higher is riskier
GREEN, YELLOW, RED = 0, 1, 2
UNGRADED = -1
CODE = {g: i for i, g in enumerate(GRADES)}


@dataclass
class GradeInputs:
    ids: np.ndarray  # str
    business_type: np.ndarray  # object (str)
    current: np.ndarray  # int8, UNGRADED for none
    created_at: np.ndarray  # datetime64[s]
    violations: np.ndarray  # int32, counting confirmed cases in the strike window
    complaints: np.ndarray  # int32, valid complaints in the window
    inspection: np.ndarray  # float (n, 3): latest waste, sanitation, advertising scores; nan if none
    now: datetime
    settings: CentralSettings
    # violations + valid complaints in the window after the shop's latest inspection (inspected shops only)
    since_inspection: np.ndarray | None = None


Explain = Callable[[int], str]


class GradeRuleSet(Protocol):
    name: str
    # which optional inputs the rule reads: "business_type", "created_at", "inspections" (the others stay
    # empty, so a counts-only run loads three columns per shop)
    needs: frozenset[str]

    def grade(self, data: GradeInputs) -> tuple[np.ndarray, Explain]:
        """New grade codes (int8, one per shop) and a function giving the reason for shop i."""
        ...


@dataclass
class CountsRule:
    name: str = "counts"
    needs: frozenset[str] = frozenset()
    red_at: int = 5
    yellow_at: int = 3

    def codes(self, n: np.ndarray) -> np.ndarray:
        return np.where(n >= self.red_at, RED, np.where(n >= self.yellow_at, YELLOW, GREEN)).astype(np.int8)

    def grade(self, data: GradeInputs) -> tuple[np.ndarray, Explain]:
        n = data.violations + data.complaints
        days = data.settings.strike_window_days

        def explain(i: int) -> str:
            return (
                f"{data.violations[i]} violations + {data.complaints[i]} complaints in {days} days "
                f"(red ≥{self.red_at}, yellow {self.yellow_at}–{self.red_at - 1})"
            )

        return self.codes(n), explain


@dataclass
class BusinessTypeRule:
    """Initial grade by business type from the table in settings.business_types_file (default
    central/rules/business_types.yaml: 水果店 red, 小餐饮 and 五金店 yellow, others green)."""

    name: str = "business_type"
    needs: frozenset[str] = frozenset({"business_type", "created_at"})
    probation_days: int = 90
    counts: CountsRule = field(default_factory=CountsRule)

    @staticmethod
    def initial(business_type: np.ndarray, table: business_types.BusinessTypeTable) -> np.ndarray:
        values = business_type.astype(str)
        uniq, inverse = np.unique(values, return_inverse=True)  # a few hundred distinct types at most
        codes = np.array([CODE[table.grade(str(u))] for u in uniq], dtype=np.int8)
        return codes[inverse] if len(values) else np.zeros(0, dtype=np.int8)

    def grade(self, data: GradeInputs) -> tuple[np.ndarray, Explain]:
        table = business_types.load(data.settings.business_types_file)
        initial = self.initial(data.business_type, table)
        by_counts, explain_counts = self.counts.grade(data)
        cutoff = np.datetime64(as_utc(data.now).replace(tzinfo=None) - timedelta(days=self.probation_days), "s")
        on_probation = data.created_at > cutoff
        codes = np.where(on_probation, np.maximum(initial, by_counts), by_counts).astype(np.int8)

        def explain(i: int) -> str:
            if on_probation[i] and initial[i] >= by_counts[i]:
                kind = table.match(str(data.business_type[i]))
                as_type = f" ({kind.zh} {kind.en})" if kind else ""
                return (
                    f"business type {data.business_type[i]!r}{as_type} starts {GRADES[initial[i]]} "
                    f"(first {self.probation_days} days); " + explain_counts(i)
                )
            return explain_counts(i)

        return codes, explain


@dataclass
class InspectionScoreRule:
    """The latest checklist decides the face (thresholds from the checklist file, settings.
    inspection_checklist_file); violations and complaints since that inspection keep counting: the grade is
    the worse of the face and their counts grade. Shops never inspected: the counts decide."""

    name: str = "inspection_score"
    needs: frozenset[str] = frozenset({"inspections"})
    counts: CountsRule = field(default_factory=CountsRule)

    def from_scores(self, scores: np.ndarray, settings: CentralSettings | None = None) -> np.ndarray:
        return checklist.load(settings.inspection_checklist_file if settings else None).faces(scores)

    def grade(self, data: GradeInputs) -> tuple[np.ndarray, Explain]:
        menu = checklist.load(data.settings.inspection_checklist_file)
        has = ~np.isnan(data.inspection).any(axis=1)
        filled = np.where(has[:, None], data.inspection, 100.0)
        by_counts, explain_counts = self.counts.grade(data)
        since = data.since_inspection if data.since_inspection is not None else np.zeros(len(has), np.int32)
        after = self.counts.codes(since)
        face = menu.faces(filled)
        codes = np.where(has, np.maximum(face, after), by_counts).astype(np.int8)

        def explain(i: int) -> str:
            if not has[i]:
                return "never inspected; " + explain_counts(i)
            w, s, a = data.inspection[i]
            text = (
                f"latest inspection: waste {w:.0f}, sanitation {s:.0f}, advertising {a:.0f} "
                f"(mean {np.mean(data.inspection[i]):.0f}; green ≥{menu.green_from:.0f}, "
                f"yellow ≥{menu.yellow_from:.0f}, any category <{menu.poor_category:.0f} at best yellow)"
            )
            if after[i] > face[i]:
                text += f"; {since[i]} violations and complaints since then → {GRADES[after[i]]}"
            return text

        return codes, explain


RULE_SETS: dict[str, GradeRuleSet] = {}


def register_rule_set(rule: GradeRuleSet) -> GradeRuleSet:
    RULE_SETS[rule.name] = rule
    return rule


for _rule in (CountsRule(), BusinessTypeRule(), InspectionScoreRule()):
    register_rule_set(_rule)


def rule_set(name: str) -> GradeRuleSet:
    try:
        return RULE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown grade rule set {name!r}; known: {', '.join(sorted(RULE_SETS))}") from None


# ---------------------------------------------------------------- loading


def _chunks(ids: Sequence[str], n: int = 900) -> list[Sequence[str]]:
    return [ids[i : i + n] for i in range(0, len(ids), n)]


def _grouped(session: Session, stmt, shop_col, shop_ids: Sequence[str] | None) -> list[tuple]:
    if shop_ids is None:
        return list(session.execute(stmt))
    out: list[tuple] = []
    for part in _chunks(shop_ids):
        out += session.execute(stmt.where(shop_col.in_(part)))
    return out


def _scatter(ids: np.ndarray, keys: list[str], values: np.ndarray, fill, dtype) -> np.ndarray:
    """Values per key put at their id's position; `ids` must be sorted in code point order."""
    out = np.full(len(ids), fill, dtype=dtype)
    if not keys:
        return out
    pos = np.searchsorted(ids, np.array(keys, dtype=ids.dtype))
    pos = np.clip(pos, 0, len(ids) - 1)
    ok = ids[pos] == np.array(keys, dtype=ids.dtype)
    out[pos[ok]] = values[ok]
    return out


def load_inputs(
    session: Session,
    now: datetime,
    settings: CentralSettings,
    shop_ids: Sequence[str] | None = None,
    *,
    needs: frozenset[str] = frozenset({"business_type", "created_at", "inspections"}),
) -> GradeInputs:
    since = now - timedelta(days=settings.strike_window_days)
    cols = [Shop.id, Shop.grade]
    cols += [Shop.business_type] if "business_type" in needs else []
    cols += [Shop.created_at] if "created_at" in needs else []
    # sorted here, not by SQL: `_scatter` needs Python's (code point) order, and a database collated by a
    # locale (en_US, zh_CN, ICU) orders ids differently
    rows = _grouped(session, select(*cols), Shop.id, shop_ids)
    rows.sort(key=lambda r: r[0])
    n = len(rows)
    ids = np.array([r[0] for r in rows], dtype=str) if rows else np.array([], dtype="<U1")
    current = np.array([CODE.get(r[1], UNGRADED) for r in rows], dtype=np.int8)
    btype = np.array([r[2] or "" for r in rows] if "business_type" in needs else [""] * n, dtype=object)
    naive_now = now.replace(tzinfo=None)
    if "created_at" in needs:
        created = np.array(
            [as_utc(r[-1]).replace(tzinfo=None) if r[-1] else naive_now for r in rows], dtype="datetime64[s]"
        )
    else:
        created = np.full(n, np.datetime64(naive_now, "s"))

    v_stmt = (
        select(Case.shop_id, func.count())
        .where(Case.confirmed_at >= since, Case.confirmed_at <= now)
        .where(strikes.counting_filter(settings))
        .group_by(Case.shop_id)
    )
    v = _grouped(session, v_stmt, Case.shop_id, shop_ids)
    c_stmt = (
        select(Complaint.shop_id, func.count())
        .where(Complaint.valid.is_(True), Complaint.at >= since, Complaint.at <= now)
        .group_by(Complaint.shop_id)
    )
    c = _grouped(session, c_stmt, Complaint.shop_id, shop_ids)
    violations = _scatter(ids, [r[0] for r in v], np.array([r[1] for r in v], dtype=np.int32), 0, np.int32)
    complaints = _scatter(ids, [r[0] for r in c], np.array([r[1] for r in c], dtype=np.int32), 0, np.int32)

    inspection = np.full((len(ids), 3), np.nan)
    since_inspection = None
    if "inspections" in needs:
        latest = (
            select(Inspection.shop_id, func.max(Inspection.at).label("at"))
            .where(Inspection.at <= now)
            .group_by(Inspection.shop_id)
        )
        if shop_ids is not None:
            latest = latest.where(Inspection.shop_id.in_(list(shop_ids)))
        sub = latest.subquery()
        i_stmt = select(
            Inspection.shop_id, Inspection.id, Inspection.waste, Inspection.sanitation, Inspection.advertising
        ).join(sub, (sub.c.shop_id == Inspection.shop_id) & (sub.c.at == Inspection.at))
        # the latest by date decides; two at the same instant: the one entered last
        latest_row: dict[str, tuple] = {}
        for shop_id, ins_id, *scores in session.execute(i_stmt):
            if shop_id not in latest_row or ins_id > latest_row[shop_id][0]:
                latest_row[shop_id] = (ins_id, scores)
        if latest_row:
            keys = list(latest_row)
            vals = np.array([latest_row[k][1] for k in keys], dtype=float)
            for k in range(3):
                inspection[:, k] = _scatter(ids, keys, vals[:, k], np.nan, float)
        # what happened after each shop's latest inspection (complaints keep counting after a visit)
        va_stmt = (
            select(Case.shop_id, func.count())
            .join(sub, sub.c.shop_id == Case.shop_id)
            .where(Case.confirmed_at >= since, Case.confirmed_at <= now, Case.confirmed_at > sub.c.at)
            .where(strikes.counting_filter(settings))
            .group_by(Case.shop_id)
        )
        ca_stmt = (
            select(Complaint.shop_id, func.count())
            .join(sub, sub.c.shop_id == Complaint.shop_id)
            .where(Complaint.valid.is_(True), Complaint.at >= since, Complaint.at <= now, Complaint.at > sub.c.at)
            .group_by(Complaint.shop_id)
        )
        since_inspection = np.zeros(len(ids), dtype=np.int32)
        for stmt in (va_stmt, ca_stmt):
            rows_after = list(session.execute(stmt))
            since_inspection += _scatter(
                ids, [r[0] for r in rows_after], np.array([r[1] for r in rows_after], dtype=np.int32), 0, np.int32
            )
    return GradeInputs(
        ids=ids,
        business_type=btype,
        current=current,
        created_at=created,
        violations=violations,
        complaints=complaints,
        inspection=inspection,
        now=now,
        settings=settings,
        since_inspection=since_inspection,
    )


# ---------------------------------------------------------------- running


@dataclass
class GradeRun:
    rule_set: str
    shops: int
    changed: int
    seconds: float
    distribution: dict[str, int]


def recompute(
    session: Session,
    *,
    now: datetime | None = None,
    settings: CentralSettings,
    shop_ids: Sequence[str] | None = None,
    rules: str | None = None,
    reason_prefix: str = "",
) -> GradeRun:
    """Grade the given shops (all when None) and store every change with its reason."""
    t0 = perf_counter()
    now = as_utc(now) or now_utc()
    rule = rule_set(rules or settings.grade_rules)
    session.flush()
    data = load_inputs(session, now, settings, shop_ids, needs=getattr(rule, "needs", frozenset()))
    codes, explain = rule.grade(data)
    changed = np.flatnonzero(codes != data.current)
    written = 0
    if len(changed):
        shops = Shop.__table__
        prefix = f"{reason_prefix}: " if reason_prefix else ""
        # one set-based UPDATE per (old grade, new grade, chunk of ids), conditional on the old grade: a shop
        # another writer (instance, ingest) regraded since it was loaded is left alone, so a grade change is
        # written once however many instances grade at the same time. updated_at is kept: a grade is not a
        # registry edit.
        pg = session.connection().dialect.name == "postgresql"
        chunk = 50_000 if pg else 5000
        updated: set[str] = set()
        for new_code, grade in enumerate(GRADES):
            for old_code in (UNGRADED, *range(len(GRADES))):
                sel = changed[(codes[changed] == new_code) & (data.current[changed] == old_code)]
                ids = data.ids[sel].tolist()
                if old_code == UNGRADED:
                    was = shops.c.grade.is_(None) | shops.c.grade.not_in(GRADES)
                else:
                    was = shops.c.grade == GRADES[old_code]
                for i in range(0, len(ids), chunk):
                    part = ids[i : i + chunk]
                    # PostgreSQL: one array parameter (= ANY) instead of thousands of IN parameters to parse
                    cond = shops.c.id == any_(cast(part, ARRAY(String))) if pg else shops.c.id.in_(part)
                    values = {"grade": grade, "grade_since": now, "updated_at": shops.c.updated_at}
                    stmt = update(shops).where(cond & was).values(values).returning(shops.c.id)
                    updated.update(session.execute(stmt).scalars())
        history = [
            {
                "shop_id": str(data.ids[i]),
                "at": now,
                "old_grade": GRADES[data.current[i]] if data.current[i] >= 0 else None,
                "new_grade": GRADES[codes[i]],
                "rule_set": rule.name,
                "reason": prefix + explain(i),
            }
            for i in changed.tolist()
            if str(data.ids[i]) in updated
        ]
        bulk_insert(session, GradeChange.__table__, history)
        written = len(history)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Shop) and obj.id in updated:
                session.expire(obj, ["grade", "grade_since"])
    dist = {g: int(np.count_nonzero(codes == k)) for k, g in enumerate(GRADES)}
    return GradeRun(
        rule_set=rule.name,
        shops=len(codes),
        changed=written,
        seconds=perf_counter() - t0,
        distribution=dist,
    )


def regrade_shops(
    session: Session,
    shop_ids: Sequence[str],
    *,
    now: datetime | None = None,
    settings: CentralSettings,
    reason_prefix: str = "",
) -> GradeRun:
    return recompute(session, now=now, settings=settings, shop_ids=list(shop_ids), reason_prefix=reason_prefix)


def distribution(session: Session, scope: Scope = EVERYWHERE) -> dict[str, int]:
    rows = session.execute(select(Shop.grade, func.count()).where(scope.place(Shop.area, Shop.road))
                           .group_by(Shop.grade)).all()
    out = {g: 0 for g in GRADES} | {"ungraded": 0}
    for g, n in rows:
        out[g if g in GRADES else "ungraded"] += int(n)
    return out


def history(session: Session, shop_id: str, limit: int = 100) -> list[GradeChange]:
    return list(
        session.scalars(
            select(GradeChange)
            .where(GradeChange.shop_id == shop_id)
            .order_by(GradeChange.at.desc(), GradeChange.id.desc())
            .limit(limit)
        )
    )
