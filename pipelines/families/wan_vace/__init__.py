"""Wan 2.1 VACE on diffusers' WanVACEPipeline: video-to-video, reference images, masked inpaint/outpaint,
first/last frame."""

from pipelines.families.wan_vace.adapter import WAN_VACE, WanVaceFamily

__all__ = ["WAN_VACE", "WanVaceFamily"]
