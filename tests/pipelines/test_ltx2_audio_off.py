"""``generate_audio: false`` on the tiny LTX-2 skips the audio branch's cost: the real audio VAE decoder
and vocoder never run (forward hooks on their own submodules), fewer FLOPs run (torch's FlopCounterMode
over the whole job), no transformer pass runs only for the audio's guidance, the video is the one the
same request makes with audio, and the sidecar's record says what was skipped and what still runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks.flops import count_flops
from pipelines.audio_skip import AUDIO_ONLY_CFG, AUDIO_VAE_DECODE, VOCODER, audio_decode_skipped, quiet_audio_knobs
from pipelines.core.catalog import Mode
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.generate import VideoGenerator
from pipelines.result import VideoResult
from pipelines.weights import WeightsLocator

MODEL = "tiny-ltx-2"


@pytest.fixture(scope="module")
def gen(tiny_weights_dir: Path) -> VideoGenerator:
    return VideoGenerator(WeightsLocator(tiny_weights_dir))


def _pipe(gen: VideoGenerator) -> Any:
    rs = resolve(GenerationSpec(model=MODEL, prompt="x"), gen.catalog)
    entry = gen.catalog.get(MODEL)
    assert entry is not None
    return gen.cache.get(entry, gen.locator.require(MODEL), Mode.TEXT_TO_VIDEO, gen.memory_plan(rs)[1])[0]


class Ran:
    """Which of the audio decode's real networks ran, and the transformer's batch per call."""

    def __init__(self, pipe: Any) -> None:
        self.decoder = 0
        self.vocoder = 0
        self.batches: list[int] = []
        # The audio VAE's decoder network and the vocoder's first layer: hooked on the modules that
        # do the work, so a stubbed entry point cannot fool them.
        vocoder_first = next(m for m in pipe.vocoder.modules() if isinstance(m, torch.nn.Conv1d))
        self.handles = [
            pipe.audio_vae.decoder.register_forward_hook(lambda *a: self._count("decoder")),
            vocoder_first.register_forward_hook(lambda *a: self._count("vocoder")),
            pipe.transformer.register_forward_pre_hook(self._batch, with_kwargs=True),
        ]

    def _count(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)

    def _batch(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        self.batches.append(int(kwargs["hidden_states"].shape[0]))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@pytest.fixture()
def ran(gen: VideoGenerator) -> Iterator[Ran]:
    record = Ran(_pipe(gen))
    yield record
    record.remove()


def _run(gen: VideoGenerator, **kw: Any) -> VideoResult:
    return gen.generate(GenerationSpec(model=MODEL, prompt="rain on a tin roof", steps=2, seed=7, **kw))


@pytest.mark.parametrize("quality", ["draft", "final"])
def test_audio_off_never_runs_the_audio_decoder_or_vocoder_and_keeps_the_video(gen: VideoGenerator, ran: Ran,
                                                                               quality: str) -> None:
    size = {"width": 128, "height": 64, "quality": quality}  # final: both stages, the decode after stage 2
    with_audio = _run(gen, **size)
    assert (ran.decoder, ran.vocoder) > (0, 0)  # the hooks see the real networks when audio is on
    ran.decoder = ran.vocoder = 0
    silent = _run(gen, generate_audio=False, **size)
    assert (ran.decoder, ran.vocoder) == (0, 0)
    assert silent.audio is None and "audio_decode_s" not in silent.timings
    # The same transformer passes with the same knobs: the video is the one the request makes with audio.
    assert np.array_equal(silent.frames, with_audio.frames)
    record = silent.optimizations["audio"]
    assert record["generated"] is False and tuple(record["skipped"]) == (AUDIO_VAE_DECODE, VOCODER)
    assert record["transformer_audio_stream"].startswith("runs")
    assert with_audio.optimizations["audio"]["generated"] is True
    pipe = _pipe(gen)  # the stubs are gone: the next job decodes audio again
    assert "decode" not in pipe.audio_vae.__dict__ and "forward" not in pipe.vocoder.__dict__


def test_audio_off_counts_fewer_flops(gen: VideoGenerator) -> None:
    on = count_flops(lambda: _run(gen))
    off = count_flops(lambda: _run(gen, generate_audio=False))
    pipe = _pipe(gen)
    mel = torch.zeros(1, 2, 40, 8)  # (batch, channels, frames, mel bins): what the tiny audio VAE decodes to
    vocoder = count_flops(lambda: pipe.vocoder(mel))
    assert vocoder > 0 and on - off >= vocoder * 0.9, (on, off, vocoder)


def test_audio_off_runs_no_cfg_pass_that_only_the_audio_asked_for(gen: VideoGenerator, ran: Ran) -> None:
    # guidance 1: no CFG for the video; the audio's own guidance (7) makes diffusers batch cond+uncond.
    # (STG and modality-isolation passes run on the conditional batch alone: batch 1 either way.)
    _run(gen, guidance_scale=1.0)
    assert 2 in ran.batches
    on = sum(ran.batches)
    ran.batches.clear()
    silent = _run(gen, guidance_scale=1.0, generate_audio=False)
    assert set(ran.batches) == {1} and sum(ran.batches) < on
    assert AUDIO_ONLY_CFG in silent.optimizations["audio"]["skipped"]


def test_quiet_knobs_keep_the_models_values_unless_they_add_a_pass() -> None:
    kept = quiet_audio_knobs(3.0, 7.0, 1.0, 3.0, 0.7)
    assert kept.kwargs == {"audio_guidance_scale": 7.0, "audio_stg_scale": 1.0, "audio_modality_scale": 3.0,
                           "audio_guidance_rescale": 0.7} and not kept.saves_cfg_pass
    quiet = quiet_audio_knobs(1.0, 7.0, 1.0, 3.0, 0.7)
    assert quiet.kwargs["audio_guidance_scale"] == 1.0 and quiet.saves_cfg_pass


def test_the_stubs_restore_what_was_there(gen: VideoGenerator) -> None:
    pipe = _pipe(gen)

    def wrapper(*a: Any, **k: Any) -> Any:
        return None

    pipe.audio_vae.decode = wrapper  # e.g. AudioDecodeStage's timing wrapper
    try:
        with audio_decode_skipped(pipe, skip=True) as skipped:
            assert skipped and pipe.audio_vae.decode(torch.zeros(1)) == (None,) and pipe.vocoder(torch.zeros(1)) is None
        assert pipe.audio_vae.__dict__["decode"] is wrapper and "forward" not in pipe.vocoder.__dict__
        with audio_decode_skipped(pipe, skip=False) as skipped:
            assert not skipped and pipe.audio_vae.decode is wrapper
    finally:
        del pipe.audio_vae.decode
