"""LTX-Video 0.9.x on diffusers' LTXPipeline / LTXImageToVideoPipeline / LTXConditionPipeline."""

from pipelines.families.ltx_video.adapter import LTX_VIDEO, LtxVideoFamily

__all__ = ["LTX_VIDEO", "LtxVideoFamily"]
