"""One validated Settings object: env (VIDSERVE_ prefix), an optional TOML file, CLI overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDSERVE_", extra="forbid")

    # Where weights live: <weights_dir>/<model id>/ in diffusers layout.
    weights_dir: Path = Path("weights")
    # Per-model folders elsewhere, e.g. VIDSERVE_MODEL_PATHS='{"wan2.1-t2v-1.3b": "/models/wan13"}'.
    model_paths: dict[str, Path] = Field(default_factory=dict)
    # Jobs database, outputs and uploads.
    data_dir: Path = Path("data")
    # Model used when a request names none; empty = the first present model (real before tiny).
    default_model: str = ""
    # Build the tiny demo models when no real weights are present.
    demo_models: bool = True
    device: str | None = None
    dtype: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = os.environ.get("VIDSERVE_CONFIG")
        sources: list[Any] = [init_settings, env_settings]
        if toml:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml)))
        return tuple(sources)
