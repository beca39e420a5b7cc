"""`vidserve serve`: the HTTP server with its job queue and engine. CLI flags override Settings."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Flag name -> Settings field; only flags actually given override the settings.
_OVERRIDES = ("host", "port", "data_dir", "weights_dir", "engine", "workers", "device", "default_model",
              "queue_max", "retention_hours", "ray_address", "ray_resource", "context_parallel",
              "context_parallel_kind")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the HTTP server", description="Run the vidserve HTTP server (settings: VIDSERVE_* env "
        "or a TOML file named by VIDSERVE_CONFIG; flags override both).",
    )
    p.add_argument("--host", default=None, help="bind address (forced to 127.0.0.1 when no API keys are set)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=None, help="jobs database, outputs and uploads")
    p.add_argument("--weights-dir", type=Path, default=None)
    p.add_argument("--engine", choices=("local", "inprocess", "ray"), default=None,
                   help="local: worker subprocesses (default); inprocess: one thread in the server (tests); "
                   "ray: worker actors on a Ray cluster (docs/ray.md)")
    p.add_argument("--workers", type=int, default=None,
                   help="CPU workers when --device cpu; Ray actors with --engine ray (default: one per GPU)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join: host:port or 'auto' (default: a private single-machine Ray)")
    p.add_argument("--ray-resource", default=None, help="what each Ray worker reserves: GPU (default) or a "
                   "custom resource name")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: one worker per GPU)")
    p.add_argument("--context-parallel", type=int, default=None, metavar="N",
                   help="GPUs per worker: each job runs across N GPUs (diffusers context parallelism; default 1)")
    p.add_argument("--context-parallel-kind", choices=("ulysses", "ring"), default=None,
                   help="ulysses (default; attention heads must divide by N) or ring (flash/cuDNN/sage attention)")
    p.add_argument("--default-model", default=None)
    p.add_argument("--queue-max", type=int, default=None)
    p.add_argument("--retention-hours", type=float, default=None)
    p.add_argument("--api-key", action="append", default=None, dest="api_keys",
                   help="accept this Bearer key (repeatable); replaces configured keys")
    p.add_argument("--log-format", choices=("text", "json"), default=None, help="json: one object per line")
    p.add_argument("--no-demo-models", action="store_true", help="do not build the tiny demo models")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.demo import ensure_tiny_models, real_models_present
    from pipelines.weights import WeightsLocator
    from server.app import create_app
    from server.logging_setup import configure as configure_logging
    from server.settings import Settings

    overrides = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k, None) is not None}
    if getattr(args, "api_keys", None):
        overrides["api_keys"] = args.api_keys
    if getattr(args, "no_demo_models", False):
        overrides["demo_models"] = False
    if getattr(args, "log_format", None):
        overrides["log_format"] = args.log_format
    settings = Settings(**overrides)
    configure_logging(settings.log_format, settings.log_level)
    if not settings.api_keys and settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("no API keys configured: binding to 127.0.0.1 instead of %s (set VIDSERVE_API_KEYS or "
                    "--api-key to serve other machines)", settings.host)
        settings.host = "127.0.0.1"
    elif not settings.api_keys:
        log.warning("no API keys configured: serving on %s only, without authentication", settings.host)

    locator = WeightsLocator(settings.weights_dir, dict(settings.model_paths))
    if settings.demo_models and not real_models_present(locator):
        log.info("no real weights in %s: building the tiny demo models there (random weights, for trying "
                 "the API; see `vidserve weights pull`)", settings.weights_dir.resolve())
        built = ensure_tiny_models(locator)
        if built:
            log.info("built tiny models: %s", ", ".join(built))
    log.info("data dir: %s; weights dir: %s", settings.data_dir.resolve(), settings.weights_dir.resolve())
    log.info("serving on http://%s:%d (docs at /docs)", settings.host, settings.port)
    # log_config=None: keep the handlers configured above (JSON or text, with request ids).
    # keep-alive timeout and a connection cap bound what idle or slow clients can hold; bodies
    # have their own deadline (server.api.security.BodyDeadlineMiddleware).
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level.lower(), **uvicorn_options(settings))
    return 0


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """How uvicorn serves connections (also used by the tests' live servers, so they serve alike)."""
    return {"timeout_graceful_shutdown": 10, "timeout_keep_alive": int(settings.keepalive_timeout_s),
            "limit_concurrency": settings.limit_concurrency, "h11_max_incomplete_event_size": 64 * 1024}


def main(argv: list[str] | None = None) -> int:
    """``python -m server.cli_serve``: the same as `vidserve serve`."""
    parser = argparse.ArgumentParser(prog="vidserve-serve")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["serve", *(argv if argv is not None else sys.argv[1:])])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
