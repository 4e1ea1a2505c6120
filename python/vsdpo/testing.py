"""Helpers for tests: a tiny, randomly initialised model with the default model's real tokenizer,
so trainer tests exercise real tokenisation and chat templates in milliseconds per step."""

from __future__ import annotations

from pathlib import Path


def make_tiny_model(dir: Path, tokenizer_from: Path | None = None, *, seed: int = 0) -> Path:
    """Save a tiny LlamaForCausalLM (hidden 64, 2 layers, 4 heads) and a real tokenizer to ``dir``.

    The tokenizer comes from ``tokenizer_from`` (default: the converted default model,
    :func:`vsdpo.model.default_model_dir`); the vocabulary matches it. Weights are seeded, so the
    same call makes the same model, and the global RNG is left as it was."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from vsdpo.model import _fix_generation_config, default_model_dir

    dir = Path(dir)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from or default_model_dir())
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig.from_model_config(config)
    _fix_generation_config(model, tokenizer)
    model.save_pretrained(dir, safe_serialization=True)
    tokenizer.save_pretrained(dir)
    return dir
