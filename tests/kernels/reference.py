"""Plain numpy/Python references for the Rust kernels in :mod:`vsdpo.kernels`.

Each function implements the documented semantics as directly as possible (all pairs, one
token at a time) so that it is obviously right; speed does not matter here. Property tests
check that the kernels agree with these on random inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------------
# overlap_pairs


def _group_ids(groups: np.ndarray | None, n: int) -> np.ndarray:
    """Group id per box; ``None`` means every box is in the same group."""
    if groups is None:
        return np.zeros(n, dtype=np.int64)
    return np.asarray(groups, dtype=np.int64)


def intersection_area(a: np.ndarray, b: np.ndarray) -> float:
    """Area shared by two boxes ``(x0, y0, x1, y1)``; 0 when they touch or are apart."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(w * h) if w > 0 and h > 0 else 0.0


def box_area(b: np.ndarray) -> float:
    return float((b[2] - b[0]) * (b[3] - b[1]))


def ref_overlap_pairs(
    boxes: np.ndarray, groups: np.ndarray | None = None, min_area: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` in the same group with intersection area ``> min_area``.

    Every pair is examined (no pruning). Geometry in float64 on the float32 inputs."""
    b = np.asarray(boxes, dtype=np.float32).astype(np.float64).reshape(-1, 4)
    g = _group_ids(groups, len(b))
    i, j = np.triu_indices(len(b), k=1)  # all pairs i < j, already sorted by (i, j)
    w = np.minimum(b[i, 2], b[j, 2]) - np.maximum(b[i, 0], b[j, 0])
    h = np.minimum(b[i, 3], b[j, 3]) - np.maximum(b[i, 1], b[j, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    keep = (g[i] == g[j]) & (inter > min_area)
    i, j, inter = i[keep], j[keep], inter[keep]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iou = inter / (area[i] + area[j] - inter)
    return np.stack([i, j], axis=1).astype(np.int64).reshape(-1, 2), inter, iou


# --------------------------------------------------------------------------------------------
# outside_fraction


def ref_outside_fraction(boxes: np.ndarray, containers: np.ndarray) -> np.ndarray:
    """Fraction of each box outside its container (a zero-area box: 0 inside, 1 outside)."""
    b = np.asarray(boxes, dtype=np.float32).astype(np.float64).reshape(-1, 4)
    c = np.asarray(containers, dtype=np.float32).astype(np.float64)
    if c.ndim == 1:
        c = np.broadcast_to(c, b.shape)
    out = np.empty(len(b), dtype=np.float64)
    for k, (box, cont) in enumerate(zip(b, c)):
        area = box_area(box)
        if area == 0:
            inside = (
                box[0] >= cont[0] and box[2] <= cont[2] and box[1] >= cont[1] and box[3] <= cont[3]
            )
            out[k] = 0.0 if inside else 1.0
        else:
            out[k] = min(1.0, max(0.0, 1.0 - intersection_area(box, cont) / area))
    return out


# --------------------------------------------------------------------------------------------
# near_misaligned


def edge_values(boxes: np.ndarray) -> np.ndarray:
    """f32[N, 6] edge positions: left, right, h-centre, top, bottom, v-centre.

    Centres are computed in float32 as ``(x0 + x1) * 0.5``, as the kernel documents."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    half = np.float32(0.5)
    return np.stack([x0, x1, (x0 + x1) * half, y0, y1, (y0 + y1) * half], axis=1)


@dataclass(frozen=True)
class MisalignedReference:
    """Reference near-miss pairs, and the pairs too close to a boundary to call.

    ``certain`` rows must be reported; ``borderline`` rows (|delta| within ``slack`` of 0 or
    of ``tol``) may or may not be, depending on rounding inside the kernel."""

    certain: dict[tuple[int, int, int], float]  # (edge, i, j) -> delta
    borderline: dict[tuple[int, int, int], float]


def ref_near_misaligned(
    boxes: np.ndarray, groups: np.ndarray | None = None, tol: float = 4.0, slack: float = 0.0
) -> MisalignedReference:
    """Pairs ``(i, j)``, ``i < j``, same group, with ``0 < |e_j - e_i| <= tol`` per edge class.

    Deltas are float32 differences of float32 edges. With ``slack > 0``, pairs whose |delta| lies
    within ``slack`` of ``tol`` (or of 0, for the centre classes) are set aside as borderline
    instead of being decided."""
    e = edge_values(boxes)
    g = _group_ids(groups, len(e))
    i, j = np.triu_indices(len(e), k=1)  # all pairs i < j
    same = g[i] == g[j]
    certain: dict[tuple[int, int, int], float] = {}
    borderline: dict[tuple[int, int, int], float] = {}
    for edge in range(6):
        delta = e[j, edge] - e[i, edge]  # float32
        d = np.abs(delta).astype(np.float64)
        near_tol = np.abs(d - tol) <= slack if slack > 0 else np.zeros_like(same)
        # raw edges are exact inputs, so only centres (rounded sums) can blur "delta == 0"
        near_zero = d <= slack if slack > 0 and edge in (2, 5) else np.zeros_like(same)
        near_boundary = near_tol | near_zero
        hit = same & ~near_boundary & (d > 0) & (d <= tol)
        unsure = same & near_boundary
        for k in np.flatnonzero(hit):
            certain[(edge, int(i[k]), int(j[k]))] = float(delta[k])
        for k in np.flatnonzero(unsure):
            borderline[(edge, int(i[k]), int(j[k]))] = float(delta[k])
    return MisalignedReference(certain, borderline)


# --------------------------------------------------------------------------------------------
# token_weights


def ref_token_weights(
    token_offsets: np.ndarray, spans: np.ndarray, span_weights: np.ndarray, base: float = 1.0
) -> np.ndarray:
    """``w_t = base + sum of weights of spans sharing at least one character with token t``."""
    offsets = np.asarray(token_offsets, dtype=np.int64).reshape(-1, 2)
    s = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    sw = np.asarray(span_weights, dtype=np.float64).reshape(-1)
    # touches[t, k]: half-open [start, end) ranges of token t and span k share a character
    touches = np.maximum(offsets[:, None, 0], s[None, :, 0]) < np.minimum(
        offsets[:, None, 1], s[None, :, 1]
    )
    return base + touches.astype(np.float64) @ sw


def ref_token_weights_batch(
    token_offsets: np.ndarray,
    token_splits: np.ndarray,
    spans: np.ndarray,
    span_weights: np.ndarray,
    span_splits: np.ndarray,
    base: float = 1.0,
) -> np.ndarray:
    """:func:`ref_token_weights` per rollout, concatenated."""
    offsets = np.asarray(token_offsets, dtype=np.int64).reshape(-1, 2)
    s = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    sw = np.asarray(span_weights, dtype=np.float64).reshape(-1)
    parts = [np.empty(0, dtype=np.float64)]
    for b in range(len(token_splits) - 1):
        t0, t1 = token_splits[b], token_splits[b + 1]
        s0, s1 = span_splits[b], span_splits[b + 1]
        parts.append(ref_token_weights(offsets[t0:t1], s[s0:s1], sw[s0:s1], base))
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------
# contrast (WCAG 2.x, metrics.md section 4.5)


def relative_luminance(rgb: tuple[int, int, int] | np.ndarray) -> float:
    """WCAG relative luminance of an 8-bit sRGB colour."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])


def wcag_ratio(a: tuple[int, int, int] | np.ndarray, b: tuple[int, int, int] | np.ndarray) -> float:
    """WCAG contrast ratio ``(L_light + 0.05) / (L_dark + 0.05)`` of two colours, in [1, 21]."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def hex_rgb(code: str) -> tuple[int, int, int]:
    """``"#1F77B4"`` -> ``(31, 119, 180)``."""
    code = code.lstrip("#")
    return int(code[0:2], 16), int(code[2:4], 16), int(code[4:6], 16)


def ref_contrast_two_colours(
    image: np.ndarray, boxes: np.ndarray, ring: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contrast for boxes whose pixels (with their ``ring``-px ring) hold at most two colours.

    Meant for synthetic images only, where the estimate is unambiguous: the background is the
    most frequent colour of the clipped box plus ring, the text colour the other one (or the
    background itself when the box holds one colour). Boxes with no pixel inside the image
    get NaN. Raises if a box holds more than two colours or the two are equally frequent."""
    img = np.asarray(image, dtype=np.uint8)
    h, w = img.shape[:2]
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    ratio = np.full(len(b), np.nan, dtype=np.float64)
    fg = np.zeros((len(b), 3), dtype=np.uint8)
    bg = np.zeros((len(b), 3), dtype=np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(b):
        c0, c1 = max(0, int(np.floor(x0))), min(w, int(np.ceil(x1)))
        r0, r1 = max(0, int(np.floor(y0))), min(h, int(np.ceil(y1)))
        if c0 >= c1 or r0 >= r1:
            continue  # no pixel of the box inside the image
        region = img[max(0, r0 - ring) : r1 + ring, max(0, c0 - ring) : c1 + ring].reshape(-1, 3)
        colours, counts = np.unique(region, axis=0, return_counts=True)
        if len(colours) > 2 or (len(colours) == 2 and counts[0] == counts[1]):
            raise ValueError(f"box {k} is not a clear two-colour region: {colours.tolist()}")
        order = np.argsort(-counts)
        bg[k] = colours[order[0]]
        fg[k] = colours[order[-1]]
        ratio[k] = wcag_ratio(fg[k], bg[k])
    return ratio, fg, bg
