"""AeSlides-style scores against the check values of metrics.md section 3 and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsdpo.artifact import Element, RenderResult
from vsdpo.metrics.aeslides import (
    aspect_ratio_reward,
    centroid_score,
    content_ratios,
    gdpo_advantages,
    slide_scores,
    smoothstep,
)


@pytest.mark.parametrize(
    ("height", "expected"),
    [(640, 0.8009), (700, 0.9874), (720, 1.0), (740, 0.9881), (760, 0.9423), (800, 0.6370),
     (900, 0.0527), (1080, 0.0000)],
)  # fmt: skip
def test_aspect_ratio_reward_matches_the_published_check_values(height, expected):
    assert aspect_ratio_reward(1280, height) == pytest.approx(expected, abs=5e-5)


def test_aspect_ratio_reward_by_hand_and_degenerate_sizes():
    e = math.log(2.0 / (16 / 9))  # 1280 x 640: wider than 16:9, no beta term
    assert aspect_ratio_reward(1280, 640) == pytest.approx(math.exp(-16 * e * e))
    assert aspect_ratio_reward(0, 720) == 0.0 and aspect_ratio_reward(1280, -1) == 0.0


@pytest.mark.parametrize(
    ("x", "expected"), [(0.85, 0.1635), (0.90, 0.5192), (0.95, 0.8648), (0.98, 0.9832)]
)
def test_smoothstep_matches_the_published_values(x, expected):
    assert smoothstep(x) == pytest.approx(expected, abs=5e-5)
    assert smoothstep(0.5) == 0.0 and smoothstep(0.999) == 1.0


def test_centroid_score_by_hand():
    # one 10x10 box in the top-left corner of a 20x20 slide: centre (5, 5), dx = dy = -0.25
    expected = math.sqrt((0.25 / 0.0075) ** 2 + (0.25 / 0.145) ** 2)  # 33.3779
    assert centroid_score([(0, 0, 10, 10)], (20, 20)) == pytest.approx(expected)
    assert expected == pytest.approx(33.3779, abs=1e-4)
    # two equal boxes mirrored about the centre balance exactly
    assert centroid_score([(0, 0, 10, 20), (10, 0, 20, 20)], (20, 20)) == pytest.approx(0.0)
    # weights are areas: a 3x larger box on the right pulls the centre to x = 12.5 of 20
    score = centroid_score([(0, 0, 10, 10), (10, 0, 20, 30)], (20, 40))
    cx, cy = (100 * 5 + 300 * 15) / 400, (100 * 5 + 300 * 15) / 400
    assert score == pytest.approx(math.hypot((cx / 20 - 0.5) / 0.0075, (cy / 40 - 0.5) / 0.145))
    with pytest.raises(ValueError):
        centroid_score([(0, 0, 0, 10)], (20, 20))


def test_content_ratios_blank_and_busy_images():
    assert content_ratios(np.full((300, 400, 3), 255, np.uint8)) == (0.0, 0.0)
    checker = (np.indices((300, 400)).sum(axis=0) // 8 % 2 * 255).astype(np.uint8)
    full, crop = content_ratios(np.stack([checker] * 3, axis=-1))
    assert full == 1.0 and crop == 1.0


def test_gdpo_advantages_by_hand():
    adv = gdpo_advantages({"a": [[1.0, 2.0, 3.0]]})
    # group: mean 2, unbiased std 1 -> (-1, 0, 1) / (1 + 1e-4); then over the batch the same again
    a = 1 / (1 + 1e-4)
    expected = np.array([-a, 0.0, a]) / (a + 1e-4)
    np.testing.assert_allclose(adv, expected[None, :], rtol=1e-12)
    # two components add; a constant component contributes nothing (std 0 -> 0 / eps = 0)
    both = gdpo_advantages({"a": [[1.0, 2.0, 3.0]], "b": [[5.0, 5.0, 5.0]]})
    np.testing.assert_allclose(both, adv)


def test_slide_scores_on_a_hand_made_render():
    image = np.full((720, 1280, 3), 255, np.uint8)
    image[100:140, 100:600] = 0
    text = Element(1, "text", (100, 100, 600, 140), text="Title", page=0)
    result = RenderResult(
        ok=True, domain="slides", pages=[image], image=image, canvas=(1280, 720), elements=[text]
    )
    (s,) = slide_scores(result, [])
    assert s["aspect_ratio_reward"] == 1.0
    assert s["centroid_score"] == pytest.approx(centroid_score([(100, 100, 600, 140)], (1280, 720)))
    assert s["imbalanced"] and 0 < s["content_ratio_full"] < 1
