"""Streaming keeps the process's resident memory bounded: a clip whose output frames would need
~300 MB held at once goes through interpolate + upscale + encode in a fresh process whose peak RSS
grows by far less. RSS (not tracemalloc) so numpy, PIL, OpenCV and the encoder all count."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# 160x90 source frames, 150 of them, interpolated x2 and upscaled x4 to 640x360: 299 output frames of
# 691 KB = 207 MB if held, plus the interpolation's intermediates. The stated bound leaves room for
# the encoder's lookahead and library buffers only.
RSS_GROWTH_BOUND_MB = 120.0

_SCRIPT = r"""
import json, resource, sys
from pathlib import Path
import numpy as np
from pipelines.post.run import run_post
from pipelines.post.spec import ExportSpec, InterpolateSpec, PostSpec, UpscaleSpec

def frames():
    x = np.linspace(0, 255, 160, dtype=np.float32)
    for i in range(150):
        f = np.empty((90, 160, 3), np.uint8)
        f[..., 0] = (x + 3 * i) % 256
        f[..., 1] = 128
        f[..., 2] = (255 - x) % 256
        yield f

spec = PostSpec(interpolate=InterpolateSpec(factor=2), upscale=UpscaleSpec(factor=4), export=ExportSpec(crf=23))
# Warm every code path on a short clip first, so the baseline includes libraries, not the clip.
run_post(iter([np.zeros((90, 160, 3), np.uint8)] * 3), 16, spec, Path(sys.argv[1]) / "warm.mp4")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = run_post(frames(), 16, spec, Path(sys.argv[1]) / "long.mp4")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "frames_out": result.as_record()["frames_out"]}))
"""


def test_long_clip_peak_rss_growth_is_bounded(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["frames_out"] == 299
    growth_mb = (data["after_kb"] - data["before_kb"]) / 1024
    assert growth_mb < RSS_GROWTH_BOUND_MB, data
