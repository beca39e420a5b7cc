"""Reading the server's own timings from its responses."""

from __future__ import annotations


def server_timing_ms(header: str) -> float | None:
    """``app;dur=12.3`` (our Server-Timing header) -> 12.3."""
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == "dur":
            try:
                return float(value)
            except ValueError:
                return None
    return None
