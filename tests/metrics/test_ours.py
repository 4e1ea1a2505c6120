"""vsdpo's artifact figures: execution rate, defect-free rate, defects per artifact by kind."""

from __future__ import annotations

import pytest

from vsdpo.artifact import Defect, DefectKind, ExecError, RenderResult
from vsdpo.metrics.ours import artifact_metrics


def ok() -> RenderResult:
    return RenderResult(ok=True, domain="chart")


def failed() -> RenderResult:
    return RenderResult(ok=False, domain="chart", error=ExecError("NameError", "x"))


def defect(kind: str) -> Defect:
    return Defect(kind, 0.5, f"a {kind}")


def test_hand_computed_figures() -> None:
    results = [ok(), ok(), ok(), failed()]
    defects = [
        [],
        [defect(DefectKind.OVERLAP), defect(DefectKind.OVERLAP)],
        [defect(DefectKind.LOW_CONTRAST)],
        [],  # the exec_error is counted even when the list omits it
    ]
    m = artifact_metrics(results, defects)
    assert m.exec_rate == 0.75
    assert m.defect_free_rate == 0.25
    assert m.defect_free_rate_executed == pytest.approx(1 / 3)
    assert m.defects_per_artifact[DefectKind.OVERLAP] == 0.5
    assert m.defects_per_artifact[DefectKind.LOW_CONTRAST] == 0.25
    assert m.defects_per_artifact[DefectKind.EXEC_ERROR] == 0.25
    assert m.defects_per_artifact[DefectKind.CLIPPED_TEXT] == 0.0
    assert m.share_with_kind[DefectKind.OVERLAP] == 0.25
    assert m.defects_per_executed == pytest.approx(3 / 3)


def test_all_clean_is_the_maximum_and_one_defect_lowers_only_its_kind() -> None:
    clean = artifact_metrics([ok(), ok()], [[], []])
    assert (clean.exec_rate, clean.defect_free_rate) == (1.0, 1.0)
    assert all(v == 0.0 for v in clean.defects_per_artifact.values())
    one = artifact_metrics([ok(), ok()], [[], [defect(DefectKind.OVERFLOW)]])
    assert one.exec_rate == 1.0 and one.defect_free_rate == 0.5
    assert {k for k, v in one.defects_per_artifact.items() if v} == {DefectKind.OVERFLOW}


def test_defects_are_found_when_not_given_and_lengths_must_agree() -> None:
    m = artifact_metrics([failed()])
    assert m.exec_rate == 0.0 and m.defects_per_artifact[DefectKind.EXEC_ERROR] == 1.0
    with pytest.raises(ValueError):
        artifact_metrics([ok()], [])
    assert artifact_metrics([], []).exec_rate == 0.0
