"""Sampling a group of completions per prompt, and packing sequences for the loss.

A rollout's completion tokens are the *sampled* token ids (cut after the first end-of-turn
token); its text and per-token character offsets come from decoding those ids
(:func:`vsdpo.credit.completion_token_offsets`), never from re-tokenising the text, so the
tokens the loss sees are exactly the tokens the model produced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vsdpo.artifact import Defect, RenderResult
from vsdpo.credit import completion_token_offsets
from vsdpo.rewards import Reward
from vsdpo.train.prompts import PromptInputs, as_prompt, batch_inputs


@dataclass
class Rollout:
    """One sampled completion and everything learned about it during a step."""

    task_index: int  # position of its prompt in the step's batch
    group: int  # same as task_index: rollouts of one prompt form a group
    prompt: PromptInputs  # the student's prompt (ids, and images for a VLM)
    completion_ids: list[int]
    completion: str
    offsets: np.ndarray  # i64[T, 2] character span of each completion token
    truncated: bool  # hit max_new_tokens without an end-of-turn token
    result: RenderResult | None = None
    defects: list[Defect] = field(default_factory=list)
    reward: Reward | None = None
    advantage: float = 0.0
    feedback: str = ""
    demonstration: int | None = None  # index (within the group) of the sibling shown
    teacher_prompt: PromptInputs | None = None  # the prompt plus feedback (and the render)
    token_weights: np.ndarray | None = None  # f32[T]

    @property
    def prompt_ids(self) -> list[int]:
        return self.prompt.ids

    @property
    def teacher_ids(self) -> list[int]:
        return self.teacher_prompt.ids if self.teacher_prompt is not None else []


def stop_ids(tokenizer, model) -> set[int]:
    """Token ids that end a completion: the generation config's eos ids and the tokenizer's."""
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), tokenizer):
        eos = getattr(source, "eos_token_id", None)
        if isinstance(eos, int):
            ids.add(eos)
        elif eos:
            ids.update(int(e) for e in eos)
    return ids


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids i64[B, L] and attention mask i64[B, L], padded on the left."""
    length = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, length - len(s) :] = torch.tensor(list(s), dtype=torch.long)
            mask[i, length - len(s) :] = 1
    return ids, mask


def right_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    length = max((len(s) for s in seqs), default=0)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
            mask[i, : len(s)] = 1
    return ids, mask


@torch.no_grad()
def sample_groups(
    model,
    tokenizer,
    prompts: Sequence[PromptInputs | Sequence[int]],
    group_size: int,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    top_k: int,
    do_sample: bool = True,
    device: torch.device | str = "cpu",
) -> list[Rollout]:
    """``group_size`` completions for each prompt, in one batched ``generate`` call.

    A prompt is a :class:`PromptInputs` (a VLM's carries its images) or a list of token ids."""
    pad_id = tokenizer.pad_token_id
    repeated = [as_prompt(p) for p in prompts for _ in range(group_size)]
    ids, mask, extras = batch_inputs(repeated, pad_id)
    ids, mask = ids.to(device), mask.to(device)
    extras = {k: v.to(device) for k, v in extras.items()}
    stops = stop_ids(tokenizer, model)
    kwargs = {
        "max_new_tokens": max_new_tokens,
        "do_sample": do_sample,
        "pad_token_id": pad_id,
        "eos_token_id": sorted(stops) or None,
    }
    if do_sample:
        kwargs.update(temperature=temperature, top_p=top_p, top_k=top_k or None)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    was_training = model.training
    model.eval()
    try:
        out = model.generate(input_ids=ids, attention_mask=mask, **extras, **kwargs)
    finally:
        model.train(was_training)
    new = out[:, ids.shape[1] :].tolist()
    rollouts: list[Rollout] = []
    for i, row in enumerate(new):
        cut = next((k for k, t in enumerate(row) if t in stops), None)
        completion_ids = row if cut is None else row[: cut + 1]
        if cut is None:  # trailing pads only appear after a stop token, but be safe
            while completion_ids and completion_ids[-1] == pad_id and pad_id not in stops:
                completion_ids = completion_ids[:-1]
        text, offsets = completion_token_offsets(tokenizer, completion_ids)
        group = i // group_size
        rollouts.append(
            Rollout(
                task_index=group,
                group=group,
                prompt=repeated[i],
                completion_ids=completion_ids,
                completion=text,
                offsets=offsets,
                truncated=cut is None,
            )
        )
    return rollouts


def completion_logits(
    model,
    prompts: Sequence[PromptInputs | Sequence[int]],
    completions: Sequence[Sequence[int]],
    pad_id: int,
    device: torch.device | str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits f32[B, T, V] predicting each completion token after its prompt.

    Sequences are laid out ``[left-padded prompt | right-padded completion]`` so every
    completion starts at the same column; only the last ``T + 1`` positions go through the
    output head (``logits_to_keep``), which saves most of the vocabulary projection.
    Positions count the real tokens of each row, skipping the padding; when the batch carries
    images they are left to the model, which derives its multimodal positions (Qwen-VL's M-RoPE)
    from the attention mask and the image placeholders.
    Returns (logits, completion ids i64[B, T], completion mask f32[B, T]).
    """
    prompts = [as_prompt(p) for p in prompts]
    c_ids, c_mask = right_pad(completions, pad_id)
    t = c_ids.shape[1]
    p_ids, p_mask, extras = batch_inputs(prompts, pad_id, completion_width=t)
    ids = torch.cat([p_ids, c_ids], dim=1).to(device)
    mask = torch.cat([p_mask, c_mask], dim=1).to(device)
    extras = {k: v.to(device) for k, v in extras.items()}
    if not any(p.n_images for p in prompts):
        extras["position_ids"] = (mask.cumsum(-1) - 1).clamp_min(0)
    out = model(input_ids=ids, attention_mask=mask, logits_to_keep=t + 1, **extras)
    logits = out.logits[:, :-1, :]
    return logits, c_ids.to(device), c_mask.to(device=device, dtype=torch.float32)
