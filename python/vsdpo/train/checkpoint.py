"""Checkpoints that survive SIGKILL: everything is written into a temporary sibling directory,
flushed to disk, and only then renamed into place, so ``checkpoints/step-N`` either exists
complete or does not exist at all.

A checkpoint holds what ``--resume`` needs to continue exactly: the trainable weights (the whole
model for full fine-tuning, only the adapter with LoRA), the optimizer and scheduler states, the
teacher's EMA shadow, the RNG states of Python, numpy and torch, the step and the position in the
data, and the config it was trained with.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

_STEP_DIR = re.compile(r"^step-(\d+)$")
STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    step: int  # optimizer steps completed
    data_position: int  # prompts consumed so far
    wall_time_s: float  # training time spent before this checkpoint (across resumes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "data_position": self.data_position,
            "wall_time_s": self.wall_time_s,
        }


def checkpoint_root(output_dir: Path) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints, oldest first (temporary directories are ignored)."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = _STEP_DIR.match(d.name)
        if m and (d / STATE_FILE).is_file():
            found.append((int(m.group(1)), d))
    return sorted(found)


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def remove_partial(output_dir: Path) -> int:
    """Delete temporary directories left by a run killed while saving; returns how many."""
    root = checkpoint_root(output_dir)
    if not root.is_dir():
        return 0
    stale = [d for d in root.iterdir() if d.name.startswith(".tmp-")]
    for d in stale:
        shutil.rmtree(d, ignore_errors=True)
    return len(stale)


def _rng_state() -> dict[str, Any]:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters by name (tied weights appear once: named_parameters dedups)."""
    return {
        n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad
    }


def _fsync_tree(path: Path) -> None:
    for f in path.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(
    output_dir: Path,
    state: TrainerState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    teacher_state: dict[str, torch.Tensor],
    config: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``checkpoints/step-N`` atomically, then prune to the ``keep`` most recent."""
    root = checkpoint_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{state.step:06d}"
    tmp = root / f".tmp-step-{state.step:06d}-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        if teacher_state:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in teacher_state.items()},
                str(tmp / "teacher_ema.safetensors"),
            )
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "config.json").write_text(
            json.dumps(config, indent=2, default=str), encoding="utf-8"
        )
        # the state file is written last: its presence marks a complete checkpoint
        (tmp / STATE_FILE).write_text(json.dumps(state.to_dict(), indent=2), encoding="utf-8")
        _fsync_tree(tmp)
        if final.exists():  # re-saving the same step (e.g. the final save after a resume)
            shutil.rmtree(final)
        os.replace(tmp, final)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, old in list_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    *,
    restore_rng: bool = True,
) -> tuple[TrainerState, dict[str, torch.Tensor]]:
    """Restore a checkpoint in place; returns the trainer state and the teacher's EMA tensors."""
    path = Path(path)
    weights = load_file(str(path / "trainable.safetensors"))
    params = dict(model.named_parameters())
    expected = {n for n, p in params.items() if p.requires_grad}
    if set(weights) != expected:
        missing = sorted(expected - set(weights))[:3]
        extra = sorted(set(weights) - expected)[:3]
        raise ValueError(
            f"checkpoint {path} does not match this model's trainable parameters "
            f"(missing {missing}, unexpected {extra}); was it written with another model or LoRA setting?"
        )
    with torch.no_grad():
        for n, t in weights.items():
            params[n].copy_(t)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    if restore_rng:
        _set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    teacher = {}
    if (path / "teacher_ema.safetensors").is_file():
        teacher = load_file(str(path / "teacher_ema.safetensors"))
    raw = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    return TrainerState(**raw), teacher
