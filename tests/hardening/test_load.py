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

# Stated bounds for status polls on 2 CPU cores. p99 is dominated by the submission burst: the commits
# and input handling now run in threads (a status read never waits for a writer's fsync), but each
# submission still costs CPU on the event loop (parsing, validation, auth) on 2 cores shared with the
# CPU worker, so the few polls that land at the tail of a 300-request burst wait seconds (observed
# p99 5.9 s, p50 35 ms; benchmarks/results/*-load-*.md). Profiling the per-submission loop time is
# the open item; tighten this bound when it lands. The p50 is 20-130 ms on a quiet machine in the full
# benchmark, but here it swung from under 250 ms to 1.6 s between runs of the same code: the API gets what
# CPU the load generator and the CPU worker leave it (hardening-2cpu.md, issue 13), so the median bound is
# what that contention still guarantees; a poll that waited behind a writer's fsync for the whole burst
# would be ~5-10 s.
POLL_P99_BOUND_MS = 10_000.0
POLL_P50_BOUND_MS = 3_000.0
POLL_SERVER_P99_BOUND_MS = 1_000.0
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
    # The server's own share of a poll (Server-Timing) stays small even at the burst's tail: measured
    # ~160 ms p99 while the client saw ~5.7 s, so the tail above is queueing outside the handler.
    assert s["poll_server_p99_ms"] is not None and s["poll_server_p99_ms"] < POLL_SERVER_P99_BOUND_MS, s
    assert s["rss_growth_mb"] < RSS_GROWTH_BOUND_MB, s
