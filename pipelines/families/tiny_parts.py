"""Building blocks every family's tiny model shares: a tokenizer built locally with `tokenizers`
(no hub), a tiny T5/UMT5 text encoder, and seeding per component so the same call gives the same
weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TEXT_DIM = 32

_WORDS = (
    "a an the of in on at to and with from over under red blue green yellow white black dark light "
    "cat dog bird fish horse person man woman child car boat plane city street forest ocean river "
    "mountain sky sun moon night day rain snow fire water walks runs flies swims jumps dances "
    "slowly quickly camera pan zoom close wide shot cinematic aerial view portrait landscape "
    "astronaut robot monkey guitar plays smiling futuristic neon sunset sunrise beach desert"
).split()


def build_tokenizer() -> Any:
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def seeded(seed: int, make: Callable[[], Any]) -> Any:
    import torch

    torch.manual_seed(seed)
    return make()


def text_encoder(umt5: bool, vocab_size: int) -> Any:
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kw: dict[str, Any] = dict(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    )
    model = UMT5EncoderModel(UMT5Config(**kw)) if umt5 else T5EncoderModel(T5Config(**kw))
    return model.eval()
