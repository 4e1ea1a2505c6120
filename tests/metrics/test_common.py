"""Shared metric building blocks: multiset P/R/F1, CIEDE2000 similarity, sequence ratio."""

from __future__ import annotations

from difflib import SequenceMatcher

import numpy as np
import pytest

from vsdpo.metrics.common import (
    PRF,
    color_similarity,
    counts_prf,
    delta_e,
    multiset_prf,
    sequence_ratio,
    similarity_matrix,
    srgb_to_lab,
)

# metrics.md 0.2 test vectors: (c1, c2, dE00, sim)
VECTORS = [
    ("#FF595E", "#2CA02C", 72.668418, 0.273316),
    ("#6D8ABB", "#D62728", 43.064271, 0.569357),
    ((252, 252, 252), (255, 204, 0), 30.620599, 0.693794),
]


@pytest.mark.parametrize(("c1", "c2", "de", "sim"), VECTORS)
def test_ciede2000_matches_the_spec_vectors(c1, c2, de, sim) -> None:
    assert delta_e(c1, c2) == pytest.approx(de, abs=1e-5)
    assert color_similarity(c1, c2) == pytest.approx(sim, abs=1e-6)
    assert color_similarity(c2, c1) == pytest.approx(sim, abs=1e-6)


def test_lab_of_a_spec_colour() -> None:
    assert srgb_to_lab("#FF595E") == pytest.approx([60.9735, 63.1409, 32.3417], abs=1e-4)


def test_alpha_is_ignored_and_identical_colours_are_similar_one() -> None:
    assert color_similarity("#FF595E80", "#ff595e") == 1.0
    assert color_similarity((10, 20, 30), "#0A141E") == 1.0
    assert color_similarity("#000000", "#FFFFFF") == pytest.approx(0.0, abs=1e-6)  # dE00 ~ 100


def test_vectorised_matrix_equals_the_pairwise_values() -> None:
    a = ["#FF595E", "#6D8ABB", (252, 252, 252)]
    b = ["#2CA02C", "#D62728", (255, 204, 0), "#FF595E"]
    m = similarity_matrix(a, b)
    assert m.shape == (3, 4)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert m[i, j] == pytest.approx(color_similarity(x, y), abs=1e-12)
    assert m[0, 0] == pytest.approx(0.273316, abs=1e-6)
    assert m[0, 3] == 1.0


def test_multiset_prf_hand_computed() -> None:
    # reference walk: 'a' uses one 'a', 'b' uses the 'b', the second 'b' finds nothing: n = 2
    got = multiset_prf(["a", "a", "b", "c"], ["a", "b", "b"])
    assert got.precision == pytest.approx(2 / 4)
    assert got.recall == pytest.approx(2 / 3)
    assert got.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert multiset_prf(["x"], ["x"]) == PRF(1.0, 1.0, 1.0)
    assert multiset_prf(["x"], ["y"]).f1 == 0.0


def test_multiset_prf_on_unhashable_items_and_a_custom_equality() -> None:
    cells = [{"nrows": 1, "ncols": 2}, {"nrows": 1, "ncols": 2}]
    got = multiset_prf(cells, [{"nrows": 1, "ncols": 2}])
    assert (got.precision, got.recall) == (0.5, 1.0)
    close = multiset_prf([1.0, 2.0], [1.05, 3.0], equal=lambda g, r: abs(g - r) < 0.1)
    assert (close.precision, close.recall) == (0.5, 0.5)


def test_empty_lists_follow_chartmimic_unless_fixed() -> None:
    assert multiset_prf([], []) == PRF(0.0, 0.0, 0.0)  # [quirk]: an exact copy scores 0
    assert multiset_prf([], [], faithful=False) == PRF(1.0, 1.0, 1.0)
    assert multiset_prf(["a"], [], faithful=False).f1 == 0.0
    assert multiset_prf([], ["a"]).f1 == 0.0


def test_counts_prf_hand_computed() -> None:
    got = counts_prf({"bar": 2, "plot": 1}, {"bar": 1, "scatter": 1})  # n = min(2, 1) = 1
    assert got.precision == pytest.approx(1 / 3)
    assert got.recall == pytest.approx(1 / 2)
    assert got.f1 == pytest.approx(0.4)
    assert counts_prf({}, {"bar": 1}).f1 == 0.0


def test_sequence_ratio_is_difflib_ratio() -> None:
    assert sequence_ratio("abcd", "bcde") == pytest.approx(2 * 3 / 8)
    long_b = "e " * 150  # >= 200 characters: auto-junk makes ' ' and 'e' popular
    a = "the text " * 20
    assert sequence_ratio(a, long_b) == SequenceMatcher(None, a, long_b).ratio()
    assert sequence_ratio("same", "same") == 1.0


def test_delta_e_broadcasts() -> None:
    out = delta_e(np.array([[255, 89, 94], [0, 0, 0]]), np.array([44, 160, 44]))
    assert out.shape == (2,)
    assert out[0] == pytest.approx(72.668418, abs=1e-5)
