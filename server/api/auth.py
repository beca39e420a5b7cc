"""Bearer API keys: constant-time comparison against every configured key."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request

from server.api.errors import Unauthorized

ANONYMOUS = "anonymous"


def key_id(key: str) -> str:
    """A stable, non-secret name for a key (per-key limits, idempotency scopes, logs)."""
    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def require_key(request: Request) -> str:
    keys: list[str] = request.app.state.settings.api_keys
    if not keys:
        return ANONYMOUS
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    token = token.strip()
    # Compare against every key without stopping early, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    if not matched:
        raise Unauthorized("invalid API key")
    return key_id(token)


ApiKey = Annotated[str, Depends(require_key)]
