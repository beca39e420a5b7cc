"""``WebhookSender``: POST a finished job to its ``webhook_url``, signed, retried, never blocking.

Signature (documented for receivers): header ``Vidserve-Signature: t=<unix seconds>,v1=<hex>``
where ``hex = HMAC-SHA256(secret, f"{t}.{raw body}")``; ``Vidserve-Webhook-Id`` is stable across
retries so receivers can drop duplicates. Receivers should reject timestamps older than 5 minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from typing import Any

import httpx

from server.jobs.webhook_policy import WebhookPolicy, WebhookRefused

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance_s: float = 300.0) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), f"t={ts},v1={parts.get('v1', '')}")


class WebhookSender:
    def __init__(self, secret: str, max_attempts: int = 5, timeout_s: float = 10.0, backoff_s: float = 1.0,
                 policy: WebhookPolicy | None = None) -> None:
        self.secret = secret
        self.policy = policy  # None: no address check (unit tests); the app always passes one
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def send(self, url: str, job_id: str, payload: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(url, job_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _deliver(self, url: str, job_id: str, payload: dict[str, Any]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        body = json.dumps({"type": f"video.{payload.get('state', 'updated')}", "data": payload}).encode()
        webhook_id = f"whk_{uuid.uuid4().hex}"
        if self.policy is not None:
            try:
                # Again at delivery: the name may resolve elsewhere now than at submission.
                await asyncio.to_thread(self.policy.check, url)
            except WebhookRefused as exc:
                log.error("job %s: webhook not sent: %s", job_id, exc.message)
                return
        for attempt in range(1, self.max_attempts + 1):
            headers = {"Content-Type": "application/json", "Vidserve-Webhook-Id": webhook_id}
            if self.secret:
                headers["Vidserve-Signature"] = sign(self.secret, int(time.time()), body)
            try:
                resp = await self._client.post(url, content=body, headers=headers)
                if resp.status_code < 300:
                    log.info("job %s: webhook delivered to %s (attempt %d)", job_id, url, attempt)
                    return
                reason = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                reason = f"{exc.__class__.__name__}: {exc}"
            log.warning("job %s: webhook to %s failed (attempt %d/%d): %s", job_id, url, attempt,
                        self.max_attempts, reason)
            if attempt < self.max_attempts:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        log.error("job %s: webhook to %s given up after %d attempts", job_id, url, self.max_attempts)
