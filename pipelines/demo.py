"""The tiny demo models: built on first use when no real weights are present."""

from __future__ import annotations

from pipelines.weights import WeightsLocator


def real_models_present(locator: WeightsLocator) -> bool:
    return any(not loc.tiny for loc in locator.present())


def ensure_tiny_models(locator: WeightsLocator, model_ids: list[str] | None = None) -> list[str]:
    """Build the tiny models that are missing or stale; returns the ids built."""
    from pipelines.tiny import is_current_tiny, make_tiny, tiny_ids

    built = []
    for model_id in model_ids or tiny_ids():
        if not is_current_tiny(locator.weights_dir / model_id):
            make_tiny(model_id, locator.weights_dir)
            built.append(model_id)
    return built


def default_model(locator: WeightsLocator, configured: str = "") -> str | None:
    """The configured default, else the first present real model, else the first present tiny one."""
    if configured:
        return configured
    present = locator.present()
    for loc in present:
        if not loc.tiny:
            return loc.model_id
    preferred = "tiny-ltx-video"  # serves all three modes
    ids = [loc.model_id for loc in present]
    if preferred in ids:
        return preferred
    return ids[0] if ids else None
