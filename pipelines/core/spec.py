"""Generation specs: what a caller asks for, and the resolved form checked against the catalog.

Torch-free: the API resolves specs at the edge so a job never fails on input a check could catch.
"""

from __future__ import annotations

import math
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.core.audio_spec import AudioRequest, ResolvedAudio, resolve_audio
from pipelines.core.catalog import Catalog, Mode, ModelEntry
from pipelines.core.errors import InvalidSpec
from pipelines.core.images import check_image_file
from pipelines.core.loras import LoraRef, check_refs

ImageFit = Literal["cover", "contain"]
# draft: one pass at the requested size; final: the model's two-stage flow (ModelEntry.final_flow).
Quality = Literal["draft", "final"]


class SpeedLevel(StrEnum):
    """Per-request speed/quality trade-off (see pipelines.speed)."""

    EXACT = "exact"      # the same math as plain diffusers
    FAST = "fast"        # step caching with a conservative threshold (lossy, bounded)
    FASTEST = "fastest"  # more aggressive caching

# The ranges every spec is checked against; the API's request fields (server.api.requests.fields)
# declare the same limits from these names, so a request and its spec never disagree.
MAX_SEED = 2**63 - 1
MAX_PROMPT_CHARS = 20_000
MAX_STEPS = 200
MAX_FPS = 120
MAX_GUIDANCE = 30


class SpecInputs(BaseModel):
    """The fields a request and its resolved spec hold alike, declared once: the input files, how an
    image meets the size, the speed and quality levels, and the model's published settings."""

    # Quality settings the catalog publishes per model (pipelines.core.catalog.Defaults). On a request,
    # None: the model's; resolved, what reaches the scheduler and the pipeline call (None: the scheduler's
    # or the pipeline's own; a spec stored before these fields existed resolves them when it runs).
    flow_shift: float | None = None
    decode_timestep: float | None = None
    decode_noise_scale: float | None = None
    image_cond_noise_scale: float | None = None
    image: Path | None = None
    last_image: Path | None = None
    # How an input image meets the target size: cover-crop (fill, crop the overflow, centred)
    # or contain (letterbox on black).
    image_fit: ImageFit = "cover"
    speed: SpeedLevel = SpeedLevel.EXACT
    quality: Quality = "draft"
    # Extension: the generated clip continues this video (``image`` is its last frame); the result is
    # the stitched clip, this video + the continuation without its first (seam) frame.
    extend_video: Path | None = None
    # Video-to-video (pipelines.core.source_video): the source video, resampled to ``fps`` and fitted by
    # ``image_fit``; ``mask`` (a video or one image) marks in white what to regenerate.
    video: Path | None = None
    mask: Path | None = None


class GenerationSpec(SpecInputs, AudioRequest):
    """A request for one video. Unset fields take the model's defaults (the audio fields come from
    ``AudioRequest``, the inputs and levels from ``SpecInputs``)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    prompt: str = ""
    mode: Mode | None = None  # inferred from the images when unset
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    # The shape instead of a size (pipelines.core.shapes): "16:9"... and "480p"...; not with width/height.
    aspect_ratio: str | None = None
    resolution: str | None = None
    num_frames: int | None = None
    fps: int | None = None
    steps: int | None = None
    guidance_scale: float | None = None
    guidance_scale_2: float | None = None
    seed: int | None = None
    # LoRA adapters, resolved and checked against the model (pipelines.core.loras.resolve_loras).
    loras: list[LoraRef] | None = None
    # Reference images (subjects to keep) on models that take them.
    reference_images: list[Path] | None = None


class ResolvedSpec(SpecInputs, ResolvedAudio):
    """Every field concrete; this is what runs and what the sidecar records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    mode: Mode
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    guidance_scale_2: float | None
    seed: int
    loras: tuple[LoraRef, ...] = ()
    reference_images: tuple[Path, ...] = ()
    pipeline_class: str = Field(description="diffusers pipeline class that runs this mode")

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def check_seed(seed: int) -> int:
    """``seed`` when it is in range, else InvalidSpec naming it (the takes of one request share a
    resolved spec and differ in their seeds)."""
    if not 0 <= seed <= MAX_SEED:
        raise InvalidSpec("seed", seed, f"must be between 0 and {MAX_SEED}")
    return seed


