"""HunyuanVideo 1.5 (8.3B): text-to-video and image-to-video on diffusers' HunyuanVideo15Pipeline /
HunyuanVideo15ImageToVideoPipeline, one checkpoint per mode and resolution."""

from pipelines.families.hunyuan_video15.adapter import HUNYUAN_VIDEO15, HunyuanVideo15Family

__all__ = ["HUNYUAN_VIDEO15", "HunyuanVideo15Family"]
