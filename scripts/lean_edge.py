"""The lean edge install, tried as a deployer would: a fresh venv with `pip install '.[edge]'`, no central.

    .venv/bin/python scripts/lean_edge.py [--venv DIR] [--keep] [--seconds N]

1. builds the wheel (`python -m build --wheel`, as a deployment does), checks it carries the package data
   central and the models need (templates, migrations, catalogs, model cards), creates a fresh venv
   (default: a temporary directory) and runs `pip install '<wheel>[edge]'` in it (pip's own cache makes a
   second run quicker; no index other than the one pip is configured with);
2. checks that FastAPI, SQLAlchemy, Alembic, psycopg, argon2, uvicorn and Jinja2 are NOT installed and that
   `central` cannot be imported;
3. runs that venv's `doorline-edge run --no-mqtt` on the dev clip (../shared/data/dev-events/clip_00.mp4;
   with --seconds N only its first N seconds, cut here with OpenCV) with the YOLOX-nano weights;
4. prints one JSON line: the lean venv's size, the dev venv's size (this interpreter's), the event phases
   the edge wrote and the zones they started in (the whole clip's ground truth has two, whose alerts come
   about 60 s in), and how long each step took. Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOORLINE_SHARED", REPO.parent / "shared")).resolve()
CENTRAL_ONLY = ["fastapi", "sqlalchemy", "alembic", "psycopg", "argon2-cffi", "uvicorn", "jinja2", "starlette"]


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def cut_clip(src: Path, dst: Path, seconds: float) -> int:
    """The first `seconds` of `src` as an MJPG .avi (written by this interpreter's OpenCV); frame count."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    n = 0
    while n < round(fps * seconds):
        ok, frame = cap.read()
        if not ok:
            break
        out.write(frame)
        n += 1
    cap.release()
    out.release()
    if n == 0:
        raise SystemExit(f"lean_edge: could not read {src}")
    return n


def build_wheel(out: Path) -> Path:
    """`python -m build --wheel` of the repository (the `build` package is in the dev extra)."""
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True)
    wheels = sorted(out.glob("doorline-*.whl"))
    if done.returncode != 0 or not wheels:
        raise SystemExit(f"lean_edge: python -m build failed: {(done.stdout + done.stderr)[-2000:]}")
    return wheels[0]


# files a deployment needs that are not Python modules (pyproject's package-data)
PACKAGE_DATA = ["central/web/templates/", "central/migrations/versions/0001", "central/migrations/env.py",
                "central/i18n/locale/zh_CN/LC_MESSAGES/messages.po", "central/rules/", "central/web/static/",
                "models/cards/yolox_nano.yaml"]


def missing_package_data(wheel: Path) -> list[str]:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    return [p for p in PACKAGE_DATA if not any(n.startswith(p) for n in names)]


def installed(python: Path) -> set[str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    return {p["name"].lower() for p in json.loads(out)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="where to make the venv (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the venv afterwards")
    ap.add_argument("--seconds", type=float, default=0.0, help="analyse only the clip's first N seconds (0: all)")
    args = ap.parse_args(argv)

    clip, zones, model = (SHARED / "data/dev-events/clip_00.mp4", SHARED / "data/dev-events/clip_00.json",
                          SHARED / "models/yolox_nano.onnx")
    for f in (clip, zones, model):
        if not f.exists():
            raise SystemExit(f"lean_edge: missing {f} (set DOORLINE_SHARED)")
    work = Path(tempfile.mkdtemp(prefix="doorline-lean-"))
    target = args.venv or work / "venv"
    failures: list[str] = []
    report: dict = {}
    try:
        t = time.monotonic()
        wheel = build_wheel(work / "dist")
        report["wheel"], report["wheel_kb"] = wheel.name, round(wheel.stat().st_size / 1e3)
        report["wheel_missing"] = missing_package_data(wheel)
        if report["wheel_missing"]:
            failures.append(f"the wheel lacks {report['wheel_missing']}")
        report["build_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        py = target / "bin" / "python"
        pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              f"{wheel}[edge]"], capture_output=True, text=True)
        report["install_s"] = round(time.monotonic() - t, 1)
        if pip.returncode != 0:
            print(pip.stdout[-2000:] + pip.stderr[-2000:], file=sys.stderr)
            raise SystemExit("lean_edge: pip install '.[edge]' failed")
        have = installed(py)
        report["central_only_installed"] = sorted(p for p in CENTRAL_ONLY if p in have)
        if report["central_only_installed"]:
            failures.append(f"the edge venv holds central's libraries: {report['central_only_installed']}")
        imp = subprocess.run([str(py), "-c", "import central.app"], capture_output=True, text=True)
        if imp.returncode == 0:
            failures.append("the edge venv can import central.app")

        cut = clip
        if args.seconds > 0:
            cut = work / "clip.avi"
            report["frames"] = cut_clip(clip, cut, args.seconds)
        events = work / "events.jsonl"
        t = time.monotonic()
        run = subprocess.run([str(target / "bin" / "doorline-edge"), "run", "--source", str(cut), "--zones",
                              str(zones), "--camera-id", "dev-cam-00", "--model", str(model), "--no-mqtt",
                              "--no-progress", "--events-out", str(events), "--evidence-dir", str(work / "ev")],
                             capture_output=True, text=True, cwd=work)
        report["run_s"] = round(time.monotonic() - t, 1)
        report["edge_summary"] = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
        if run.returncode != 0:
            failures.append(f"doorline-edge run exited {run.returncode}: {run.stderr[-1500:]}")
        lines = [json.loads(x) for x in events.read_text().splitlines() if x.strip()] if events.exists() else []
        report["event_phases"] = len(lines)
        report["zones_started"] = sorted({e["zone_id"] for e in lines if e["phase"] == "start"})
        report["lean_venv_mb"] = round(dir_bytes(target) / 1e6)
        report["dev_venv_mb"] = round(dir_bytes(Path(sys.prefix)) / 1e6)
        report["lean_packages"] = len(have)
        report["dev_packages"] = len(installed(Path(sys.executable)))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if args.venv is not None:
                shutil.rmtree(args.venv, ignore_errors=True)
    report["failures"] = failures
    print(json.dumps(report))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
