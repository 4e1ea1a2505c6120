"""Benchmark-style scores of rendered artifacts (see ../shared/docs/metrics.md).

:mod:`vsdpo.metrics.aeslides`: the AeSlides aesthetic rewards (aspect ratio, whitespace, visual
balance, GDPO combination), ported to python-pptx decks.

:mod:`vsdpo.metrics.common`: multiset precision/recall/F1, CIEDE2000 colour similarity (as
colormath 3.0.0 computes it) and difflib's sequence ratio, shared by the scores below.

:mod:`vsdpo.metrics.chartmimic`: ChartMimic's low-level scores (text, layout, chart type, colour)
of a candidate chart render against the reference render, and the benchmark's table row.

:mod:`vsdpo.metrics.design2code`: Design2Code's block-match, text, position, colour (and CLIP,
when a CLIP model is in the local cache) scores of a candidate page against the reference page.

:mod:`vsdpo.metrics.ours`: execution rate, defect-free rate and defects per artifact by kind.

:mod:`vsdpo.metrics.reference`: one call per domain, ``reference_scores(domain, candidate,
reference)``, and the primary score of each domain (training's fidelity, evaluation's headline).
"""

from vsdpo.metrics.chartmimic import (
    ChartMimicScores,
    chartmimic_program,
    chartmimic_report,
    chartmimic_scores,
)
from vsdpo.metrics.common import PRF, color_similarity, delta_e, multiset_prf, sequence_ratio
from vsdpo.metrics.design2code import Block, Design2CodeScores, design2code_scores, page_blocks
from vsdpo.metrics.ours import ArtifactMetrics, artifact_metrics
from vsdpo.metrics.reference import PRIMARY, primary_score, reference_scores

__all__ = [
    "PRF",
    "PRIMARY",
    "ArtifactMetrics",
    "Block",
    "ChartMimicScores",
    "Design2CodeScores",
    "artifact_metrics",
    "chartmimic_program",
    "chartmimic_report",
    "chartmimic_scores",
    "color_similarity",
    "delta_e",
    "design2code_scores",
    "multiset_prf",
    "page_blocks",
    "primary_score",
    "reference_scores",
    "sequence_ratio",
]
