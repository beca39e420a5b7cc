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

# Stated bounds, for 2 CPU cores shared with one CPU worker and the load generator itself. Measured on
# this machine (benchmarks/results/hardening-2cpu.md, 300 clients): a client polling one job during the
# burst sees p99 ~0.1-0.2 s and submissions p99 ~0.6-0.9 s, since (issue 13) each simulated client has
# its own connection (one pool shared by hundreds was quadratic in httpcore), the burst pollers run in
# their own process, the request dependencies stay on the event loop (a thread hop each, before), a
# submission holds its queue place before writing its inputs (the rest of a burst is refused at once),
# and the dispatcher never waits on the loop for a commit. The bounds leave room for a busier machine;
# a poll that waited behind the burst's writes would take as long as the burst (seconds).
BURST_POLL_P99_BOUND_MS = 1_000.0
SUBMIT_P99_BOUND_MS = 3_000.0
POLL_P99_BOUND_MS = 2_000.0
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
    assert s["submit_p99_ms"] < SUBMIT_P99_BOUND_MS, s
    # The server's own share of a poll (Server-Timing) stays small even at the burst's tail (p99 ~5-10 ms).
    assert s["poll_server_p99_ms"] is not None and s["poll_server_p99_ms"] < POLL_SERVER_P99_BOUND_MS, s
    assert s["rss_growth_mb"] < RSS_GROWTH_BOUND_MB, s
