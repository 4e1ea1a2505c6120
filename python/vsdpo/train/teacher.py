"""Whose weights the teacher uses: the student's own (``live``), an EMA of them, or the initial ones.

The teacher is never a second model. ``live`` runs the student's module under ``no_grad``: the
same parameter tensors, no copy. ``ema`` and ``base`` keep one shadow tensor per *trainable*
parameter (with LoRA that is only the adapter; ``base`` with LoRA needs no shadow at all: the
adapter is switched off) and swap the shadows in for the teacher's forward pass by exchanging
``param.data`` pointers, which costs no copy and leaves the autograd graph of the student alone
because the student's forward pass runs after the swap back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from vsdpo.train.config import TEACHER_MODES


def _trainable(model: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


class ShadowWeights:
    """A frozen copy of a model's trainable parameters that can be swapped in and out."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.params = _trainable(model)
        self.tensors = [p.detach().clone() for _, p in self.params]

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        with torch.no_grad():
            for (_, p), s in zip(self.params, self.tensors):
                p.data, s.data = s.data, p.data
            try:
                yield
            finally:
                for (_, p), s in zip(self.params, self.tensors):
                    p.data, s.data = s.data, p.data

    @torch.no_grad()
    def ema_update(self, decay: float) -> None:
        for (_, p), s in zip(self.params, self.tensors):
            s.lerp_(p.detach(), 1.0 - decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {n: s for (n, _), s in zip(self.params, self.tensors)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = [n for n, _ in self.params if n not in state]
        if missing:
            raise ValueError(f"teacher state is missing {len(missing)} tensors, e.g. {missing[0]}")
        with torch.no_grad():
            for (n, _), s in zip(self.params, self.tensors):
                s.copy_(state[n])


def _is_peft(model: torch.nn.Module) -> bool:
    return hasattr(model, "disable_adapter") and hasattr(model, "peft_config")


class Teacher:
    """The teacher's weights for one training run (see the module docstring)."""

    def __init__(self, mode: str, model: torch.nn.Module, ema_decay: float = 0.95) -> None:
        if mode not in TEACHER_MODES:
            raise ValueError(f"teacher must be one of {', '.join(TEACHER_MODES)}, got {mode!r}")
        self.mode = mode
        self.model = model
        self.ema_decay = ema_decay
        self.shadow: ShadowWeights | None = None
        if mode == "ema" or (mode == "base" and not _is_peft(model)):
            self.shadow = ShadowWeights(model)

    @contextlib.contextmanager
    def weights(self) -> Iterator[torch.nn.Module]:
        """Inside: ``self.model`` computes with the teacher's weights, without gradients."""
        with torch.no_grad():
            if self.shadow is not None:
                with self.shadow.swapped_in():
                    yield self.model
            elif self.mode == "base":
                with self.model.disable_adapter():
                    yield self.model
            else:
                yield self.model

    def after_optimizer_step(self) -> None:
        if self.mode == "ema" and self.shadow is not None:
            self.shadow.ema_update(self.ema_decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow.state_dict() if self.mode == "ema" and self.shadow else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.mode == "ema" and self.shadow is not None:
            self.shadow.load_state_dict(state)
