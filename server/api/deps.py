"""Typed access to what lives on ``app.state``.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a
thread hop per dependency per request; under a burst of hundreds of requests those hops (and the
GIL handoffs between threads) were most of a status poll's time. These only read attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.jobs.service import JobService
from server.settings import Settings


async def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Service = Annotated[JobService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]
