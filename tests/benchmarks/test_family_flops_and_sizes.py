"""The HunyuanVideo 1.5 and Wan VACE FLOP formulas against PyTorch's FLOP counter on small configs of the
real diffusers classes, and their synthetic builds against the published sizes (meta device: no memory)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks.flops import count_flops
from benchmarks.synthetic import build_pipeline, build_transformer, synthetic_ids, synthetic_pipeline_ids
from pipelines.core.catalog import ModelEntry
from pipelines.core.spec import GenerationSpec, resolve
from pipelines.families import adapter_for, default_catalog
from pipelines.families.hunyuan_video15.flops import HunyuanShape, hunyuan_forward_flops, hunyuan_tokens
from pipelines.families.wan.flops import WanShape, vace_forward_flops, wan_forward_flops, wan_tokens

CATALOG = default_catalog()


def _entry(model_id: str) -> ModelEntry:
    entry = CATALOG.get(model_id)
    assert entry is not None
    return entry


@pytest.mark.parametrize("meanflow", [False, True], ids=["base", "step-distilled"])
def test_hunyuan_formula_matches_the_counter_on_a_small_config(meanflow: bool) -> None:
    """Blocks dominate here (d 128, 1024 video tokens): every term of the formula is exercised, and it
    counts exactly the matmuls, convolutions and attention PyTorch's counter sees."""
    from diffusers import HunyuanVideo15Transformer3DModel

    torch.manual_seed(0)
    model = HunyuanVideo15Transformer3DModel(
        in_channels=9, out_channels=4, num_attention_heads=2, attention_head_dim=64, num_layers=2,
        num_refiner_layers=2, mlp_ratio=4.0, text_embed_dim=48, text_embed_2_dim=40, image_embed_dim=24,
        rope_axes_dim=(16, 24, 24), use_meanflow=meanflow).eval()
    t1, t2, t3 = 16, 8, 8
    kw = dict(hidden_states=torch.randn(1, 9, 4, 16, 16), timestep=torch.tensor([500.0]),
              encoder_hidden_states=torch.randn(1, t1, 48), encoder_attention_mask=torch.ones(1, t1),
              encoder_hidden_states_2=torch.randn(1, t2, 40), encoder_attention_mask_2=torch.ones(1, t2),
              image_embeds=torch.randn(1, t3, 24), return_dict=False)
    if meanflow:
        kw["timestep_r"] = torch.tensor([400.0])
    counted = count_flops(lambda: model(**kw))
    shape = HunyuanShape(dim=128, ffn_dim=512, num_layers=2, refiner_layers=2, in_channels=9, out_channels=4,
                         text_dim=48, byt5_dim=40, image_dim=24, text_tokens=t1, byt5_tokens=t2, image_tokens=t3,
                         meanflow=meanflow)
    assert counted == pytest.approx(hunyuan_forward_flops(shape, 4 * 16 * 16), rel=1e-3)
    # and it can fail: one block fewer is far off
    fewer = HunyuanShape(**{**shape.__dict__, "num_layers": 1})
    assert counted != pytest.approx(hunyuan_forward_flops(fewer, 4 * 16 * 16), rel=0.05)


