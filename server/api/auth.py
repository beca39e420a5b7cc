"""Bearer API keys: constant-time comparison against every configured key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request

from server.api.errors import Unauthorized
from server.jobs.errors import JobNotFound

ANONYMOUS = "anonymous"


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (per-key limits, idempotency scopes, logs)."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def authenticate(header: str, keys: list[str], admin_keys: list[str]) -> tuple[str, bool]:
    """(key id, is admin) for an ``Authorization`` header value; Unauthorized otherwise. The key
    itself never appears in a message or a log line, only its ``key_id``."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    raw = token.strip().encode()
    # Compare against every key without stopping early, so timing says nothing about which matched
    # (compare_digest is constant-time for equal lengths and leaks only the length otherwise).
    matched = admin = False
    for key in keys:
        matched |= hmac.compare_digest(raw, key.encode())
    for key in admin_keys:
        admin |= hmac.compare_digest(raw, key.encode())
    if not (matched or admin):
        raise Unauthorized("invalid API key")
    return key_id(token.strip()), admin


async def require_key(request: Request) -> str:
    """The caller's key id. Also: the per-key rate limit, and for routes about one video, that the
    caller owns it (an admin key owns everything); another key's video is a 404, not a 403, so ids
    of other clients' jobs cannot be probed."""
    settings = request.app.state.settings
    keys: list[str] = settings.api_keys
    admin_keys: list[str] = getattr(settings, "admin_api_keys", [])
    if not keys and not admin_keys:
        kid, admin = ANONYMOUS, True
    else:
        kid, admin = authenticate(request.headers.get("authorization", ""), keys, admin_keys)
    request.state.key_id, request.state.admin = kid, admin
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(kid)
    video_id = request.path_params.get("video_id")
    if video_id is not None and not admin:
        jobs = getattr(request.app.state, "jobs", None)
        job = jobs.store.get(video_id) if jobs is not None else None
        if job is not None and job.key_id != kid:
            raise JobNotFound(video_id)
    return kid


def is_admin(request: Request) -> bool:
    return bool(getattr(request.state, "admin", False))


ApiKey = Annotated[str, Depends(require_key)]
