"""The benchmark code itself, on the CPU with tiny models. No test here asserts a speed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.flops import count_flops
from benchmarks.pipeline_bench import PipelineBenchConfig, run_pipeline_bench
from benchmarks.quality import psnr, ssim
from benchmarks.report import markdown_report, summary_block, write_result
from benchmarks.synthetic import build_transformer, synthetic_ids, synthetic_pipeline_ids
from pipelines.families import default_catalog
from pipelines.families.wan.flops import WanShape, wan_forward_flops, wan_tokens


@pytest.fixture(scope="module")
def wan_result(tiny_weights_dir: Path) -> dict:
    return run_pipeline_bench(PipelineBenchConfig(model="tiny-wan2.1-t2v", steps=3, runs=2,
                                                  weights_dir=tiny_weights_dir))


def test_every_field_present_and_sane(wan_result: dict) -> None:
    r = wan_result
    assert r["benchmark"] == "pipeline" and r["weights"] == "tiny-random"
    assert r["machine"]["versions"]["diffusers"] and r["machine"]["cpu_count"] >= 1
    assert r["settings"]["resolved"]["steps"] == 3 and r["settings"]["device"] == "cpu"
    assert r["load_s"]["vidserve"] > 0 and r["load_s"]["diffusers"] > 0
    assert [x["path"] for x in r["runs"]] == ["vidserve", "diffusers", "diffusers", "vidserve"]  # alternating
    for run in r["runs"]:
        assert len(run["step_s"]) == 3 and all(s > 0 for s in run["step_s"])
        assert run["first_step_s"] == run["step_s"][0]
        assert run["generate_s"] > sum(run["step_s"]) * 0.99
        assert run["steps_after_first"]["median"] > 0
    ours = [x for x in r["runs"] if x["path"] == "vidserve"]
    for run in ours:
        for key in ("text_encode_s", "denoise_s", "decode_s", "encode_s"):
            assert run[key] > 0
        assert run["end_to_end_s"] == pytest.approx(run["generate_s"] + run["encode_s"])
    assert r["host_peak_rss_bytes"] > 10 * 2**20
    s = r["summary"]
    assert s["step_s"] > 0 and s["video_s"] > 0
    assert s["videos_per_hour_per_gpu"] == pytest.approx(3600 / s["video_s"])
    assert s["mfu"] is None and s["peak_vram_gb"] is None  # no GPU, no --peak-tflops
    assert r["optimizations"]["attention_backend"] == "native" and r["optimizations"]["cfg_batched_forwards"] == 3


def test_pair_ratios_come_from_the_runs(wan_result: dict) -> None:
    runs = wan_result["runs"]
    for pair in wan_result["pairs"]:
        mine = [x for x in runs if x["run"] == pair["run"]]
        ours = next(x for x in mine if x["path"] == "vidserve")
        theirs = next(x for x in mine if x["path"] == "diffusers")
        assert pair["speedup_generate"] == pytest.approx(theirs["generate_s"] / ours["generate_s"])
        # Same math, same seed (exact level): the picture of the plain diffusers call, up to the last
        # bit of rounding from batching CFG -- the bar for "exact" is PSNR >= 40 dB.
        assert pair["psnr_identical"] or pair["psnr_db"] >= 40.0
        assert pair["ssim"] == pytest.approx(1.0, abs=1e-3)


def test_flops_counted_match_the_analytic_formula(wan_result: dict) -> None:
    flops = wan_result["flops"]
    assert flops["forwards_per_step"] == 2  # CFG: conditional and unconditional
    assert flops["counted_over_analytic"] == pytest.approx(1.0, abs=0.05)


def test_tiny_wan_transformer_flops_within_5_percent() -> None:
    from pipelines.families.tiny_parts import seeded
    from pipelines.families.wan.tiny import wan_transformer

    model = seeded(3, lambda: wan_transformer(16)).eval()
    x, text = torch.randn(1, 16, 3, 8, 8), torch.randn(1, 512, 32)
    counted = count_flops(lambda: model(hidden_states=x, timestep=torch.tensor([500]),
                                        encoder_hidden_states=text, return_dict=False))
    analytic = wan_forward_flops(WanShape(dim=24, ffn_dim=32, num_layers=2, text_dim=32), wan_tokens(9, 64, 64))
    assert counted == pytest.approx(analytic, rel=0.05)


def test_analytic_formula_reproduces_the_reference_table() -> None:
    # shared/reference/anchors.md: Wan2.1 1.3B 480x832x81 = 566 TFLOP per CFG step; 14B = 3.36 PFLOP.
    tokens = wan_tokens(81, 480, 832)
    assert tokens == 32760
    assert 2 * wan_forward_flops(WanShape(1536, 8960, 30), tokens, False) / 1e12 == pytest.approx(566, rel=0.01)
    assert 2 * wan_forward_flops(WanShape(5120, 13824, 40), tokens, False) / 1e15 == pytest.approx(3.36, rel=0.01)


@pytest.mark.parametrize("model_id", synthetic_ids())
def test_synthetic_architectures_have_published_sizes(model_id: str) -> None:
    with torch.device("meta"):
        transformer = build_transformer(model_id)
    params_b = sum(p.numel() for p in transformer.parameters()) / 1e9
    entry = default_catalog().get(model_id)
    assert entry is not None
    assert params_b == pytest.approx(entry.architecture.transformer_params_b, rel=0.12)


def test_ltx_and_report_render(tiny_weights_dir: Path, wan_result: dict, tmp_path: Path) -> None:
    ltx = run_pipeline_bench(PipelineBenchConfig(model="tiny-ltx-video", steps=2, runs=1, baseline=False,
                                                 count_flops=False, weights_dir=tiny_weights_dir))
    assert ltx["pairs"] == [] and ltx["summary"]["speedup_vs_diffusers"] is None
    paths = [write_result(wan_result, tmp_path), write_result(ltx, tmp_path)]
    assert json.loads(paths[0].read_text())["summary"]["step_s"] == wan_result["summary"]["step_s"]
    table = markdown_report(paths)
    assert table.count("\n") == 4 and "tiny-ltx-video" in table and "tiny-wan2.1-t2v" in table
    block = summary_block(wan_result)
    assert "seconds per denoising step" in block and "PSNR vs plain diffusers" in block


def test_speed_levels_are_measured_against_exact(tiny_weights_dir: Path) -> None:
    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-wan2.1-t2v", steps=8, runs=1, count_flops=False,
                                               levels=["fast", "fastest"], weights_dir=tiny_weights_dir))
    assert [lv["level"] for lv in r["levels"]] == ["fast", "fastest"]
    for lv in r["levels"]:
        assert lv["generate_s"] > 0 and lv["speedup_vs_exact"] > 0 and lv["speedup_vs_diffusers"] > 0
        assert lv["optimizations"]["speed"]["level"] == lv["level"]
        assert 0 < lv["ssim_vs_exact"] <= 1.0
    fastest = r["levels"][1]
    assert not fastest["identical_to_exact"] and fastest["psnr_vs_exact_db"] > 20
    assert "speed level fastest" in summary_block(r)


def test_quality_metrics() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    assert math.isinf(psnr(a, a)) and ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert 20 < psnr(a, b) < 40 and ssim(a, b) < 0.99


@pytest.mark.parametrize("model_id", synthetic_pipeline_ids())
def test_synthetic_pipelines_construct_in_the_target_dtype(model_id: str) -> None:
    """The whole synthetic pipeline (text encoder, transformer(s), VAE) builds; on the meta device
    here, on the GPU in a real run. Wan's VAE stays float32 as published; the rest is bf16."""
    from benchmarks.synthetic import build_pipeline

    pipe = build_pipeline(model_id, "meta", torch.bfloat16)
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == (torch.float32 if model_id.startswith("wan") else torch.bfloat16)
    if model_id == "wan2.2-t2v-a14b":
        assert pipe.transformer_2 is not None and pipe.config.boundary_ratio == 0.875
    assert torch.get_default_dtype() == torch.float32  # restored after building


