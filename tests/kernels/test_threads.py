"""Kernels called from many Python threads at once: same answers as serial calls, GIL released."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from vsdpo import kernels

THREADS = 8


def _boxes(rng: np.random.Generator, n: int, extent: float = 1000.0) -> np.ndarray:
    xy = rng.uniform(0, extent, size=(n, 2))
    wh = rng.uniform(0, 60, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


def _overlap_call(rng: np.random.Generator) -> Callable[[], Any]:
    boxes, groups = _boxes(rng, 20_000), rng.integers(-20, 30, size=20_000).astype(np.int32)
    return lambda: kernels.overlap_pairs(boxes, groups, 2.0)


def _near_call(rng: np.random.Generator) -> Callable[[], Any]:
    boxes, groups = _boxes(rng, 8_000), rng.integers(0, 40, size=8_000).astype(np.int32)
    return lambda: kernels.near_misaligned(boxes, groups, 3.0)


def _outside_call(rng: np.random.Generator) -> Callable[[], Any]:
    boxes, containers = _boxes(rng, 200_000), _boxes(rng, 200_000)
    return lambda: kernels.outside_fraction(boxes, containers)


def _contrast_call(rng: np.random.Generator) -> Callable[[], Any]:
    image = rng.integers(0, 256, size=(600, 800, 3), dtype=np.uint8)
    image[100:500, 100:700] = rng.integers(0, 256, size=3, dtype=np.uint8)  # a flat panel
    boxes = _boxes(rng, 1_500, extent=800) - 20  # some partly or fully off the image
    return lambda: kernels.contrast(image, boxes)


def _token_call(rng: np.random.Generator) -> Callable[[], Any]:
    rollouts, tokens, n_spans = 48, 1_500, 40
    lengths = rng.integers(0, 6, size=(rollouts, tokens))
    ends = np.cumsum(lengths, axis=1)
    offsets = np.stack([ends - lengths, ends], axis=2).reshape(-1, 2)
    starts = rng.integers(0, 4 * tokens, size=rollouts * n_spans)
    spans = np.stack([starts, starts + rng.integers(0, 100, size=starts.size)], axis=1)
    weights = rng.uniform(0, 2, size=starts.size).astype(np.float32)
    token_splits = np.arange(rollouts + 1) * tokens
    span_splits = np.arange(rollouts + 1) * n_spans
    return lambda: kernels.token_weights_batch(
        offsets, token_splits, spans, weights, span_splits, 0.5
    )


def _single_token_call(rng: np.random.Generator) -> Callable[[], Any]:
    lengths = rng.integers(0, 6, size=50_000)
    ends = np.cumsum(lengths)
    offsets = np.stack([ends - lengths, ends], axis=1)
    starts = rng.integers(0, int(ends[-1]), size=2_000)
    spans = np.stack([starts, starts + rng.integers(0, 60, size=2_000)], axis=1)
    weights = rng.uniform(0, 2, size=2_000).astype(np.float32)
    return lambda: kernels.token_weights(offsets, spans, weights)


CALLS = {
    "overlap_pairs": _overlap_call,
    "near_misaligned": _near_call,
    "outside_fraction": _outside_call,
    "contrast": _contrast_call,
    "token_weights_batch": _token_call,
    "token_weights": _single_token_call,
}


def _as_tuple(result: Any) -> tuple[np.ndarray, ...]:
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("kernel", list(CALLS))
def test_concurrent_calls_match_serial_calls(kernel: str) -> None:
    calls = [CALLS[kernel](np.random.default_rng(seed)) for seed in range(THREADS)]
    serial = [_as_tuple(call()) for call in calls]
    assert any(len(out[0]) > 0 for out in serial)

    barrier = threading.Barrier(THREADS)

    def run(k: int) -> list[tuple[np.ndarray, ...]]:
        barrier.wait()  # all threads enter the kernel together
        return [_as_tuple(calls[k]()), _as_tuple(calls[(k + 1) % THREADS]())]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, range(THREADS)))
    for k, (mine, next_one) in enumerate(results):
        for got, want in ((mine, serial[k]), (next_one, serial[(k + 1) % THREADS])):
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g, w)  # NaN == NaN here


# ------------------------------------------------------------------------------ GIL release


def _counter_stall(call: Callable[[], Any]) -> tuple[float, float, int]:
    """Run ``call`` while a pure-Python thread counts; return (call seconds, the counter's longest
    pause in seconds, its ticks). A kernel that holds the GIL freezes the counter for the whole
    call; one that releases it leaves only scheduling hiccups."""
    stop, started = threading.Event(), threading.Event()
    stats: dict[str, float] = {}

    def count() -> None:
        ticks, longest, last = 0, 0.0, time.perf_counter()
        started.set()
        while not stop.is_set():
            now = time.perf_counter()
            longest, last, ticks = max(longest, now - last), now, ticks + 1
        stats.update(longest=longest, ticks=ticks)

    counter = threading.Thread(target=count)
    counter.start()
    started.wait()
    t0 = time.perf_counter()
    call()
    seconds = time.perf_counter() - t0
    stop.set()
    counter.join()
    return seconds, stats["longest"], int(stats["ticks"])


def _long_call(
    make: Callable[[int], Callable[[], Any]], start: int, limit: int
) -> Callable[[], Any]:
    """Grow the input (doubling ``size`` from ``start`` up to ``limit``) until one call lasts
    0.25 s."""
    size = start
    while True:
        call = make(size)
        t0 = time.perf_counter()
        call()
        if time.perf_counter() - t0 >= 0.25 or size >= limit:
            return call
        size *= 2


@functools.cache
def _big_image() -> np.ndarray:
    image = np.full((4000, 4000, 3), 250, np.uint8)
    image[::9, ::4] = (20, 30, 40)  # sparse "ink" everywhere
    return image


def _big_contrast(boxes: int) -> Callable[[], Any]:
    image = _big_image()
    b = np.tile(np.array([[0, 0, 4000, 4000]], np.float32), (boxes, 1))
    return lambda: kernels.contrast(image, b)


def _big_overlap(n: int) -> Callable[[], Any]:
    boxes = _boxes(np.random.default_rng(1), n, extent=100.0 * np.sqrt(n))
    return lambda: kernels.overlap_pairs(boxes)


def _big_near(n: int) -> Callable[[], Any]:
    rng = np.random.default_rng(2)
    boxes, groups = _boxes(rng, n), rng.integers(0, max(1, n // 400), size=n).astype(np.int32)
    return lambda: kernels.near_misaligned(boxes, groups, 2.0)


@pytest.mark.parametrize(
    ("make", "start", "limit"),
    [(_big_contrast, 4, 64), (_big_overlap, 400_000, 6_400_000), (_big_near, 100_000, 1_600_000)],
    ids=["contrast 4000x4000", "overlap_pairs", "near_misaligned"],
)
def test_long_kernel_call_releases_the_gil(make: Callable, start: int, limit: int) -> None:
    call = _long_call(make, start, limit)
    seconds, longest_pause, ticks = _counter_stall(call)
    assert seconds >= 0.2, f"the call was too short ({seconds:.3f} s) to tell"
    # holding the GIL would freeze the counter for ~the whole call; allow a generous margin
    assert longest_pause < 0.5 * seconds, (
        f"the counter thread stalled {longest_pause:.3f} s during a {seconds:.3f} s kernel call"
    )
    assert ticks > 1000
