"""What the API returns, built from records (jobs, projects, shots): rendering, apart from the
request models (``server.api.requests``)."""

from server.api.render.video import has_audio, openai_status, render_video

__all__ = ["has_audio", "openai_status", "render_video"]
