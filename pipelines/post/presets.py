"""Export presets by name: the one table users and the docs refer to.

| name            | size (W×H)  | codec  | rate        | container | audio |
| --------------- | ----------- | ------ | ----------- | --------- | ----- |
| vertical-1080   | 1080×1920   | h264   | 10 Mbps     | mp4       | aac   |
| landscape-1080  | 1920×1080   | h264   | 16 Mbps     | mp4       | aac   |
| landscape-4k    | 3840×2160   | h264   | 45 Mbps     | mp4       | aac   |
| square-1080     | 1080×1080   | h264   | 8 Mbps      | mp4       | aac   |
| cinema-21x9     | 2560×1080   | h264   | 20 Mbps     | mp4       | aac   |
| prores-archive  | source size | prores | 422 HQ      | mov       | aac   |

Rates follow the platforms' own upload recommendations (TikTok/Reels/Shorts 8–12 Mbps at 9:16 1080p,
YouTube 12–20 Mbps at 1080p and 35–45 Mbps at 4K). Sizes are exact: a clip of another aspect is
fitted by the request's ``fit`` (cover crops, contain letterboxes); the preset's default is cover,
because platforms crop or pad anyway and creators expect a full frame.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportPreset:
    name: str
    size: tuple[int, int] | None  # (width, height); None keeps the clip's size
    codec: str
    container: str
    bitrate: int | None  # bits per second; None means crf/profile-driven quality
    encoder_preset: str = "medium"
    description: str = ""


PRESETS: dict[str, ExportPreset] = {
    p.name: p
    for p in (
        ExportPreset("vertical-1080", (1080, 1920), "h264", "mp4", 10_000_000,
                     description="9:16 TikTok / Reels / Shorts"),
        ExportPreset("landscape-1080", (1920, 1080), "h264", "mp4", 16_000_000,
                     description="16:9 YouTube / web"),
        ExportPreset("landscape-4k", (3840, 2160), "h264", "mp4", 45_000_000,
                     description="16:9 UHD for YouTube"),
        ExportPreset("square-1080", (1080, 1080), "h264", "mp4", 8_000_000,
                     description="1:1 feeds"),
        ExportPreset("cinema-21x9", (2560, 1080), "h264", "mp4", 20_000_000,
                     description="21:9 cinematic"),
        ExportPreset("prores-archive", None, "prores", "mov", None, encoder_preset="",
                     description="ProRes 422 HQ, 10-bit, for further editing"),
    )
}
