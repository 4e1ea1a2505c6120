"""Bad input to every kernel raises ValueError naming the argument — never a panic or a crash.

One table row per (function, mistake). ``match`` is searched in the message: it always names
the offending argument, and for a wrong shape also the shape received.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from vsdpo import kernels

NAN, INF = float("nan"), float("inf")
GOOD_BOXES = [[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 5]]
IMAGE = np.full((20, 30, 3), 255, np.uint8)
OFFSETS = [[0, 2], [2, 4], [4, 6]]
SPANS = [[0, 3]]
WEIGHTS = [1.0]


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[], Any]
    match: str  # regular expression the message must contain


def with_row(row: list[float], index: int = 1) -> list[list[float]]:
    """GOOD_BOXES with one row replaced."""
    boxes = [list(b) for b in GOOD_BOXES]
    boxes[index] = row
    return boxes


# Mistakes in a boxes-like argument, shared by every function that takes boxes.
BOX_MISTAKES: list[tuple[str, Any, str]] = [
    ("1-d", [0.0, 0.0, 1.0, 1.0], r"\(4,\)"),
    ("3-d", np.zeros((2, 3, 4), np.float32), r"\(2, 3, 4\)"),
    ("width 5", np.zeros((3, 5), np.float32), r"\(3, 5\)"),
    ("width 3 list", [[0, 0, 1], [0, 0, 1]], r"\(2, 3\)"),
    ("NaN", with_row([NAN, 0, 1, 1]), r"NaN|nan|finite"),
    ("inf", with_row([0, 0, INF, 1]), r"inf|finite"),
    ("-inf", with_row([0, -INF, 1, 1]), r"inf|finite"),
    ("x1 < x0", with_row([5, 0, 2, 1]), r"x1 < x0"),
    ("y1 < y0", with_row([0, 5, 1, 2]), r"y1 < y0"),
    ("non-numeric", [["a", "b", "c", "d"]], r""),
    ("ragged", [[0, 0, 1, 1], [0, 0, 1]], r""),
    ("None", None, r""),
]


def _box_cases() -> list[Case]:
    cases = []
    for what, bad, match in BOX_MISTAKES:
        prefix = r"boxes\b.*"
        cases += [
            Case(
                f"overlap_pairs boxes {what}",
                lambda b=bad: kernels.overlap_pairs(b),
                prefix + match,
            ),
            Case(
                f"outside_fraction boxes {what}",
                lambda b=bad: kernels.outside_fraction(b, [0, 0, 9, 9]),
                prefix + match,
            ),
            Case(
                f"near_misaligned boxes {what}",
                lambda b=bad: kernels.near_misaligned(b),
                prefix + match,
            ),
            Case(
                f"contrast boxes {what}", lambda b=bad: kernels.contrast(IMAGE, b), prefix + match
            ),
        ]
        if what != "1-d":  # a single (4,) container is valid
            cases.append(
                Case(
                    f"outside_fraction containers {what}",
                    lambda b=bad: kernels.outside_fraction(GOOD_BOXES, b),
                    r"containers\b.*" + match,
                )
            )
    return cases


def _other_cases() -> list[Case]:
    b3 = GOOD_BOXES
    ok_splits = {"token_splits": [0, 1, 3], "span_splits": [0, 1, 1]}

    def batch(**changes: Any) -> Callable[[], Any]:
        args = dict(token_offsets=OFFSETS, spans=SPANS, span_weights=WEIGHTS, base=1.0, **ok_splits)
        args.update(changes)
        return lambda: kernels.token_weights_batch(**args)

    def single(**changes: Any) -> Callable[[], Any]:
        args = {"token_offsets": OFFSETS, "spans": SPANS, "span_weights": WEIGHTS, "base": 1.0}
        args.update(changes)
        return lambda: kernels.token_weights(**args)

    return [
        # groups
        *[
            Case(f"{name} groups {what}", (lambda f=f, g=g: f(b3, g)), r"groups\b.*" + match)
            for name, f in (
                ("overlap_pairs", kernels.overlap_pairs),
                ("near_misaligned", kernels.near_misaligned),
            )
            for what, g, match in (
                ("too short", [0, 0], r"3.*2|2.*3"),
                ("too long", [0, 0, 0, 0], r"3.*4|4.*3"),
                ("2-d", [[0], [0], [0]], r"\(3, 1\)"),
                ("fractional", np.array([0.0, 0.5, 1.0]), r""),
                ("NaN", np.array([0.0, NAN, 1.0]), r""),
                ("out of int32", [0, 2**40, 1], r""),
                ("non-numeric", ["a", "b", "c"], r""),
            )
        ],
        # scalars
        Case(
            "overlap_pairs min_area negative",
            lambda: kernels.overlap_pairs(b3, None, -1.0),
            r"min_area",
        ),
        Case(
            "overlap_pairs min_area NaN", lambda: kernels.overlap_pairs(b3, None, NAN), r"min_area"
        ),
        Case(
            "overlap_pairs min_area non-numeric",
            lambda: kernels.overlap_pairs(b3, None, "big"),
            r"min_area",
        ),
        Case(
            "near_misaligned tol negative", lambda: kernels.near_misaligned(b3, None, -0.5), r"tol"
        ),
        Case("near_misaligned tol inf", lambda: kernels.near_misaligned(b3, None, INF), r"tol"),
        Case(
            "near_misaligned tol non-numeric",
            lambda: kernels.near_misaligned(b3, None, "x"),
            r"tol",
        ),
        # containers
        Case(
            "outside_fraction containers too many",
            lambda: kernels.outside_fraction(b3, np.zeros((4, 4))),
            r"containers\b.*4",
        ),
        Case(
            "outside_fraction containers too few",
            lambda: kernels.outside_fraction(b3, np.zeros((2, 4))),
            r"containers\b.*2",
        ),
        Case(
            "outside_fraction containers (5,)",
            lambda: kernels.outside_fraction(b3, [0, 0, 1, 1, 1]),
            r"containers\b.*\(5,\)",
        ),
        Case(
            "outside_fraction single container NaN",
            lambda: kernels.outside_fraction(b3, [0, 0, NAN, 9]),
            r"containers",
        ),
        Case(
            "outside_fraction single container inverted",
            lambda: kernels.outside_fraction(b3, [9, 0, 0, 9]),
            r"containers\b.*x1 < x0",
        ),
        # image
        Case(
            "contrast image 2-d",
            lambda: kernels.contrast(np.zeros((20, 30), np.uint8), b3),
            r"image\b.*\(20, 30\)",
        ),
        Case(
            "contrast image RGBA",
            lambda: kernels.contrast(np.zeros((20, 30, 4), np.uint8), b3),
            r"image\b.*\(20, 30, 4\)",
        ),
        Case(
            "contrast image 4-d",
            lambda: kernels.contrast(np.zeros((1, 20, 30, 3), np.uint8), b3),
            r"image\b.*\(1, 20, 30, 3\)",
        ),
        Case(
            "contrast image 2-d float",
            lambda: kernels.contrast(np.zeros((20, 30)), b3),
            r"image\b.*\(20, 30\)",
        ),
        Case(
            "contrast image non-numeric",
            lambda: kernels.contrast([[["a", "b", "c"]]], b3),
            r"image",
        ),
        Case("contrast image None", lambda: kernels.contrast(None, b3), r"image"),
        # token_weights
        Case(
            "token_weights offsets width 3",
            single(token_offsets=np.zeros((3, 3), np.int64)),
            r"token_offsets\b.*\(3, 3\)",
        ),
        Case(
            "token_weights offsets 1-d", single(token_offsets=[0, 2, 4]), r"token_offsets\b.*\(3,\)"
        ),
        Case(
            "token_weights offsets start > end",
            single(token_offsets=[[0, 2], [4, 3]]),
            r"token_offsets",
        ),
        Case(
            "token_weights offsets negative",
            single(token_offsets=[[-2, 2], [2, 4]]),
            r"token_offsets",
        ),
        Case(
            "token_weights offsets fractional",
            single(token_offsets=np.array([[0.0, 1.5]])),
            r"token_offsets",
        ),
        Case(
            "token_weights offsets non-numeric",
            single(token_offsets=[["a", "b"]]),
            r"token_offsets",
        ),
        Case(
            "token_weights spans width 3",
            single(spans=np.zeros((1, 3), np.int64)),
            r"spans\b.*\(1, 3\)",
        ),
        Case("token_weights spans start > end", single(spans=[[5, 1]]), r"spans"),
        Case("token_weights spans negative", single(spans=[[-3, 1]]), r"spans"),
        Case(
            "token_weights span_weights too many",
            single(span_weights=[1.0, 2.0]),
            r"span_weights\b.*2",
        ),
        Case("token_weights span_weights too few", single(span_weights=[]), r"span_weights\b.*0"),
        Case(
            "token_weights span_weights 2-d",
            single(span_weights=[[1.0]]),
            r"span_weights\b.*\(1, 1\)",
        ),
        Case("token_weights span_weights non-numeric", single(span_weights=["x"]), r"span_weights"),
        Case("token_weights base NaN", single(base=NAN), r"base"),
        Case("token_weights base non-numeric", single(base="one"), r"base"),
        # token_weights_batch
        Case(
            "batch offsets start > end",
            batch(token_offsets=[[0, 2], [3, 2], [4, 6]]),
            r"token_offsets",
        ),
        Case(
            "batch offsets negative",
            batch(token_offsets=[[0, 2], [-1, 4], [4, 6]]),
            r"token_offsets",
        ),
        Case(
            "batch offsets width 5",
            batch(token_offsets=np.zeros((3, 5), np.int64)),
            r"token_offsets\b.*\(3, 5\)",
        ),
        Case("batch spans start > end", batch(spans=[[3, 0]]), r"spans"),
        Case("batch span_weights mismatched", batch(span_weights=[1.0, 1.0]), r"span_weights"),
        Case("batch token_splits not from 0", batch(token_splits=[1, 1, 3]), r"token_splits"),
        Case(
            "batch token_splits decreasing",
            batch(token_splits=[0, 3, 2, 3], span_splits=[0, 1, 1, 1]),
            r"token_splits",
        ),
        Case(
            "batch token_splits short of the rows", batch(token_splits=[0, 1, 2]), r"token_splits"
        ),
        Case("batch token_splits past the rows", batch(token_splits=[0, 1, 4]), r"token_splits"),
        Case("batch token_splits empty", batch(token_splits=[], span_splits=[]), r"token_splits"),
        Case("batch token_splits 2-d", batch(token_splits=[[0, 1, 3]]), r"token_splits"),
        Case(
            "batch token_splits non-numeric", batch(token_splits=["0", "x", "3"]), r"token_splits"
        ),
        Case("batch span_splits not from 0", batch(span_splits=[1, 1, 1]), r"span_splits"),
        Case("batch span_splits decreasing", batch(span_splits=[0, 1, 0]), r"span_splits"),
        Case("batch span_splits short of the rows", batch(span_splits=[0, 0, 0]), r"span_splits"),
        Case("batch span_splits past the rows", batch(span_splits=[0, 1, 2]), r"span_splits"),
        Case(
            "batch different number of rollouts",
            batch(span_splits=[0, 1]),
            r"span_splits|token_splits",
        ),
        Case("batch base inf", batch(base=INF), r"base"),
    ]


CASES = _box_cases() + _other_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_raises_value_error_naming_the_argument(case: Case) -> None:
    with pytest.raises(ValueError, match=case.match):
        case.call()


def test_every_function_is_covered() -> None:
    names = {c.id.split()[0] for c in CASES}
    assert names == {
        "overlap_pairs",
        "outside_fraction",
        "near_misaligned",
        "contrast",
        "token_weights",
        "batch",
    }
    assert set(kernels.__all__) - {"EDGE_NAMES"} == {
        "overlap_pairs",
        "outside_fraction",
        "near_misaligned",
        "contrast",
        "token_weights",
        "token_weights_batch",
    }


def test_kernels_still_work_after_errors() -> None:
    # a failed call must leave nothing broken behind (no poisoned pool, no leaked state)
    for case in CASES[:20]:
        with pytest.raises(ValueError):
            case.call()
    assert kernels.overlap_pairs(GOOD_BOXES)[0].tolist() == [[0, 1]]
