"""The images that go beside a video: thumbnail (middle frame), last frame (for chaining shots) and a
spritesheet (a grid of evenly spaced frames, for scrubbing previews and contact sheets).

``Companions`` picks them from a stream of frames as they pass (the post stage's output), so a long
4K clip is never held in memory or decoded again; ``write_spritesheet`` does the same for an array.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SHEET_FRAMES = 16     # cells in a spritesheet (fewer when the clip is shorter)
SHEET_COLUMNS = 4
SHEET_CELL_LONG = 320  # pixels on a cell's longer side: big enough to recognise a shot, small enough to load fast


def sheet_indices(total: int, count: int = SHEET_FRAMES) -> list[int]:
    """``count`` frame indices spread evenly from the first frame to the last (both included)."""
    if total <= 0:
        return []
    n = min(count, total)
    if n == 1:
        return [0]
    return sorted({round(i * (total - 1) / (n - 1)) for i in range(n)})


def cell_size(width: int, height: int, long_side: int = SHEET_CELL_LONG) -> tuple[int, int]:
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class Companions:
    """Feed every output frame to ``see``; then ``write`` the three images. ``total`` must be the
    exact frame count (the post stage knows it up front), so the picks are evenly spaced."""

    def __init__(self, total: int, fps: float) -> None:
        self.total = total
        self.fps = fps
        self.picks = sheet_indices(total)
        self._wanted = set(self.picks)
        self.cells: dict[int, np.ndarray] = {}
        self.middle: np.ndarray | None = None
        self.last: np.ndarray | None = None
        self.seen = 0

    def see(self, index: int, frame: np.ndarray) -> None:
        self.seen = index + 1
        self.last = frame  # a reference, not a copy: the encoder is done with the frame before the next
        if index == self.total // 2:
            self.middle = frame
        if index in self._wanted:
            h, w = frame.shape[:2]
            cw, ch = cell_size(w, h)
            self.cells[index] = np.asarray(Image.fromarray(frame).resize((cw, ch), Image.Resampling.LANCZOS))

    def write(self, stem: Path) -> tuple[Path, Path, Path, dict[str, Any]]:
        """(thumbnail, last_frame, spritesheet, spritesheet layout) written as ``<stem>.<kind>.<ext>``."""
        if self.last is None:
            raise ValueError("no frames were seen")
        thumb = stem.with_name(stem.name + ".thumbnail.webp")
        last = stem.with_name(stem.name + ".last_frame.png")
        sheet = stem.with_name(stem.name + ".spritesheet.jpg")
        Image.fromarray(self.middle if self.middle is not None else self.last).save(thumb, quality=85)
        Image.fromarray(self.last).save(last)
        layout = _save_sheet([self.cells[i] for i in sorted(self.cells)], sorted(self.cells), self.fps, sheet)
        return thumb, last, sheet, layout


def write_spritesheet(frames: np.ndarray | Iterable[np.ndarray], path: Path, fps: float) -> dict[str, Any]:
    """A spritesheet of an in-memory clip (F, H, W, 3); returns its layout for the sidecar."""
    arr = frames if isinstance(frames, np.ndarray) else np.stack(list(frames))
    picks = sheet_indices(len(arr))
    h, w = arr.shape[1:3]
    cw, ch = cell_size(w, h)
    cells = [np.asarray(Image.fromarray(arr[i]).resize((cw, ch), Image.Resampling.LANCZOS)) for i in picks]
    return _save_sheet(cells, picks, fps, path)


def _save_sheet(cells: list[np.ndarray], picks: list[int], fps: float, path: Path) -> dict[str, Any]:
    ch, cw = cells[0].shape[:2]
    cols = min(SHEET_COLUMNS, len(cells))
    rows = -(-len(cells) // cols)
    grid = np.zeros((rows * ch, cols * cw, 3), dtype=np.uint8)  # unused cells stay black
    for k, cell in enumerate(cells):
        r, c = divmod(k, cols)
        grid[r * ch:(r + 1) * ch, c * cw:(c + 1) * cw] = cell[:ch, :cw]
    Image.fromarray(grid).save(path, quality=85)
    # Row-major: cell k shows frame picks[k], at picks[k] / fps seconds (what a scrubbing UI needs).
    return {"file": path.name, "columns": cols, "rows": rows, "cell_width": cw, "cell_height": ch,
            "frames": picks, "times_s": [round(i / fps, 4) for i in picks] if fps else None}
