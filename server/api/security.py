"""Edge middleware: request ids, a deadline on reading request bodies, the API docs behind the key,
CORS (off unless origins are configured). ``install(app, settings)`` adds them in the right order.

Plain ASGI middleware rather than ``BaseHTTPMiddleware``: that one buffers and re-wraps streaming
responses (SSE, file downloads) and runs the endpoint in another task, which loses context vars.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any, NamedTuple, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.auth import authenticate
from server.api.errors import ApiError, PayloadTooLarge, Unauthorized, error_body
from server.api.ratelimit import KeyRateLimiter
from server.logging_setup import request_id_var
from server.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
# A client's own id is kept when it is short and plain (it ends up in logs and headers).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# Routes that read ``metadata[key]=value`` filters from the raw query string.
METADATA_FILTERS = {"GET /v1/videos"}


class RequestTimeout(ApiError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class RequestIdMiddleware:
    """Every request gets an id (the client's ``X-Request-Id`` when sane, else a new one): in the
    log context while it is handled and echoed in the ``X-Request-Id`` response header. The
    response also says how long the server took to start answering (``Server-Timing: app;dur=ms``),
    so a client can tell time spent in the server from time spent on the way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        rid = given if given and _CLIENT_ID.match(given) else f"req_{uuid.uuid4().hex[:20]}"
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - t0) * 1000:.1f}".encode()
                headers = [*message.get("headers", []), (b"x-request-id", rid.encode()), (b"server-timing", took)]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodyDeadlineMiddleware:
    """A request body must arrive within ``timeout_s`` from its first read, else 408. A slow client
    (slowloris-style trickle) then costs one coroutine for a bounded time; GPU workers never see a
    request before its body is complete, so they are not tied up either way. Bodies over
    ``max_bytes`` are cut off with 413 even when sent chunked (no Content-Length to check first)."""

    def __init__(self, app: ASGIApp, timeout_s: float, max_bytes: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        done = False
        size = 0

        async def timed_receive() -> Message:
            nonlocal deadline, done, size
            if done:  # body complete: later reads wait for a disconnect and must not time out
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            try:
                # asyncio.timeout, not wait_for: wait_for wraps every receive in a new task, a
                # noticeable share of the event loop's time in a burst of submissions.
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(f"request body not received within {self.timeout_s:g}s; "
                                     "send the whole body promptly") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                raise PayloadTooLarge(f"request body is over the server's {self.max_bytes} byte limit")
            return message

        await self.app(scope, timed_receive, send)


class DocsGuardMiddleware:
    """``/docs``, ``/redoc`` and ``/openapi.json`` need a key when keys are set (they list every
    route and field), unless ``docs_public`` says otherwise."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        s = self.settings
        if (scope["type"] == "http" and scope["path"] in DOCS_PATHS and not s.docs_public
                and (s.api_keys or s.admin_api_keys)):
            try:
                authenticate(_header(scope, "authorization") or "", s.api_keys, s.admin_api_keys)
            except Unauthorized as exc:
                await _send_json(send, exc.status, error_body(exc.message, exc.type, None, exc.code),
                                 {"www-authenticate": "Bearer"})
                return
        await self.app(scope, receive, send)


class _QueryNames(NamedTuple):
    """One route's query parameters: every declared name, and those that may be given more than once."""

    declared: set[str]
    repeatable: set[str]


class UnknownQueryMiddleware:
    """A query parameter no route declares is a 400 naming it, not silently ignored: a typo in a
    list filter (``?stauts=failed``) would otherwise return everything. ``metadata[key]`` filters
    are the one open-ended family (OpenAPI deepObject ``metadata``). A single-valued parameter given
    twice (``?parent_id=a&parent_id=b``) is a 400 too: FastAPI would quietly keep the last one."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.settings = settings
        self._known: dict[str, _QueryNames] = {}

    def _authorized(self, scope: Scope) -> bool:
        """Check names only for callers with a valid key: the others get the route's 401 first."""
        s = self.settings
        if not (s.api_keys or s.admin_api_keys) or scope["path"] in ("/healthz", "/readyz"):
            return True
        try:
            authenticate(_header(scope, "authorization") or "", s.api_keys, s.admin_api_keys)
        except Unauthorized:
            return False
        return True

    def _declared(self, scope: Scope) -> _QueryNames | None:
        for route in _api_routes(self.fastapi_app.routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                key = f"{scope['method']} {route.path}"
                if key not in self._known:
                    params = route.dependant.query_params
                    declared = {p.alias for p in params}
                    if key in METADATA_FILTERS:
                        declared.add("metadata[]")  # marker: bracketed names are filters
                    self._known[key] = _QueryNames(
                        declared, {p.alias for p in params if _is_sequence(p.field_info.annotation)})
                return self._known[key]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string") and self._authorized(scope):
            names = self._declared(scope)
            if names is not None:
                declared, repeatable = names
                seen: set[str] = set()
                for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
                    shown = name if len(name) <= 64 else name[:64] + "..."
                    known = name in declared or (name.startswith("metadata[") and name.endswith("]")
                                                 and "metadata[]" in declared)
                    if not known:
                        accepted = ", ".join(sorted(declared)) or "none"
                        await _send_json(send, 400, error_body(
                            f"unknown query parameter {shown!r}; accepted: {accepted}", "invalid_request_error",
                            shown, "unknown_parameter"), {})
                        return
                    if name in seen and name not in repeatable:
                        await _send_json(send, 400, error_body(
                            f"query parameter {shown!r} is given more than once; it takes one value",
                            "invalid_request_error", shown, "duplicate_parameter"), {})
                        return
                    seen.add(name)
        await self.app(scope, receive, send)


def _is_sequence(annotation: Any) -> bool:
    """A query parameter typed as a list (or a union with one) may be repeated: ``?tag=a&tag=b``."""
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(_is_sequence(a) for a in get_args(annotation)) if origin is not None else False


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Flat APIRoutes; newer FastAPI keeps included routers as wrappers (``original_router``)."""
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):
            out += _api_routes(list(r.original_router.routes))
        elif hasattr(r, "routes"):
            out += _api_routes(list(r.routes))
    return out


def _header(scope: Scope, name: str) -> str | None:
    raw = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == raw:
            return bytes(value).decode("latin-1")
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware (the last added runs first: request ids wrap everything, so even a 401
    from the docs guard or a CORS preflight carries one) and the per-key rate limiter."""
    app.state.rate_limiter = KeyRateLimiter(settings.rate_limit_rps, settings.rate_limit_burst)
    # The largest body any route takes: two base64 images plus fields, or an uploaded source video.
    images = 2 * (settings.max_upload_bytes * 4 // 3 + 4096) + 1024 * 1024
    max_body = max(images, settings.max_video_upload_bytes + 1024 * 1024)
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.body_timeout_s, max_bytes=max_body)
    app.add_middleware(DocsGuardMiddleware, settings=settings)
    app.add_middleware(UnknownQueryMiddleware, fastapi_app=app, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After", "Location", "openai-poll-after-ms",
                            "Idempotent-Replayed"],
        )
    app.add_middleware(RequestIdMiddleware)
