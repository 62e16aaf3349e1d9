#!/usr/bin/env bash
# Sets up everything Doorline needs on this machine, and says what it does.
#   scripts/setup.sh          venv + package + Mosquitto (enough for the demo)
#   scripts/setup.sh --test   also Chromium (browser tests), PostgreSQL's binaries (the tests run their own) and
#                             GStreamer's RTSP server (a camera on loopback for a fault test); the [train] extra
#                             (torch + ultralytics: CI's smoke training)
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*  (install it yourself, then run this again)"; return 1; fi
}
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then say "no apt-get here: install $* with your package manager"; return 1; fi
  if [ $apt_updated = 0 ]; then say "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# 1. Python >= 3.11 and the venv.
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python >= 3.11 is required (found: $("$PY" --version 2>&1 || echo none))"; exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv || { apt_install python3-venv && "$PY" -m venv .venv; }
fi
stamp=.venv/.doorline-installed
hash=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat $stamp 2>/dev/null)" != "$hash" ]; then
  say "installing Doorline and its dependencies into .venv (pip, a minute or two the first time)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import edge, central, models, zones, wire, testkit, cv2, onnxruntime, paho.mqtt' \
    || { say "the Python install failed (see pip output above)"; exit 1; }
  echo "$hash" > $stamp
else
  say ".venv is up to date"
fi

# 2. Mosquitto: the binary (tests start private brokers) and a broker for the demo.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  apt_install mosquitto mosquitto-clients
fi
say "mosquitto: $( (command -v mosquitto || echo /usr/sbin/mosquitto) )"

# 3. A CJK font, so the printable grade board (PNG/PDF) draws Chinese shop names (never fetched at run time).
if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  apt_install fonts-wqy-microhei || say "no CJK font: Chinese on printed boards shows as boxes"
fi

if [ $want_test = 1 ]; then
  # 3. Chromium for the browser tests (Playwright drives Debian's build; it never downloads one).
  if [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
  say "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
  # 4. PostgreSQL for the tests that run on both databases: the server DOORLINE_TEST_PG_URL names, or else
  #    a throwaway cluster the tests start in a temporary directory and remove (testkit/postgres.py). No
  #    server is started and no configuration file is changed here; only the binaries are installed.
  if [ -n "${DOORLINE_TEST_PG_URL:-}" ]; then
    if ! .venv/bin/python - "$DOORLINE_TEST_PG_URL" <<'PY' 2>/dev/null
import sys, sqlalchemy
sqlalchemy.create_engine(sys.argv[1]).connect().close()
PY
    then say "DOORLINE_TEST_PG_URL is set but that server does not answer: $DOORLINE_TEST_PG_URL"; exit 1; fi
    say "postgresql: the tests use DOORLINE_TEST_PG_URL"
  else
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
      apt_install postgresql
    fi
    say "postgresql: the tests start a throwaway cluster of their own ($(.venv/bin/python -c \
      'from testkit.postgres import bin_dir; print(bin_dir())'))"
  fi
  # 5. An RTSP camera on loopback for the camera-restart fault test: GStreamer's gst-rtsp-server, run by the
  #    system Python through python3-gi (testkit/rtsp.py). Only packages; nothing is started here.
  if ! .venv/bin/python -c 'import sys; from testkit.rtsp import available; sys.exit(1 if available() else 0)' \
      2>/dev/null; then
    apt_install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      || say "no gst-rtsp-server: the RTSP restart test (make reliability) cannot run"
  fi
  # 6. The [train] extra (torch, torchvision, ultralytics, onnx): CI's smoke training (tests/models/
  #    test_train_smoke.py) trains, exports and loads a model. Big (torch with its CUDA libraries, a few GB),
  #    so only when it does not import yet. ultralytics pulls opencv-python (the GUI build), whose cv2 would
  #    replace opencv-python-headless's: it is removed and the headless build put back.
  if ! .venv/bin/python -c 'import torch, torchvision, ultralytics, onnx' 2>/dev/null; then
    say "installing the [train] extra into .venv (torch + ultralytics; several minutes the first time)"
    headless=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("opencv-python-headless"))')
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,train]" 2>&1 | grep -v '^WARNING: Location' || true
    if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
      .venv/bin/python -m pip uninstall -y -q opencv-python
      .venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
        "opencv-python-headless==$headless" 2>&1 | grep -v '^WARNING: Location' || true
    fi
    .venv/bin/python -c 'import torch, torchvision, ultralytics, onnx, cv2' \
      || { say "the [train] extra did not install (see pip output above)"; exit 1; }
  fi
  say "train extra: torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
fi
say "done"
