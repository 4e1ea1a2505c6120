"""near_misaligned: the Rust kernel against the all-pairs reference, plus the pinned semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsdpo import kernels

from .reference import MisalignedReference, ref_near_misaligned

I32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def grid_boxes(draw: st.DrawFn, max_boxes: int = 50) -> np.ndarray:
    """Boxes with integer coordinates (centres are multiples of 0.5, all exact in float32),
    crowded so that many edges are equal or a few px apart; sometimes far from the origin."""
    n = draw(st.integers(0, max_boxes))
    offset = draw(st.sampled_from([0.0, -500.0, 4e6]))
    x0 = draw(arrays(np.int64, n, elements=st.integers(0, 30)))
    y0 = draw(arrays(np.int64, n, elements=st.integers(0, 30)))
    w = draw(arrays(np.int64, n, elements=st.integers(0, 12)))
    h = draw(arrays(np.int64, n, elements=st.integers(0, 12)))
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1) + offset
    if n > 1 and draw(st.booleans()):  # exact duplicates
        src = draw(arrays(np.int64, n, elements=st.integers(0, n - 1)))
        copy = draw(arrays(np.bool_, n))
        boxes[copy] = boxes[src[copy]]
    return boxes.astype(np.float32)


@st.composite
def group_ids(draw: st.DrawFn, n: int, max_groups: int = 6) -> np.ndarray | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    pool = draw(st.lists(I32, min_size=1, max_size=max_groups, unique=True))
    pick = draw(arrays(np.int64, n, elements=st.integers(0, len(pool) - 1)))
    return np.asarray(pool, dtype=np.int32)[pick]


def assert_matches(got: tuple, want: MisalignedReference, delta_atol: float = 0.0) -> None:
    """Kernel rows = all certain rows + any subset of the borderline ones, in (edge, i, j) order."""
    pairs, edge, delta = got
    assert pairs.dtype == np.int64 and pairs.ndim == 2 and pairs.shape[1] == 2
    assert edge.dtype == np.int8 and delta.dtype == np.float32
    assert len(pairs) == len(edge) == len(delta)
    keys = [(int(e), int(i), int(j)) for e, (i, j) in zip(edge, pairs)]
    assert keys == sorted(keys), "rows must be sorted by (edge, i, j)"
    assert len(set(keys)) == len(keys), "duplicate rows"
    assert all(i < j for _, i, j in keys)
    missing = sorted(set(want.certain) - set(keys))
    assert not missing, f"pairs the kernel missed (edge, i, j): {missing[:10]}"
    extra = sorted(set(keys) - set(want.certain) - set(want.borderline))
    assert not extra, f"pairs the kernel reported wrongly (edge, i, j): {extra[:10]}"
    expected = {**want.borderline, **want.certain}
    np.testing.assert_allclose(delta, [expected[k] for k in keys], rtol=0, atol=delta_atol)


@given(data=st.data())
def test_matches_reference_on_grid_boxes(data: st.DataObject) -> None:
    boxes = data.draw(grid_boxes())
    groups = data.draw(group_ids(len(boxes)))
    # deltas are multiples of 0.5; tol = k + 0.25 is never hit exactly, so no boundary case
    tol = data.draw(st.sampled_from([0.25, 1.25, 4.25, 9.25]))
    assert_matches(
        kernels.near_misaligned(boxes, groups, tol), ref_near_misaligned(boxes, groups, tol)
    )


@given(data=st.data())
def test_matches_reference_with_many_groups(data: st.DataObject) -> None:
    boxes = data.draw(grid_boxes(max_boxes=200))
    pool = data.draw(st.lists(I32, min_size=1, max_size=80, unique=True))
    pick = data.draw(arrays(np.int64, len(boxes), elements=st.integers(0, len(pool) - 1)))
    groups = np.asarray(pool, dtype=np.int32)[pick]
    assert_matches(
        kernels.near_misaligned(boxes, groups, 3.25), ref_near_misaligned(boxes, groups, 3.25)
    )


@given(
    raw=arrays(
        np.float32,
        st.tuples(st.integers(0, 40), st.just(4)),
        elements=st.floats(-1e3, 1e3, width=32, allow_subnormal=False),
    ),
    tol=st.floats(0.5, 20),
)
def test_matches_reference_on_arbitrary_floats(raw: np.ndarray, tol: float) -> None:
    xs, ys = np.sort(raw[:, [0, 2]], axis=1), np.sort(raw[:, [1, 3]], axis=1)
    boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    # rounding inside the kernel may differ from the float32 reference by a few ulps: pairs that
    # close to |delta| = 0 or |delta| = tol may go either way
    slack = 4 * float(np.spacing(np.float32(1e3)))
    want = ref_near_misaligned(boxes, None, tol, slack=slack)
    assert_matches(kernels.near_misaligned(boxes, None, tol), want, delta_atol=slack)


# ------------------------------------------------------------------------------ semantics


def test_docstring_example() -> None:
    # left 10 -> 12, right equal (aligned), h-centre 30 -> 31; vertical edges 20 px apart
    pairs, edge, delta = kernels.near_misaligned([[10, 0, 50, 10], [12, 20, 50, 30]], tol=4)
    assert pairs.tolist() == [[0, 1], [0, 1]]
    assert [kernels.EDGE_NAMES[e] for e in edge] == ["left", "h-centre"]
    assert delta.tolist() == [2.0, 1.0]


@pytest.mark.parametrize(
    ("second", "edge", "delta"),
    [
        ([13, 100, 53, 120], 0, 3.0),  # left: 10 -> 13 (right 50 -> 53 and h-centre move too)
        ([-20, 100, 47, 120], 1, -3.0),  # right: 50 -> 47
        ([9, 100, 53, 120], 2, 1.0),  # h-centre: 30 -> 31
        ([100, 2, 120, 60], 3, 2.0),  # top: 0 -> 2
        ([100, -30, 120, 36], 4, -4.0),  # bottom: 40 -> 36, exactly tol
        ([100, -1, 120, 42], 5, 0.5),  # v-centre: 20 -> 20.5
    ],
)
def test_each_edge_class(second: list[float], edge: int, delta: float) -> None:
    first = [10, 0, 50, 40]
    pairs, edges, deltas = kernels.near_misaligned([first, second], tol=4)
    found = {int(e): float(d) for e, d in zip(edges, deltas)}
    assert found.get(edge) == delta, found
    assert pairs.tolist() == [[0, 1]] * len(edges)


def test_edge_classes_of_one_pair_in_order() -> None:
    # every edge is 1 px off: all six classes, sorted by edge code
    pairs, edge, delta = kernels.near_misaligned([[0, 0, 10, 10], [1, 1, 11, 11]], tol=4)
    assert edge.tolist() == [0, 1, 2, 3, 4, 5]
    assert pairs.tolist() == [[0, 1]] * 6
    assert delta.tolist() == [1.0] * 6


def test_delta_is_signed_e_j_minus_e_i() -> None:
    _, edge, delta = kernels.near_misaligned([[12, 0, 30, 10], [10, 50, 30, 60]], tol=4)
    assert edge.tolist() == [0, 2] and delta.tolist() == [-2.0, -1.0]


def test_exact_alignment_and_far_offsets_are_not_near_misses() -> None:
    boxes = [[10, 0, 50, 10], [10, 20, 50, 30], [30, 40, 70, 50]]  # aligned; 20 px off
    pairs, _, _ = kernels.near_misaligned(boxes, tol=4)
    assert pairs.shape == (0, 2)


def test_tolerance_is_inclusive_and_zero_tolerance_reports_nothing() -> None:
    boxes = [[0, 0, 10, 10], [4, 100, 14, 110]]
    assert kernels.near_misaligned(boxes, tol=4)[1].tolist() == [0, 1, 2]
    assert kernels.near_misaligned(boxes, tol=3.999)[0].shape == (0, 2)
    assert kernels.near_misaligned(boxes, tol=0)[0].shape == (0, 2)


def test_pairs_only_within_a_group() -> None:
    boxes = [[0, 0, 10, 10], [100, 100, 112, 110], [1, 50, 40, 60], [102, 0, 150, 5]]
    groups = [-7, 2**31 - 1, -7, 2**31 - 1]
    pairs, edge, delta = kernels.near_misaligned(boxes, groups, tol=4)
    rows = sorted(zip(edge.tolist(), map(tuple, pairs.tolist()), delta.tolist()))
    assert rows == [(0, (0, 2), 1.0), (0, (1, 3), 2.0)]


def test_sorted_by_edge_then_pair() -> None:
    boxes = [[0, 0, 10, 10], [2, 0, 30, 10], [1, 0, 50, 10]]  # left edges 0, 2, 1
    pairs, edge, delta = kernels.near_misaligned(boxes, tol=4)
    lefts = [(p, d) for p, e, d in zip(pairs.tolist(), edge.tolist(), delta.tolist()) if e == 0]
    assert lefts == [([0, 1], 2.0), ([0, 2], 1.0), ([1, 2], -1.0)]
    assert edge.tolist() == sorted(edge.tolist())


# ------------------------------------------------------------------------------ inputs and outputs


def _layouts() -> dict[str, object]:
    rng = np.random.default_rng(11)
    xy = rng.integers(0, 20, size=(30, 2))
    boxes = np.concatenate([xy, xy + rng.integers(0, 10, size=(30, 2))], axis=1)
    return {
        "contiguous f32": boxes.astype(np.float32),
        "strided rows": np.repeat(boxes.astype(np.float32), 2, axis=0)[::2],
        "fortran order": np.asfortranarray(boxes.astype(np.float32)),
        "transposed view": np.ascontiguousarray(boxes.T.astype(np.float32)).T,
        "float64": boxes.astype(np.float64),
        "int32 list": boxes.astype(np.int32).tolist(),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_any_layout_or_dtype_gives_the_same_result(layout: str) -> None:
    layouts = _layouts()
    groups = (np.arange(60, dtype=np.int64) % 2)[::2] - 1  # strided int64 ids, all -1
    groups[::3] = 5
    want = kernels.near_misaligned(layouts["contiguous f32"], groups.astype(np.int32), 3)
    got = kernels.near_misaligned(layouts[layout], groups, 3)
    assert len(want[0]) > 0
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("groups", [None, [], np.zeros(0, np.int32)])
def test_empty_input_gives_empty_output(groups: object) -> None:
    for boxes in (np.zeros((0, 4), np.float32), []):
        pairs, edge, delta = kernels.near_misaligned(boxes, groups)
        assert pairs.shape == (0, 2) and pairs.dtype == np.int64
        assert edge.shape == (0,) and edge.dtype == np.int8
        assert delta.shape == (0,) and delta.dtype == np.float32