def frames_for_seconds(entry: ModelEntry, seconds: float, fps: int | None = None) -> int:
    """The nearest frame count the model accepts for a duration (rounded up to the rule)."""
    rate = fps or entry.defaults.fps
    k = max(1, math.ceil((seconds * rate - 1) / entry.rules.frames_multiple))
    return k * entry.rules.frames_multiple + 1


def resolve(spec: GenerationSpec, catalog: Catalog) -> ResolvedSpec:
    """Check ``spec`` against the catalog and fill defaults. Raises InvalidSpec naming the field.
    (``pipelines.resolve`` defaults to the default catalog.)"""
    entry = catalog.get(spec.model)
    if entry is None:
        raise InvalidSpec("model", spec.model, f"unknown model; known models: {', '.join(catalog.ids())}")

    mode = spec.mode or _infer_mode(spec)
    if mode not in entry.pipelines:
        served = ", ".join(m.value for m in entry.modes)
        raise InvalidSpec("mode", mode.value, f"model {entry.id} does not serve this mode; it serves: {served}")

    d = entry.defaults
    width, height = _size(entry, spec)
    frames = spec.num_frames if spec.num_frames is not None else d.num_frames
    _check_shape(entry, width, height, frames)

    fps = spec.fps if spec.fps is not None else d.fps
    steps = spec.steps if spec.steps is not None else d.steps
    guidance = spec.guidance_scale if spec.guidance_scale is not None else d.guidance_scale
    guidance_2 = spec.guidance_scale_2 if spec.guidance_scale_2 is not None else d.guidance_scale_2
    _check_numbers(entry, fps, steps, guidance, guidance_2, spec.guidance_scale_2)
    quality = _quality_settings(entry, spec, width, height)
    if spec.quality == "final":
        _check_final(entry, catalog, width, height, spec.speed)
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**32)
    _check_seed_and_prompt(seed, spec.prompt)

    image, last_image = _check_images(mode, spec)
    audio = resolve_audio(entry, spec, catalog)
    loras = tuple(spec.loras or ())
    check_refs(loras, entry.architecture.experts)
    _check_extend(mode, spec.extend_video)
    references = _check_conditions(entry, mode, spec, catalog)
    return ResolvedSpec(
        model=entry.id, mode=mode, prompt=spec.prompt,
        negative_prompt=spec.negative_prompt if spec.negative_prompt is not None else d.negative_prompt,
        width=width, height=height, num_frames=frames, fps=fps, steps=steps,
        guidance_scale=guidance, guidance_scale_2=guidance_2, seed=seed,
        image=image, last_image=last_image, image_fit=spec.image_fit, speed=spec.speed, quality=spec.quality,
        loras=loras, extend_video=spec.extend_video, video=spec.video, mask=spec.mask,
        reference_images=references, pipeline_class=entry.pipelines[mode], **quality,
        generate_audio=audio.generate_audio, audio_guidance_scale=audio.audio_guidance_scale,
        audio_stg_scale=audio.audio_stg_scale, audio_modality_scale=audio.audio_modality_scale,
        audio_guidance_rescale=audio.audio_guidance_rescale,
    )


