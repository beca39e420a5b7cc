"""HunyuanVideo 1.5's transformer at its published size with random weights (``benchmarks.synthetic``):
diffusers' own defaults for ``HunyuanVideo15Transformer3DModel`` are the published 8.3B config (54
blocks, 16 x 128 heads, Qwen2.5-VL 3584 / ByT5 1472 / SigLIP 1152 inputs). Built in the current default
device and dtype (``torch.device("meta")`` for a size check). The whole pipeline (Qwen2.5-VL 7B, ByT5,
SigLIP, VAE) is not built synthetically yet."""

from __future__ import annotations

from typing import Any

TRANSFORMER_CONFIGS: dict[str, dict[str, Any]] = {
    f"hunyuanvideo1.5-{res}-{mode}": {"task_type": mode} for res in ("480p", "720p") for mode in ("t2v", "i2v")
}


def build_transformer(model_id: str) -> Any:
    from diffusers import HunyuanVideo15Transformer3DModel

    return HunyuanVideo15Transformer3DModel(**TRANSFORMER_CONFIGS[model_id])
