"""token_weights and token_weights_batch: the Rust kernels against the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsdpo import kernels

from .reference import ref_token_weights, ref_token_weights_batch

WEIGHTS = st.floats(-5, 5, width=32, allow_subnormal=False)


@st.composite
def token_offsets(draw: st.DrawFn, max_tokens: int = 80) -> np.ndarray:
    """i64[T, 2] ranges tiling a text in order, like a tokenizer's offset mapping, with some
    empty (special) tokens; sometimes overlapping or out of order, which must work too."""
    lengths = draw(st.lists(st.integers(0, 6), max_size=max_tokens))  # 0 = empty token
    ends = np.cumsum(lengths, dtype=np.int64)
    offsets = np.stack([ends - np.asarray(lengths, dtype=np.int64), ends], axis=1).reshape(-1, 2)
    if len(offsets) > 1 and draw(st.booleans()):
        offsets = offsets[draw(st.permutations(range(len(offsets))))]
    return offsets


@st.composite
def spans(draw: st.DrawFn, text_length: int, max_spans: int = 12) -> np.ndarray:
    """i64[S, 2] character ranges over the text, possibly empty, overlapping or duplicated."""
    starts = draw(st.lists(st.integers(0, text_length + 2), max_size=max_spans))
    lengths = draw(st.lists(st.integers(0, 40), min_size=len(starts), max_size=len(starts)))
    return np.array([[s, s + n] for s, n in zip(starts, lengths)], dtype=np.int64).reshape(-1, 2)


@st.composite
def rollout(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offsets = draw(token_offsets())
    s = draw(spans(int(offsets[:, 1].max(initial=0))))
    w = draw(arrays(np.float32, len(s), elements=WEIGHTS))
    return offsets, s, w


def assert_weights(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@given(case=rollout(), base=st.sampled_from([1.0, 0.0, -0.5, 2.75]))
def test_matches_reference(case: tuple, base: float) -> None:
    offsets, s, w = case
    assert_weights(
        kernels.token_weights(offsets, s, w, base), ref_token_weights(offsets, s, w, base)
    )


@given(rollouts=st.lists(rollout(), max_size=12), base=st.sampled_from([1.0, 0.25]))
def test_batch_matches_reference_and_single_calls(rollouts: list[tuple], base: float) -> None:
    offsets = np.concatenate([r[0] for r in rollouts] + [np.zeros((0, 2), np.int64)])
    s = np.concatenate([r[1] for r in rollouts] + [np.zeros((0, 2), np.int64)])
    w = np.concatenate([r[2] for r in rollouts] + [np.zeros(0, np.float32)])
    token_splits = np.cumsum([0] + [len(r[0]) for r in rollouts])
    span_splits = np.cumsum([0] + [len(r[1]) for r in rollouts])

    got = kernels.token_weights_batch(offsets, token_splits, s, w, span_splits, base)
    assert_weights(got, ref_token_weights_batch(offsets, token_splits, s, w, span_splits, base))
    singles = [kernels.token_weights(o, sp, sw, base) for o, sp, sw in rollouts]
    want = np.concatenate(singles + [np.zeros(0, np.float32)])
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------------------ semantics


def test_docstring_examples() -> None:
    assert kernels.token_weights([[0, 3], [3, 6], [6, 9]], [[4, 7]], [0.5]).tolist() == [
        1.0,
        1.5,
        1.5,
    ]
    offsets = [[0, 2], [2, 4], [0, 2], [2, 4]]
    got = kernels.token_weights_batch(offsets, [0, 2, 4], [[0, 1], [3, 4]], [1.0, 2.0], [0, 1, 2])
    assert got.tolist() == [2.0, 1.0, 1.0, 3.0]


def test_half_open_ranges_touch_only_when_sharing_a_character() -> None:
    offsets = [[0, 3], [3, 6], [6, 9], [9, 12]]
    # span [3, 6) is exactly token 1; it shares no character with tokens 0 or 2
    assert kernels.token_weights(offsets, [[3, 6]], [1.0]).tolist() == [1.0, 2.0, 1.0, 1.0]
    # span [5, 10) shares one character with tokens 1 ([5]) and 3 ([9])
    assert kernels.token_weights(offsets, [[5, 10]], [1.0]).tolist() == [1.0, 2.0, 2.0, 2.0]


def test_empty_tokens_and_empty_spans_touch_nothing() -> None:
    offsets = [[0, 0], [0, 4], [4, 4], [4, 8]]  # empty "special" tokens at 0 and 4
    assert kernels.token_weights(offsets, [[0, 8]], [1.0]).tolist() == [1.0, 2.0, 1.0, 2.0]
    assert kernels.token_weights(offsets, [[2, 2], [4, 4]], [5.0, 5.0]).tolist() == [1.0] * 4


def test_overlapping_spans_add_up() -> None:
    got = kernels.token_weights(
        [[0, 10], [10, 20]], [[0, 5], [2, 12], [2, 12]], [0.5, 0.25, 0.25], base=0
    )
    assert got.tolist() == [1.0, 0.5]


def test_spans_past_the_text_and_unsorted_tokens() -> None:
    got = kernels.token_weights([[10, 12], [0, 2], [5, 8]], [[7, 100], [200, 300]], [2.0, 9.0])
    assert got.tolist() == [3.0, 1.0, 3.0]


def test_batch_offsets_are_relative_to_each_rollout() -> None:
    # the same offsets in two rollouts, the span belongs to the second one only
    got = kernels.token_weights_batch([[0, 4], [0, 4]], [0, 1, 2], [[0, 1]], [1.0], [0, 0, 1])
    assert got.tolist() == [1.0, 2.0]


def test_batch_rollouts_without_tokens_or_spans() -> None:
    got = kernels.token_weights_batch(
        [[0, 2], [2, 4]], [0, 0, 2, 2], [[0, 9], [1, 3]], [4.0, 1.0], [0, 1, 1, 2]
    )
    # rollout 0: no tokens (its span is dropped); rollout 1: tokens, no span; rollout 2: span only
    assert got.tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------ inputs and outputs


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    lengths = rng.integers(0, 5, size=60)
    ends = np.cumsum(lengths)
    offsets = np.stack([ends - lengths, ends], axis=1)
    starts = rng.integers(0, int(ends[-1]), size=10)
    s = np.stack([starts, starts + rng.integers(0, 15, size=10)], axis=1)
    return (
        offsets.astype(np.int64),
        s.astype(np.int64),
        rng.uniform(0, 2, size=10).astype(np.float32),
    )


def _layouts(a: np.ndarray) -> dict[str, object]:
    return {
        "contiguous": a,
        "strided rows": np.repeat(a, 2, axis=0)[::2],
        "fortran order": np.asfortranarray(a),
        "transposed view": np.ascontiguousarray(a.T).T,
        "int32": a.astype(np.int32),
        "list": a.tolist(),
    }


@pytest.mark.parametrize("layout", list(_layouts(np.zeros((2, 2)))))
def test_any_layout_or_dtype_gives_the_same_result(layout: str) -> None:
    offsets, s, w = _inputs()
    want = kernels.token_weights(offsets, s, w)
    assert np.any(want > 1)
    got = kernels.token_weights(
        _layouts(offsets)[layout], _layouts(s)[layout], np.repeat(w, 2)[::2].astype(np.float64)
    )
    np.testing.assert_array_equal(got, want)

    splits = np.array([0, 25, 60], np.int64)
    span_splits = np.array([0, 4, 10], np.int64)
    want_batch = kernels.token_weights_batch(offsets, splits, s, w, span_splits)
    got_batch = kernels.token_weights_batch(
        _layouts(offsets)[layout],
        np.repeat(splits, 2)[::2],
        _layouts(s)[layout],
        w.tolist(),
        span_splits.tolist(),
    )
    np.testing.assert_array_equal(got_batch, want_batch)


def test_empty_inputs_give_empty_outputs() -> None:
    empty = np.zeros((0, 2), np.int64)
    for offsets in (empty, []):
        got = kernels.token_weights(offsets, [[0, 5]], [1.0])
        assert got.shape == (0,) and got.dtype == np.float32
    no_spans = kernels.token_weights([[0, 1], [1, 2]], empty, np.zeros(0, np.float32), base=0.5)
    assert no_spans.dtype == np.float32 and no_spans.tolist() == [0.5, 0.5]
    assert kernels.token_weights([[0, 1]], [], []).tolist() == [1.0]

    batch = kernels.token_weights_batch(empty, [0], empty, np.zeros(0, np.float32), [0])
    assert batch.shape == (0,) and batch.dtype == np.float32
    batch = kernels.token_weights_batch([], [0, 0, 0], [], [], [0, 0, 0])
    assert batch.shape == (0,) and batch.dtype == np.float32
