"""The studio layer and the shape mapping import neither torch nor diffusers (the API process must not)."""

from __future__ import annotations

import subprocess
import sys


def test_studio_modules_are_torch_free() -> None:
    code = ("import sys, pipelines.core.shapes, server.studio.service, server.studio.handoff, "
            "server.api.routes_studio, server.api.routes_studio_takes; "
            "assert not {'torch', 'diffusers'} & set(sys.modules), sorted({'torch', 'diffusers'} & set(sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
