"""outside_fraction: the Rust kernel against the reference, plus the pinned semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsdpo import kernels

from .reference import ref_outside_fraction


def _grid_boxes(draw: st.DrawFn, n: int, scale: float, offset: float) -> np.ndarray:
    x0 = draw(arrays(np.int64, n, elements=st.integers(-50, 250)))
    y0 = draw(arrays(np.int64, n, elements=st.integers(-50, 250)))
    w = draw(arrays(np.int64, n, elements=st.integers(0, 150)))  # 0 = zero-area box
    h = draw(arrays(np.int64, n, elements=st.integers(0, 150)))
    boxes = np.stack([x0, y0, x0 + w, y0 + h], axis=1) * scale + offset
    return boxes.astype(np.float32)


@st.composite
def boxes_and_containers(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Grid boxes (exact in float32), with one container per box or a single shared one."""
    n = draw(st.integers(0, 80))
    scale = draw(st.sampled_from([1.0, 0.25, 7.5]))
    offset = draw(st.sampled_from([0.0, -1e3, 1e6]))
    boxes = _grid_boxes(draw, n, scale, offset)
    if draw(st.booleans()):
        containers = _grid_boxes(draw, n, scale, offset)
    else:
        containers = _grid_boxes(draw, 1, scale, offset)[0]
    if n > 0 and draw(st.booleans()):  # some boxes equal to their container, or to the canvas
        same = draw(arrays(np.bool_, n))
        boxes[same] = containers[same] if containers.ndim == 2 else containers
    return boxes, containers


def assert_fractions(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.all((got >= 0) & (got <= 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@given(case=boxes_and_containers())
def test_matches_reference(case: tuple[np.ndarray, np.ndarray]) -> None:
    boxes, containers = case
    assert_fractions(
        kernels.outside_fraction(boxes, containers), ref_outside_fraction(boxes, containers)
    )


@given(
    raw=arrays(
        np.float32,
        st.tuples(st.integers(0, 40), st.just(4)),
        elements=st.floats(-1e5, 1e5, width=32),
    ),
    canvas=st.tuples(st.floats(0, 1e3, width=32), st.floats(0, 1e3, width=32)),
)
def test_matches_reference_on_arbitrary_floats(
    raw: np.ndarray, canvas: tuple[float, float]
) -> None:
    xs, ys = np.sort(raw[:, [0, 2]], axis=1), np.sort(raw[:, [1, 3]], axis=1)
    boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
    container = np.array([0, 0, canvas[0], canvas[1]], np.float32)
    assert_fractions(
        kernels.outside_fraction(boxes, container), ref_outside_fraction(boxes, container)
    )


def test_docstring_example() -> None:
    got = kernels.outside_fraction([[90, 0, 110, 10], [0, 0, 10, 10]], [0, 0, 100, 100])
    assert got.tolist() == [0.5, 0.0]


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ([0, 0, 100, 100], 0.0),  # the container itself
        ([-50, 0, 50, 100], 0.5),  # half off the left
        ([0, 75, 100, 175], 0.75),  # three quarters below
        ([-100, -100, 200, 200], 1 - 100 * 100 / (300 * 300)),  # contains the container
        ([150, 150, 160, 160], 1.0),  # entirely outside
        ([100, 0, 110, 100], 1.0),  # touches the right edge from outside
    ],
)
def test_fraction_outside_a_canvas(box: list[float], expected: float) -> None:
    got = kernels.outside_fraction([box], [0, 0, 100, 100])
    assert got[0] == pytest.approx(expected, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ([50, 50, 50, 50], 0.0),  # a point inside
        ([0, 0, 0, 0], 0.0),  # a point on the corner: edges are inside
        ([100, 100, 100, 100], 0.0),  # the opposite corner
        ([0, 20, 0, 80], 0.0),  # a segment on the left edge
        ([10, 100, 90, 100], 0.0),  # a segment on the bottom edge
        ([101, 50, 101, 50], 1.0),  # a point just outside
        ([50, -1, 50, 10], 1.0),  # a segment crossing the top edge
        ([-20, 50, 120, 50], 1.0),  # a segment wider than the container
    ],
)
def test_zero_area_box_is_inside_or_outside(box: list[float], expected: float) -> None:
    assert kernels.outside_fraction([box], [0, 0, 100, 100]).tolist() == [expected]


def test_per_box_containers() -> None:
    boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 5, 5]]
    containers = [[0, 0, 5, 10], [0, 0, 10, 10], [0, 0, 4, 4]]
    assert kernels.outside_fraction(boxes, containers).tolist() == [0.5, 0.0, 1.0]


def test_zero_area_container_leaves_boxes_outside() -> None:
    got = kernels.outside_fraction([[0, 0, 10, 10], [5, 5, 5, 5]], [5, 5, 5, 5])
    assert got.tolist() == [1.0, 0.0]  # the point sits on the (degenerate) container


def test_large_coordinates() -> None:
    base = 16_000_000.0  # float32 spacing is 1 px here
    got = kernels.outside_fraction(
        [[base - 3, base, base + 1, base + 4]], [base, base, base + 100, base + 100]
    )
    assert got[0] == pytest.approx(0.75, rel=1e-6)


def _layouts() -> dict[str, object]:
    rng = np.random.default_rng(3)
    xy = rng.integers(-40, 140, size=(30, 2))
    boxes = np.concatenate([xy, xy + rng.integers(0, 50, size=(30, 2))], axis=1)
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
    canvas_strided = np.array([0, -1, 0, -1, 100, -1, 100], np.float64)[::2]  # (0, 0, 100, 100)
    per_box = np.asfortranarray(np.tile(np.array([0, 0, 80, 120], np.float32), (30, 1)))
    want_canvas = kernels.outside_fraction(
        layouts["contiguous f32"], np.array([0, 0, 100, 100], np.float32)
    )
    want_per_box = kernels.outside_fraction(
        layouts["contiguous f32"], np.ascontiguousarray(per_box)
    )
    assert np.any(want_canvas > 0) and np.any(want_canvas < 1)
    np.testing.assert_array_equal(
        kernels.outside_fraction(layouts[layout], canvas_strided), want_canvas
    )
    np.testing.assert_array_equal(kernels.outside_fraction(layouts[layout], per_box), want_per_box)


@pytest.mark.parametrize("containers", [[0, 0, 10, 10], np.zeros((0, 4), np.float32)])
def test_empty_input_gives_empty_output(containers: object) -> None:
    for boxes in (np.zeros((0, 4), np.float32), []):
        got = kernels.outside_fraction(boxes, containers)
        assert got.shape == (0,) and got.dtype == np.float32
