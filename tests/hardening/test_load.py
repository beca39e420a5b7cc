"""Bounded load on loopback (slow): 200 concurrent clients submit, poll, stream SSE and download
against a tiny-model server with one CPU worker process. The full run with figures is
``python -m benchmarks.load_test`` (results in benchmarks/results/)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.load_test import LoadConfig, run_load, start_server, wait_ready
from tests.processes import die_with_parent, stop
from tests.server.conftest import free_port

pytestmark = pytest.mark.slow

# What is asserted. Measured on this machine (benchmarks/results/hardening-2cpu.md): a client polling
# one job during the burst sees p50 ~10-20 ms and p99 ~0.1-0.2 s, submissions p50 ~0.2-0.5 s and
# p99 ~0.3-0.9 s, quiet or beside one busy core, since (issue 13) each simulated client has its own
# connection (one pool shared by hundreds was quadratic in httpcore), the burst pollers run in their
# own process, the request dependencies stay on the event loop, a submission holds its queue place
# before writing its inputs, and the dispatcher never waits on the loop for a commit.
# - Reads do not wait behind writes: the structural property, asserted as a ratio in the same burst,
#   which holds however busy the machine is (all latencies stretch together). A poll that queued
#   behind the burst's submissions would take as long as they do (ratio ~1); measured 0.02-0.06 at
#   the median, 0.2-0.3 at the tail (a p99 of 20-40 polls is nearly their maximum: noisy).
# - Absolute bounds are several times the figures above, for a busier machine (under three test
#   processes on 2 cores a burst poll p99 reached 1.08 s); the goals themselves are the benchmark's.
BURST_POLL_P50_SHARE_OF_SUBMIT_P50 = 0.25
BURST_POLL_P99_SHARE_OF_SUBMIT_P99 = 0.75
BURST_POLL_P99_BOUND_MS = 2_000.0
SUBMIT_P99_BOUND_MS = 5_000.0
POLL_P99_BOUND_MS = 3_000.0
POLL_P50_BOUND_MS = 250.0
POLL_SERVER_P99_BOUND_MS = 250.0
RSS_GROWTH_BOUND_MB = 60.0


def test_load_hundreds_of_clients(tiny_weights_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(tmp_path, tiny_weights_dir, port, ("k-load", "k-admin"), workers=1, queue_max=30,
                        preexec_fn=die_with_parent)
    try:
        wait_ready(url, proc)
        asyncio.run(run_load(LoadConfig(url, "k-load", "k-admin", clients=2)))  # warm-up
        s = asyncio.run(run_load(LoadConfig(url, "k-load", "k-admin", clients=200), proc.pid))
    finally:
        stop(proc)
    assert set(s["submit_codes"]) <= {"202", "429", "503"}, s
    assert s["submit_codes"].get("202", 0) >= 30 and s["refused_without_retry_after"] == 0, s
    assert s["server_errors_5xx"] == 0, s
    assert s["accepted"] == s["accepted_unique"] and not s["lost"] and not s["unexpected"], s
    assert s["duplicated_in_listing"] == 0, s
    assert s["final_states"] == {"completed": s["accepted"]}, s
    assert s["downloads"] == s["accepted"] and s["sse_reached_terminal"] == s["sse_streams"], s
    assert s["poll_p99_ms"] < POLL_P99_BOUND_MS and s["poll_p50_ms"] < POLL_P50_BOUND_MS, s
    assert s["burst_polls"] >= 4 and s["burst_poll_p99_ms"] < BURST_POLL_P99_BOUND_MS, s
    ratios = {"p50": s["burst_poll_p50_ms"] / s["submit_p50_ms"], "p99": s["burst_poll_p99_ms"] / s["submit_p99_ms"]}
    assert ratios["p50"] < BURST_POLL_P50_SHARE_OF_SUBMIT_P50, (ratios, s)
    assert ratios["p99"] < BURST_POLL_P99_SHARE_OF_SUBMIT_P99, (ratios, s)
    assert s["submit_p99_ms"] < SUBMIT_P99_BOUND_MS, s
    # The server's own share of a poll (Server-Timing) stays small even at the burst's tail (p99 ~5-10 ms).
    assert s["poll_server_p99_ms"] is not None and s["poll_server_p99_ms"] < POLL_SERVER_P99_BOUND_MS, s
    assert s["rss_growth_mb"] < RSS_GROWTH_BOUND_MB, s
