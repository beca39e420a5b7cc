"""SkyReels-V2 diffusion forcing on diffusers' SkyReelsV2DiffusionForcing*Pipeline: text, image and
first+last frame, and extension of a video as the model's own long-shot method (``extend_method``
``diffusion_forcing``)."""

from pipelines.families.skyreels_v2.adapter import SKYREELS_V2_DF, SkyReelsV2Family

__all__ = ["SKYREELS_V2_DF", "SkyReelsV2Family"]
