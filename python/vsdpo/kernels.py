"""The Rust defect and credit kernels: the one typed, documented seam over ``vsdpo._kernels``.

Every kernel works on a whole rollout group at once (boxes carry a group id; token weights take
CSR-style splits), releases the GIL while it runs, and parallelises with rayon inside Rust.
Inputs are any array-likes convertible to the documented dtype; arrays that already have that
dtype are passed to Rust without a copy, whatever their strides. Outputs are fresh numpy arrays
whose buffers Rust allocated (no copy on the way out).

Bad input raises :class:`ValueError` naming the argument, the expected form and what was
received — never a crash. Shapes and dtypes are checked here; values (NaN/inf, inverted boxes,
bad splits) are checked in Rust, where a pass over the data is cheap.

Boxes are ``(x0, y0, x1, y1)`` in pixels with ``x0 <= x1`` and ``y0 <= y1`` (y grows downward).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vsdpo import _kernels

__all__ = [
    "EDGE_NAMES",
    "contrast",
    "near_misaligned",
    "outside_fraction",
    "overlap_pairs",
    "token_weights",
    "token_weights_batch",
]

#: names of the edge classes returned by :func:`near_misaligned`, indexed by its ``edge`` codes
EDGE_NAMES = ("left", "right", "h-centre", "top", "bottom", "v-centre")


def _array(value: Any, name: str, dtype: type, ndim: int, width: int | None = None) -> np.ndarray:
    """Convert ``value`` to a C-contiguous array of ``dtype`` with ``ndim`` dimensions (and
    ``width`` columns); the Rust side then reads it in place.

    Copies only when the dtype differs or the layout is not C-contiguous."""
    expected = {1: "(N,)", 2: f"(N, {width})", 3: "(H, W, 3)"}[ndim]
    kind = f"{np.dtype(dtype).name} array of shape {expected}"
    try:
        if (
            isinstance(value, np.ndarray)
            and np.issubdtype(value.dtype, np.floating)
            and np.issubdtype(dtype, np.integer)
        ):
            # float -> int would silently truncate character offsets or group ids
            if not np.all(np.isfinite(value)) or np.any(value != np.round(value)):
                raise ValueError("non-integral values")
        arr = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"{name}: expected something convertible to a {kind}, got {_describe(value)} ({exc})"
        ) from None
    if arr.ndim == 1 and ndim == 2 and arr.size == 0:
        arr = arr.reshape(0, width or 0)
    if arr.ndim != ndim or (width is not None and arr.shape[-1] != width):
        raise ValueError(f"{name}: expected shape {expected}, got an array of shape {arr.shape}")
    return arr


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    return type(value).__name__


def _boxes(value: Any, name: str = "boxes") -> np.ndarray:
    return _array(value, name, np.float32, 2, 4)


def _groups(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    arr = _array(groups, "groups", np.int32, 1)
    if arr.shape[0] != n:
        raise ValueError(f"groups: expected one group id per box ({n}), got {arr.shape[0]}")
    return arr


def _scalar(value: Any, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(x):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return x


def _non_negative(value: Any, name: str) -> float:
    x = _scalar(value, name)
    if x < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return x


def overlap_pairs(
    boxes: Any, groups: Any = None, min_area: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of boxes in the same group whose intersection area exceeds ``min_area``.

    Args:
        boxes: f32[N, 4] boxes ``(x0, y0, x1, y1)``.
        groups: i32[N] group id of each box (the rollout it belongs to); ``None`` = one group.
        min_area: report pairs whose intersection area is strictly greater than this (>= 0).
            Boxes that only touch have intersection 0 and are never reported.

    Returns:
        ``(pairs, inter, iou)``: i64[K, 2] index pairs with ``i < j``, sorted by ``(i, j)``;
        f32[K] intersection areas; f32[K] intersection over union.

    Sweep-and-prune within each group (along the axis where boxes are shortest, with very long
    boxes tested directly), groups in parallel.

    >>> pairs, inter, iou = overlap_pairs([[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 5]])
    >>> pairs.tolist(), inter.tolist(), [round(float(v), 4) for v in iou]
    ([[0, 1]], [25.0], [0.1429])
    """
    b = _boxes(boxes)
    return _kernels.overlap_pairs(
        b, _groups(groups, b.shape[0]), _non_negative(min_area, "min_area")
    )


