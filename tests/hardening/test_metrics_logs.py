"""Observability: the metrics an operator's dashboard reads are present after real jobs; the JSON
log format is one object per line."""

from __future__ import annotations

import io
import json
import logging

import httpx

from server.logging_setup import configure
from tests.hardening.conftest import wait_done
from tests.server.conftest import FAST, LiveServer


def test_metrics_cover_queue_outcomes_steps_and_stages(hserver: LiveServer, hclient: httpx.Client) -> None:
    ok = hclient.post("/v1/text-to-video", json={"prompt": "metrics", **FAST}).json()
    gone = hclient.post("/v1/text-to-video", json={"prompt": "cancel me", "steps": 40}).json()
    hclient.post(f"/v1/videos/{gone['id']}/cancel")
    wait_done(hclient, ok["id"])
    wait_done(hclient, gone["id"])
    text = hclient.get("/metrics").text
    for series in ("vidserve_queue_depth ", "vidserve_queue_depth_by_model", "vidserve_workers_alive",
                   'vidserve_job_outcomes_total{code="",model="tiny-ltx-video",state="completed"}',
                   'vidserve_job_outcomes_total{code="cancelled",model="tiny-ltx-video",state="cancelled"}',
                   'vidserve_step_seconds_bucket{le="0.05",model="tiny-ltx-video"}',
                   'vidserve_stage_seconds_count{model="tiny-ltx-video",stage="denoise"}',
                   'vidserve_stage_seconds_count{model="tiny-ltx-video",stage="encode"}',
                   "vidserve_job_seconds_bucket", "vidserve_queue_wait_seconds_bucket"):
        assert series in text, series


def test_json_logs_one_object_per_line() -> None:
    buf = io.StringIO()
    handler = configure("json", "INFO", stream=buf)
    try:
        logging.getLogger("server.test").info("job %s: started", "video_0123456789abcdef", extra={"worker": "w0"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("server.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert lines[0]["job_id"] == "video_0123456789abcdef" and lines[0]["worker"] == "w0"
    assert lines[0]["level"] == "INFO" and lines[0]["message"] == "job video_0123456789abcdef: started"
    assert "ValueError: boom" in lines[1]["exc"]