@pytest.mark.parametrize("model_id", ["tiny-hunyuanvideo1.5-t2v", "tiny-hunyuanvideo1.5-i2v"])
def test_hunyuan_adapter_flops_match_a_real_pipeline_forward(model_id: str, tmp_path: Path) -> None:
    """The adapter's figure for a resolved job against the counter on the tiny pipeline's own transformer,
    fed what the pipeline feeds it (padded Qwen/ByT5 prompts, 729 zero image tokens or the SigLIP's)."""
    from pipelines.families.hunyuan_video15 import tiny
    from pipelines.families.hunyuan_video15.flops import BYT5_TOKENS, IMAGE_TOKENS, TEXT_TOKENS

    entry = _entry(model_id)
    pipe = tiny.BUILDERS[model_id]()
    i2v = model_id.endswith("i2v")
    image_tokens = tiny.IMAGE_TOKENS if i2v else IMAGE_TOKENS
    x = torch.randn(1, 2 * tiny.LATENT_CHANNELS + 1, 3, 4, 6)  # 9 frames of 96x64 at 4x / 16x compression
    kw = dict(hidden_states=x, timestep=torch.tensor([500.0]),
              encoder_hidden_states=torch.randn(1, TEXT_TOKENS, tiny.QWEN_DIM),
              encoder_attention_mask=torch.ones(1, TEXT_TOKENS),
              encoder_hidden_states_2=torch.randn(1, BYT5_TOKENS, tiny.BYT5_DIM),
              encoder_attention_mask_2=torch.ones(1, BYT5_TOKENS),
              image_embeds=torch.randn(1, image_tokens, tiny.IMAGE_DIM), return_dict=False)
    counted = count_flops(lambda: pipe.transformer(**kw))
    image = {"image": _png(tmp_path)} if i2v else {}
    rs = resolve(GenerationSpec(model=model_id, prompt="x", width=96, height=64, num_frames=9, **image), CATALOG)
    analytic = adapter_for(entry).analytic_flops(entry, rs, 2)
    assert analytic is not None and counted * 2 == pytest.approx(analytic, rel=0.01)


def _png(folder: Path) -> Path:
    from PIL import Image

    path = folder / "red.png"
    Image.new("RGB", (96, 64), (200, 10, 10)).save(path)
    return path


def test_vace_adapter_flops_match_the_counter_on_the_tiny_model() -> None:
    """Wan's formula plus the VACE blocks, through the adapter for a resolved 64x64x9 job (48 tokens)."""
    from pipelines.families.wan_vace.tiny import build

    entry = _entry("tiny-wan-vace")
    transformer = build().transformer.eval()
    kw = dict(hidden_states=torch.randn(1, 16, 3, 8, 8), timestep=torch.tensor([500]),
              encoder_hidden_states=torch.randn(1, 512, 32), control_hidden_states=torch.randn(1, 96, 3, 8, 8),
              return_dict=False)
    counted = count_flops(lambda: transformer(**kw))
    rs = resolve(GenerationSpec(model=entry.id, prompt="x", width=64, height=64, num_frames=9), CATALOG)
    analytic = adapter_for(entry).analytic_flops(entry, rs, 1)
    assert analytic is not None and counted == pytest.approx(analytic, rel=0.05)
    # Wan's formula alone leaves the control branch out: well under what runs
    wan_only = wan_forward_flops(WanShape(dim=24, ffn_dim=32, num_layers=2, text_dim=32), wan_tokens(9, 64, 64))
    assert wan_only < 0.8 * counted


def test_published_figures_per_step() -> None:
    """The formulas at published size (no embedders, as shared/reference/anchors.md states Wan's)."""
    hv = hunyuan_tokens(121, 480, 848)
    assert hv == 31 * 30 * 53
    # one CFG step of HunyuanVideo 1.5 480p, 121 frames: two forwards over 49,290 video + 1,985 context tokens,
    # 54 x (8Nd^2 + 4N^2d + 4Ndf) with N = 51,275, d = 2048, f = 8192 (worked by hand: 2.88 PFLOP)
    assert 2 * hunyuan_forward_flops(HunyuanShape(), hv, False) / 1e15 == pytest.approx(2.88, rel=0.005)
    tokens = wan_tokens(81, 480, 832)
    vace_13b = 2 * vace_forward_flops(WanShape(1536, 8960, 30), tokens, 15, 96, False)
    wan_13b = 2 * wan_forward_flops(WanShape(1536, 8960, 30), tokens, False)
    assert vace_13b / wan_13b == pytest.approx(1.5, rel=0.02)  # 15 VACE blocks on 30 base blocks


# --- synthetic builds at published size (meta device) ---

def test_vace_and_hunyuan_are_built_synthetically() -> None:
    published = {e.id for e in CATALOG.entries() if not e.tiny and e.family in ("wan-vace", "hunyuanvideo-1.5")}
    assert published <= set(synthetic_ids()) and published <= set(synthetic_pipeline_ids())


