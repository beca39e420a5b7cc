"""Speed options through diffusers' own APIs: attention backend, regional compile, step caching,
and the memory strategies the planner picks. Every choice is returned as a record for the sidecar.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import torch

from pipelines.core.catalog import ModelEntry
from pipelines.core.memory import MemoryStrategy
from pipelines.core.spec import SpeedLevel
from pipelines.families import adapter_for
from pipelines.parallel import ContextParallel

log = logging.getLogger(__name__)


def _transformers(pipe: Any) -> list[Any]:
    return [m for m in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)) if m is not None]


# ---------------------------------------------------------------- attention backends

def attention_candidates(device: torch.device) -> list[str]:
    """Backends to try, best first, by what is installed and the GPU's architecture."""
    if device.type != "cuda":
        return ["native"]
    major, _ = torch.cuda.get_device_capability(device)
    have = {name: importlib.util.find_spec(mod) is not None for name, mod in (
        ("_flash_3", "flash_attn_interface"), ("flash", "flash_attn"), ("sage", "sageattention"),
        ("xformers", "xformers"))}
    out: list[str] = []
    if major == 9 and have["_flash_3"]:
        out.append("_flash_3")  # FlashAttention 3: Hopper only
    if major >= 8 and have["flash"]:
        out.append("flash")
    if major >= 8 and have["sage"]:
        out.append("sage")
    out.append("_native_cudnn")
    if have["xformers"]:
        out.append("xformers")
    out.append("native")
    return out


def _self_check(backend: str, device: torch.device, dtype: torch.dtype) -> bool:
    """Run the backend once on small random inputs against the math reference."""
    from diffusers.models.attention_dispatch import attention_backend, dispatch_attention_fn

    gen = torch.Generator("cpu").manual_seed(0)
    q, k, v = (torch.randn(1, 64, 4, 64, generator=gen).to(device, dtype) for _ in range(3))
    try:
        with attention_backend(backend):
            out = dispatch_attention_fn(q, k, v)
        with attention_backend("native"):
            ref = dispatch_attention_fn(q, k, v)
    except Exception as exc:  # an unusable kernel can fail in many ways; all mean "do not use it"
        log.warning("attention backend %s failed its self-check: %s", backend, exc)
        return False
    ok = bool(torch.allclose(out.float(), ref.float(), atol=2e-2, rtol=2e-2))
    if not ok:
        log.warning("attention backend %s disagrees with the reference; not using it", backend)
    return ok


def apply_attention_backend(pipe: Any, device: torch.device, dtype: torch.dtype,
                            preferred: str | None = None, cp: ContextParallel | None = None) -> str:
    """Set the first backend that passes its self-check (``preferred`` first when given). With
    context parallelism, only backends diffusers can run context-parallel in that kind."""
    candidates = attention_candidates(device)
    if preferred and preferred != "auto":
        candidates = [preferred] + [c for c in candidates if c != preferred]
    if cp is not None:
        from pipelines.parallel import backend_supports

        usable = [c for c in candidates if backend_supports(c, cp)]
        if not usable:
            raise ValueError(f"no attention backend on {device.type} can run {cp.kind} context parallelism "
                             f"(tried {', '.join(candidates)}); ring needs flash, cuDNN or sage attention on a GPU")
        candidates = usable
    for backend in candidates:
        if backend == "native" or _self_check(backend, device, dtype):
            for module in _transformers(pipe):
                module.set_attention_backend(backend)
            if preferred not in (None, "auto", backend):
                log.warning("attention backend %s unavailable; using %s", preferred, backend)
            return backend
    # Only reachable with context parallelism ("native" is always a candidate otherwise).
    raise ValueError(f"no attention backend passed its self-check for {cp.kind if cp else ''} context parallelism "
                     f"(tried {', '.join(candidates)})")


# ---------------------------------------------------------------- regional compile

def compile_blocks(pipe: Any) -> bool:
    """torch.compile the repeated transformer blocks (regional compile: one block compiled, reused
    by all). ``dynamic=True`` marks sequence lengths dynamic so new sizes do not recompile."""
    done = False
    for module in _transformers(pipe):
        if getattr(module, "_repeated_blocks", None):
            module.compile_repeated_blocks(fullgraph=True, dynamic=True)
            done = True
    return done


# ---------------------------------------------------------------- step caching

def cache_config(entry: ModelEntry, level: SpeedLevel, steps: int) -> Any | None:
    """diffusers caching hook config for a speed level, with the family's thresholds."""
    if level is SpeedLevel.EXACT:
        return None
    from diffusers import FirstBlockCacheConfig

    # First-block cache: skip the remaining blocks when the first block's residual changed less
    # than the threshold since the last computed step.
    thresholds = adapter_for(entry).cache_thresholds
    return FirstBlockCacheConfig(threshold=thresholds.fast if level is SpeedLevel.FAST else thresholds.fastest)


