"""Tiny random LoRA files for the tiny models: made with PEFT on the model's own transformer and
saved in diffusers' LoRA format, so they load through the same path as published LoRAs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch


def make_tiny_lora(weights_path: Path, out: Path, component: str = "transformer", rank: int = 4,
                   seed: int = 0, scale: float = 1.0) -> Path:
    """A random LoRA over the attention projections of ``weights_path/component``, written to ``out``
    (a ``.safetensors`` path). ``scale`` multiplies lora_B, to make the effect as strong as wanted."""
    import diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    cls_name = _component_class(weights_path, component)
    model = getattr(diffusers, cls_name).from_pretrained(str(weights_path / component), local_files_only=True)
    torch.manual_seed(seed)
    # init_lora_weights=False: lora_B is random rather than zero, so the adapter changes the output.
    model.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=False,
                                 target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    state = get_peft_model_state_dict(model)
    state = {k: (v * scale if ".lora_B." in k else v).contiguous() for k, v in state.items()}
    pipe_cls = _lora_pipeline_class(weights_path)
    tmp = Path(tempfile.mkdtemp())
    try:
        getattr(diffusers, pipe_cls).save_lora_weights(str(tmp), transformer_lora_layers=state)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(tmp / "pytorch_lora_weights.safetensors"), out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _lora_pipeline_class(weights_path: Path) -> str:
    """The LoRA-saving pipeline class of the family whose pipeline class the folder holds."""
    import json

    from pipelines.families import adapter_for, default_catalog

    cls_name = json.loads((weights_path / "model_index.json").read_text())["_class_name"]
    for entry in default_catalog().entries():
        if cls_name in entry.pipelines.values():
            return adapter_for(entry).lora_pipeline_class
    raise KeyError(f"{weights_path}: {cls_name} is no catalog family's pipeline")


def _component_class(weights_path: Path, component: str) -> str:
    import json

    index = json.loads((weights_path / "model_index.json").read_text())
    return str(index[component][1])
