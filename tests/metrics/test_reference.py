"""`reference_scores`: the per-domain entry point that training (fidelity) and `vsdpo eval` use."""

from __future__ import annotations

import pytest

from vsdpo.artifact import RenderResult
from vsdpo.metrics.reference import PRIMARY, primary_score, reference_scores
from vsdpo.rewards import score

REFERENCE = """import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(['a', 'b', 'c'], [3, 1, 2], color='tab:blue')
ax.set_title('Sales')
"""


@pytest.fixture(scope="module")
def renders():
    from vsdpo.render.chart import ChartRenderer

    variant = REFERENCE.replace("ax.set_title('Sales')\n", "")
    with ChartRenderer(workers=1, start_heavy=False) as r:
        return r.render_many([REFERENCE, variant], extract=False)


def test_chart_scores_are_chartmimic_and_the_primary_is_its_average(renders) -> None:
    ref, variant = renders
    same = reference_scores("chart", ref, ref)
    assert primary_score("chart", same) == pytest.approx(1.0)
    assert PRIMARY["chart"] in same and same["chartmimic/text"] == pytest.approx(1.0)
    lower = reference_scores("chart", variant, ref)
    assert lower["chartmimic/text"] < 1.0  # the title is missing
    assert lower["chartmimic/color"] == pytest.approx(1.0)
    assert primary_score("chart", lower) < 1.0


def test_no_reference_means_no_scores_and_text_fidelity_is_used(renders) -> None:
    ref, _ = renders
    failed = RenderResult(ok=False, domain="chart")
    assert reference_scores("chart", ref, None) == {}
    assert reference_scores("chart", ref, failed) == {}
    with pytest.raises(ValueError, match="unknown domain"):
        reference_scores("video", ref, ref)
    # the reward takes the reference score as fidelity when there is one
    r = score(
        ref, [], required_texts=("Sales", "Missing"), fidelity_weight=0.5, reference_fidelity=0.8
    )
    assert r.fidelity == 0.8 and r.total == pytest.approx(0.5 * 1.0 + 0.5 * 0.8)
    r = score(ref, [], required_texts=("Sales", "Missing"), fidelity_weight=0.5)
    assert r.fidelity == 0.5
