"""A real local Ray cluster for the Ray engine tests: a head with no worker resources and one
raylet per "GPU" (a custom resource, ``vgpu``, stands in for a GPU on this CPU-only machine).

The test process never connects to Ray itself: the engine's bridge child is the only driver, as in
production. Every raylet is shut down at the end of the session (no leaked processes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

RESOURCE = "vgpu"
# Fast failure detection; the defaults (seconds of missed health checks) are for real networks.
SYSTEM_CONFIG = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                 "health_check_failure_threshold": 4}
# What a test head node leaves out: the dashboard (its process takes a core of a 2-core machine,
# ~94% while its cluster is gone) and the autoscaler's monitor. No test uses either.
HEAD_ARGS = {"include_dashboard": False, "no_monitor": True, "_system_config": SYSTEM_CONFIG}


class GpuCluster:
    """A ``Cluster`` with helpers to add and remove "GPU" nodes."""

    def __init__(self) -> None:
        self.cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **HEAD_ARGS})
        self.nodes: list[Any] = []

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_gpu_node(self) -> Any:
        node = self.cluster.add_node(num_cpus=1, resources={RESOURCE: 1})
        self.nodes.append(node)
        return node

    def node_by_prefix(self, prefix: str) -> Any:
        found = [n for n in self.nodes if n.node_id.startswith(prefix)]
        assert len(found) == 1, (prefix, [n.node_id for n in self.nodes])
        return found[0]

    def remove(self, node: Any) -> None:
        self.nodes.remove(node)
        self.cluster.remove_node(node, allow_graceful=False)

    def ensure_gpu_nodes(self, count: int) -> None:
        while len(self.nodes) < count:
            self.add_gpu_node()

    def shutdown(self) -> None:
        self.cluster.shutdown()


@pytest.fixture(scope="session")
def gpu_cluster() -> Iterator[GpuCluster]:
    t0 = time.monotonic()
    c = GpuCluster()
    c.ensure_gpu_nodes(2)
    print(f"\nRay cluster with 2 {RESOURCE} nodes up in {time.monotonic() - t0:.1f}s at {c.address}")
    try:
        yield c
    finally:
        # Everything the cluster started (raylets, GCS, actor workers) descends from this process.
        # (Not multiprocessing's resource tracker, which lives as long as this process.)
        started = [p for p in psutil.Process().children(recursive=True) if _is_ray(p)]
        c.shutdown()
        # 60 s: beside a CPU hog at the end of a whole-suite run, the raylet and agents took over 15.
        _, alive = psutil.wait_procs(started, timeout=60)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()
        assert not alive, f"Ray processes left running after shutdown: {[(p.pid, p.name()) for p in alive]}"


def _is_ray(p: psutil.Process) -> bool:
    try:
        return "ray" in " ".join(p.cmdline()) or "ray" in p.name()
    except psutil.Error:
        return False
