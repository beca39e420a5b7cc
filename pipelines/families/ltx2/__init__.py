"""LTX-2: video with its own synchronized soundtrack, on diffusers' LTX2Pipeline /
LTX2ImageToVideoPipeline / LTX2ConditionPipeline (the worked example in ``pipelines/README.md``)."""

from pipelines.families.ltx2.adapter import LTX2, Ltx2Family

__all__ = ["LTX2", "Ltx2Family"]
