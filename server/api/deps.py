"""Typed access to what lives on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.jobs.service import JobService
from server.settings import Settings


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Service = Annotated[JobService, Depends(get_service)]
AppSettings = Annotated[Settings, Depends(get_settings)]
