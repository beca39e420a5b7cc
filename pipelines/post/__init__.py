"""The post stage: interpolate, upscale and encode generated frames. See README.md here.

Import ``pipelines.post.spec`` / ``presets`` from torch-free code (the API); ``run_post`` pulls in
torch and OpenCV lazily, only for the steps a spec asks for.
"""

from pipelines.post.presets import PRESETS, ExportPreset
from pipelines.post.spec import ExportSpec, InterpolateSpec, PostSpec, UpscaleSpec, check_post

__all__ = ["PRESETS", "ExportPreset", "ExportSpec", "InterpolateSpec", "PostSpec", "UpscaleSpec", "check_post"]
