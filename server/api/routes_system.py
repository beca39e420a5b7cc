"""Models, health, readiness and metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from pipelines.core.catalog import ModelInfo
from pipelines.core.shapes import shapes_of
from server.api.auth import ApiKey
from server.api.deps import Service
from server.jobs.models import JobState

router = APIRouter(tags=["system"])


@router.get("/v1/models", summary="Models whose weights are present locally, with modes and defaults")
async def models(request: Request, service: Service, key: ApiKey) -> JSONResponse:
    locator = request.app.state.locator
    data: list[dict[str, Any]] = []
    for loc in locator.present():
        entry = service.catalog.get(loc.model_id)
        if entry is None:
            continue
        # The same shape as `vidserve weights list --json` (pipelines.core.catalog.ModelInfo), OpenAI's fields added.
        data.append(ModelInfo.of(entry).model_dump(mode="json") | {
            "object": "model", "created": 0, "owned_by": "vidserve",
            "weights": {"path": str(loc.path), "source": loc.source, "revision": loc.revision},
            "default": entry.id == request.app.state.default_model,
            # aspect_ratio/resolution accepted by the create endpoints, and the size each maps to
            "shapes": [shape.as_json() for shape in shapes_of(entry)],
        })
    return JSONResponse({"object": "list", "data": data})


@router.get("/healthz", summary="The web process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready when the engine has a worker up")
async def readyz(service: Service) -> JSONResponse:
    engine = service.engine
    ready = engine.ready()
    body = {
        "status": "ready" if ready else "not_ready",
        "workers": [{"id": w.worker_id, "device": w.device, "alive": w.alive, "busy_job": w.busy_job}
                    for w in engine.workers()],
        "queue_depth": len(service.queue),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(service: Service, key: ApiKey) -> Response:
    queued_by_model = Counter(job.model for job in service.store.in_states([JobState.QUEUED]))
    body = service.metrics.render(len(service.queue), service.store.counts(), service.engine.workers(),
                                  lambda: [s.value for s in JobState], queued_by_model=dict(queued_by_model))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
