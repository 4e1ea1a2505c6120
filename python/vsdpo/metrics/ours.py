"""vsdpo's own artifact-level figures: how often code runs, and how often what it draws is clean.

For a list of renders (any domain) and their defects (one list per render, as
:func:`vsdpo.defects.detect_defects` returns them):

* **execution rate**: the share of renders that ran (``RenderResult.ok``);
* **defect-free rate**: the share of renders that ran *and* have no defect (an ``exec_error`` or
  ``empty`` defect counts; so does every visual defect), over all renders; also over the renders
  that ran, to separate "runs" from "looks right";
* **defects per artifact by kind**: the mean number of defects of each kind per render, over all
  renders (every :class:`~vsdpo.artifact.DefectKind` listed, zeros included), plus the share of
  renders with at least one defect of each kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vsdpo.artifact import Defect, DefectKind, RenderResult


@dataclass
class ArtifactMetrics:
    """Execution and defect figures of a set of renders."""

    n: int
    executed: int
    defect_free: int
    defects_per_artifact: dict[str, float] = field(default_factory=dict)
    share_with_kind: dict[str, float] = field(default_factory=dict)

    @property
    def exec_rate(self) -> float:
        return self.executed / self.n if self.n else 0.0

    @property
    def defect_free_rate(self) -> float:
        """Renders that ran with no defect at all, over all renders."""
        return self.defect_free / self.n if self.n else 0.0

    @property
    def defect_free_rate_executed(self) -> float:
        """Renders with no defect, over the renders that ran."""
        return self.defect_free / self.executed if self.executed else 0.0

    @property
    def defects_per_executed(self) -> float:
        """Visual defects (not ``exec_error``) per render that ran."""
        if not self.executed:
            return 0.0
        visual = sum(v for k, v in self.defects_per_artifact.items() if k != DefectKind.EXEC_ERROR)
        return visual * self.n / self.executed

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "exec_rate": self.exec_rate,
            "defect_free_rate": self.defect_free_rate,
            "defect_free_rate_executed": self.defect_free_rate_executed,
            "defects_per_artifact": dict(self.defects_per_artifact),
            "share_with_kind": dict(self.share_with_kind),
        }


def artifact_metrics(
    results: Sequence[RenderResult],
    defects: Sequence[Sequence[Defect]] | None = None,
    *,
    kinds: Sequence[str] = DefectKind.ALL,
) -> ArtifactMetrics:
    """The figures of ``results``; ``defects[i]`` are the defects of ``results[i]`` (found with
    :func:`vsdpo.defects.detect_defects` when not given). A render that failed counts one
    ``exec_error`` even when its defect list omits it."""
    if defects is None:
        from vsdpo.defects import detect_defects

        defects = detect_defects(list(results))
    if len(defects) != len(results):
        raise ValueError(f"{len(results)} results but {len(defects)} defect lists")
    n = len(results)
    totals: Counter[str] = Counter()
    present: Counter[str] = Counter()
    executed = defect_free = 0
    for result, found in zip(results, defects):
        counts = Counter(d.kind for d in found)
        if not result.ok and not counts[DefectKind.EXEC_ERROR]:
            counts[DefectKind.EXEC_ERROR] = 1
        totals.update(counts)
        present.update(k for k, v in counts.items() if v)
        if result.ok:
            executed += 1
            if not found:
                defect_free += 1
    names = list(dict.fromkeys([*kinds, *totals]))
    return ArtifactMetrics(
        n=n,
        executed=executed,
        defect_free=defect_free,
        defects_per_artifact={k: totals[k] / n if n else 0.0 for k in names},
        share_with_kind={k: present[k] / n if n else 0.0 for k in names},
    )
