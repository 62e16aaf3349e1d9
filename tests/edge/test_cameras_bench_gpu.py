"""The GPU mode of scripts/bench/cameras_per_box.py on a box without a GPU: one clear line, exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "cameras_per_box.py"


@pytest.mark.skipif(bool({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(ort.get_available_providers())),
                    reason="this box has a CUDA provider: the GPU mode would run, not skip")
def test_gpu_mode_skips_cleanly_without_a_cuda_provider(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda", "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skipped: no CUDA provider"), res.stdout
    assert "CPUExecutionProvider" in lines[0]
    assert not out.exists(), "a skipped run writes no figures"
