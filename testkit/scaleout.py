"""Scale-out figures of the ingest benchmark (scripts/bench/ingest.py): events/s per instance count under one
CPU budget each, and their ratios, as a summary and a table."""

from __future__ import annotations


def scale_summary(rounds: list[dict]) -> dict | None:
    """Events/s per instance count under one per-instance CPU budget, ratios against 1 instance."""
    if not rounds:
        return None
    ones = [r for r in rounds if r["instances"] == 1]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    # the 1-instance reference: the mean over its rounds (ratios of single rounds are against that mean)
    base = (
        {
            "events_per_s": mean([r["events_per_s"] for r in ones]),
            "steady_events_per_s": mean([r["steady_events_per_s"] or 0 for r in ones]),
            "per_instance_events_per_s": [mean([sum(x or 0 for x in r["per_instance_events_per_s"]) for r in ones])],
        }
        if ones
        else None
    )
    rows = []
    for r in rounds:
        cpu = r["cpu_cores"]
        rows.append(
            {
                "instances": r["instances"],
                "events_per_s": r["events_per_s"],
                "steady_events_per_s": r["steady_events_per_s"],
                "ratio_vs_1": round(r["events_per_s"] / base["events_per_s"], 2) if base else None,
                "sum_ratio_vs_1": (
                    round(
                        sum(x or 0 for x in r["per_instance_events_per_s"])
                        / sum(x or 0 for x in base["per_instance_events_per_s"]),
                        2,
                    )
                    if base and any(base["per_instance_events_per_s"])
                    else None
                ),
                "steady_ratio_vs_1": (
                    round(r["steady_events_per_s"] / base["steady_events_per_s"], 2)
                    if base and r["steady_events_per_s"] and base["steady_events_per_s"]
                    else None
                ),
                "split_messages": r["per_instance_stored"],
                "per_instance_events_per_s": r["per_instance_events_per_s"],
                "sum_of_instance_rates": round(sum(x or 0 for x in r["per_instance_events_per_s"]), 1),
                "central_cores_per_instance": cpu["central_per_instance"],
                "throttled_fraction": [t["throttled_fraction"] for t in r["throttled"]],
                "edges_cores": cpu["edges"],
                "broker_cores": cpu["broker"],
                "postgres_cores": cpu["postgres"],
                "machine_idle_cores": cpu["machine_idle"],
                "edges_drained_s": r["edges_drained_s"],
                "span_s": r["span_s"],
                "events_per_central_core_s": round(r["events_per_s"] / sum(cpu["central_per_instance"]), 1),
                "complete": r["events"] == r["expected"] and r["evidence_stored"] == r["expected"],
            }
        )
    by_n = {}
    for n in sorted({r["instances"] for r in rows}):
        mine = [r for r in rows if r["instances"] == n]
        ev = mean([r["events_per_s"] for r in mine])
        by_n[n] = {
            "rounds": len(mine),
            "events_per_s": [r["events_per_s"] for r in mine],
            "mean_events_per_s": round(ev, 1),
            "ratio_vs_1": round(ev / base["events_per_s"], 2) if base else None,
            "mean_central_cores_total": round(mean([sum(r["central_cores_per_instance"]) for r in mine]), 3),
            "mean_events_per_central_core_s": round(mean([r["events_per_central_core_s"] for r in mine]), 1),
            "max_machine_idle_cores": max(r["machine_idle_cores"] for r in mine),
        }
    return {"central_cpu_budget_cores": rounds[0]["central_cpu_budget"], "rows": rows, "by_instances": by_n}


def print_scale(scale: dict, mode: str) -> None:
    budget = scale["central_cpu_budget_cores"]
    what = (
        "backlog (edges filled the broker while central was paused; timed from resume)"
        if mode == "backlog"
        else "live saturation (edges publishing while central stores)"
    )
    print(f"\nscale-out, {what}, each central instance capped at {budget} cores (own cgroup, cfs quota):")
    header = (
        f"{'instances':>9} {'ev/s':>7} {'x vs 1':>6} {'steady':>7} {'x vs 1':>6} {'sum':>6} {'x vs 1':>6}  "
        f"{'ev/s each':<18} {'central cores each':<18} {'throttled':<14} {'edges':>5} {'broker':>6} {'pg':>5} "
        f"{'idle':>5} {'drained/span s':>14} {'ev/core-s':>9}  split"
    )
    print(header)
    print("-" * len(header))
    for r in scale["rows"]:
        print(
            f"{r['instances']:>9} {r['events_per_s']:>7} {r['ratio_vs_1']!s:>6} {r['steady_events_per_s']!s:>7} "
            f"{r['steady_ratio_vs_1']!s:>6} {r['sum_of_instance_rates']!s:>6} {r['sum_ratio_vs_1']!s:>6}  "
            f"{' '.join(str(x) for x in r['per_instance_events_per_s']):<18} "
            f"{' '.join(f'{c:.2f}' for c in r['central_cores_per_instance']):<18} "
            f"{' '.join(f'{t:.0%}' if t is not None else '-' for t in r['throttled_fraction']):<14} "
            f"{r['edges_cores']:>5.2f} {r['broker_cores']:>6.2f} {r['postgres_cores']:>5.2f} "
            f"{r['machine_idle_cores']:>5.2f} {r['edges_drained_s']:>6.1f}/{r['span_s']!s:<7} "
            f"{r['events_per_central_core_s']:>9}  {r['split_messages']}" + ("" if r["complete"] else "  INCOMPLETE")
        )
    print(
        "(ev/s = events / span; steady = commits between the 10th and 90th percentile of commit times; sum = "
        "sum of each instance's own rate, first to last commit; cores = CPU s / wall s over the round; idle = "
        "machine cores not busy, other jobs included; drained = s until the broker had every event; span = "
        "first publish (backlog: central resumed) to last commit. Live: drained << span means central was "
        "the bottleneck; ev/core-s = events/s per core of CPU the central instances used)"
    )
    for n, a in scale["by_instances"].items():
        print(
            f"  {n} instance(s): mean {a['mean_events_per_s']} ev/s over {a['rounds']} round(s) {a['events_per_s']}, "
            f"{a['ratio_vs_1']}x vs 1 instance, central CPU {a['mean_central_cores_total']} cores in all, "
            f"{a['mean_events_per_central_core_s']} events per central core-second"
        )
