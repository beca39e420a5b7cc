"""Wan 2.1 and Wan 2.2 (one and two experts) on diffusers' WanPipeline / WanImageToVideoPipeline."""

from pipelines.families.wan.adapter import WAN21, WAN22, WanFamily

__all__ = ["WAN21", "WAN22", "WanFamily"]