def outside_fraction(boxes: Any, containers: Any) -> np.ndarray:
    """Fraction of each box's area that lies outside its container.

    Args:
        boxes: f32[N, 4].
        containers: f32[N, 4], one container per box, or a single f32[4] box (the canvas)
            shared by all.

    Returns:
        f32[N] in [0, 1]. A zero-area box (a point or a segment) counts 0 when it lies inside
        its container (edges included) and 1 otherwise.

    >>> outside_fraction([[90, 0, 110, 10], [0, 0, 10, 10]], [0, 0, 100, 100]).tolist()
    [0.5, 0.0]
    """
    b = _boxes(boxes)
    try:
        ndim = np.ndim(containers)
    except ValueError:  # ragged nested lists: let the (N, 4) conversion report it by name
        ndim = 2
    if ndim == 1:
        c = _array(containers, "containers", np.float32, 1)
        if c.shape[0] != 4:
            raise ValueError(f"containers: expected shape (4,) or (N, 4), got {c.shape}")
        c = c.reshape(1, 4)
    else:
        c = _boxes(containers, "containers")
        if c.shape[0] != b.shape[0]:
            raise ValueError(
                f"containers: expected one container per box ({b.shape[0]}) or a single box, "
                f"got {c.shape[0]}"
            )
    return _kernels.outside_fraction(b, c)


