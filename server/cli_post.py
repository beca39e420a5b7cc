"""`vidserve post IN -o OUT`: interpolate, upscale and re-encode a video file, with a progress bar."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.core.errors import VidserveError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from pipelines.post.presets import PRESETS

    p = sub.add_parser("post", help="interpolate / upscale / re-encode a video (the post stage)")
    p.add_argument("input", type=Path, help="input video (anything PyAV/FFmpeg decodes)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file (.mp4, .webm, .mov)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--interpolate", type=int, metavar="N", help="frame interpolation factor, 2-8")
    rate.add_argument("--fps", type=float, help="interpolate to this frame rate")
    p.add_argument("--interp-method", choices=["auto", "rife", "classical"], default="auto")
    p.add_argument("--rife-scale", type=float, default=1.0, help="RIFE flow scale; 0.5 for 4K")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--upscale", type=int, choices=[2, 4], help="upscale factor")
    size.add_argument("--size", help="exact output size WIDTHxHEIGHT, e.g. 1080x1920")
    p.add_argument("--upscaler", default="realesrgan-x4plus", help="upscaler weights name or file")
    p.add_argument("--upscale-method", choices=["auto", "model", "lanczos"], default="auto")
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--fit", choices=["cover", "contain"], help="aspect change: crop (cover) or letterbox (contain)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="export preset (size, codec, bitrate, container)")
    p.add_argument("--codec", choices=["h264", "hevc", "av1", "vp9", "prores"])
    p.add_argument("--crf", type=int)
    p.add_argument("--bitrate", type=int, help="bits per second (wins over --crf)")
    p.add_argument("--encoder-preset", help="x264/x265 preset, SVT-AV1 preset number, or vp9 cpu-used")
    p.add_argument("--output-fps", type=float, help="output rate; frames repeated/dropped if not interpolating")
    p.add_argument("--audio", type=Path, help="audio file to mux (default: the input's own audio, if any)")
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--weights-dir", type=Path, help="post-model weights folder (default: <weights_dir>/post)")
    p.add_argument("--device")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pipelines.post.run import read_video, run_post
    from pipelines.post.spec import ExportSpec, InterpolateSpec, PostSpec, UpscaleSpec
    from server.settings import Settings

    settings = Settings()
    weights_dir = args.weights_dir or Path(settings.weights_dir) / "post"
    suffix = args.output.suffix.lower().lstrip(".")
    container = suffix if suffix in ("mp4", "webm", "mov") else None
    try:
        frames, fps, n, has_audio = read_video(args.input)
        audio = None if args.no_audio else (args.audio or (args.input if has_audio else None))
        interp = None
        if args.interpolate is not None or args.fps is not None:
            interp = InterpolateSpec(factor=args.interpolate, fps=args.fps, method=args.interp_method,
                                     scale=args.rife_scale)
        upscale = None
        if args.upscale is not None or args.size is not None:
            upscale = UpscaleSpec(factor=args.upscale, size=args.size, fit=args.fit or "cover",
                                  method=args.upscale_method, model=args.upscaler, tile=args.tile)
        spec = PostSpec(
            interpolate=interp, upscale=upscale, weights_dir=weights_dir,
            export=ExportSpec(preset=args.preset, codec=args.codec, container=container, crf=args.crf,
                              bitrate=args.bitrate, encoder_preset=args.encoder_preset, fps=args.output_fps,
                              fit=args.fit, audio=audio),
        )
        with tqdm(total=None, desc="post", unit="frame") as bar:

            def progress(done: int, total: int | None) -> None:
                if total is not None and bar.total != total:
                    bar.total = total
                bar.update(done - bar.n)

            result = run_post(frames, fps, spec, args.output, n_frames=n, on_progress=progress,
                              device=args.device or settings.device)
    except VidserveError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result.as_record(), indent=2, default=str))
    return 0
