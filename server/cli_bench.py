"""`vidserve bench pipeline|report` (and serving, post): measuring on your own hardware."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from server.cli_generate import parse_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks: pipeline, serving, post, report")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    _add_pipeline(bsub)
    _add_context_parallel(bsub)
    _add_serving(bsub)
    _add_post(bsub)
    rp = bsub.add_parser("report", help="markdown table comparing result JSON files")
    rp.add_argument("files", nargs="+", type=Path)
    rp.set_defaults(func=run_report)


def _add_shape(p: argparse.ArgumentParser) -> None:
    """The job a generation benchmark runs: model, size, frames, steps."""
    p.add_argument("--model", required=True)
    p.add_argument("--size", type=parse_size, help="WIDTHxHEIGHT (default: the model's)")
    p.add_argument("--frames", type=int)
    p.add_argument("--steps", type=int)


def _add_where(p: argparse.ArgumentParser) -> None:
    """Precision, weights and where the results go."""
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"])
    p.add_argument("--weights-dir", type=Path)
    p.add_argument("--out", type=Path, help="results folder (default: benchmarks/results)")


def _add_pipeline(bsub: argparse._SubParsersAction) -> None:
    pl = bsub.add_parser("pipeline", help="per-stage times, memory, MFU; side by side with plain diffusers")
    _add_shape(pl)
    pl.add_argument("--runs", type=int, default=2, help="measured run pairs (after one warm-up)")
    pl.add_argument("--seed", type=int, default=0)
    pl.add_argument("--synthetic", action="store_true", help="real architecture, random weights, built on the GPU")
    pl.add_argument("--no-baseline", action="store_true", help="skip the plain diffusers side")
    pl.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    pl.add_argument("--peak-tflops", type=float, help="dense bf16 peak for MFU (default: from the GPU name)")
    pl.add_argument("--levels", default="", help="extra speed levels to compare with exact, e.g. fast,fastest")
    pl.add_argument("--attention", help="attention backend for vidserve's side (default: auto)")
    pl.add_argument("--compile", action="store_true", help="regional torch.compile on vidserve's side")
    pl.add_argument("--memory-strategy", help="floor for the memory planner, e.g. layerwise_fp8, group_offload")
    pl.add_argument("--memory-budget-gb", type=float, help="VRAM budget the planner must fit (e.g. 24)")
    pl.add_argument("--fp8", choices=("auto", "layerwise", "torchao"), default="auto",
                    help="how fp8 weights are stored when the plan uses them (auto: torchao fp8 matmuls on Ada/Hopper)")
    pl.add_argument("--device")
    _add_where(pl)
    pl.set_defaults(func=run_pipeline)


def _add_context_parallel(bsub: argparse._SubParsersAction) -> None:
    cp = bsub.add_parser("context-parallel", help="one job on one device vs across N ranks (multi-GPU worker)")
    cp.add_argument("--gpus", type=int, default=2, dest="degree", help="ranks in the group (default 2)")
    cp.add_argument("--kind", choices=("ulysses", "ring"), default="ulysses")
    _add_shape(cp)
    cp.add_argument("--runs", type=int, default=2, help="timed runs per side (after one warm-up)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--synthetic", action="store_true", help="real architecture, random weights, built on the GPU")
    cp.add_argument("--attention", help="attention backend (default: auto among those that can run the kind)")
    cp.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: gloo ranks (a wiring check)")
    _add_where(cp)
    cp.set_defaults(func=run_context_parallel)


def _add_serving(bsub: argparse._SubParsersAction) -> None:
    sv = bsub.add_parser("serving", help="load a running server; latency split from the server's timestamps")
    sv.add_argument("--url", default="http://127.0.0.1:8000")
    mode = sv.add_mutually_exclusive_group()
    mode.add_argument("--rate", type=float, help="Poisson arrivals, requests per second")
    mode.add_argument("--concurrency", type=int, default=2, help="closed loop of C clients (default)")
    sv.add_argument("--requests", type=int, default=8)
    sv.add_argument("--burstiness", type=float, default=1.0, help="gamma shape of arrival gaps (1 = Poisson)")
    sv.add_argument("--shapes", type=Path, help="JSON lines of request bodies (optional \"weight\")")
    sv.add_argument("--endpoint", default="/v1/text-to-video")
    sv.add_argument("--api-key")
    sv.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    sv.add_argument("--out", type=Path, help="results folder (default: benchmarks/results)")
    sv.set_defaults(func=run_serving)


def _add_post(bsub: argparse._SubParsersAction) -> None:
    po = bsub.add_parser("post", help="post stage fps (interpolate, upscale, encode) at 480p/720p/1080p; "
                                      "encoding side by side with the ffmpeg CLI")
    po.add_argument("--resolutions", default="480p,720p,1080p", help="comma-separated: 480p,720p,1080p or WxH")
    po.add_argument("--stages", default="interpolate,upscale,encode")
    po.add_argument("--frames", type=int, default=6, help="source frames per interpolate/upscale cell")
    po.add_argument("--encode-frames", type=int, default=24, help="frames per encode cell")
    po.add_argument("--repeats", type=int, default=2, help="timed runs per cell (after one untimed)")
    po.add_argument("--codec", default="h264", choices=["h264", "hevc", "av1", "vp9", "prores"])
    po.add_argument("--crf", type=int)
    po.add_argument("--encoder-preset")
    po.add_argument("--device")
    po.add_argument("--weights-dir", type=Path, help="post weights (default: <weights_dir>/post)")
    po.add_argument("--no-ffmpeg", action="store_true", help="skip the ffmpeg command-line side")
    po.add_argument("--out", type=Path, help="results folder (default: benchmarks/results)")
    po.set_defaults(func=run_post)


def run_pipeline(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmarks.pipeline_bench import PipelineBenchConfig, run_pipeline_bench
    from pipelines.core.errors import VidserveError
    from server.settings import Settings

    w, h = args.size if args.size else (None, None)
    cfg = PipelineBenchConfig(
        model=args.model, width=w, height=h, frames=args.frames, steps=args.steps, runs=args.runs, seed=args.seed,
        device=args.device, dtype=args.dtype, synthetic=args.synthetic, baseline=not args.no_baseline,
        peak_tflops=args.peak_tflops, weights_dir=args.weights_dir or Settings().weights_dir,
        count_flops=not args.no_flops, levels=[lv for lv in args.levels.split(",") if lv],
        attention=args.attention, compile=args.compile, memory_strategy=args.memory_strategy,
        memory_budget_gb=args.memory_budget_gb, fp8=args.fp8,
    )
    if args.model.startswith("tiny-") and not args.synthetic:
        from pipelines.demo import ensure_tiny_models
        from pipelines.weights import WeightsLocator

        ensure_tiny_models(WeightsLocator(cfg.weights_dir), [args.model])
    total = 2 + args.runs * (1 if args.no_baseline else 2) + len(cfg.levels)
    with tqdm(total=total, desc="bench pipeline", unit="run") as bar:
        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            if msg.startswith(("run ", "warm-up", "level ")):
                bar.update(1)

        try:
            data = run_pipeline_bench(cfg, progress)
        except (VidserveError, KeyError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        bar.update(bar.total - bar.n)
    _report(data, args.out)
    return 0


def run_context_parallel(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from benchmarks.context_parallel_bench import ContextParallelBenchConfig, run_context_parallel_bench
    from server.settings import Settings

    if args.degree < 2 or args.runs < 1:
        print(f"error: --gpus={args.degree} needs at least 2 and --runs={args.runs} at least 1", file=sys.stderr)
        return 2
    w, h = args.size if args.size else (None, None)
    cfg = ContextParallelBenchConfig(
        model=args.model, degree=args.degree, kind=args.kind, width=w, height=h, frames=args.frames,
        steps=args.steps, runs=args.runs, seed=args.seed, device=args.device, dtype=args.dtype,
        attention=args.attention, synthetic=args.synthetic, weights_dir=args.weights_dir or Settings().weights_dir,
        # CPU ranks share the cores instead of each grabbing all of them.
        cpu_threads=max(1, (os.cpu_count() or 1) // args.degree) if args.device == "cpu" else None,
    )
    if args.model.startswith("tiny-") and not args.synthetic:
        from pipelines.demo import ensure_tiny_models
        from pipelines.weights import WeightsLocator

        ensure_tiny_models(WeightsLocator(cfg.weights_dir), [args.model])
    with tqdm(total=2, desc="bench context-parallel", unit="side") as bar:
        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            if msg.startswith(f"{args.degree} ranks"):
                bar.update(1)

        try:
            data = run_context_parallel_bench(cfg, progress)
        except (RuntimeError, KeyError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        bar.update(bar.total - bar.n)
    _report(data, args.out)
    return 0


def run_serving(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmarks.serving_bench import ServingBenchConfig, load_shapes, run_serving_bench

    cfg = ServingBenchConfig(url=args.url.rstrip("/"), requests=args.requests, rate=args.rate,
                             concurrency=args.concurrency, burstiness=args.burstiness, api_key=args.api_key,
                             endpoint=args.endpoint, timeout_s=args.timeout)
    if args.shapes:
        cfg.shapes = load_shapes(args.shapes)
    with tqdm(total=args.requests, desc="bench serving", unit="req") as bar:
        data = run_serving_bench(cfg, lambda n: bar.update(n - bar.n))
    _report(data, args.out)
    return 0 if data["summary"]["completed"] else 1


def run_post(args: argparse.Namespace) -> int:
    from benchmarks.post_bench import PostBenchConfig, run_post_bench, table
    from benchmarks.report import RESULTS_DIR, summary_block, write_result
    from server.settings import Settings

    cfg = PostBenchConfig(
        resolutions=[r.strip() for r in args.resolutions.split(",") if r.strip()],
        stages=[s.strip() for s in args.stages.split(",") if s.strip()], frames=args.frames,
        encode_frames=args.encode_frames, repeats=args.repeats, codec=args.codec, crf=args.crf,
        encoder_preset=args.encoder_preset, device=args.device,
        weights_dir=args.weights_dir or Settings().weights_dir / "post", ffmpeg=not args.no_ffmpeg,
    )
    data = run_post_bench(cfg, lambda msg: print(f"  {msg} ...", file=sys.stderr))
    path = write_result(data, args.out or RESULTS_DIR)
    print(summary_block(data))
    print(table(data))
    print(f"wrote {path}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from benchmarks.report import markdown_report

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such result files: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(markdown_report(args.files), end="")
    return 0


def _report(data: dict[str, Any], out: Path | None) -> Path:
    """Write the result JSON and print its summary: the same ending for every benchmark."""
    from benchmarks.report import RESULTS_DIR, summary_block, write_result

    path = write_result(data, out or RESULTS_DIR)
    print(summary_block(data))
    print(f"wrote {path}")
    return path
