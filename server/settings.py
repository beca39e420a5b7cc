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
    # Speed and memory (pipelines.speed / pipelines.core.memory), applied by every worker at model load.
    attention_backend: str = "auto"  # "auto": best installed backend that passes its self-check
    compile: bool = False  # regional torch.compile of the transformer blocks (slow first load)
    memory_budget_gb: float | None = None  # per worker; default: the GPU's memory
    memory_strategy: str | None = None  # a floor on the planner's choice, e.g. "layerwise_fp8"
    # How fp8 weights are stored when the plan asks for them: "auto" (torchao fp8 matmuls on Ada/Hopper,
    # layerwise casting elsewhere), "layerwise" or "torchao".
    fp8_weights: str = Field(default="auto", pattern="^(auto|layerwise|torchao)$")
    # Devices per worker (local engine): >1 runs each job across that many GPUs with diffusers
    # context parallelism ("ulysses": heads split, any backend; "ring": needs flash/cuDNN/sage).
    context_parallel: int = Field(default=1, ge=1, le=64)
    context_parallel_kind: str = Field(default="ulysses", pattern="^(ulysses|ring)$")

    # --- server (vidserve serve) ---
    host: str = "127.0.0.1"
    port: int = 8000
    # Bearer keys; empty = no auth, and the server binds 127.0.0.1 only.
    api_keys: list[str] = Field(default_factory=list)
    # Which engine runs generations: worker subprocesses ("local") or one thread in the API process.
    engine: str = "local"
    # Worker processes for the local engine; None = one per GPU (one CPU worker without a GPU).
    workers: int | None = None
    # --- the Ray engine (engine="ray"; workers = actors, None = one per unit of ray_resource) ---
    # "" starts a private single-machine Ray; "auto" joins the local cluster; "host:6379" a remote one.
    ray_address: str = ""
    # What each worker actor reserves: "GPU" (num_gpus=1), or a custom resource name.
    ray_resource: str = "GPU"
    # A running job whose actor sends nothing (not even a heartbeat) this long is requeued elsewhere.
    ray_event_timeout_s: float = Field(default=5.0, gt=0)
    # Models the engine loads at start.
    preload_models: list[str] = Field(default_factory=list)
    # Bounded queue: jobs waiting beyond this are refused with 429.
    queue_max: int = Field(default=256, ge=1)
    # Queued jobs one API key may hold at once.
    queue_max_per_key: int = Field(default=64, ge=1)
    # Finished jobs and their files are deleted this long after they finish (0 = keep forever).
    retention_hours: float = Field(default=24 * 7, ge=0)
    cleanup_interval_s: float = Field(default=300.0, gt=0)
    # GPU memory a job may need, in bytes, when no worker reports its memory (None = no check).
    memory_limit_bytes: int | None = None
    # HMAC-SHA256 secret for webhook signatures (empty = calls are sent unsigned).
    webhook_secret: str = ""
    webhook_max_attempts: int = Field(default=5, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    # Upload limits (bytes per file; pixels read from the image header before decoding).
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_upload_pixels: int = Field(default=40_000_000, ge=1)
    max_prompt_chars: int = Field(default=20_000, ge=1)
    # LoRA adapters (*.safetensors) requests may name; None = <weights_dir>/loras.
    loras_dir: Path | None = None
    # Uploaded source videos for extension (POST /v1/videos/extensions with a file), bytes.
    max_video_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # Source videos for video-to-video and masks (pipelines.source_video): duration, decoded frames, pixels per frame.
    max_video_seconds: float = Field(default=60.0, gt=0)
    max_video_frames: int = Field(default=2400, ge=1)
    max_video_pixels: int = Field(default=4096 * 2160, ge=1)

    # --- hardening (docs/operations.md) ---
    # Keys that may read, cancel and delete every job (plain api_keys see only their own jobs).
    admin_api_keys: list[str] = Field(default_factory=list)
    # Requests per second per key (token bucket, burst below); 0 = no limit.
    rate_limit_rps: float = Field(default=0.0, ge=0)
    rate_limit_burst: int = Field(default=60, ge=1)
    # Browser origins allowed by CORS; empty = no CORS headers at all (off).
    cors_origins: list[str] = Field(default_factory=list)
    # /docs, /redoc and /openapi.json without a key even when keys are set.
    docs_public: bool = False
    # Webhook hosts allowed besides public addresses: names, IPs or CIDRs ("10.0.0.0/8", "hooks.lan").
    # Internal addresses (loopback, private, link-local, metadata) are refused unless listed here.
    webhook_allow_hosts: list[str] = Field(default_factory=list)
    # True: only hosts in webhook_allow_hosts, public addresses included.
    webhook_allow_only_listed: bool = False
    # A request body must arrive within this many seconds (slow clients get 408).
    body_timeout_s: float = Field(default=5.0, gt=0)
    # uvicorn: idle keep-alive connections close after this; above limit_concurrency new ones get 503.
    # Longer than clients keep idle connections (httpx and the openai SDK: 5 s): with equal timeouts a
    # client reuses a connection just as the server closes it, and its request is reset (seen in CI).
    keepalive_timeout_s: float = Field(default=30.0, gt=0)
    limit_concurrency: int | None = Field(default=1000, ge=1)
    # "text" or "json" (one JSON object per line, with request_id and job_id when known).
    log_format: str = Field(default="text", pattern="^(text|json)$")
    log_level: str = "INFO"

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
