"""Prompts as model inputs, for text-only models and image-text-to-text models (VLMs) alike.

A :class:`PromptInputs` is one chat prompt ready for the model: its token ids, plus, when a VLM's
processor built it, the image tensors (``pixel_values``, ``image_grid_thw``, ...) and the
per-token tensors (``mm_token_type_ids``: which tokens are image placeholders) that the model
needs beside the ids. :func:`batch_inputs` lays a batch of them out left-padded, the way
``generate`` and the loss passes take them.

Text models get exactly what they always got: the chat template through the tokenizer, the ids
left-truncated to the limit, no extra tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: the caption before the rendered image in a VLM teacher's prompt
RENDER_CAPTION = "\n\nThe earlier attempt rendered this image:"


@dataclass
class PromptInputs:
    """One prompt for the model."""

    ids: list[int]
    #: per-image tensors, concatenated along dim 0 across a batch (pixel_values, image_grid_thw)
    image_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    #: per-token values aligned with ``ids`` (mm_token_type_ids); padding and completion get 0
    token_values: dict[str, list[int]] = field(default_factory=dict)
    n_images: int = 0


def as_prompt(prompt: PromptInputs | Sequence[int]) -> PromptInputs:
    """A plain list of token ids is a text prompt."""
    return prompt if isinstance(prompt, PromptInputs) else PromptInputs(ids=list(prompt))


def to_rgb(image: str | Path | np.ndarray) -> Any:
    """A PIL RGB image from a file path (a task's reference PNG) or an RGB uint8 array (a render)."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        return Image.fromarray(image).convert("RGB")
    with Image.open(image) as img:
        return img.convert("RGB")


def render_image(result: Any) -> np.ndarray | None:
    """The image a rollout rendered: the first page of a deck, the canvas otherwise; None when
    the render failed."""
    if result is None or not result.ok:
        return None
    if result.pages:
        return result.pages[0]
    return result.image


def build_prompt(
    tokenizer: Any,
    processor: Any | None,
    text: str,
    limit: int,
    images: Sequence[Any] = (),
    *,
    caption: str = "",
    trailing_images: Sequence[Any] = (),
) -> PromptInputs:
    """One user turn through the chat template: ``images``, ``text``, then ``caption`` and
    ``trailing_images``.

    Without a processor (a text model) the images are ignored and the ids are the last ``limit``
    tokens of the templated text. With a processor the images are expanded to their placeholder
    tokens; a prompt that carries images is kept whole, because cutting into an image's
    placeholder tokens would leave them out of step with its pixel tensors."""
    from vsdpo.model import chat_prompt

    if processor is None:
        templated = chat_prompt(tokenizer, [{"role": "user", "content": text}])
        return PromptInputs(
            ids=tokenizer(templated, add_special_tokens=False)["input_ids"][-limit:]
        )

    lead, trail = list(images), list(trailing_images)
    parts: list[dict[str, Any]] = [{"type": "image"} for _ in lead]
    parts.append({"type": "text", "text": text})
    if trail:
        if caption:
            parts.append({"type": "text", "text": caption})
        parts.extend({"type": "image"} for _ in trail)
    templated = chat_prompt(processor, [{"role": "user", "content": parts}])
    pictures = [to_rgb(im) for im in lead + trail]
    encoded = processor(
        text=[templated], images=pictures or None, return_tensors="pt", add_special_tokens=False
    )
    ids = encoded["input_ids"][0].tolist()
    token_values: dict[str, list[int]] = {}
    image_tensors: dict[str, torch.Tensor] = {}
    for key, value in encoded.items():
        if key in ("input_ids", "attention_mask") or not isinstance(value, torch.Tensor):
            continue
        if value.ndim == 2 and value.shape == (1, len(ids)):
            token_values[key] = value[0].tolist()
        else:
            image_tensors[key] = value
    if not pictures and len(ids) > limit:
        ids = ids[-limit:]
        token_values = {k: v[-limit:] for k, v in token_values.items()}
    return PromptInputs(ids, image_tensors, token_values, n_images=len(pictures))


def batch_inputs(
    prompts: Sequence[PromptInputs], pad_id: int, completion_width: int = 0
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """ids i64[B, L] and attention mask i64[B, L] of the left-padded prompts, and the keyword
    tensors the model needs beside them: the image tensors concatenated in row order (the order
    the model consumes the image placeholders in), and the per-token values left-padded to ``L``
    plus ``completion_width`` zero columns (text) for completion tokens appended on the right."""
    from vsdpo.train.rollout import left_pad

    ids, mask = left_pad([p.ids for p in prompts], pad_id)
    extras: dict[str, torch.Tensor] = {}
    token_keys = sorted({k for p in prompts for k in p.token_values})
    width = ids.shape[1]
    for key in token_keys:
        column = torch.zeros((len(prompts), width + completion_width), dtype=torch.long)
        for i, p in enumerate(prompts):
            values = p.token_values.get(key)
            if values:
                column[i, width - len(values) : width] = torch.tensor(values, dtype=torch.long)
        extras[key] = column
    image_keys = sorted({k for p in prompts for k in p.image_tensors})
    for key in image_keys:
        extras[key] = torch.cat([p.image_tensors[key] for p in prompts if key in p.image_tensors])
    return ids, mask, extras
