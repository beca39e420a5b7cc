"""``generate_audio: false`` on an audio-video pipeline (LTX-2): what of the audio branch can be
left out without forking diffusers, and the record of it for the sidecar.

What diffusers 0.42's LTX-2 pipelines allow, read from their ``__call__`` and
``LTX2VideoTransformer3DModel``:

- The audio decode (audio VAE ``decode``, then the vocoder) runs whenever ``output_type`` is not
  "latent", with no option to leave it out. It is pure post-processing (the video never sees it), so
  for the length of one call the audio VAE's ``decode`` and the vocoder's ``forward`` are shadowed on
  the instances by stubs that return nothing, and always restored: neither network runs.
- Extra transformer passes that only audio asks for: the pipeline runs CFG when either the video's or
  the audio's guidance is above 1 (likewise STG and modality guidance). With audio off, an audio knob
  is set so it adds no pass the video's own knob does not already run (``quiet_audio_knobs``).
- The transformer's audio stream cannot be dropped: every block runs audio self-attention, audio-text
  cross-attention and the audio-to-video / video-to-audio attention, and the video attends to the audio
  tokens in each block. diffusers' only switch (``isolate_modalities``) is the modality-guidance
  negative pass, i.e. a different video, so the stream runs as it does with audio on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The sidecar's words for what a job without audio left out (``AudioBranch.skipped``).
AUDIO_VAE_DECODE = "audio_vae_decode"
VOCODER = "vocoder"
AUDIO_ONLY_CFG = "audio_only_cfg_pass"
TRANSFORMER_AUDIO_STREAM = ("runs: diffusers' LTX-2 transformer has no call option that drops it without "
                            "changing the video (the video attends to the audio tokens in every block)")


@dataclass(frozen=True)
class AudioBranch:
    """What an audio-video model's audio branch did for one job (the sidecar's ``optimizations.audio``)."""

    generated: bool
    skipped: tuple[str, ...] = ()
    transformer_audio_stream: str = "runs"


@dataclass(frozen=True)
class QuietAudioKnobs:
    """The audio call arguments for a job without audio, and whether they saved a CFG pass."""

    kwargs: dict[str, float]
    saves_cfg_pass: bool


def quiet_audio_knobs(video_guidance: float, audio_guidance: float, audio_stg: float, audio_modality: float,
                      audio_rescale: float) -> QuietAudioKnobs:
    """The model's audio knobs (so the video is the one the same request makes with audio on), except an
    audio guidance above 1 where the video's is not: that alone would double every transformer call
    (``do_classifier_free_guidance`` is video or audio), so it becomes 1. STG and modality guidance are
    run by the video's own knobs (vidserve leaves diffusers' defaults, 1 and 3), so the audio's add none."""
    saves = audio_guidance > 1.0 and video_guidance <= 1.0
    return QuietAudioKnobs({"audio_guidance_scale": 1.0 if saves else audio_guidance, "audio_stg_scale": audio_stg,
                            "audio_modality_scale": audio_modality, "audio_guidance_rescale": audio_rescale}, saves)


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


@contextlib.contextmanager
def audio_decode_skipped(pipe: Any, skip: bool) -> Iterator[bool]:
    """For the calls inside, ``pipe``'s audio VAE ``decode`` returns ``(None,)`` and its vocoder
    ``None`` without running either network (the pipeline's output then has ``audio=None``). Yields
    whether anything was skipped; a pipeline without both parts, or ``skip`` False, is left untouched."""
    vae, vocoder = getattr(pipe, "audio_vae", None), getattr(pipe, "vocoder", None)
    if not skip or vae is None or vocoder is None:
        yield False
        return
    # Whatever the instances already shadow (``AudioDecodeStage``'s timing wrapper) comes back after.
    held = {name: owner.__dict__.get(name) for owner, name in ((vae, "decode"), (vocoder, "forward"))}
    vae.decode = lambda *args, **kwargs: (None,)
    vocoder.forward = _nothing
    try:
        yield True
    finally:
        for owner, name in ((vae, "decode"), (vocoder, "forward")):
            if held[name] is None:
                owner.__dict__.pop(name, None)
            else:
                setattr(owner, name, held[name])
