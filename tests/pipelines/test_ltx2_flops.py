"""LTX-2's analytic FLOP formula against torch's FlopCounterMode: the tiny model's denoising step as the
pipeline runs it (CFG batch, STG pass, modality-isolation pass; with and without audio), and a transformer
of another small shape forward by forward, the isolated pass included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from benchmarks.flops import capture_first_step, count_flops
from pipelines.core.catalog import Mode
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for
from pipelines.families.ltx2.flops import AudioStream, Ltx2Passes, Ltx2Shape, ltx2_forward_flops, ltx2_step_flops
from pipelines.generate import VideoGenerator
from pipelines.weights import WeightsLocator

MODEL = "tiny-ltx-2"


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


@pytest.mark.parametrize("fields", [{}, {"generate_audio": False, "guidance_scale": 1.0}, {"num_frames": 25}],
                         ids=["cfg-stg-modality", "audio-off-no-cfg", "longer"])
def test_tiny_step_counted_equals_the_formula(gen: VideoGenerator, fields: dict[str, Any]) -> None:
    size: dict[str, Any] = {"width": 128, "height": 64, "num_frames": 17}
    spec = resolve(GenerationSpec(model=MODEL, prompt="a drum", steps=1, seed=1, **(size | fields)), gen.catalog)
    entry = gen.catalog.get(MODEL)
    assert entry is not None
    pipe = gen.cache.get(entry, gen.locator.require(MODEL), Mode.TEXT_TO_VIDEO, gen.memory_plan(spec)[1])[0]
    family = adapter_for(entry)
    kw = family.call_kwargs(entry, spec, None, None) | {"prompt": spec.prompt, "negative_prompt": spec.negative_prompt,
                                                       "output_type": "latent"}
    with torch.inference_mode():
        capture = capture_first_step(pipe, lambda cb: pipe(generator=torch.Generator().manual_seed(1),
                                                           callback_on_step_end=cb, **kw))
    analytic = family.analytic_flops(entry, spec, len(capture.calls))
    assert analytic is not None
    assert capture.flops() == pytest.approx(analytic, rel=0.01)
    assert family.analytic_flops(entry, spec, len(capture.calls) + 1) is None  # a count of other passes: no claim


def _transformer(shape: Ltx2Shape, heads: int, audio_heads: int) -> Any:
    from diffusers import LTX2VideoTransformer3DModel

    torch.manual_seed(0)
    return LTX2VideoTransformer3DModel(
        in_channels=shape.in_channels, out_channels=shape.in_channels, num_attention_heads=heads,
        attention_head_dim=shape.dim // heads, cross_attention_dim=shape.dim, audio_in_channels=shape.audio.in_channels,
        audio_out_channels=shape.audio.in_channels, audio_num_attention_heads=audio_heads,
        audio_attention_head_dim=shape.audio.dim // audio_heads, audio_cross_attention_dim=shape.audio.dim,
        num_layers=shape.num_layers, caption_channels=shape.caption_channels, rope_double_precision=False,
        rope_type="split").eval()


@pytest.mark.parametrize("isolated", [False, True], ids=["full", "modality-isolated"])
def test_another_small_shape_forward_by_forward(isolated: bool) -> None:
    shape = Ltx2Shape(dim=64, ffn_dim=256, num_layers=3, audio=AudioStream(dim=32, ffn_dim=128, in_channels=8),
                      caption_channels=48, in_channels=8, text_tokens=24)
    model = _transformer(shape, heads=4, audio_heads=2)
    frames, height, width, audio_tokens = 2, 3, 5, 11
    video_tokens = frames * height * width
    kwargs = dict(hidden_states=torch.randn(1, video_tokens, 8), audio_hidden_states=torch.randn(1, audio_tokens, 8),
                  encoder_hidden_states=torch.randn(1, 24, 48), audio_encoder_hidden_states=torch.randn(1, 24, 48),
                  timestep=torch.tensor([500.0]), sigma=torch.tensor([0.5]),
                  encoder_attention_mask=torch.ones(1, 24), audio_encoder_attention_mask=torch.ones(1, 24),
                  num_frames=frames, height=height, width=width, fps=24.0, audio_num_frames=audio_tokens,
                  isolate_modalities=isolated, return_dict=False)
    counted = count_flops(lambda: model(**kwargs))
    assert counted == pytest.approx(ltx2_forward_flops(shape, video_tokens, audio_tokens, isolated=isolated),
                                    rel=0.01)


def test_published_step_size_and_what_each_pass_adds() -> None:
    # LTX-2 19B at its published 768x512, 121 frames, 24 fps: 16 x 24 x 16 = 6144 video tokens, 126 audio.
    from pipelines.families.ltx2.models import AUDIO_STREAMS

    shape = Ltx2Shape(dim=4096, ffn_dim=16384, num_layers=48, audio=AUDIO_STREAMS["ltx-2-19b"])
    audio = shape.audio.tokens(121, 24)
    assert audio == 126
    full = ltx2_forward_flops(shape, 6144, audio)
    # Above the video stream's published ~14B parameters at 2 FLOPs each per video token (attention adds), below
    # all 18.9B at that rate (the audio stream's ~5B see only 126 tokens).
    assert 2 * 14e9 * 6144 < full < 2 * 18.9e9 * 6144
    every = ltx2_step_flops(shape, Ltx2Passes(cfg=True, stg=True, modality=True), 6144, audio)
    isolated = ltx2_forward_flops(shape, 6144, audio, isolated=True)
    assert every == 3 * full + isolated and isolated < full
    assert ltx2_step_flops(shape, Ltx2Passes(cfg=False, stg=False, modality=False), 6144, audio) == full


def test_published_transformer_counted_on_the_meta_device_equals_the_formula() -> None:
    """LTX-2 19B at its published size (``synthetic.build_transformer``, diffusers' defaults), one forward at
    768x512x121 on the meta device: torch counts the FLOPs from the shapes alone, nothing is computed."""
    from pipelines.families.ltx2.models import AUDIO_STREAMS
    from pipelines.families.ltx2.synthetic import build_transformer

    video, audio, text = 16 * 16 * 24, 126, 1024
    with torch.device("meta"):
        model = build_transformer("ltx-2-19b")
        kwargs = dict(hidden_states=torch.randn(1, video, 128), audio_hidden_states=torch.randn(1, audio, 128),
                      encoder_hidden_states=torch.randn(1, text, 3840),
                      audio_encoder_hidden_states=torch.randn(1, text, 3840), timestep=torch.tensor([500.0]),
                      sigma=torch.tensor([0.5]), encoder_attention_mask=torch.ones(1, text),
                      audio_encoder_attention_mask=torch.ones(1, text), num_frames=16, height=16, width=24, fps=24.0,
                      audio_num_frames=audio, return_dict=False)
        counted = count_flops(lambda: model(**kwargs))
    shape = Ltx2Shape(dim=4096, ffn_dim=16384, num_layers=48, audio=AUDIO_STREAMS["ltx-2-19b"])
    assert counted == pytest.approx(ltx2_forward_flops(shape, video, audio), rel=0.001)