def _size(entry: ModelEntry, spec: GenerationSpec) -> tuple[int, int]:
    """Width and height: given, picked from a shape (aspect_ratio/resolution, not with a size), or the
    model's; checked against its rules by ``_check_shape``."""
    d = entry.defaults
    width = spec.width if spec.width is not None else d.width
    height = spec.height if spec.height is not None else d.height
    if spec.aspect_ratio is not None or spec.resolution is not None:
        if spec.width is not None or spec.height is not None:
            field = "aspect_ratio" if spec.aspect_ratio is not None else "resolution"
            raise InvalidSpec(field, spec.aspect_ratio or spec.resolution,
                              "give a shape (aspect_ratio/resolution) or a size (width/height), not both")
        from pipelines.core.shapes import pick_shape

        shape = pick_shape(entry, spec.aspect_ratio, spec.resolution)
        width, height = shape.width, shape.height
    return width, height


def check_resolved(spec: ResolvedSpec, catalog: Catalog) -> ResolvedSpec:
    """A spec resolved earlier (stored with its job), checked against the catalog as it is now, with
    nothing filled in or changed: the rules ``resolve`` applies, and the files it names still there.
    Raises InvalidSpec naming the field, so a stale or hand-edited stored spec fails as invalid input."""
    entry = catalog.get(spec.model)
    if entry is None:
        raise InvalidSpec("model", spec.model, f"unknown model; known models: {', '.join(catalog.ids())}")
    if spec.mode not in entry.pipelines:
        served = ", ".join(m.value for m in entry.modes)
        raise InvalidSpec("mode", spec.mode.value, f"model {entry.id} does not serve this mode; it serves: {served}")
    if spec.pipeline_class != entry.pipelines[spec.mode]:
        raise InvalidSpec("pipeline_class", spec.pipeline_class, f"{entry.id} now runs {spec.mode.value} with "
                          f"{entry.pipelines[spec.mode]}; submit the job again")
    _check_shape(entry, spec.width, spec.height, spec.num_frames)
    _check_numbers(entry, spec.fps, spec.steps, spec.guidance_scale, spec.guidance_scale_2,
                   spec.guidance_scale_2 if entry.defaults.guidance_scale_2 is None else None)
    _check_quality_values(entry, spec.flow_shift, {name: getattr(spec, name) for name in _FAMILY_SETTINGS})
    if spec.quality == "final":
        _check_final(entry, catalog, spec.width, spec.height, spec.speed)
    _check_seed_and_prompt(spec.seed, spec.prompt)
    # The files are checked for presence only: their content was checked when the spec was resolved.
    _check_images(spec.mode, spec, open_files=False)
    check_refs(spec.loras, entry.architecture.experts)
    _check_extend(spec.mode, spec.extend_video)
    _check_conditions(entry, spec.mode, spec, catalog, open_files=False)
    return spec


def _check_shape(entry: ModelEntry, width: int, height: int, frames: int) -> None:
    rules = entry.rules
    for name, side in (("width", width), ("height", height)):
        if not rules.min_side <= side <= rules.max_side:
            raise InvalidSpec(name, side, f"must be between {rules.min_side} and {rules.max_side}")
        if side % rules.size_multiple:
            lo = side // rules.size_multiple * rules.size_multiple
            raise InvalidSpec(
                name, side, f"must be a multiple of {rules.size_multiple} for {entry.id} "
                f"(nearest: {max(lo, rules.size_multiple)} or {lo + rules.size_multiple})"
            )
    if not rules.min_frames <= frames <= rules.max_frames or (frames - 1) % rules.frames_multiple:
        k = max(0, round((frames - 1) / rules.frames_multiple))
        raise InvalidSpec(
            "num_frames", frames,
            f"must be {rules.frames_multiple}k+1 between {rules.min_frames} and {rules.max_frames} "
            f"for {entry.id} (nearest: {k * rules.frames_multiple + 1})",
        )


