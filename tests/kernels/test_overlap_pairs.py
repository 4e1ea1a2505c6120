"""overlap_pairs: the Rust kernel against the all-pairs reference, plus the pinned semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsdpo import kernels

from .reference import ref_overlap_pairs

I32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def grid_boxes(draw: st.DrawFn, max_boxes: int = 60) -> np.ndarray:
    """f32[N, 4] boxes on a 1 or 1/4 px grid, often degenerate or duplicated, sometimes far
    from the origin (grid values stay exact in float32, so areas are exact)."""
    n = draw(st.integers(0, max_boxes))
    scale = draw(st.sampled_from([1.0, 0.25]))
    offset = draw(st.sampled_from([0.0, -3000.0, 1e6, 1.6e7]))
    span = draw(st.sampled_from([40, 400]))  # small span: crowded, many overlaps
    x0 = draw(arrays(np.int64, n, elements=st.integers(0, span)))
    y0 = draw(arrays(np.int64, n, elements=st.integers(0, span)))
    w = draw(arrays(np.int64, n, elements=st.integers(0, 120)))  # 0 = zero-area box
    h = draw(arrays(np.int64, n, elements=st.integers(0, 120)))
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1).astype(np.float64) * scale + offset
    if n > 1 and draw(st.booleans()):  # duplicate some rows
        src = draw(arrays(np.int64, n, elements=st.integers(0, n - 1)))
        copy = draw(arrays(np.bool_, n))
        boxes[copy] = boxes[src[copy]]
    return boxes.astype(np.float32)


@st.composite
def group_ids(draw: st.DrawFn, n: int, max_groups: int = 5) -> np.ndarray | None:
    """None, or i32[n] ids drawn from a few arbitrary (negative, huge, unsorted) values."""
    if draw(st.integers(0, 3)) == 0:
        return None
    pool = draw(st.lists(I32, min_size=1, max_size=max_groups, unique=True))
    pick = draw(arrays(np.int64, n, elements=st.integers(0, len(pool) - 1)))
    return np.asarray(pool, dtype=np.int32)[pick]


def assert_same_overlaps(got: tuple, want: tuple) -> None:
    pairs, inter, iou = got
    assert pairs.dtype == np.int64 and pairs.ndim == 2 and pairs.shape[1] == 2
    assert inter.dtype == np.float32 and iou.dtype == np.float32
    np.testing.assert_array_equal(pairs, want[0])
    # atol: areas below float32's normal range come back rounded to subnormals or zero
    np.testing.assert_allclose(inter, want[1], rtol=1e-6, atol=1e-37)
    np.testing.assert_allclose(iou, want[2], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------ properties


@given(data=st.data())
def test_matches_reference_on_grid_boxes(data: st.DataObject) -> None:
    boxes = data.draw(grid_boxes())
    groups = data.draw(group_ids(len(boxes)))
    # areas are multiples of 1/16; k + 1/32 is never hit exactly, so "> min_area" is unambiguous
    min_area = data.draw(st.one_of(st.just(0.0), st.integers(0, 3000).map(lambda k: k + 1 / 32)))
    got = kernels.overlap_pairs(boxes, groups, min_area)
    assert_same_overlaps(got, ref_overlap_pairs(boxes, groups, min_area))


@given(data=st.data())
def test_matches_reference_with_many_groups(data: st.DataObject) -> None:
    boxes = data.draw(grid_boxes(max_boxes=300))
    pool = data.draw(st.lists(I32, min_size=1, max_size=120, unique=True))
    pick = data.draw(arrays(np.int64, len(boxes), elements=st.integers(0, len(pool) - 1)))
    groups = np.asarray(pool, dtype=np.int32)[pick]
    assert_same_overlaps(kernels.overlap_pairs(boxes, groups), ref_overlap_pairs(boxes, groups))


@given(
    boxes=arrays(
        np.float32,
        st.tuples(st.integers(0, 50), st.just(4)),
        elements=st.floats(-1e4, 1e4, width=32, allow_subnormal=False),
    )
)
def test_matches_reference_on_arbitrary_floats(boxes: np.ndarray) -> None:
    # sort each box's coordinates so that it is valid; any float values otherwise
    xs, ys = np.sort(boxes[:, [0, 2]], axis=1), np.sort(boxes[:, [1, 3]], axis=1)
    boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    assert_same_overlaps(kernels.overlap_pairs(boxes), ref_overlap_pairs(boxes))


# ------------------------------------------------------------------------------ semantics


def test_docstring_example() -> None:
    pairs, inter, iou = kernels.overlap_pairs([[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 5]])
    assert pairs.tolist() == [[0, 1]]
    assert inter.tolist() == [25.0]
    assert iou[0] == pytest.approx(25 / 175, rel=1e-6)


def test_pairs_are_ordered_i_below_j_and_sorted() -> None:
    # every box overlaps every other; input order is scrambled in x so a sweep must re-sort
    boxes = np.array(
        [[30, 0, 60, 10], [0, 0, 50, 10], [20, 0, 40, 10], [10, 0, 45, 10]], np.float32
    )
    pairs, _, _ = kernels.overlap_pairs(boxes)
    assert pairs.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]


@pytest.mark.parametrize(
    "other",
    [
        [10, 0, 20, 10],  # shares the right edge
        [0, 10, 10, 20],  # shares the bottom edge
        [10, 10, 20, 20],  # shares a corner
        [-10, -10, 0, 0],  # shares the top-left corner
    ],
)
def test_touching_edges_never_overlap(other: list[float]) -> None:
    pairs, inter, iou = kernels.overlap_pairs([[0, 0, 10, 10], other])
    assert pairs.shape == (0, 2) and inter.shape == (0,) and iou.shape == (0,)


@pytest.mark.parametrize(
    "degenerate",
    [
        [5, 5, 5, 5],  # a point inside the box
        [2, 5, 8, 5],  # a horizontal segment across it
        [5, 2, 5, 8],  # a vertical segment across it
        [0, 0, 0, 10],  # a segment on its left edge
    ],
)
def test_zero_area_boxes_never_overlap(degenerate: list[float]) -> None:
    boxes = [[0, 0, 10, 10], degenerate, degenerate]  # also a duplicate zero-area pair
    pairs, _, _ = kernels.overlap_pairs(boxes)
    assert pairs.shape == (0, 2)


def test_min_area_is_strict() -> None:
    boxes = [[0, 0, 10, 10], [5, 5, 15, 15]]  # intersection 25
    assert kernels.overlap_pairs(boxes, min_area=24.9)[0].tolist() == [[0, 1]]
    assert kernels.overlap_pairs(boxes, min_area=25.0)[0].shape == (0, 2)
    assert kernels.overlap_pairs(boxes, min_area=0)[0].tolist() == [[0, 1]]


def test_iou_of_duplicates_and_nested_boxes() -> None:
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [2, 2, 4, 4]]
    pairs, inter, iou = kernels.overlap_pairs(boxes)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    np.testing.assert_allclose(inter, [100, 4, 4])
    np.testing.assert_allclose(iou, [1.0, 0.04, 0.04], rtol=1e-6)


def test_none_groups_is_one_group() -> None:
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [8, 8, 12, 12]], np.float32)
    one_group = kernels.overlap_pairs(boxes, np.array([7, 7, 7], np.int32))
    no_groups = kernels.overlap_pairs(boxes, None)
    assert no_groups[0].tolist() == [[0, 1], [0, 2], [1, 2]]
    for got, want in zip(no_groups, one_group):
        np.testing.assert_array_equal(got, want)


def test_boxes_in_different_groups_never_pair() -> None:
    boxes = [[0, 0, 10, 10]] * 6  # all identical
    groups = [2**31 - 1, -5, 0, -5, -(2**31), 2**31 - 1]  # unsorted, interleaved, extreme
    pairs, inter, _ = kernels.overlap_pairs(boxes, groups)
    assert pairs.tolist() == [[0, 5], [1, 3]]
    assert inter.tolist() == [100.0, 100.0]


def test_large_coordinates_keep_small_areas() -> None:
    # near 1.6e7 float32 spacing is 1 px: the 3x3 px intersection must still be exact
    base = 16_000_000.0
    boxes = np.array(
        [[base, base, base + 10, base + 10], [base + 7, base + 7, base + 20, base + 20]], np.float32
    )
    pairs, inter, iou = kernels.overlap_pairs(boxes)
    assert pairs.tolist() == [[0, 1]]
    assert inter.tolist() == [9.0]
    assert iou[0] == pytest.approx(9 / (100 + 169 - 9), rel=1e-6)


# ------------------------------------------------------------------------------ inputs and outputs


def _layouts() -> dict[str, object]:
    rng = np.random.default_rng(7)
    xy = rng.integers(0, 200, size=(40, 2))
    wh = rng.integers(0, 60, size=(40, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    wide = np.zeros((40, 8), np.float32)
    wide[:, ::2] = boxes
    return {
        "contiguous f32": boxes.astype(np.float32),
        "strided rows": np.repeat(boxes.astype(np.float32), 2, axis=0)[::2],
        "strided columns": wide[:, ::2],
        "fortran order": np.asfortranarray(boxes.astype(np.float32)),
        "transposed view": np.ascontiguousarray(boxes.T.astype(np.float32)).T,
        "float64": boxes.astype(np.float64),
        "int32 list": boxes.astype(np.int32).tolist(),
        "read-only": np.frombuffer(boxes.astype(np.float32).tobytes(), np.float32).reshape(-1, 4),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_any_layout_or_dtype_gives_the_same_result(layout: str) -> None:
    layouts = _layouts()
    groups = np.arange(80, dtype=np.int64)[::2] % 3  # int64, strided
    want = kernels.overlap_pairs(layouts["contiguous f32"], groups.astype(np.int32).copy(), 5.0)
    got = kernels.overlap_pairs(layouts[layout], groups, 5.0)
    assert len(want[0]) > 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("groups", [None, [], np.zeros(0, np.int32)])
def test_empty_input_gives_empty_output(groups: object) -> None:
    for boxes in (np.zeros((0, 4), np.float32), []):
        pairs, inter, iou = kernels.overlap_pairs(boxes, groups)
        assert pairs.shape == (0, 2) and pairs.dtype == np.int64
        assert inter.shape == (0,) and inter.dtype == np.float32
        assert iou.shape == (0,) and iou.dtype == np.float32


def test_single_box_has_no_pairs() -> None:
    pairs, _, _ = kernels.overlap_pairs([[0, 0, 5, 5]], [3])
    assert pairs.shape == (0, 2)
