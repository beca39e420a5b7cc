"""The Grafana dashboard reads only series the server exports (a renamed metric breaks a panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.jobs.metrics import JobMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"


def test_dashboard_series_exist() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exported = {m.name for m in JobMetrics().registry.collect()}
    names = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"\bvidserve_[a-z_]+", target["expr"]))
    assert names
    for name in names:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert base in exported, name
