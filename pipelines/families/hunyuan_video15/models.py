"""HunyuanVideo 1.5's catalog entries. Torch-free data.

Sources (cited as [H1], [H2] in notes and tests/pipelines/test_published_settings.py):
- [H1] diffusers 0.42 pipelines/hunyuan_video1_5: the docstring repo ids
  ``hunyuanvideo-community/HunyuanVideo-1.5-480p_t2v`` / ``-480p_i2v``, 50 steps and 121 frames (the
  ``__call__`` defaults), and docs/source/en/api/pipelines/hunyuan_video15.md: the guider's
  guidance_scale 6.0 (the pipeline takes no ``guidance_scale`` argument).
- [H2] the HunyuanVideo 1.5 model card (tencent/HunyuanVideo-1.5): 8.3B parameters, 480p and 720p
  T2V/I2V checkpoints, 121 frames at 24 fps. The 720p repo ids follow the community repos' naming
  (``hunyuanvideo-community/HunyuanVideo-1.5-720p_t2v`` / ``-720p_i2v``).
Architecture figures are diffusers' HunyuanVideo15Transformer3DModel defaults (54 blocks, 16 x 128
heads, mlp ratio 4, Qwen2.5-VL 7B text features of 3584, ByT5 glyph features of 1472, SigLIP 1152)
and the VAE's 16x spatial / 4x temporal compression with 32 latent channels.
Step-distilled variants are not listed: no Diffusers-format repo of them was confirmed.
"""

from __future__ import annotations

from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules

HUNYUAN_VIDEO15_FAMILY = "hunyuanvideo-1.5"

T2V = {Mode.TEXT_TO_VIDEO: "HunyuanVideo15Pipeline"}
I2V = {Mode.IMAGE_TO_VIDEO: "HunyuanVideo15ImageToVideoPipeline"}
# 4k+1 frames (4x temporal VAE), sides multiples of 16 (16x spatial VAE, patch 1).
_RULES = ShapeRules(frames_multiple=4, size_multiple=16, max_frames=241)

ARCH = Architecture(
    transformer_params_b=8.3, dim=2048, ffn_dim=8192, num_layers=54, num_heads=16,
    vae_spatial=16, vae_temporal=4, latent_channels=32, patch=(1, 1, 1),
    text_encoder_params_b=7.6, text_dim=3584, extra_params_b=0.2,  # ByT5 glyph encoder
)
_I2V_ARCH = ARCH.model_copy(update={"image_encoder": True})

_480, _720 = (848, 480), (1280, 720)
_NOTES = ("Settings from diffusers' HunyuanVideo 1.5 pipelines and docs (50 steps, 121 frames, guidance 6.0 on "
          "the pipeline's guider) [H1] and the model card (24 fps, 480p/720p) [H2]. Text in quotes in the prompt is "
          "rendered with the ByT5 glyph encoder.")


def _entry(res: str, size: tuple[int, int], mode: str) -> ModelEntry:
    t2v = mode == "t2v"
    return ModelEntry(
        id=f"hunyuanvideo1.5-{res}-{mode}",
        family=HUNYUAN_VIDEO15_FAMILY,
        title=f"HunyuanVideo 1.5 8.3B {res} {'text' if t2v else 'image'}-to-video",
        pipelines=T2V if t2v else I2V,
        defaults=Defaults(width=size[0], height=size[1], num_frames=121, fps=24, steps=50, guidance_scale=6.0),
        rules=_RULES,
        architecture=ARCH if t2v else _I2V_ARCH,
        hub_repo=f"hunyuanvideo-community/HunyuanVideo-1.5-{res}_{mode}",
        license="Tencent Hunyuan Community License",
        notes=_NOTES + (" The image sets the aspect ratio: the pipeline buckets it to the checkpoint's resolution."
                        if not t2v else ""),
    )


ENTRIES: list[ModelEntry] = [_entry(res, size, mode) for res, size in (("480p", _480), ("720p", _720))
                             for mode in ("t2v", "i2v")]

_TINY_ARCH = ARCH.model_copy(update={
    "transformer_params_b": 0.0001, "dim": 16, "ffn_dim": 32, "num_layers": 2, "num_heads": 2,
    "latent_channels": 4, "text_encoder_params_b": 0.0001, "text_dim": 16, "extra_params_b": 0.0})

TINY_ENTRIES: list[ModelEntry] = [
    ModelEntry(
        id=f"tiny-hunyuanvideo1.5-{mode}", family=HUNYUAN_VIDEO15_FAMILY,
        title=f"Tiny random HunyuanVideo 1.5 {mode.upper()} (demo/test)",
        pipelines=T2V if mode == "t2v" else I2V,
        defaults=Defaults(width=64, height=64, num_frames=9, fps=24, steps=2, guidance_scale=6.0),
        rules=_RULES.model_copy(update={"max_frames": 33}),
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": mode == "i2v"}),
        tiny=True,
    )
    for mode in ("t2v", "i2v")
]
