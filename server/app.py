"""The FastAPI application: ``create_app(settings)`` wires settings, the engine and the job service.

Torch-free at import: the in-process engine imports torch inside its thread, and the local engine
keeps it in worker processes.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pipelines.core.catalog import Catalog
from pipelines.core.loras import LoraLibrary
from pipelines.demo import default_model
from pipelines.families import default_catalog
from pipelines.weights import WeightsLocator
from server.api import (
    errors,
    openapi_docs,
    routes_create,
    routes_edits,
    routes_post,
    routes_studio,
    routes_studio_takes,
    routes_system,
    routes_videos,
    routes_workflow,
    security,
)
from server.api.delivery import FinishedDelivery
from server.api.submit import PresentWeights
from server.engine.base import Engine
from server.jobs.service import JobService
from server.jobs.webhook_policy import WebhookPolicy
from server.jobs.webhooks import WebhookSender
from server.settings import Settings
from server.studio.service import StudioService
from server.studio.store import StudioStore

log = logging.getLogger(__name__)

ENGINES = ("local", "inprocess", "ray")
STUDIO_PAGE = Path(__file__).parent / "static" / "studio"


def generator_options(settings: Settings) -> dict[str, Any]:
    """VideoGenerator arguments every worker gets (torch-free: plain values)."""
    from pipelines.core.memory import MemoryStrategy

    return {
        "attention": settings.attention_backend,
        "compile": settings.compile,
        "memory_budget_bytes": int(settings.memory_budget_gb * 1024**3) if settings.memory_budget_gb else None,
        "memory_strategy": MemoryStrategy(settings.memory_strategy) if settings.memory_strategy else None,
        "fp8": settings.fp8_weights,
    }


def make_engine(settings: Settings) -> Engine:
    """The engine named by ``settings.engine``, imported only when chosen."""
    if settings.context_parallel > 1 and settings.engine != "local":
        raise ValueError(f"context_parallel={settings.context_parallel} needs engine='local' "
                         f"(engine={settings.engine!r} runs one device per worker)")
    if settings.engine == "inprocess":
        from server.engine.inprocess import InProcessEngine

        return InProcessEngine(settings.weights_dir, dict(settings.model_paths), settings.device, settings.dtype,
                               list(settings.preload_models), generator_options=generator_options(settings))
    if settings.engine == "local":
        from server.engine.local import LocalEngine

        return LocalEngine(settings.weights_dir, dict(settings.model_paths), local_devices(settings), settings.dtype,
                           preload=list(settings.preload_models), generator_options=generator_options(settings),
                           context_parallel=settings.context_parallel,
                           context_parallel_kind=settings.context_parallel_kind)
    if settings.engine == "ray":
        from server.engine.ray_engine import RayEngine

        return RayEngine(settings.ray_address, settings.weights_dir, dict(settings.model_paths),
                         workers=settings.workers, resource=settings.ray_resource, device=settings.device,
                         dtype=settings.dtype, event_timeout_s=settings.ray_event_timeout_s,
                         preload=list(settings.preload_models), generator_options=generator_options(settings))
    raise ValueError(f"engine={settings.engine!r}: accepted values: {', '.join(ENGINES)}")


def local_devices(settings: Settings) -> list[str] | None:
    """Worker devices for the local engine: one per GPU by default; ``device="cpu"`` with
    ``workers=N`` gives N CPU workers; an explicit ``device`` otherwise pins the one worker."""
    if settings.device == "cpu":
        return ["cpu"] * (settings.workers or 1)
    if settings.device:
        return [settings.device]
    return None


def job_service(settings: Settings, engine: Engine, catalog: Catalog) -> JobService:
    """The job layer as the settings describe it, its finished jobs delivered by the API (SSE, webhooks)."""
    service = JobService(
        data_dir=settings.data_dir, engine=engine, catalog=catalog,
        queue_max=settings.queue_max, queue_max_per_key=settings.queue_max_per_key,
        retention_s=settings.retention_hours * 3600, cleanup_interval_s=settings.cleanup_interval_s,
        memory_limit_bytes=settings.memory_limit_bytes, context_parallel=settings.context_parallel,
        webhooks=WebhookSender(settings.webhook_secret, settings.webhook_max_attempts, settings.webhook_timeout_s,
                               policy=WebhookPolicy(settings.webhook_allow_hosts, settings.webhook_allow_only_listed)),
    )
    service.on_finished(FinishedDelivery(service.events, service.webhooks))
    return service


def freeze_startup_objects() -> None:
    """Move what startup made (modules, routes, the catalog, schemas: ~90k objects) out of the garbage
    collector's sight while the app runs: they live as long as it does. Each full collection scanned
    them all; in a 300-client burst one took 300 ms with the event loop stopped, and every status
    poll waited behind it (benchmarks/results/hardening-2cpu.md). What is made later is collected as
    before; shutdown unfreezes them. No collection first: that took as long as the pause it removes
    (and every test's app would pay it); startup's own garbage waits for the unfreeze."""
    gc.freeze()


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        the_engine = engine or make_engine(settings)
        service = job_service(settings, the_engine, app.state.catalog)
        app.state.jobs = service
        # The studio's records live in the same database file as the jobs (its own tables).
        studio = StudioService(StudioStore(service.store.path), service, settings.data_dir / "studio")
        studio.recover()
        app.state.studio = studio
        if not settings.api_keys:
            log.warning("no API keys configured: every route is open; bind to 127.0.0.1 only")
        log.info("data in %s (jobs database %s); weights in %s; default model %s; engine %s",
                 settings.data_dir.resolve(), service.store.path.resolve(), settings.weights_dir.resolve(),
                 app.state.default_model, settings.engine if engine is None else type(engine).__name__)
        await the_engine.start()
        await service.start()
        freeze_startup_objects()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again: in one process (the tests) an app may follow another
            await studio.stop()
            studio.store.close()
            await service.stop()
            await the_engine.stop()

    app = FastAPI(
        title="vidserve",
        version="0.1.0",
        summary="Self-hosted video generation: native endpoints and the OpenAI Videos API",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.catalog = default_catalog()
    app.state.locator = WeightsLocator(settings.weights_dir, dict(settings.model_paths), app.state.catalog)
    app.state.present_weights = PresentWeights(app.state.locator)  # the per-submission check, cached
    app.state.default_model = default_model(app.state.locator, settings.default_model)
    app.state.loras = LoraLibrary(settings.loras_dir or settings.weights_dir / "loras")
    errors.install(app)
    security.install(app, settings)
    app.include_router(routes_create.router)
    app.include_router(routes_edits.router)
    app.include_router(routes_videos.router)
    app.include_router(routes_post.router)
    app.include_router(routes_workflow.router)
    app.include_router(routes_system.router)
    assert routes_studio_takes.router is routes_studio.router  # one router: the takes module adds to it
    app.include_router(routes_studio.router)
    # The studio page: static files, no build step, no CDN; it talks only to the HTTP API above.
    app.mount("/studio", StaticFiles(directory=STUDIO_PAGE, html=True), name="studio")
    openapi_docs.install(app)
    return app