def test_synthetic_flow_end_to_end_on_a_small_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    """The --synthetic path (build in memory, adopt into vidserve's cache set up as a loaded model,
    a separate same-seed copy for the plain call, FLOPs, labels) on a small real architecture: the
    published sizes need a GPU, so the builder is pointed at the tiny Wan here."""
    import benchmarks.synthetic as synthetic
    from pipelines.tiny import build_tiny_pipeline

    def small(model_id: str, device: object, dtype: torch.dtype) -> object:
        return build_tiny_pipeline(model_id).to(device, dtype)

    built: list[object] = []
    monkeypatch.setattr(synthetic, "build_pipeline", lambda *a: built.append(small(*a)) or built[-1])
    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-wan2.1-t2v", steps=2, runs=1, synthetic=True,
                                               weights_dir=Path("/nonexistent"), memory_strategy="vae_tiling"))
    assert r["weights"] == "synthetic" and r["load_s"]["synthetic_build"] > 0
    # vidserve's copy got vidserve's load-time setup; the baseline's copy is untouched diffusers.
    ours, plain = built
    assert r["optimizations"]["memory_strategy"] == "vae_tiling" and r["optimizations"]["attention_backend"]
    assert ours.vae.use_tiling and not plain.vae.use_tiling  # type: ignore[attr-defined]
    assert [x["path"] for x in r["runs"]] == ["vidserve", "diffusers"]
    assert r["pairs"][0]["psnr_identical"] or r["pairs"][0]["psnr_db"] >= 40
    assert r["flops"]["forwards_per_step"] == 2 and r["flops"]["counted_over_analytic"] == pytest.approx(1, abs=0.05)


def test_a_lora_distilled_entry_is_compared_with_the_same_distillation_in_plain_diffusers(
        tiny_weights_dir: Path) -> None:
    """The plain side loads and fuses the entry's LoRA and sets its shift, as a user would: same picture."""
    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-wan2.1-t2v-distill-lora", runs=1,
                                               weights_dir=tiny_weights_dir, count_flops=False))
    assert r["summary"]["identical_to_diffusers"] or r["summary"]["psnr_vs_diffusers_db"] >= 40, r["summary"]


def test_ltx2_bench_reports_the_audio_decode_apart(tiny_weights_dir: Path) -> None:
    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-ltx-2", steps=2, runs=1, weights_dir=tiny_weights_dir,
                                               count_flops=False))
    for run in r["runs"]:
        assert run["audio_decode_s"] > 0, run["path"]
    assert r["summary"]["audio_decode_s"] > 0 and r["summary"]["audio_decode_s_diffusers"] > 0
    assert r["summary"]["identical_to_diffusers"]
    assert "audio decode" in summary_block(r)
    assert "ltx-2-19b" in synthetic_ids()


def test_ltx2_flops_counted_match_the_analytic_formula(tiny_weights_dir: Path) -> None:
    """The benchmark's per-step FLOPs (and so its MFU) on LTX-2: counted and by formula, audio stream included."""
    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-ltx-2", steps=1, runs=1, weights_dir=tiny_weights_dir))
    flops = r["flops"]
    assert flops["forwards_per_step"] == 3  # CFG batched into one call, then the STG and modality passes
    assert flops["counted_over_analytic"] == pytest.approx(1.0, abs=0.02)