def _check_numbers(entry: ModelEntry, fps: int, steps: int, guidance: float, guidance_2: float | None,
                   asked_guidance_2: float | None) -> None:
    """``asked_guidance_2``: a second guidance the request (not the catalog) set, refused on one expert."""
    if not 1 <= fps <= MAX_FPS:
        raise InvalidSpec("fps", fps, f"must be between 1 and {MAX_FPS}")
    if not 1 <= steps <= MAX_STEPS:
        raise InvalidSpec("steps", steps, f"must be between 1 and {MAX_STEPS}")
    for name, g in (("guidance_scale", guidance), ("guidance_scale_2", guidance_2)):
        if g is not None and not (math.isfinite(g) and 0.0 <= g <= MAX_GUIDANCE):
            raise InvalidSpec(name, g, f"must be a number between 0 and {MAX_GUIDANCE}")
    if asked_guidance_2 is not None and entry.architecture.experts < 2:
        raise InvalidSpec("guidance_scale_2", asked_guidance_2, f"{entry.id} has one expert; omit it")


def _check_seed_and_prompt(seed: int, prompt: str) -> None:
    check_seed(seed)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidSpec("prompt", prompt, f"longer than {MAX_PROMPT_CHARS} characters")


def _check_extend(mode: Mode, extend_video: Path | None) -> None:
    if extend_video is not None:
        if mode is Mode.TEXT_TO_VIDEO:
            raise InvalidSpec("extend_video", str(extend_video), "extension needs image conditioning")
        if not extend_video.is_file():
            raise InvalidSpec("extend_video", str(extend_video), "no such video file")


def _check_final(entry: ModelEntry, catalog: Catalog, width: int, height: int, speed: SpeedLevel) -> None:
    """``quality: "final"`` needs a model with a two-stage flow (in every mode it serves), a size whose half
    (stage 1) is itself a valid size, and the exact speed level."""
    if entry.final_flow is None:
        having = ", ".join(e.id for e in catalog.entries() if e.final_flow is not None) or "none"
        raise InvalidSpec("quality", "final", f"{entry.id} has no two-stage final flow; accepted: draft "
                          f"(models with a final flow: {having})")
    rules = entry.rules
    step = 2 * rules.size_multiple
    for name, side in (("width", width), ("height", height)):
        if side % step or side // 2 < rules.min_side:
            lo = side // step * step
            raise InvalidSpec(name, side, f"quality final runs stage 1 at half size, so it must be a multiple of "
                              f"{step} for {entry.id} (nearest: {max(lo, step)} or {lo + step})")
    if speed is not SpeedLevel.EXACT:  # step caching across two calls of different shapes: untried
        raise InvalidSpec("speed", speed.value, "quality final runs exact only; accepted: exact")


# Upper bounds that catch typos, not taste: Wan FLF2V publishes 16; LTX's decode settings live in [0, 1].
MAX_FLOW_SHIFT = 100.0
# Settings only some families have: an entry of another family leaves them None in its defaults.
_FAMILY_SETTINGS = ("decode_timestep", "decode_noise_scale", "image_cond_noise_scale")


def _quality_settings(entry: ModelEntry, spec: GenerationSpec, width: int, height: int) -> dict[str, float | None]:
    """flow_shift and LTX's decode/conditioning noise: the request's value, checked, else the catalog's
    (the flow shift of the request's size class). A setting the model's defaults leave unset is not
    one of its family's settings."""
    d = entry.defaults
    _check_quality_values(entry, spec.flow_shift, {name: getattr(spec, name) for name in _FAMILY_SETTINGS})
    out: dict[str, float | None] = {}
    out["flow_shift"] = spec.flow_shift if spec.flow_shift is not None else entry.flow_shift_for(width, height)
    for name in _FAMILY_SETTINGS:
        value: float | None = getattr(spec, name)
        out[name] = value if value is not None else getattr(d, name)
    return out


def _check_quality_values(entry: ModelEntry, flow_shift: float | None, family: dict[str, float | None]) -> None:
    d = entry.defaults
    if flow_shift is not None:
        if d.flow_shift is None:
            raise InvalidSpec("flow_shift", flow_shift, f"{entry.id} takes no fixed flow shift (its scheduler "
                              "shifts by resolution itself); omit it")
        if not (math.isfinite(flow_shift) and 0.0 < flow_shift <= MAX_FLOW_SHIFT):
            raise InvalidSpec("flow_shift", flow_shift, f"must be a number above 0 and at most {MAX_FLOW_SHIFT}")
    for name, value in family.items():
        if value is not None:
            if getattr(d, name) is None:
                raise InvalidSpec(name, value, f"is not a setting of {entry.id} (family {entry.family}); omit it")
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidSpec(name, value, "must be a number between 0 and 1")


