"""The scalar reward of the GRPO path: executable x (visual quality, and fidelity when known).

``quality = exp(-sum of defect severities)``: 1 for a clean render, about 0.37 for one severe
defect, and never negative, so a render with many small problems still ranks above a crash.
``fidelity`` is the benchmark's own score against the reference render when the task has one
(ChartMimic's low-level average for charts, Design2Code's for pages: see
:mod:`vsdpo.metrics.reference`), else the fraction of the texts the task requires (title, labels,
categories) that the render actually drew; tasks with neither are scored on quality alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vsdpo.artifact import Defect, DefectKind, RenderResult


@dataclass(frozen=True)
class Reward:
    executable: float  # 1 if the program ran and drew something, else 0
    quality: float  # in (0, 1]
    fidelity: float | None  # in [0, 1], None when the task gives nothing to compare with
    total: float

    def to_dict(self) -> dict[str, float | None]:
        return {
            "executable": self.executable,
            "quality": round(self.quality, 6),
            "fidelity": None if self.fidelity is None else round(self.fidelity, 6),
            "total": round(self.total, 6),
        }


def visual_quality(defects: Sequence[Defect]) -> float:
    return math.exp(-sum(d.severity for d in defects))


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def text_fidelity(result: RenderResult, required_texts: Sequence[str]) -> float | None:
    """Fraction of ``required_texts`` found (case- and spacing-insensitive) in the drawn texts."""
    if not required_texts:
        return None
    drawn = " \n ".join(_normalise(e.text) for e in result.elements if e.text)
    found = sum(_normalise(t) in drawn for t in required_texts)
    return found / len(required_texts)


def score(
    result: RenderResult,
    defects: Sequence[Defect],
    required_texts: Sequence[str] = (),
    fidelity_weight: float = 0.5,
    reference_fidelity: float | None = None,
) -> Reward:
    """The reward of one rollout (``reference_fidelity``: its score against the reference)."""
    failed = not result.ok or any(
        d.kind in (DefectKind.EXEC_ERROR, DefectKind.EMPTY) for d in defects
    )
    if failed:
        return Reward(0.0, visual_quality(defects), None, 0.0)
    quality = visual_quality(defects)
    fidelity = (
        reference_fidelity
        if reference_fidelity is not None
        else text_fidelity(result, required_texts)
    )
    if fidelity is None:
        total = quality
    else:
        total = (1.0 - fidelity_weight) * quality + fidelity_weight * fidelity
    return Reward(1.0, quality, fidelity, total)


def group_advantages(rewards: Sequence[float], eps: float = 1e-4, scale: bool = True) -> np.ndarray:
    """(r - mean) / (std + eps) within one group; all zero when every rollout scored the same."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.size == 0:
        return r.astype(np.float32)
    centred = r - r.mean()
    if scale:
        centred = centred / (r.std() + eps)
    return centred.astype(np.float32)
