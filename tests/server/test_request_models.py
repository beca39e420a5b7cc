"""One request model: every shape takes its fields from the same declarations (limits shared with the
spec), its spec fields are picked in one place, the job layer never reaches back into the API, and a
request's takes share one resolved spec."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from pipelines.core.spec import MAX_FPS, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS, GenerationSpec
from server.api.requests import (
    ExtendRequest,
    NativeRequest,
    OpenAIVideoRequest,
    RemixRequest,
    TakesRequest,
    VideoEditRequest,
)
from server.jobs.models import Job, JobState, Outcome
from server.jobs.store import JobStore

SHAPES: list[type[BaseModel]] = [NativeRequest, OpenAIVideoRequest, ExtendRequest, RemixRequest, VideoEditRequest,
                                 TakesRequest]
ROOT = Path(__file__).resolve().parents[2]


def _limits(model: type[BaseModel], name: str) -> dict[str, Any]:
    schema = model.model_json_schema()["properties"][name]
    branch = next((b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"), schema)
    return {k: branch[k] for k in ("minimum", "maximum", "exclusiveMinimum", "maxLength") if k in branch}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
def test_every_shape_takes_the_spec_limits(shape: type[BaseModel]) -> None:
    fields = shape.model_fields
    expected = {"seed": {"minimum": 0, "maximum": MAX_SEED}, "steps": {"minimum": 1, "maximum": MAX_STEPS},
                "guidance_scale": {"minimum": 0, "maximum": MAX_GUIDANCE},
                "guidance_scale_2": {"minimum": 0, "maximum": MAX_GUIDANCE},
                "fps": {"minimum": 1, "maximum": MAX_FPS},
                "negative_prompt": {"maxLength": MAX_PROMPT_CHARS}, "prompt": {"maxLength": MAX_PROMPT_CHARS}}
    for name, limits in expected.items():
        if name in fields:
            assert _limits(shape, name) == limits, name
    assert "seed" in fields and "steps" in fields
    body = {"seed": MAX_SEED + 1} | ({"prompt": "p"} if "prompt" in fields else {})
    with pytest.raises(ValidationError) as err:
        shape.model_validate(body)
    assert [(e["loc"], e["type"]) for e in err.value.errors()] == [(("seed",), "less_than_equal")]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.__name__)
def test_generation_fields_are_what_the_spec_takes(shape: type[BaseModel]) -> None:
    given = {"prompt": "p", "seed": 7, "steps": 3, "negative_prompt": "blur", "guidance_scale": 2.5,
             "metadata": {"shot": "1"}, "priority": 2, "n": 2, "num_frames": 9, "fps": 8, "width": 64}
    req = shape.model_validate({k: v for k, v in given.items() if k in shape.model_fields})
    fields = req.generation_fields()  # type: ignore[attr-defined]
    assert fields["seed"] == 7 and fields["steps"] == 3
    assert set(fields) <= set(GenerationSpec.model_fields)
    assert not set(fields) & {"model", "n", "metadata", "priority", "post", "loras", "seeds", "size", "seconds"}
    GenerationSpec(model="m", **fields)  # every picked field is one the spec validates


def test_the_job_layer_imports_nothing_from_the_api() -> None:
    """api -> jobs -> engine: not even a lazy import runs back up."""
    for path in sorted((ROOT / "server" / "jobs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.startswith(("server.api", "server.app"))], path.name


def test_the_dispatcher_announces_each_terminal_state(tmp_path: Path) -> None:
    from server.engine.inprocess import InProcessEngine
    from server.jobs.dispatcher import JobDispatcher
    from server.jobs.events import JobEvents, JobFinished
    from server.jobs.metrics import JobMetrics
    from server.jobs.queue import JobQueue

    store = JobStore(tmp_path / "jobs.sqlite3")
    store.create([Job(id="a", seq=0, state=JobState.IN_PROGRESS, model="m", spec={"width": 64, "height": 64},
                      created_at=time.time())])
    d = JobDispatcher(store, JobQueue(8, 8), InProcessEngine(tmp_path, {}, "cpu", None, []), JobEvents(),
                      JobMetrics(), tmp_path, 3600.0)
    seen: list[JobFinished] = []

    def broken(event: JobFinished) -> None:
        raise RuntimeError("a listener that fails")

    d.on_finished(broken)
    d.on_finished(seen.append)
    finished = d.finish("a", Outcome(JobState.FAILED, "internal", "boom"))
    assert finished is not None and finished.state is JobState.FAILED
    assert [(e.job.id, e.job.state, e.job.error_message) for e in seen] == [("a", JobState.FAILED, "boom")]
    stored = store.get("a")
    assert stored is not None and stored.state is JobState.FAILED  # a failing listener undoes nothing
    store.close()


def test_takes_share_one_resolved_spec(client: httpx.Client, color_images: dict[str, Path]) -> None:
    from tests.server.conftest import FAST

    files = {"image": ("a.png", color_images["red"].read_bytes(), "image/png")}
    r = client.post("/v1/image-to-video", data={"prompt": "takes", "n": "3", "seed": "5", **FAST}, files=files)
    assert r.status_code == 202, r.text
    specs = [j["spec"] for j in r.json()["data"]]
    assert [s["seed"] for s in specs] == [5, 6, 7]
    assert len({s["image"] for s in specs}) == 3  # each take owns its copy of the input
    common = [{k: v for k, v in s.items() if k not in ("seed", "image")} for s in specs]
    assert common[0] == common[1] == common[2]
    for j in r.json()["data"]:
        client.delete(f"/v1/videos/{j['id']}")


def test_a_take_seed_past_the_limit_is_refused_and_queues_nothing(client: httpx.Client) -> None:
    before = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    r = client.post("/v1/text-to-video", json={"prompt": "x", "n": 2, "seed": MAX_SEED, **{"steps": 2}})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == "seed" and str(MAX_SEED + 1) in err["message"]
    after = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert [j["id"] for j in after] == [j["id"] for j in before]