def _infer_mode(spec: GenerationSpec) -> Mode:
    if spec.video is not None:
        return Mode.VIDEO_TO_VIDEO
    if spec.last_image is not None:
        return Mode.FIRST_LAST_FRAME
    if spec.image is not None:
        return Mode.IMAGE_TO_VIDEO
    return Mode.TEXT_TO_VIDEO


def _check_image(field: str, path: Path, open_files: bool) -> None:
    """``open_files``: decode the image (at resolve); else only see that it is still there."""
    if open_files:
        check_image_file(field, path)
    elif not path.is_file():
        raise InvalidSpec(field, str(path), "no such image file")


def _check_images(mode: Mode, spec: GenerationSpec | ResolvedSpec,
                  open_files: bool = True) -> tuple[Path | None, Path | None]:
    needs_first = mode in (Mode.IMAGE_TO_VIDEO, Mode.FIRST_LAST_FRAME)
    needs_last = mode is Mode.FIRST_LAST_FRAME
    if needs_first and spec.image is None:
        raise InvalidSpec("image", None, f"{mode.value} needs a first image")
    if needs_last and spec.last_image is None:
        raise InvalidSpec("last_image", None, f"{mode.value} needs a last image")
    if not needs_first and spec.image is not None:
        raise InvalidSpec("image", str(spec.image), f"{mode.value} takes no image")
    if not needs_last and spec.last_image is not None:
        raise InvalidSpec("last_image", str(spec.last_image), f"{mode.value} takes no last image")
    if spec.image is not None:
        _check_image("image", spec.image, open_files)
    if spec.last_image is not None:
        _check_image("last_image", spec.last_image, open_files)
    return spec.image, spec.last_image


def _check_conditions(entry: ModelEntry, mode: Mode, spec: GenerationSpec | ResolvedSpec,
                      catalog: Catalog, open_files: bool = True) -> tuple[Path, ...]:
    """The source video, mask and reference images: present where the mode needs them, files that exist
    (the API probed their content at the edge), and reference images only on models that take them."""
    if mode is Mode.VIDEO_TO_VIDEO and spec.video is None:
        raise InvalidSpec("video", None, "video-to-video needs a source video")
    if mode is not Mode.VIDEO_TO_VIDEO and spec.video is not None:
        raise InvalidSpec("video", str(spec.video), f"{mode.value} takes no source video")
    if spec.mask is not None and spec.video is None:
        raise InvalidSpec("mask", str(spec.mask), "a mask marks a region of a source video; give a video too")
    if spec.mask is not None and not entry.takes_mask:
        raise InvalidSpec("mask", str(spec.mask), f"{entry.id} takes no mask (its video-to-video continues the "
                                                  "source); models that do: Wan VACE")
    for name, path in (("video", spec.video), ("mask", spec.mask)):
        if path is not None and not path.is_file():
            raise InvalidSpec(name, str(path), "no such file")
    refs = tuple(spec.reference_images or ())
    if refs and not entry.max_reference_images:
        takes = [e.id for e in catalog.entries() if e.max_reference_images and not e.tiny]
        raise InvalidSpec("reference_images", len(refs), f"{entry.id} takes no reference images (models that "
                          f"do: {', '.join(takes)})")
    if len(refs) > entry.max_reference_images:
        raise InvalidSpec("reference_images", len(refs), f"{entry.id} takes at most "
                          f"{entry.max_reference_images} reference images")
    for i, path in enumerate(refs):
        _check_image(f"reference_images[{i}]", path, open_files)
    return refs
