"""`vidserve generate`: one video from the command line, with a progress bar and a JSON sidecar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.core.errors import VidserveError
from pipelines.core.spec import GenerationSpec
from server.settings import Settings


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size={text!r}: expected WIDTHxHEIGHT, e.g. 832x480") from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate one video to an MP4 (+ JSON sidecar)")
    p.add_argument("--model", help="catalog model id (default: the configured/first present model)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--negative-prompt")
    p.add_argument("--image", type=Path, help="first frame (image-to-video)")
    p.add_argument("--last-image", type=Path, help="last frame (first+last-frame)")
    p.add_argument("--mode", choices=["text-to-video", "image-to-video", "first-last-frame"])
    p.add_argument("--size", type=parse_size, help="WIDTHxHEIGHT")
    p.add_argument("--frames", type=int)
    p.add_argument("--fps", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--guidance", type=float)
    p.add_argument("--guidance-2", type=float, help="low-noise expert guidance (Wan 2.2 A14B)")
    p.add_argument("--seed", type=int)
    p.add_argument("--fit", choices=["cover", "contain"], default="cover", help="how images meet the size")
    p.add_argument("--weights-dir", type=Path)
    p.add_argument("--device")
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"])
    p.add_argument("-o", "--output", type=Path, required=True, help="output .mp4")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.demo import default_model, ensure_tiny_models, real_models_present
    from pipelines.weights import WeightsLocator

    settings = Settings()
    locator = WeightsLocator(args.weights_dir or settings.weights_dir, settings.model_paths)
    model = args.model or settings.default_model
    if settings.demo_models and (
        (model or "").startswith("tiny-") or (not model and not real_models_present(locator))
    ):
        built = ensure_tiny_models(locator)
        if built:
            print(f"built tiny demo models in {locator.weights_dir}: {', '.join(built)}", file=sys.stderr)
    model = model or default_model(locator)
    if not model:
        print("error: no model present; see `vidserve weights list`", file=sys.stderr)
        return 2
    w, h = args.size if args.size else (None, None)
    try:
        spec = GenerationSpec(
            model=model, prompt=args.prompt, negative_prompt=args.negative_prompt, mode=args.mode,
            image=args.image, last_image=args.last_image, width=w, height=h, num_frames=args.frames,
            fps=args.fps, steps=args.steps, guidance_scale=args.guidance, guidance_scale_2=args.guidance_2,
            seed=args.seed, image_fit=args.fit,
        )
        from pipelines import resolve
        from pipelines.generate import VideoGenerator
        from pipelines.outputs import write_outputs

        resolved = resolve(spec)  # fail on bad input before anything loads
        gen = VideoGenerator(locator, device=args.device or settings.device, dtype=args.dtype or settings.dtype)
        with tqdm(total=resolved.steps, desc=f"{resolved.model} {resolved.mode.value}", unit="step") as bar:

            def on_step(i: int, total: int) -> None:
                bar.total = total
                bar.update(i - bar.n)

            def on_stage(stage: str) -> None:
                bar.set_postfix_str(stage)

            result = gen.generate(resolved, on_step=on_step, on_stage=on_stage)
        files = write_outputs(result, args.output)
    except VidserveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"video": str(files.video), "sidecar": str(files.sidecar), "seed": resolved.seed,
                      "timings": {k: round(v, 3) for k, v in result.timings.items()}}))
    return 0
