"""Where a run's numbers go: ``metrics.jsonl`` (one line per step), ``rollouts.jsonl`` (every
rollout with its completion, reward and defects) and TensorBoard scalars under ``tb/``.

On ``--resume`` the JSONL files are cut back to the checkpoint's step, so steps lost to a crash
are logged once, by the run that actually kept them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _truncate_jsonl(path: Path, keep_through_step: int) -> None:
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line half-written when the process was killed
        if int(row.get("step", 0)) <= keep_through_step:
            kept.append(line)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunLog:
    def __init__(self, output_dir: Path, *, tensorboard: bool, resume_step: int | None) -> None:
        self.dir = Path(output_dir)
        self.metrics_path = self.dir / "metrics.jsonl"
        self.rollouts_path = self.dir / "rollouts.jsonl"
        if resume_step is not None:
            _truncate_jsonl(self.metrics_path, resume_step)
            _truncate_jsonl(self.rollouts_path, resume_step)
        else:
            for p in (self.metrics_path, self.rollouts_path):
                p.unlink(missing_ok=True)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is optional at run time
                raise RuntimeError(
                    "TensorBoard logging needs the `tensorboard` package (pip install tensorboard), "
                    "or pass --no-tensorboard"
                ) from exc
            self._tb = SummaryWriter(
                log_dir=str(self.dir / "tb"), purge_step=(resume_step or 0) + 1
            )

    def _append(self, path: Path, rows: list[dict[str, Any]]) -> None:
        with open(path, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")
            f.flush()

    def log_step(self, metrics: dict[str, Any]) -> None:
        self._append(self.metrics_path, [metrics])
        if self._tb is not None:
            step = int(metrics["step"])
            for k, v in metrics.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)
            self._tb.flush()

    def log_rollouts(self, rows: list[dict[str, Any]]) -> None:
        self._append(self.rollouts_path, rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
