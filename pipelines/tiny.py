"""Tiny random-weight pipelines built from the real diffusers classes, saved in diffusers layout.

No hub: the tokenizer is built locally with `tokenizers`. Seeded per component, so the same
call gives the same weights. They load back through `pipelines.loader` like real weights.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKLLTXVideo,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTXPipeline,
    LTXVideoTransformer3DModel,
    WanImageToVideoPipeline,
    WanPipeline,
    WanTransformer3DModel,
)
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5EncoderModel,
    UMT5Config,
    UMT5EncoderModel,
)

from pipelines.catalog import ModelEntry, default_catalog

log = logging.getLogger(__name__)

TEXT_DIM = 32
TINY_MARKER = "vidserve-tiny.json"
# Bump when the tiny architectures change, so stale folders are rebuilt. 2: LTX has two blocks
# (step caching needs a first block and at least one more).
TINY_VERSION = 2

_WORDS = (
    "a an the of in on at to and with from over under red blue green yellow white black dark light "
    "cat dog bird fish horse person man woman child car boat plane city street forest ocean river "
    "mountain sky sun moon night day rain snow fire water walks runs flies swims jumps dances "
    "slowly quickly camera pan zoom close wide shot cinematic aerial view portrait landscape "
    "astronaut robot monkey guitar plays smiling futuristic neon sunset sunrise beach desert"
).split()


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _seeded(seed: int, make: Callable[[], Any]) -> Any:
    torch.manual_seed(seed)
    return make()


def _text_encoder(umt5: bool, vocab_size: int) -> torch.nn.Module:
    kw: dict[str, Any] = dict(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    )
    model = UMT5EncoderModel(UMT5Config(**kw)) if umt5 else T5EncoderModel(T5Config(**kw))
    return model.eval()


def _wan_transformer(in_channels: int, image_dim: int | None = None, flf: bool = False) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        # FLF2V: learned positions over both images' CLIP tokens (tiny CLIP: 4x4 patches + CLS = 17).
        pos_embed_seq_len=2 * _CLIP_TOKENS if flf else None,
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=in_channels,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, image_dim=image_dim,
    )


def _wan_vae() -> AutoencoderKLWan:
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


_CLIP_TOKENS = (32 // 8) ** 2 + 1


def _build_wan(image_mode: bool, image_encoder: bool, experts: int, flf: bool = False) -> Any:
    tokenizer = build_tokenizer()
    in_channels = 36 if image_mode else 16
    image_dim = 4 if image_encoder else None
    components: dict[str, Any] = {
        "tokenizer": tokenizer,
        "text_encoder": _seeded(1, lambda: _text_encoder(True, len(tokenizer))),
        "vae": _seeded(2, _wan_vae),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
        "transformer": _seeded(3, lambda: _wan_transformer(in_channels, image_dim, flf)),
    }
    if experts == 2:
        components["transformer_2"] = _seeded(4, lambda: _wan_transformer(in_channels, image_dim))
        # Wan 2.2 published boundaries: 0.875 for T2V-A14B, 0.9 for I2V-A14B.
        components["boundary_ratio"] = 0.9 if image_mode else 0.875
    if not image_mode:
        return WanPipeline(**components)
    if image_encoder:
        components["image_encoder"] = _seeded(5, lambda: CLIPVisionModel(CLIPVisionConfig(
            hidden_size=4, num_hidden_layers=2, num_attention_heads=2, image_size=32,
            intermediate_size=16, patch_size=8,
        )).eval())
        # The PIL processor: the default one wants torchvision, which has no CPU build here.
        components["image_processor"] = CLIPImageProcessorPil(crop_size=32, size=32)
    else:
        components["image_encoder"] = None
        components["image_processor"] = None
    return WanImageToVideoPipeline(**components)


def _build_ltx() -> Any:
    tokenizer = build_tokenizer()
    transformer = _seeded(3, lambda: LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4,
        attention_head_dim=8, cross_attention_dim=32, num_layers=2, caption_channels=TEXT_DIM,
    ))
    vae = _seeded(2, lambda: AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False,
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False,
    ))
    # The pipeline derives its compression ratios from the VAE; the tiny one has 2 down stages.
    return LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=_seeded(1, lambda: _text_encoder(False, len(tokenizer))),
        tokenizer=tokenizer,
        transformer=transformer,
    )


_BUILDERS: dict[str, Callable[[], Any]] = {
    "tiny-wan2.1-t2v": lambda: _build_wan(image_mode=False, image_encoder=False, experts=1),
    "tiny-wan2.1-i2v": lambda: _build_wan(image_mode=True, image_encoder=True, experts=1),
    "tiny-wan2.1-flf2v": lambda: _build_wan(image_mode=True, image_encoder=True, experts=1, flf=True),
    "tiny-wan2.2-t2v-a14b": lambda: _build_wan(image_mode=False, image_encoder=False, experts=2),
    "tiny-wan2.2-i2v-a14b": lambda: _build_wan(image_mode=True, image_encoder=False, experts=2),
    "tiny-ltx-video": _build_ltx,
}


def tiny_ids() -> list[str]:
    """Every tiny model: the built ones, then those made from them (bundled LoRAs, schedules)."""
    derived = [e.id for e in default_catalog().tiny() if e.base_model]
    return list(_BUILDERS) + derived


def build_tiny_pipeline(model_id: str) -> Any:
    if model_id not in _BUILDERS:
        raise KeyError(f"no tiny builder for {model_id!r}; tiny models: {', '.join(_BUILDERS)}")
    return _BUILDERS[model_id]()


def is_current_tiny(folder: Path) -> bool:
    marker = folder / TINY_MARKER
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text()).get("version") == TINY_VERSION)
    except (OSError, ValueError):
        return False


def make_tiny(model_id: str, weights_dir: Path, force: bool = False) -> Path:
    """Build and save one tiny model under ``weights_dir/model_id``; returns the folder.

    Written to a temporary sibling then renamed, so a crash never leaves a half-written model.
    """
    entry: ModelEntry | None = default_catalog().get(model_id)
    if entry is None or not entry.tiny:
        raise KeyError(f"{model_id!r} is not a tiny catalog model; tiny models: {', '.join(tiny_ids())}")
    if entry.base_model:
        return _make_tiny_derived(entry, weights_dir, force)
    target = weights_dir / model_id
    if target.exists() and is_current_tiny(target) and not force:
        return target
    weights_dir.mkdir(parents=True, exist_ok=True)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # "Writing model shards" bars for 300 KB files
    pipe = build_tiny_pipeline(model_id)
    with _replacing(target) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
        (tmp / TINY_MARKER).write_text(json.dumps({"model": model_id, "version": TINY_VERSION, "random": True}))
    log.info("built tiny model %s at %s", model_id, target)
    return target


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A fresh folder beside ``target`` to write into; it replaces ``target`` only when the block
    succeeds, so a half-built model is never found there."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _make_tiny_derived(entry: ModelEntry, weights_dir: Path, force: bool) -> Path:
    """A tiny model made of another tiny model's weights: builds the base if needed, then writes the
    bundled LoRA files (random, seeded, made on the base's own components) to ``weights_dir/<id>``."""
    from pipelines.tiny_lora import make_tiny_lora

    assert entry.base_model is not None
    base = make_tiny(entry.base_model, weights_dir)
    target = weights_dir / entry.id
    if target.exists() and is_current_tiny(target) and not force:
        return target
    with _replacing(target) as tmp:
        for i, lora in enumerate(entry.bundled_loras):
            make_tiny_lora(base, tmp / lora.file, component=lora.target, seed=100 + i)
        (tmp / TINY_MARKER).write_text(json.dumps({"model": entry.id, "version": TINY_VERSION, "random": True,
                                                   "base_model": entry.base_model}))
    log.info("built tiny model %s at %s (weights of %s)", entry.id, target, entry.base_model)
    return target
