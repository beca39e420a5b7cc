"""HunyuanVideo 1.5's catalog entries. Torch-free data.

Sources (cited as [H1]..[H4] in notes and tests/pipelines/test_published_settings.py):
- [H1] diffusers 0.42 pipelines/hunyuan_video1_5: 50 steps and 121 frames (the ``__call__`` defaults), the I2V
  pipeline's MeanFlow ``timestep_r`` for a ``use_meanflow`` transformer (the step-distilled checkpoint), and
  docs/source/en/api/pipelines/hunyuan_video15.md: the guider's guidance_scale 6.0 (the pipeline takes no
  ``guidance_scale`` argument) and the repo name ``HunyuanVideo-1.5-Diffusers-480p_t2v``.
- [H2] the HunyuanVideo 1.5 model card (tencent/HunyuanVideo-1.5): 8.3B parameters, 480p and 720p T2V/I2V
  checkpoints, 121 frames at 24 fps.
- [H3] the HunyuanVideo 1.5 README (github.com/Tencent-Hunyuan/HunyuanVideo-1.5), "Optimal Inference
  Configurations": CFG scale / flow shift / steps per checkpoint -- 480p T2V and I2V 6 / 5 / 50, 720p T2V 6 / 9 / 50,
  720p I2V 6 / 7 / 50, the CFG-distilled 480p T2V and I2V 1 / 5 / 50 and 720p I2V 1 / 7 / 50 ("must use 50 steps"),
  the 480p I2V step-distilled 1 / 7 / "8 or 12 (recommended)"; and "Usage with Diffusers", which loads
  ``hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-720p_t2v``.
- [H4] diffusers scripts/convert_hunyuan_video1_5_to_diffusers.py: the per-checkpoint transformer configs
  (``target_size`` 640 at 480p / 960 at 720p, ``use_meanflow`` for ``480p_i2v_step_distilled``) and the scheduler
  shift and guider scale it writes into each converted repo (the same values as [H3]).
Repo ids: ``hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-<checkpoint>``. The 720p T2V id is the one Tencent's
README loads [H3]; the others follow that naming and are the ids public code loading these checkpoints uses, not
checked against the hub from here. diffusers 0.42's docstrings name ``hunyuanvideo-community/HunyuanVideo-1.5-480p_t2v``
(no ``Diffusers-``), which the docs page [H1] and Tencent's README do not use. Commits pinned: the 720p I2V and
480p I2V step-distilled repos, at the revisions public code pins them to; the others resolve ``main`` at pull time.
Not listed: a 720p T2V CFG-distilled checkpoint (in [H3]'s table, but no Diffusers-format repo was found) and the
super-resolution checkpoints (no diffusers pipeline in 0.42).
Architecture figures are diffusers' HunyuanVideo15Transformer3DModel defaults (54 blocks, 16 x 128
heads, mlp ratio 4, Qwen2.5-VL 7B text features of 3584, ByT5 glyph features of 1472, SigLIP 1152)
and the VAE's 16x spatial / 4x temporal compression with 32 latent channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.catalog import Architecture, Defaults, Mode, ModelEntry, ShapeRules

HUNYUAN_VIDEO15_FAMILY = "hunyuanvideo-1.5"

T2V = {Mode.TEXT_TO_VIDEO: "HunyuanVideo15Pipeline"}
I2V = {Mode.IMAGE_TO_VIDEO: "HunyuanVideo15ImageToVideoPipeline"}
# 4k+1 frames (4x temporal VAE), sides multiples of 16 (16x spatial VAE, patch 1).
_RULES = ShapeRules(frames_multiple=4, size_multiple=16, max_frames=241)

# Parameters for the memory planner, counted on the meta device from the published configs
# (``synthetic``): the 8.33B transformer, Qwen2.5-VL 7B's language model (7.07B), and resident beside them the
# ByT5 glyph encoder (0.22B) and the VAE (1.26B: 5.04 GB in fp32, the size of tencent/HunyuanVideo-1.5's
# vae/diffusion_pytorch_model.safetensors [H2]). Image-to-video's SigLIP (0.43B) is under the planner's
# image-encoder allowance.
ARCH = Architecture(
    transformer_params_b=8.33, dim=2048, ffn_dim=8192, num_layers=54, num_heads=16,
    vae_spatial=16, vae_temporal=4, latent_channels=32, patch=(1, 1, 1),
    text_encoder_params_b=7.07, text_dim=3584, extra_params_b=0.22 + 1.26,
)
_I2V_ARCH = ARCH.model_copy(update={"image_encoder": True})
REPO_PREFIX = "hunyuanvideo-community/HunyuanVideo-1.5-Diffusers-"

_SIZES = {"480p": (848, 480), "720p": (1280, 720)}


@dataclass(frozen=True)
class Checkpoint:
    """One published HunyuanVideo 1.5 checkpoint: its resolution, mode, distillation and settings [H3]."""

    res: str                      # "480p" / "720p"
    mode: str                     # "t2v" / "i2v"
    distill: str = ""             # "" / "cfg" (guidance distilled, 50 steps) / "step" (8-12 steps, no CFG)
    steps: int = 50
    guidance: float = 6.0
    shift: float = 5.0
    revision: str = "main"

    @property
    def model_id(self) -> str:
        return f"hunyuanvideo1.5-{self.res}-{self.mode}" + (f"-{self.distill}-distilled" if self.distill else "")

    @property
    def repo(self) -> str:
        suffix = {"": "", "cfg": "_distilled", "step": "_step_distilled"}[self.distill]
        return f"{REPO_PREFIX}{self.res}_{self.mode}{suffix}"


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("480p", "t2v"),
    Checkpoint("480p", "i2v"),
    Checkpoint("720p", "t2v", shift=9.0),
    Checkpoint("720p", "i2v", shift=7.0, revision="dcf088ef4e420dd54bc25930ee810bb6613dfcb5"),
    Checkpoint("480p", "t2v", "cfg", guidance=1.0),
    Checkpoint("480p", "i2v", "cfg", guidance=1.0),
    Checkpoint("720p", "i2v", "cfg", guidance=1.0, shift=7.0),
    # [H3]: "8 or 12 (recommended)"; 12 by default, 8 (or 4, "slightly reduced quality") by request.
    Checkpoint("480p", "i2v", "step", steps=12, guidance=1.0, shift=7.0,
               revision="854c04a4c8a53d990b418c7478f0802c0fc8c726"),
)

_NOTES = ("Settings: {steps} steps, guidance {guidance} on the pipeline's guider, flow shift {shift} ([H3], as the "
          "conversion writes it [H4]); 121 frames at 24 fps [H1] [H2]. Text in quotes in the prompt is rendered "
          "with the ByT5 glyph encoder.")
_DISTILL_NOTES = {
    "cfg": " CFG-distilled: one transformer pass per step (guidance 1.0) at the full 50 steps, which Tencent says "
           "it must use [H3].",
    "step": " Step-distilled (MeanFlow: the transformer also takes the next step's timestep [H1] [H4]): "
            "12 steps by default, 8 also recommended and 4 faster at slightly lower quality [H3]; no CFG.",
}


def _entry(c: Checkpoint) -> ModelEntry:
    t2v = c.mode == "t2v"
    width, height = _SIZES[c.res]
    kind = {"": "", "cfg": " CFG-distilled", "step": " step-distilled"}[c.distill]
    pin = (f" Pinned to {c.revision[:7]} (the revision public code pins this repo to)." if c.revision != "main"
           else " No commit pinned: main resolves at pull time.")
    return ModelEntry(
        id=c.model_id,
        family=HUNYUAN_VIDEO15_FAMILY,
        title=f"HunyuanVideo 1.5 8.3B {c.res} {'text' if t2v else 'image'}-to-video{kind}",
        pipelines=T2V if t2v else I2V,
        defaults=Defaults(width=width, height=height, num_frames=121, fps=24, steps=c.steps,
                          guidance_scale=c.guidance, flow_shift=c.shift),
        rules=_RULES,
        architecture=ARCH if t2v else _I2V_ARCH,
        hub_repo=c.repo,
        revision=c.revision,
        license="Tencent Hunyuan Community License",
        distilled=bool(c.distill),
        notes=_NOTES.format(steps=c.steps, guidance=c.guidance, shift=c.shift) + _DISTILL_NOTES.get(c.distill, "")
        + ("" if t2v else " The image sets the aspect ratio: the pipeline buckets it to the checkpoint's resolution.")
        + pin,
    )


ENTRIES: list[ModelEntry] = [_entry(c) for c in CHECKPOINTS]

_TINY_ARCH = ARCH.model_copy(update={
    "transformer_params_b": 0.0001, "dim": 16, "ffn_dim": 32, "num_layers": 2, "num_heads": 2,
    "latent_channels": 4, "text_encoder_params_b": 0.0001, "text_dim": 16, "extra_params_b": 0.0})

TINY_ENTRIES: list[ModelEntry] = [
    ModelEntry(
        id=f"tiny-hunyuanvideo1.5-{mode}", family=HUNYUAN_VIDEO15_FAMILY,
        title=f"Tiny random HunyuanVideo 1.5 {mode.upper()} (demo/test)",
        pipelines=T2V if mode == "t2v" else I2V,
        defaults=Defaults(width=64, height=64, num_frames=9, fps=24, steps=2, guidance_scale=6.0, flow_shift=5.0),
        rules=_RULES.model_copy(update={"max_frames": 33}),
        architecture=_TINY_ARCH.model_copy(update={"image_encoder": mode == "i2v"}),
        tiny=True,
    )
    for mode in ("t2v", "i2v")
]
