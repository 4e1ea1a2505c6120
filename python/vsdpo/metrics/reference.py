"""One entry point for "how close is this render to the reference", per domain.

``reference_scores(domain, candidate, reference)`` returns flat, JSON-ready numbers named
``<benchmark>/<component>`` plus :data:`PRIMARY` for each domain: the score training uses as
fidelity and evaluation reports as the headline. Charts: ChartMimic's low-level average; pages:
Design2Code's low-level average (the CLIP part needs a local CLIP model); decks: the AeSlides
whitespace and balance scores of the candidate alone (the benchmark has no reference deck).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vsdpo.artifact import RenderResult

PRIMARY = {
    "chart": "chartmimic/average",
    "web": "design2code/low_level",
    "slides": "aeslides/mean",
}


def reference_scores(
    domain: str, candidate: RenderResult, reference: RenderResult | None, *, clip: bool = False
) -> dict[str, float]:
    """The benchmark scores of ``candidate`` against ``reference`` ({} when there is nothing to
    compare: no reference, or a reference that did not render)."""
    if domain == "slides":
        from vsdpo.metrics.aeslides import slide_scores

        slides = slide_scores(candidate)
        if not slides:
            return {PRIMARY["slides"]: 0.0} if not candidate.ok else {}
        whitespace = float(np.mean([s["whitespace_reward"] for s in slides]))
        balanced = float(np.mean([not s["imbalanced"] for s in slides]))
        return {
            "aeslides/whitespace": whitespace,
            "aeslides/balanced": balanced,
            "aeslides/aspect": float(np.mean([s["aspect_ratio_reward"] for s in slides])),
            PRIMARY["slides"]: (whitespace + balanced) / 2,
        }
    if reference is None or not reference.ok:
        return {}
    if domain == "chart":
        from vsdpo.metrics.chartmimic import chartmimic_scores

        s = chartmimic_scores(candidate, reference)
        d: dict[str, Any] = s.as_dict()
        return {
            f"chartmimic/{k}": float(d[k]) for k in ("text", "layout", "type", "color", "average")
        }
    if domain == "web":
        from vsdpo.metrics.design2code import design2code_scores

        d = design2code_scores(candidate, reference, clip=clip).as_dict()
        out = {
            f"design2code/{k}": float(d[k])
            for k in ("block_match", "text", "position", "color", "low_level")
        }
        if d.get("clip") is not None:
            out["design2code/clip"] = float(d["clip"])
        return out
    raise ValueError(f"unknown domain {domain!r}")


def primary_score(domain: str, scores: dict[str, float]) -> float | None:
    return scores.get(PRIMARY.get(domain, ""))
