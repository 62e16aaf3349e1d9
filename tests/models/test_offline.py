"""Importing ultralytics through Doorline leaves the rest of the process alone: ultralytics replaces
`PIL.Image.open` with one that, offline, raises ImportError (pi-heif) on a file Pillow cannot identify, which
made central's photo check answer 500 instead of refusing the upload."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ultralytics") is None,
                                reason="needs the [train] extra (ultralytics)")

CHILD = """
import sys
from PIL import Image
pillow_open = Image.open
from models.backends.ultralytics import _import_yolo
_import_yolo()
from central.domain.photos import PhotoRejected, clean_photo
try:
    clean_photo(b"<html><script>alert(1)</script></html>")
except PhotoRejected as exc:
    print("refused:", exc)
print("pillow's own:", Image.open is pillow_open)
"""


def test_the_ultralytics_back_end_leaves_pillow_and_the_photo_check_alone() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused:" in out.stdout, out.stdout
    assert "pillow's own: True" in out.stdout


def test_restore_pillow_undoes_the_replacement() -> None:
    out = subprocess.run([sys.executable, "-c", "from PIL import Image; o = Image.open; import ultralytics; "
                          "replaced = Image.open is not o; from models.offline import restore_pillow; "
                          "restore_pillow(); print(replaced, Image.open is o)"],
                         capture_output=True, text=True, timeout=120, env=None)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]  # ultralytics did replace it, and it is back
