"""The serving benchmark against a live tiny server on loopback. No speed is asserted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.report import markdown_report, summary_block, write_result
from benchmarks.serving_bench import ServingBenchConfig, load_shapes, run_serving_bench
from tests.server.conftest import API_KEY, LiveServer, make_settings


@pytest.fixture(scope="module")
def live(tiny_weights_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path_factory.mktemp("bench-data"), tiny_weights_dir)).start()
    yield server
    server.stop()


def test_closed_loop_completes_and_the_latency_split_adds_up(live: LiveServer, tmp_path: Path) -> None:
    shapes = tmp_path / "shapes.jsonl"
    shapes.write_text('{"prompt": "a boat", "steps": 2, "weight": 2}\n{"prompt": "a cat", "steps": 3}\n'
                      '{"prompt": "bad", "num_frames": 10}\n')
    cfg = ServingBenchConfig(url=live.url, requests=6, concurrency=2, api_key=API_KEY, shapes=load_shapes(shapes))
    data = run_serving_bench(cfg)
    s = data["summary"]
    assert s["requests"] == 6 and s["completed"] + s["failed"] == 6
    bad = sum(1 for r in data["requests"] if r["shape"].get("num_frames") == 10)
    assert s["failed"] == bad and data["codes"].get("http_400:invalid_input", 0) == bad
    assert data["codes"]["ok"] == s["completed"] > 0
    for r in (r for r in data["requests"] if r["ok"]):
        assert r["queue_wait_s"] >= 0 and r["run_s"] > 0
        assert r["queue_wait_s"] + r["run_s"] == pytest.approx(r["server_s"], abs=1e-6)
        # The client saw the whole server time plus transport; the worker's time is inside the run.
        assert r["end_to_end_s"] >= r["server_s"] - 0.05
        assert r["generation_s"] <= r["run_s"] + 0.05
        assert r["overhead_s"] == pytest.approx(r["end_to_end_s"] - r["generation_s"])
    assert s["videos_per_hour"] == pytest.approx(3600 * s["completed"] / s["wall_s"])
    assert 0 <= s["server_overhead_pct"] <= 100
    assert s["latency_p50_s"] <= s["latency_p99_s"]
    assert data["settings"]["api_key"] == "***"
    path = write_result(data, tmp_path)
    assert "serving" in markdown_report([path]) and "videos_per_hour" in summary_block(data)


def test_poisson_arrivals_and_auth_failures_are_counted(live: LiveServer) -> None:
    data = run_serving_bench(ServingBenchConfig(url=live.url, requests=3, rate=20.0, api_key="wrong-key",
                                                shapes=[{"prompt": "x", "steps": 2}]))
    assert data["summary"]["completed"] == 0 and data["codes"] == {"http_401:invalid_api_key": 3}
