"""CPU use of a benchmark's processes from /proc, and CPU budgets for them in cgroup v1 (scripts/bench)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CGROUP_CPU_ROOT = Path(os.environ.get("DOORLINE_BENCH_CGROUP_CPU", "/sys/fs/cgroup/cpu"))
CGROUP_PREFIX = "doorline-bench-ingest-"


class CpuCgroups:
    """One cgroup v1 `cpu` group per constrained central instance, under a parent group of this run.

    Each child gets `cpu.cfs_quota_us = cores × cpu.cfs_period_us`: a hard ceiling, as if the instance had
    its own machine with that much CPU. The parent gets a high `cpu.shares`, so when the rest of the chain
    (edges, broker, PostgreSQL) is busy the instances still get their whole budget. `close()` removes every
    group (it runs from a `finally`, also on error or Ctrl-C)."""

    PERIOD_US = 100_000

    def __init__(self, root: Path = CGROUP_CPU_ROOT):
        self.root = root
        self.parent = root / f"{CGROUP_PREFIX}{os.getpid()}"
        self.children: list[Path] = []

    @classmethod
    def unavailable_reason(cls, root: Path = CGROUP_CPU_ROOT) -> str | None:
        """None if per-instance CPU quotas can be set here, else why not."""
        if not hasattr(os, "geteuid"):
            return "no cgroups on this platform"
        if not (root / "cpu.cfs_quota_us").exists():
            unified = Path("/sys/fs/cgroup/cgroup.controllers")
            if unified.exists() and "cpu" in unified.read_text().split():
                return f"only cgroup v2 is mounted ({root} has no cgroup v1 cpu controller); not supported"
            return f"no cgroup v1 cpu controller at {root} (cpu.cfs_quota_us missing)"
        if os.geteuid() != 0 and not os.access(root, os.W_OK):
            return f"not root and {root} is not writable"
        return None

    def open(self) -> None:
        self._remove_stale()
        self.parent.mkdir()
        (self.parent / "cpu.shares").write_text("8192\n")

    def create(self, name: str, cores: float) -> Path:
        path = self.parent / name
        path.mkdir()
        self.children.append(path)
        (path / "cpu.cfs_period_us").write_text(f"{self.PERIOD_US}\n")
        (path / "cpu.cfs_quota_us").write_text(f"{max(1000, round(cores * self.PERIOD_US))}\n")
        return path

    @staticmethod
    def add(path: Path, pid: int) -> None:
        (path / "cgroup.procs").write_text(f"{pid}\n")  # moves every thread of the process

    @staticmethod
    def stat(path: Path) -> dict[str, int]:
        out = {}
        for line in (path / "cpu.stat").read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = int(v)
        return out

    def release(self, path: Path) -> None:
        """Move whatever is left in `path` back to the root group and remove it."""
        if not path.exists():
            return
        try:
            for pid in (path / "cgroup.procs").read_text().split():
                try:
                    (self.root / "cgroup.procs").write_text(f"{pid}\n")
                except OSError:
                    pass  # already gone
        except OSError:
            pass
        for _ in range(50):
            try:
                path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # a just-killed process not reaped yet
        print(f"warning: could not remove cgroup {path}", file=sys.stderr)

    def close(self) -> None:
        for path in self.children:
            self.release(path)
        self.children.clear()
        self.release(self.parent)

    def _remove_stale(self) -> None:
        """Groups left by an earlier run of this script that was SIGKILLed (its pid is gone)."""
        for d in self.root.glob(f"{CGROUP_PREFIX}*"):
            pid = d.name[len(CGROUP_PREFIX) :]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                for child in d.iterdir():
                    if child.is_dir():
                        self.release(child)
                self.release(d)


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds; 0 if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every `postgres` process on the machine (server + backends)."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out[int(d.name)] = proc_cpu_s(int(d.name))
            except OSError:
                pass
    return out


def system_busy_s() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


class CpuMeter:
    """CPU used by each part of the chain between `begin()` and `end()`, in cores (CPU s / wall s)."""

    def __init__(self, centrals: list[subprocess.Popen], edges: list[subprocess.Popen], broker: subprocess.Popen):
        self.centrals, self.edges, self.broker = centrals, edges, broker

    def _sample(self) -> dict:
        return {
            "t": time.monotonic(),
            "centrals": [proc_cpu_s(p.pid) for p in self.centrals],
            # an edge that has exited stays readable as a zombie until it is reaped (the driver reaps them
            # only in backlog rounds, before begin())
            "edges": {p.pid: proc_cpu_s(p.pid) for p in self.edges},
            "broker": proc_cpu_s(self.broker.pid),
            "postgres": postgres_cpu(),
            "system": system_busy_s(),
        }

    @staticmethod
    def _delta(a: dict[int, float], b: dict[int, float]) -> float:
        """CPU used by processes alive at the end (one that exited meanwhile counts 0, not negative)."""
        return sum(max(0.0, v - a.get(pid, 0.0)) for pid, v in b.items() if v > 0)

    def begin(self) -> None:
        self.a = self._sample()

    def end(self) -> dict:
        b = self._sample()
        wall = b["t"] - self.a["t"]
        pg = self._delta(self.a["postgres"], b["postgres"])
        cores = {
            "window_s": round(wall, 2),
            "central_per_instance": [
                round((y - x) / wall, 3) for x, y in zip(self.a["centrals"], b["centrals"], strict=True)
            ],
            "edges": round(self._delta(self.a["edges"], b["edges"]) / wall, 3),
            "broker": round((b["broker"] - self.a["broker"]) / wall, 3),
            "postgres": round(pg / wall, 3),
            "machine_busy": round((b["system"] - self.a["system"]) / wall, 3),
            "machine_cores": os.cpu_count(),
        }
        cores["rest_of_chain"] = round(cores["edges"] + cores["broker"] + cores["postgres"], 3)
        cores["machine_idle"] = round(max(0.0, (os.cpu_count() or 1) - cores["machine_busy"]), 3)
        return cores
