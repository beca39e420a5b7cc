"""Workers that own GPUs and loaded models. Knows nothing of HTTP or SQL."""
