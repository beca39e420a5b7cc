"""What a client is told when a job finishes: the API's subscriber to the job layer's ``JobFinished``.

The ``video`` object is rendered once and goes to the job's SSE stream (its terminal event) and to
its webhook, so both carry the same body as ``GET /v1/videos/{id}``.
"""

from __future__ import annotations

from server.api.render import render_video
from server.jobs.events import JobEvents, JobFinished
from server.jobs.webhooks import WebhookSender


class FinishedDelivery:
    """Subscribed with ``JobService.on_finished`` before the service starts."""

    def __init__(self, events: JobEvents, webhooks: WebhookSender) -> None:
        self.events = events
        self.webhooks = webhooks

    def __call__(self, event: JobFinished) -> None:
        job = event.job
        payload = render_video(job)
        self.events.publish(job.id, job.state.value, payload)
        if job.webhook_url:
            self.webhooks.send(job.webhook_url, job.id, payload)
