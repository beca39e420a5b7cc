"""The frames of a source video that a diffusion-forcing extension conditions on."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from pipelines.encode import read_frames


def source_window(video: Path, overlap: int, width: int, height: int) -> list[Image.Image]:
    """The last ``overlap`` frames of ``video`` at the generated size (diffusers encodes only those; passing
    the whole source would only make it preprocess frames it never uses)."""
    frames = list(read_frames(video)[-overlap:])
    if len(frames) < overlap:
        # Fewer source frames than the overlap: repeat the first so the window keeps its length.
        frames = [frames[0]] * (overlap - len(frames)) + frames
    return [Image.fromarray(f).resize((width, height), Image.Resampling.LANCZOS) for f in frames]