@pytest.mark.parametrize("model_id", ["wan2.1-vace-1.3b", "wan2.1-vace-14b"])
def test_vace_transformer_is_wan_plus_its_control_blocks(model_id: str) -> None:
    """The base of each VACE transformer is exactly Wan 2.1's of the same size (1.3B / 14B), and the
    control branch is one block per published VACE layer."""
    from pipelines.families.wan_vace.models import VACE_BLOCKS

    wan_id = {"wan2.1-vace-1.3b": "wan2.1-t2v-1.3b", "wan2.1-vace-14b": "wan2.1-t2v-14b"}[model_id]
    with torch.device("meta"):
        vace, wan = build_transformer(model_id), build_transformer(wan_id)
    base = sum(p.numel() for n, p in vace.named_parameters() if not n.startswith("vace_"))
    assert base == sum(p.numel() for p in wan.parameters())
    assert len(vace.vace_blocks) == len(VACE_BLOCKS[model_id].layers)
    total_b = sum(p.numel() for p in vace.parameters()) / 1e9
    assert total_b == pytest.approx(_entry(model_id).architecture.transformer_params_b, rel=0.01)


@pytest.mark.parametrize("model_id", ["hunyuanvideo1.5-720p-t2v", "hunyuanvideo1.5-480p-i2v-step-distilled"])
def test_hunyuan_pipeline_components_have_published_sizes(model_id: str) -> None:
    """Transformer 8.3B [H2]; the VAE's fp32 weights are the 5.04 GB file tencent/HunyuanVideo-1.5 ships;
    the memory planner's figures are the counted ones."""
    pipe = build_pipeline(model_id, "meta", torch.bfloat16)
    arch = _entry(model_id).architecture

    def billions(module: torch.nn.Module) -> float:
        return sum(p.numel() for p in module.parameters()) / 1e9

    assert billions(pipe.transformer) == pytest.approx(8.3, rel=0.01)
    assert billions(pipe.transformer) == pytest.approx(arch.transformer_params_b, rel=0.005)
    assert billions(pipe.text_encoder) == pytest.approx(arch.text_encoder_params_b, rel=0.005)
    assert billions(pipe.text_encoder_2) + billions(pipe.vae) == pytest.approx(arch.extra_params_b, rel=0.01)
    assert billions(pipe.vae) * 4 == pytest.approx(5.04, rel=0.01)  # GB in fp32
    step = model_id.endswith("step-distilled")
    assert pipe.transformer.config.use_meanflow is step
    assert pipe.transformer.config.target_size == (640 if "480p" in model_id else 960)
    assert pipe.guider.guidance_scale == _entry(model_id).defaults.guidance_scale
    assert pipe.scheduler.config.shift == _entry(model_id).defaults.flow_shift
    if step:
        assert type(pipe).__name__ == "HunyuanVideo15ImageToVideoPipeline"
        assert billions(pipe.image_encoder) < 0.6  # inside the planner's image-encoder allowance


def test_pipeline_bench_runs_hunyuan_and_its_flops_match(tiny_weights_dir: Path) -> None:
    """The bench's plain-diffusers side and FLOP capture call HunyuanVideo 1.5's pipelines (which take no
    step callback) through the adapter: both sides report every step, the same picture, and the counted
    FLOPs of the first step (cond + uncond) are the formula's."""
    from benchmarks.pipeline_bench import PipelineBenchConfig, run_pipeline_bench

    r = run_pipeline_bench(PipelineBenchConfig(model="tiny-hunyuanvideo1.5-t2v", steps=2, runs=1,
                                               weights_dir=tiny_weights_dir))
    for run in r["runs"]:
        assert len(run["step_s"]) == 2, run["path"]
    assert r["summary"]["identical_to_diffusers"] or r["summary"]["psnr_vs_diffusers_db"] >= 40, r["summary"]
    assert r["flops"]["forwards_per_step"] == 2
    assert r["flops"]["counted_over_analytic"] == pytest.approx(1.0, rel=0.01)