def contrast(image: Any, boxes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WCAG 2.x contrast ratio of the text inside each box, estimated from the pixels.

    The background is the dominant colour of the box and a 2-pixel ring around it; the text
    colour is the dominant colour among the pixels farthest from the background, so the
    anti-aliased edges of glyphs do not drag it toward the background.

    Args:
        image: u8[H, W, 3] RGB image (an RGBA image is not accepted: composite it first).
        boxes: f32[N, 4] text boxes in pixel coordinates; parts outside the image are clipped.

    Returns:
        ``(ratio, fg, bg)``: f32[N] contrast ratios in [1, 21] (NaN for a box with no pixels
        inside the image), u8[N, 3] estimated text colours, u8[N, 3] background colours.
        A box with no visible ink gets ratio 1 and ``fg == bg``.

    >>> img = np.full((20, 40, 3), 255, np.uint8); img[5:15, 5:35] = 0
    >>> ratio, fg, bg = contrast(img, [[0, 0, 40, 20]])
    >>> round(float(ratio[0]), 1), fg[0].tolist(), bg[0].tolist()
    (21.0, [0, 0, 0], [255, 255, 255])
    """
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8):
        raw = np.asarray(image) if not isinstance(image, np.ndarray) else image
        # Only exact 8-bit values convert: a float image in [0, 1] or 16-bit data would wrap.
        if (
            raw.dtype.kind in "biuf"
            and raw.size
            and not (np.all(raw >= 0) and np.all(raw <= 255) and np.all(raw == np.round(raw)))
        ):
            raise ValueError(
                f"image: expected 8-bit RGB values (integers in 0..255) in an array of shape "
                f"(H, W, 3), got {_describe(raw)} with values outside that range (convert floats "
                "in [0, 1] with (img * 255).round().astype(np.uint8))"
            )
    img = _array(image, "image", np.uint8, 3, 3)
    return _kernels.contrast(img, _boxes(boxes))


def near_misaligned(
    boxes: Any, groups: Any = None, tol: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of boxes whose edges almost, but not exactly, line up.

    For each edge class — left (0), right (1), horizontal centre (2), top (3), bottom (4),
    vertical centre (5); names in :data:`EDGE_NAMES` — report pairs ``(i, j)``, ``i < j``, in
    the same group with ``0 < |e_j - e_i| <= tol``.

    Returns:
        ``(pairs, edge, delta)``: i64[K, 2]; i8[K] edge class; f32[K] signed ``e_j - e_i``.
        Sorted by ``(edge, i, j)``.

    >>> pairs, edge, delta = near_misaligned([[10, 0, 50, 10], [12, 20, 50, 30]], tol=4)
    >>> pairs.tolist(), [EDGE_NAMES[e] for e in edge], delta.tolist()
    ([[0, 1], [0, 1]], ['left', 'h-centre'], [2.0, 1.0])
    """
    b = _boxes(boxes)
    return _kernels.near_misaligned(b, _groups(groups, b.shape[0]), _non_negative(tol, "tol"))


def token_weights(
    token_offsets: Any, spans: Any, span_weights: Any, base: float = 1.0
) -> np.ndarray:
    """Per-token credit weights: ``w_t = base + sum of the weights of the spans that touch t``.

    Args:
        token_offsets: i64[T, 2] character ranges ``[start, end)`` of each token, as a fast
            tokenizer's ``offset_mapping`` gives them. Empty ranges (special tokens) get ``base``.
        spans: i64[S, 2] character ranges ``[start, end)`` (the code lines blamed for defects).
        span_weights: f32[S] weight of each span (e.g. lambda x defect severity).
        base: the weight every token starts with.

    A token and a span touch when they share at least one character.

    >>> token_weights([[0, 3], [3, 6], [6, 9]], [[4, 7]], [0.5]).tolist()
    [1.0, 1.5, 1.5]
    """
    offsets = _array(token_offsets, "token_offsets", np.int64, 2, 2)
    s = _array(spans, "spans", np.int64, 2, 2)
    w = _array(span_weights, "span_weights", np.float32, 1)
    if w.shape[0] != s.shape[0]:
        raise ValueError(
            f"span_weights: expected one weight per span ({s.shape[0]}), got {w.shape[0]}"
        )
    return _kernels.token_weights(offsets, s, w, _scalar(base, "base"))


def token_weights_batch(
    token_offsets: Any,
    token_splits: Any,
    spans: Any,
    span_weights: Any,
    span_splits: Any,
    base: float = 1.0,
) -> np.ndarray:
    """:func:`token_weights` for a whole group of rollouts laid out CSR-style, in parallel.

    Rollout ``b`` owns tokens ``token_offsets[token_splits[b]:token_splits[b+1]]`` and spans
    ``spans[span_splits[b]:span_splits[b+1]]``; character offsets are relative to that
    rollout's completion. Both splits are i64[B+1], start at 0, never decrease, and end at
    the number of rows.

    >>> offsets = [[0, 2], [2, 4], [0, 2], [2, 4]]
    >>> token_weights_batch(offsets, [0, 2, 4], [[0, 1], [3, 4]], [1.0, 2.0], [0, 1, 2]).tolist()
    [2.0, 1.0, 1.0, 3.0]
    """
    offsets = _array(token_offsets, "token_offsets", np.int64, 2, 2)
    tsplit = _array(token_splits, "token_splits", np.int64, 1)
    s = _array(spans, "spans", np.int64, 2, 2)
    w = _array(span_weights, "span_weights", np.float32, 1)
    ssplit = _array(span_splits, "span_splits", np.int64, 1)
    if w.shape[0] != s.shape[0]:
        raise ValueError(
            f"span_weights: expected one weight per span ({s.shape[0]}), got {w.shape[0]}"
        )
    if tsplit.shape[0] != ssplit.shape[0]:
        raise ValueError(
            f"span_splits: expected as many entries as token_splits ({tsplit.shape[0]}, one per "
            f"rollout plus one), got {ssplit.shape[0]}"
        )
    return _kernels.token_weights_batch(offsets, tsplit, s, w, ssplit, _scalar(base, "base"))
