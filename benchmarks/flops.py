"""FLOPs per denoising step, counted with PyTorch's FLOP counter; a family's analytic formula
(``FamilyAdapter.analytic_flops``, e.g. Wan's in ``pipelines.families.wan.flops``) cross-checks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by GPU name substring; first match wins.
PEAK_BF16_TFLOPS: list[tuple[str, float]] = [
    ("H200", 989.0),
    ("H100 SXM", 989.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10", 125.0),
    ("RTX 6000 Ada", 364.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
]


def peak_tflops(gpu_name: str | None) -> float | None:
    if not gpu_name:
        return None
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in gpu_name.lower():
            return value
    return None


def _sdpa_cpu_flops(query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any) -> int:
    return int(sdpa_flop_count(query_shape, key_shape, value_shape))


# The CPU flash kernel has no formula in torch's registry; without this, attention (most of a
# video DiT's FLOPs) would be missing from CPU counts.
_CUSTOM: dict[Any, Callable[..., int]] = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops,
}


def count_flops(fn: Callable[[], Any]) -> int:
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_CUSTOM) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass
class StepCapture:
    """The transformer calls of one denoising step, captured so they can be re-run under the counter."""

    calls: list[tuple[torch.nn.Module, dict[str, Any]]]

    def flops(self) -> int:
        total = 0
        for module, kwargs in self.calls:
            total += count_flops(lambda module=module, kwargs=kwargs: module(**kwargs))  # type: ignore[misc]
        return total


def capture_first_step(pipe: Any, run: Callable[[Callable[..., dict[str, Any]]], Any]) -> StepCapture:
    """Run ``run(callback)`` (a pipeline call taking callback_on_step_end) and capture every
    transformer forward of the first step (two for Wan's CFG; both experts' modules are hooked)."""
    calls: list[tuple[torch.nn.Module, dict[str, Any]]] = []
    first_step_done = [False]
    handles = []
    for name in ("transformer", "transformer_2"):
        module = getattr(pipe, name, None)
        if module is None:
            continue

        def hook(mod: torch.nn.Module, args: Any, kwargs: dict[str, Any]) -> None:
            if not first_step_done[0]:
                kw = {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
                calls.append((mod, kw))

        handles.append(module.register_forward_pre_hook(hook, with_kwargs=True))

    def on_step_end(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        first_step_done[0] = True
        return kw

    try:
        run(on_step_end)
    finally:
        for h in handles:
            h.remove()
    return StepCapture(calls)


def mfu(flops_per_step: float, seconds_per_step: float, peak: float | None) -> float | None:
    if not peak or seconds_per_step <= 0:
        return None
    return flops_per_step / seconds_per_step / (peak * 1e12)
