"""The LTX-2 adapter: Gemma 3 text encoding with attention masks (one embedding the pipeline's
connectors split into video and audio context), the frame rate and the audio guidance knobs in the
call, image-to-video on ``LTX2ImageToVideoPipeline``, first+last frame as two ``LTX2VideoCondition``
(index 0 and -1) on ``LTX2ConditionPipeline``, CFG batched by the pipeline, and the soundtrack out of
the vocoder next to the frames. Torch-free at import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.core.catalog import Mode, ModelEntry
from pipelines.core.spec import ResolvedSpec
from pipelines.families.base import CacheThresholds, FamilyAdapter, FlowStage, StageCall, first_last, uses_cfg
from pipelines.families.masked_text import encode_masked_prompt

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from pipelines.audio_skip import QuietAudioKnobs
    from pipelines.core.media import GeneratedMedia
    from pipelines.families.ltx2.flops import Ltx2Passes

LTX2 = "ltx-2"  # the catalog family name (pipelines.families.ltx2.models.LTX2_FAMILY)


class Ltx2Family(FamilyAdapter):
    families: ClassVar[tuple[str, ...]] = (LTX2,)
    lora_pipeline_class: ClassVar[str] = "LTX2Pipeline"
    synthetic_module: ClassVar[str | None] = "pipelines.families.ltx2.synthetic"
    batches_cfg: ClassVar[bool] = True
    # Same thresholds as LTX-Video until measured on LTX-2 (benchmarks/gpu_suite.sh ltx2).
    cache_thresholds: ClassVar[CacheThresholds] = CacheThresholds(fast=0.03, fastest=0.06)

    def entries(self) -> list[ModelEntry]:
        from pipelines.families.ltx2.models import ENTRIES, TINY_ENTRIES

        return ENTRIES + TINY_ENTRIES

    def encode_text(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, device: torch.device) -> dict[str, Any]:
        # Gemma 3, with masks; the negative prompt whenever the pipeline runs CFG (the audio may ask for it).
        return encode_masked_prompt(pipe, spec, device, _max_tokens(entry), _passes(entry, spec).cfg)

    def mode_kwargs(self, entry: ModelEntry, spec: ResolvedSpec, first: Image.Image | None,
                    last: Image.Image | None) -> dict[str, Any]:
        from pipelines.families.ltx2.models import VIDEO_MODALITY_SCALE, VIDEO_STG_SCALE

        kw: dict[str, Any] = {"frame_rate": float(spec.fps), "max_sequence_length": _max_tokens(entry),
                              "stg_scale": VIDEO_STG_SCALE, "modality_scale": VIDEO_MODALITY_SCALE}
        kw |= _audio_knobs(entry, spec)  # without audio: knobs that add no transformer pass of their own
        from pipelines.families.ltx2.models import DISTILLED_SIGMAS

        sigmas = DISTILLED_SIGMAS.get(entry.id)
        if sigmas is not None and len(sigmas) == spec.steps:
            kw["sigmas"] = list(sigmas)  # the published distilled schedule, at its own step count
        with_first, with_last = first_last(spec.mode)
        if spec.mode is Mode.IMAGE_TO_VIDEO:
            kw["image"] = first
        elif with_first and with_last:
            assert first is not None and last is not None  # resolve() required both images
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            kw["conditions"] = [LTX2VideoCondition(frames=first, index=0, strength=1.0),
                                LTX2VideoCondition(frames=last, index=-1, strength=1.0)]
        return kw

    def flow(self, entry: ModelEntry, spec: ResolvedSpec) -> list[FlowStage]:
        """draft: one pass. final (``entry.final_flow``): stage 1 at half size with the request's steps
        and guidance, the x2 latent upsample, stage 2 at the full size on the distilled sigmas."""
        final = entry.final_flow
        if spec.quality != "final" or final is None:
            return super().flow(entry, spec)
        return [FlowStage("denoising", spec.width // 2, spec.height // 2, spec.steps,
                          guidance_scale=spec.guidance_scale),
                FlowStage("upsampling", spec.width, spec.height),
                FlowStage("refining", spec.width, spec.height, len(final.stage2_sigmas), final.stage2_sigmas,
                          final.stage2_guidance_scale)]

    def run(self, entry: ModelEntry, pipe: Any, spec: ResolvedSpec, kwargs: dict[str, Any], call: StageCall,
            location: Path) -> Any:
        """draft or final; without audio, the audio VAE decode and the vocoder never run
        (``pipelines.audio_skip``)."""
        from pipelines.audio_skip import audio_decode_skipped

        with audio_decode_skipped(pipe, skip=not spec.generate_audio):
            if spec.quality != "final" or entry.final_flow is None:
                return super().run(entry, pipe, spec, kwargs, call, location)
            from pipelines.families.ltx2.two_stage import run_final

            return run_final(entry.final_flow, self.flow(entry, spec), pipe, spec, kwargs, call, location)

    def run_record(self, entry: ModelEntry, spec: ResolvedSpec) -> dict[str, Any]:
        """``audio``: generated, or which parts of the audio branch were left out and that the
        transformer's audio stream still runs (``pipelines.audio_skip``)."""
        from dataclasses import asdict

        from pipelines import audio_skip as skip

        if entry.audio is None:
            return {}
        if spec.generate_audio:
            return {"audio": asdict(skip.AudioBranch(generated=True))}
        cfg = (skip.AUDIO_ONLY_CFG,) if _quiet_knobs(entry, spec).saves_cfg_pass else ()
        skipped = (skip.AUDIO_VAE_DECODE, skip.VOCODER, *cfg)
        return {"audio": asdict(skip.AudioBranch(False, skipped, skip.TRANSFORMER_AUDIO_STREAM))}

    def analytic_flops(self, entry: ModelEntry, spec: ResolvedSpec, forwards: int) -> int | None:
        """One step by formula (``pipelines.families.ltx2.flops``), video and audio streams together, over
        the passes the knobs run (``forwards`` is what was counted: None when the two disagree)."""
        from pipelines.families.ltx2.flops import Ltx2Shape, ltx2_step_flops, ltx2_video_tokens
        from pipelines.families.ltx2.models import AUDIO_STREAMS

        arch, audio = entry.architecture, AUDIO_STREAMS.get(entry.id)
        passes = _passes(entry, spec)
        if audio is None or not arch.dim or forwards != passes.calls:
            return None
        shape = Ltx2Shape(dim=arch.dim, ffn_dim=arch.ffn_dim or 4 * arch.dim, num_layers=arch.num_layers or 0,
                          audio=audio, caption_channels=arch.text_dim, in_channels=arch.latent_channels,
                          text_tokens=_max_tokens(entry))
        video = ltx2_video_tokens(spec.num_frames, spec.height, spec.width, arch.vae_spatial, arch.vae_temporal)
        return ltx2_step_flops(shape, passes, video, audio.tokens(spec.num_frames, spec.fps))

    def tiny_components(self) -> dict[str, dict[str, Callable[[], Any]]]:
        from pipelines.families.ltx2.tiny import COMPONENTS

        return COMPONENTS

    def media(self, out: Any, entry: ModelEntry) -> GeneratedMedia:
        """Frames, and the vocoder's waveform ((batch, channels, samples) at the entry's audio rate)."""
        from pipelines.audio import AudioTrack
        from pipelines.core.media import GeneratedMedia, to_uint8

        frames = to_uint8(out.frames[0])
        audio = getattr(out, "audio", None)
        if audio is None or entry.audio is None:
            return GeneratedMedia(frames)
        return GeneratedMedia(frames, AudioTrack.from_array(audio[0].float().cpu().numpy(), entry.audio.sample_rate))

    def tiny_builders(self) -> dict[str, Callable[[], Any]]:
        from pipelines.families.ltx2.tiny import BUILDERS

        return BUILDERS