def set_speed_level(pipe: Any, entry: ModelEntry, level: SpeedLevel, steps: int) -> dict[str, Any]:
    """Switch caching hooks on the resident pipeline for this request; returns the record."""
    config = cache_config(entry, level, steps)
    for module in _transformers(pipe):
        if module.is_cache_enabled:
            module.disable_cache()
        if config is not None:
            module.enable_cache(config)
    return {"level": level.value, "cache": None if config is None else
            {"type": type(config).__name__, **{k: v for k, v in vars(config).items() if isinstance(v, float | int)}}}


# ---------------------------------------------------------------- memory strategies

def apply_memory_strategy(pipe: Any, strategy: MemoryStrategy, device: torch.device, dtype: torch.dtype,
                          fp8: str = "auto") -> tuple[str, str | None]:
    """Apply ``strategy`` (and the cheaper ones it includes) to a pipeline still on the CPU; moves
    what should be resident to ``device``. Returns what was applied, and how fp8 weights are
    stored (None when they are not)."""
    order = list(MemoryStrategy)
    rank = order.index(strategy)
    if rank >= order.index(MemoryStrategy.VAE_TILING) and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    fp8_used = None
    if rank >= order.index(MemoryStrategy.LAYERWISE_FP8):
        fp8_used = store_fp8(pipe, device, dtype, fp8, offloading=rank >= order.index(MemoryStrategy.GROUP_OFFLOAD))
    if device.type != "cuda":
        # Offload moves weights between host and device; with no device memory there is nothing to save.
        pipe.to(device)
        return strategy.value if rank < order.index(MemoryStrategy.TEXT_OFFLOAD) else (
            f"{strategy.value} (offload not applicable on {device.type})"), fp8_used
    if strategy is MemoryStrategy.SEQUENTIAL:
        pipe.enable_sequential_cpu_offload(device=device)
    elif strategy is MemoryStrategy.GROUP_OFFLOAD:
        for module in _transformers(pipe):
            module.enable_group_offload(onload_device=device, offload_device=torch.device("cpu"),
                                        offload_type="block_level", num_blocks_per_group=1, use_stream=True)
        from diffusers.hooks import apply_group_offloading

        # The encoders are transformers models (no enable_group_offload): the generic hook works on any module.
        for name in ("text_encoder", "image_encoder", "vae"):
            comp = getattr(pipe, name, None)
            if comp is not None:
                apply_group_offloading(comp, onload_device=device, offload_type="leaf_level", use_stream=True)
    elif rank >= order.index(MemoryStrategy.TEXT_OFFLOAD):
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return strategy.value, fp8_used


FP8_BACKENDS = ("auto", "layerwise", "torchao")


def _fp8_tensor_cores(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 9)


def store_fp8(pipe: Any, device: torch.device, dtype: torch.dtype, backend: str, offloading: bool) -> str:
    """Keep the transformer's weights in fp8 (half of bf16). Returns the method used.

    ``layerwise``: diffusers' layerwise casting, weights upcast to bf16 layer by layer (any GPU).
    ``torchao``: torchao quantization of the transformer blocks' linear layers; on GPUs with fp8
    tensor cores (Ada, Hopper: sm 8.9+) activations are quantized too and the matmuls run in fp8,
    which is where it pays (faster than bf16, where layerwise casting is slower); elsewhere the
    weights are stored in fp8 and dequantized for the matmul. ``auto``: torchao where it pays and
    the weights stay on the GPU (block offload moves them, which torchao's tensors are not built
    for), layerwise casting otherwise."""
    if backend not in FP8_BACKENDS:
        raise ValueError(f"fp8={backend!r}: expected one of {', '.join(FP8_BACKENDS)}")
    if backend == "torchao" or (backend == "auto" and _fp8_tensor_cores(device) and not offloading):
        try:
            return _quantize_fp8_torchao(pipe, device)
        except ImportError as exc:
            log.warning("torchao fp8 unavailable (%s); using layerwise fp8 casting", exc)
    for module in _transformers(pipe):
        # Norms and embeddings stay in the compute dtype (diffusers' default skip patterns).
        module.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    return "layerwise"


def _quantize_fp8_torchao(pipe: Any, device: torch.device) -> str:
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, Float8WeightOnlyConfig, quantize_

    dynamic = _fp8_tensor_cores(device)
    config = Float8DynamicActivationFloat8WeightConfig() if dynamic else Float8WeightOnlyConfig()

    def in_blocks(module: torch.nn.Module, name: str) -> bool:
        # The repeated blocks hold nearly all weights and FLOPs; embeddings and the output
        # projection stay in the compute dtype, as with layerwise casting.
        return isinstance(module, torch.nn.Linear) and name.startswith(("blocks.", "transformer_blocks."))

    for module in _transformers(pipe):
        quantize_(module, config, filter_fn=in_blocks)
    return "torchao fp8 dynamic (fp8 matmuls)" if dynamic else "torchao fp8 weight-only"