def _audio_knobs(entry: ModelEntry, spec: ResolvedSpec) -> dict[str, float]:
    """The audio call arguments: the request's with audio, the quiet ones without."""
    if spec.generate_audio:
        return {"audio_guidance_scale": spec.audio_guidance_scale or 0.0,
                "audio_stg_scale": spec.audio_stg_scale or 0.0,
                "audio_modality_scale": spec.audio_modality_scale or 0.0,
                "audio_guidance_rescale": spec.audio_guidance_rescale or 0.0}
    return _quiet_knobs(entry, spec).kwargs if entry.audio is not None else {}


def _passes(entry: ModelEntry, spec: ResolvedSpec) -> Ltx2Passes:
    """Which guidance passes LTX2Pipeline runs for this job: each one when the video's or the audio's knob
    asks for it (its ``do_classifier_free_guidance`` and friends)."""
    from pipelines.families.ltx2.flops import Ltx2Passes
    from pipelines.families.ltx2.models import VIDEO_MODALITY_SCALE, VIDEO_STG_SCALE

    audio = _audio_knobs(entry, spec)
    return Ltx2Passes(cfg=uses_cfg(spec) or audio.get("audio_guidance_scale", 0.0) > 1.0,
                      stg=VIDEO_STG_SCALE > 0.0 or audio.get("audio_stg_scale", 0.0) > 0.0,
                      modality=VIDEO_MODALITY_SCALE > 1.0 or audio.get("audio_modality_scale", 0.0) > 1.0)


def _quiet_knobs(entry: ModelEntry, spec: ResolvedSpec) -> QuietAudioKnobs:
    from pipelines.audio_skip import quiet_audio_knobs

    a = entry.audio
    assert a is not None
    return quiet_audio_knobs(spec.guidance_scale, a.guidance_scale, a.stg_scale, a.modality_scale, a.guidance_rescale)


def _max_tokens(entry: ModelEntry) -> int:
    from pipelines.families.ltx2.models import MAX_SEQUENCE_LENGTH, SEQUENCE_LENGTHS

    return SEQUENCE_LENGTHS.get(entry.id, MAX_SEQUENCE_LENGTH)
