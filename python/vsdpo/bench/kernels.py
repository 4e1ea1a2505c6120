"""``vsdpo bench kernels``: time each Rust kernel against the best baseline a user would write.

Every kernel runs on realistic inputs (chart- and page-like element boxes for a group of
rollouts, a tall screenshot with real text, tokenizer-like offsets with line spans) next to
honest, vectorised numpy baselines (and shapely's STRtree for overlaps). Each baseline's output
is checked against the kernel's on the same inputs before anything is timed, so every ratio
compares two ways of computing the same answer. The result is one markdown table of times,
speed-ups and the issue's targets; speed targets are ratios measured in the same run, never
timed assertions in tests.

Run ``vsdpo bench kernels`` (or ``python benches/bench_kernels.py``); ``--quick`` is a small
smoke run.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.bench.timing import (
    Timing,
    command_line,
    format_ms,
    machine_description,
    markdown_table,
    time_call,
)

__all__ = [
    "BenchConfig",
    "BenchMismatch",
    "BoxLayout",
    "Screenshot",
    "TokenBatch",
    "contrast_per_box_numpy",
    "layout_boxes",
    "main",
    "near_misaligned_numpy",
    "outside_fraction_numpy",
    "overlap_pairs_numpy",
    "overlap_pairs_strtree",
    "report",
    "run_benchmarks",
    "screenshot",
    "token_batch",
    "token_weights_numpy_batched",
    "token_weights_numpy_per_rollout",
]

CANVAS = (1280.0, 960.0)
#: near-miss tolerance of metrics.md 4.4 at W = 1280: max(4 px, 0.004 W)
ALIGN_TOL = max(4.0, 0.004 * CANVAS[0])
#: browsers lay out in 1/64 px units; on that grid sums and differences of f32 coordinates are
#: exact, so the kernel and the baselines cannot disagree about a pair sitting on a threshold
LAYOUT_UNIT = 1.0 / 64.0


class BenchMismatch(RuntimeError):
    """A baseline disagreed with the kernel on the same inputs: its timing would mean nothing."""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxLayout:
    """Element boxes of a group of rollouts, laid out like charts and pages on one canvas.

    ``boxes`` f32[N, 4]; ``groups`` i32[N] rollout ids, sorted; ``containers`` f32[N, 4] the
    box each element should stay inside (its panel, or the canvas for a panel)."""

    boxes: np.ndarray
    groups: np.ndarray
    containers: np.ndarray


def _panel_grid(n_panels: int, rng: np.random.Generator) -> list[tuple[float, float, float, float]]:
    """Axes/cards tiling the canvas with margins, like subplots or a page's content blocks."""
    w, h = CANVAS
    cols = 1 if n_panels == 1 else 2
    rows = -(-n_panels // cols)
    margin_x, margin_top, margin_bottom, gap = 70.0, 50.0, 60.0, 40.0
    pw = (w - 2 * margin_x - (cols - 1) * gap) / cols
    ph = (h - margin_top - margin_bottom - (rows - 1) * gap) / rows
    panels = []
    for k in range(n_panels):
        r, c = divmod(k, cols)
        x0 = margin_x + c * (pw + gap) + rng.uniform(-6, 6)
        y0 = margin_top + r * (ph + gap) + rng.uniform(-6, 6)
        panels.append((x0, y0, x0 + pw, y0 + ph))
    return panels


def _text_boxes_in_panel(
    panel: tuple[float, float, float, float], count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` text boxes in rows and columns inside ``panel`` (tick labels, table cells,
    legend entries, words of a paragraph), with the defects real renders have: long labels
    that run into their neighbours, a few misplaced ones, near-miss edges, and labels that
    stick out of the panel."""
    px0, py0, px1, py1 = panel
    pw, ph = px1 - px0, py1 - py0
    # cells about 4:1, like a short label
    cols = max(1, round(np.sqrt(count * (pw / ph) / 4.0)))
    rows = -(-count // cols)
    pitch, cell_w = ph / rows, pw / cols
    font = float(np.clip(pitch * 0.72, 5.0, 18.0))
    char_w = 0.55 * font
    align = rng.choice(["left", "centre", "right"], p=[0.6, 0.3, 0.1])

    k = np.arange(count)
    row, col = k // cols, k % cols
    # mostly short labels; one in ten is long enough to run into the next cell
    chars = np.where(rng.random(count) < 0.9, rng.integers(2, 9, count), rng.integers(9, 24, count))
    width = chars * char_w
    pad = 0.1 * cell_w
    cell_x = px0 + col * cell_w
    x0 = {
        "left": cell_x + pad,
        "centre": cell_x + (cell_w - width) / 2,
        "right": cell_x + cell_w - pad - width,
    }[str(align)]
    y0 = py0 + row * pitch + (pitch - font) / 2
    x0, y0 = x0.astype(np.float64), y0.astype(np.float64)

    # near-miss edges: a label nudged by 1-4 px (a hand-placed annotation, a rounding slip)
    nudged = rng.random(count) < 0.08
    x0[nudged] += rng.choice([-1, 1], nudged.sum()) * rng.uniform(1.2, 4.0, nudged.sum())
    lifted = rng.random(count) < 0.04
    y0[lifted] += rng.choice([-1, 1], lifted.sum()) * rng.uniform(1.2, 4.0, lifted.sum())
    # misplaced labels that land on a neighbour
    moved = rng.random(count) < 0.02
    x0[moved] += rng.uniform(-cell_w, cell_w, moved.sum())
    y0[moved] += rng.uniform(-pitch, pitch, moved.sum())
    # labels sticking out of the panel (and sometimes off the canvas), like cut-off tick labels
    out = rng.random(count) < 0.02
    x0[out] += rng.choice([-1, 1], out.sum()) * rng.uniform(0.3, 1.0, out.sum()) * pw
    return np.stack([x0, y0, x0 + width, y0 + font], axis=1)


def layout_boxes(n_groups: int, boxes_per_group: int, seed: int = 0) -> BoxLayout:
    """Boxes for ``n_groups`` rollouts of ``boxes_per_group`` elements each on a 1280x960 canvas.

    Each rollout draws 1-4 panels (axes, cards) and fills them with rows and columns of small
    text boxes; group ids are ``0..n_groups-1``, one rollout after another. Coordinates are
    quantised to 1/64 px (see :data:`LAYOUT_UNIT`)."""
    rng = np.random.default_rng(seed)
    canvas = np.array([0.0, 0.0, *CANVAS])
    boxes, containers, groups = [], [], []
    for g in range(n_groups):
        n_panels = int(min(rng.integers(1, 5), max(1, boxes_per_group // 10)))
        panels = _panel_grid(n_panels, rng)
        texts = boxes_per_group - n_panels
        shares = np.full(n_panels, texts // n_panels)
        shares[: texts % n_panels] += 1
        rows = [np.array(panels)]
        parents = [np.tile(canvas, (n_panels, 1))]
        for panel, share in zip(panels, shares):
            if share:
                rows.append(_text_boxes_in_panel(panel, int(share), rng))
                parents.append(np.tile(panel, (int(share), 1)))
        boxes.append(np.concatenate(rows))
        containers.append(np.concatenate(parents))
        groups.append(np.full(boxes_per_group, g, np.int32))

    def quantise(a: list[np.ndarray]) -> np.ndarray:
        return (np.round(np.concatenate(a) / LAYOUT_UNIT) * LAYOUT_UNIT).astype(np.float32)

    return BoxLayout(quantise(boxes), np.concatenate(groups), quantise(containers))


@dataclass(frozen=True)
class Screenshot:
    """An RGB page screenshot u8[H, W, 3] and the boxes f32[N, 4] of the text drawn on it."""

    image: np.ndarray
    boxes: np.ndarray


_WORDS = (
    "revenue growth quarter forecast region market share annual report total sales margin "
    "customer churn retention cohort weekly active users latency throughput p95 error budget "
    "deployment pipeline release notes overview pricing plans features support contact team "
    "about careers privacy terms download documentation install quick start examples gallery "
    "temperature rainfall humidity station average median baseline variance signal noise"
).split()

# (text, background) pairs as pages use them, some of them failing WCAG AA on purpose
_PAGE_STYLES = (
    ((33, 37, 41), (255, 255, 255)),
    ((119, 119, 119), (255, 255, 255)),  # #777777 on white: 4.48, just fails AA
    ((31, 119, 180), (255, 255, 255)),
    ((44, 160, 44), (248, 249, 250)),
    ((255, 255, 255), (13, 71, 161)),
    ((255, 255, 255), (255, 255, 0)),  # white on yellow: 1.07
    ((149, 149, 149), (255, 255, 255)),
    ((52, 58, 64), (233, 236, 239)),
    ((255, 255, 255), (220, 53, 69)),
    ((0, 0, 0), (255, 243, 205)),
)


def _find_dejavu_sans(size: int):  # -> PIL.ImageFont.FreeTypeFont
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)  # Pillow searches the system font dirs
    except OSError:
        pass
    try:  # matplotlib ships DejaVu Sans
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(path), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


@functools.lru_cache(maxsize=4)
def screenshot(
    width: int = 1920, height: int = 4000, n_texts: int = 300, seed: int = 0
) -> Screenshot:
    """A page screenshot with ``n_texts`` lines of real text drawn with Pillow in DejaVu Sans.

    Three columns of cards with flat fills, each a heading and a few body lines in varied sizes
    and colours (some low-contrast on purpose). Text boxes are the line boxes a browser would
    report (the advance width by 1.25 x the font size), on whole pixels. Built once per
    process: the result is cached, and its arrays are read-only."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    fonts: dict[int, Any] = {}
    margin, gap, columns = 80, 40, 3
    card_w = (width - 2 * margin - (columns - 1) * gap) // columns
    # the body text is sized so the cards fill the page whatever its height and text count
    body_size = int(np.clip(height * columns / (n_texts * 1.25 * 1.9), 11, 20))
    tops = [margin] * columns
    boxes: list[tuple[int, int, int, int]] = []
    while len(boxes) < n_texts:
        c = int(np.argmin(tops))
        fg, bg = _PAGE_STYLES[rng.integers(len(_PAGE_STYLES))]
        lines = [(int(body_size * 1.6), 2)] + [(body_size, 4)] * int(rng.integers(3, 9))
        card_h = sum(int(s * 1.25) for s, _ in lines) + 2 * 16
        x0, y0 = margin + c * (card_w + gap), tops[c]
        if y0 + card_h > height - 20:
            break
        draw.rectangle((x0, y0, x0 + card_w - 1, y0 + card_h - 1), fill=bg)
        y = y0 + 16
        for size, max_words in lines:
            if len(boxes) == n_texts:
                break
            font = fonts.setdefault(size, _find_dejavu_sans(size))
            words = rng.choice(
                _WORDS, int(rng.integers(1, max_words + 1)) * (2 if size == body_size else 1)
            )
            text = " ".join(words).capitalize()
            while draw.textlength(text, font=font) > card_w - 32 and " " in text:
                text = text.rsplit(" ", 1)[0]
            draw.text((x0 + 16, y), text, fill=fg, font=font)
            line_h = int(size * 1.25)
            boxes.append(
                (x0 + 16, y, x0 + 16 + int(np.ceil(draw.textlength(text, font=font))), y + line_h)
            )
            y += line_h
        tops[c] = y0 + card_h + gap
    image = np.asarray(img, dtype=np.uint8).copy()
    image.setflags(write=False)
    box_array = np.asarray(boxes, dtype=np.float32)
    box_array.setflags(write=False)
    return Screenshot(image, box_array)


@dataclass(frozen=True)
class TokenBatch:
    """Token offsets and blamed line spans of a group of rollouts, CSR-style as
    :func:`vsdpo.kernels.token_weights_batch` takes them."""

    token_offsets: np.ndarray  # i64[T, 2]
    token_splits: np.ndarray  # i64[B + 1]
    spans: np.ndarray  # i64[S, 2]
    span_weights: np.ndarray  # f32[S]
    span_splits: np.ndarray  # i64[B + 1]


def token_batch(n_rollouts: int, tokens: int, spans: int, seed: int = 0) -> TokenBatch:
    """Tokenizer-like offsets (a BOS token with an empty range, then contiguous tokens of 1-6
    characters) and ``spans`` weighted spans per rollout, each covering one to three whole lines
    of the completion (lines of 10-90 characters), as the credit mapper blames code lines."""
    rng = np.random.default_rng(seed)
    offsets, span_rows, weights = [], [], []
    token_splits, span_splits = [0], [0]
    for _ in range(n_rollouts):
        lengths = rng.integers(1, 7, tokens - 1)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        offsets.append(np.concatenate([[[0, 0]], np.stack([starts, ends], axis=1)]))
        n_chars = int(ends[-1])
        line_ends = np.cumsum(rng.integers(10, 91, n_chars // 10 + 1))
        line_ends = np.append(line_ends[line_ends < n_chars], n_chars)
        line_starts = np.concatenate([[0], line_ends[:-1]])
        first = rng.integers(0, len(line_ends), spans)
        last = np.minimum(first + rng.choice([0, 0, 0, 1, 2], spans), len(line_ends) - 1)
        span_rows.append(np.stack([line_starts[first], line_ends[last]], axis=1))
        weights.append(rng.uniform(0.05, 1.0, spans))  # lambda x severity
        token_splits.append(token_splits[-1] + tokens)
        span_splits.append(span_splits[-1] + spans)
    return TokenBatch(
        np.concatenate(offsets).astype(np.int64),
        np.array(token_splits, np.int64),
        np.concatenate(span_rows).astype(np.int64),
        np.concatenate(weights).astype(np.float32),
        np.array(span_splits, np.int64),
    )


# --------------------------------------------------------------------------------------------
# Baselines: what a competent numpy user would write instead of calling the kernels
# --------------------------------------------------------------------------------------------


def _group_slices(groups: np.ndarray) -> list[slice]:
    """Contiguous runs of equal group ids (the layouts here keep each rollout together)."""
    if groups.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(groups)) + 1
    bounds = np.concatenate([[0], cuts, [groups.size]])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _sorted_pairs(pairs: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return (pairs[order], *(v[order] for v in values))


def _pair_areas(boxes: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = boxes[i], boxes[j]
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0).astype(np.float32)
    return inter.astype(np.float32), iou


def _empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty((0, 2), np.int64), np.empty(0, np.float32), np.empty(0, np.float32)


def overlap_pairs_numpy(
    boxes: np.ndarray, groups: np.ndarray, min_area: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs per group by broadcasting: an N x N intersection matrix per rollout, upper
    triangle kept. Same output as :func:`vsdpo.kernels.overlap_pairs`."""
    found = []
    for sl in _group_slices(groups):
        b = boxes[sl]
        iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
        ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
        np.clip(iw, 0, None, out=iw)
        np.clip(ih, 0, None, out=ih)
        inter = np.multiply(iw, ih, out=iw)
        i, j = np.nonzero(np.triu(inter > min_area, k=1))
        found.append(np.stack([i, j], axis=1) + sl.start)
    if not found:
        return _empty_pairs()
    pairs = np.concatenate(found).astype(np.int64)
    inter, iou = _pair_areas(boxes, pairs[:, 0], pairs[:, 1])
    return pairs, inter, iou  # np.nonzero walks rows in order: already sorted by (i, j)


def overlap_pairs_strtree(
    boxes: np.ndarray, groups: np.ndarray, min_area: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """shapely 2: an STRtree per group, queried with all its boxes (predicate "intersects"),
    then exact intersection areas with numpy. Building the geometries is part of the cost: the
    caller starts from the same arrays the kernel gets."""
    import shapely

    found = []
    for sl in _group_slices(groups):
        b = boxes[sl].astype(np.float64)
        geoms = shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        tree = shapely.STRtree(geoms)
        i, j = tree.query(geoms, predicate="intersects")
        keep = i < j
        found.append(np.stack([i[keep], j[keep]], axis=1) + sl.start)
    if not found:
        return _empty_pairs()
    pairs = np.concatenate(found).astype(np.int64)
    inter, iou = _pair_areas(boxes, pairs[:, 0], pairs[:, 1])
    keep = inter > min_area  # "intersects" also matches boxes that only touch
    return _sorted_pairs(pairs[keep], inter[keep], iou[keep])


def outside_fraction_numpy(boxes: np.ndarray, containers: np.ndarray) -> np.ndarray:
    """Vectorised numpy: 1 - area(box & container) / area(box); a zero-area box counts 0 when
    it lies inside its container (edges included) and 1 otherwise."""
    iw = np.clip(
        np.minimum(boxes[:, 2], containers[:, 2]) - np.maximum(boxes[:, 0], containers[:, 0]),
        0,
        None,
    )
    ih = np.clip(
        np.minimum(boxes[:, 3], containers[:, 3]) - np.maximum(boxes[:, 1], containers[:, 1]),
        0,
        None,
    )
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    inside = np.all(
        (boxes[:, :2] >= containers[:, :2]) & (boxes[:, 2:] <= containers[:, 2:]), axis=1
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(area > 0, 1 - (iw * ih) / area, np.where(inside, 0.0, 1.0))
    return np.clip(frac, 0, 1).astype(np.float32)


def _edges(boxes: np.ndarray) -> np.ndarray:
    """f32[N, 6]: left, right, h-centre, top, bottom, v-centre (the kernel's edge codes)."""
    x0, y0, x1, y1 = boxes.T
    return np.stack(
        [x0, x1, (x0 + x1) * np.float32(0.5), y0, y1, (y0 + y1) * np.float32(0.5)], axis=1
    )


def near_misaligned_numpy(
    boxes: np.ndarray, groups: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group and edge class: sort the edge values, take each value's window of later values
    within ``tol`` (searchsorted), keep pairs with ``0 < d <= tol``. Same output as
    :func:`vsdpo.kernels.near_misaligned`."""
    edges = _edges(boxes)
    all_pairs, all_edge = [], []
    for sl in _group_slices(groups):
        for e in range(6):
            v = edges[sl, e]
            order = np.argsort(v, kind="stable")
            sv = v[order]
            # a slightly wide window, then the exact test: sv + tol rounds in f32
            hi = np.searchsorted(sv, sv + np.float32(tol * (1 + 1e-6) + 1e-6), side="right")
            counts = hi - np.arange(sv.size) - 1
            p = np.repeat(np.arange(sv.size), counts)
            q = p + 1 + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            d = sv[q] - sv[p]
            keep = (d > 0) & (d <= tol)
            a, b = order[p[keep]], order[q[keep]]
            all_pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1) + sl.start)
            all_edge.append(np.full(int(keep.sum()), e, np.int8))
    if not all_pairs:
        return np.empty((0, 2), np.int64), np.empty(0, np.int8), np.empty(0, np.float32)
    pairs = np.concatenate(all_pairs).astype(np.int64)
    edge = np.concatenate(all_edge)
    order = np.lexsort((pairs[:, 1], pairs[:, 0], edge))
    pairs, edge = pairs[order], edge[order]
    delta = edges[pairs[:, 1], edge] - edges[pairs[:, 0], edge]
    return pairs, edge, delta.astype(np.float32)


def _token_weights_searchsorted(
    offsets: np.ndarray, spans: np.ndarray, weights: np.ndarray, base: float
) -> np.ndarray:
    """O((T + S) log S): the spans touching a token [s, e) are those starting before e minus
    those ending at or before s, so w = W(start < e) - W(end <= s) with prefix sums of the
    weights sorted by span start and by span end."""
    nonempty = spans[:, 1] > spans[:, 0]  # an empty span touches nothing, but would count once
    spans, w = spans[nonempty], weights[nonempty].astype(np.float64)
    by_start = np.argsort(spans[:, 0], kind="stable")
    by_end = np.argsort(spans[:, 1], kind="stable")
    cum_start = np.concatenate([[0.0], np.cumsum(w[by_start])])
    cum_end = np.concatenate([[0.0], np.cumsum(w[by_end])])
    s_tok, e_tok = offsets[:, 0], offsets[:, 1]
    touched = (
        cum_start[np.searchsorted(spans[by_start, 0], e_tok, side="left")]
        - cum_end[np.searchsorted(spans[by_end, 1], s_tok, side="right")]
    )
    out = base + touched
    out[e_tok <= s_tok] = base  # special tokens (empty ranges) keep the base weight
    return out.astype(np.float32)


def token_weights_numpy_per_rollout(batch: TokenBatch, base: float = 1.0) -> np.ndarray:
    """The searchsorted prefix-sum method, one rollout at a time."""
    ts, ss = batch.token_splits, batch.span_splits
    return np.concatenate(
        [
            _token_weights_searchsorted(
                batch.token_offsets[ts[b] : ts[b + 1]],
                batch.spans[ss[b] : ss[b + 1]],
                batch.span_weights[ss[b] : ss[b + 1]],
                base,
            )
            for b in range(len(ts) - 1)
        ]
    )


def token_weights_numpy_batched(batch: TokenBatch, base: float = 1.0) -> np.ndarray:
    """The searchsorted prefix-sum method for all rollouts in one call: each rollout's
    character offsets are shifted into a range of their own, so spans of one rollout can never
    touch tokens of another, and no Python loop is left."""
    ts, ss = batch.token_splits, batch.span_splits
    stride = int(max(batch.token_offsets.max(initial=0), batch.spans.max(initial=0))) + 1
    rollouts = np.arange(len(ts) - 1, dtype=np.int64) * stride
    offsets = batch.token_offsets + np.repeat(rollouts, np.diff(ts))[:, None]
    spans = batch.spans + np.repeat(rollouts, np.diff(ss))[:, None]
    return _token_weights_searchsorted(offsets, spans, batch.span_weights, base)


def _relative_luminance(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def _contrast_ratio(fg: np.ndarray, bg: np.ndarray) -> float:
    lf, lb = _relative_luminance(fg), _relative_luminance(bg)
    return float((max(lf, lb) + 0.05) / (min(lf, lb) + 0.05))


RING = 2  # px of surrounding background sampled with each box
#: squared RGB distance below which a box counts as having no visible ink
INK_MIN_DIST2 = 36


def _packed(pixels: np.ndarray) -> np.ndarray:
    p = pixels.astype(np.uint32)
    return (p[:, 0] << 16) | (p[:, 1] << 8) | p[:, 2]


def _unpacked(colour: int) -> np.ndarray:
    return np.array([(colour >> 16) & 255, (colour >> 8) & 255, colour & 255], np.uint8)


def _background(bins: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The most frequent exact colour inside the fullest 4-bit bin (ties: the lowest)."""
    best = int(np.argmax(np.bincount(bins, minlength=4096)))
    colours, counts = np.unique(_packed(pixels[bins == best]), return_counts=True)
    return _unpacked(int(colours[np.argmax(counts)]))


def _ink_colour(pixels: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The most frequent exact colour (ties: the farthest from the background, then the lowest)."""
    colours, counts = np.unique(_packed(pixels), return_counts=True)
    rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], 1).astype(np.int64)
    dist2 = ((rgb - bg.astype(np.int64)) ** 2).sum(axis=1)
    order = np.lexsort((colours, -dist2, -counts))  # last key sorts first
    return _unpacked(int(colours[order[0]]))


def contrast_per_box_numpy(
    image: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-box numpy running the kernel's algorithm: the background is the most frequent exact
    colour of the fullest 4-bit bin (np.bincount) over the box and a 2-px ring; the text colour
    is the most frequent exact colour (np.unique) among the box pixels at least half as far
    from the background as the farthest one; then the WCAG ratio. Same output as
    :func:`vsdpo.kernels.contrast`."""
    h, w = image.shape[:2]
    q = (image >> 4).astype(np.uint16)
    bin_image = (q[..., 0] << 8) | (q[..., 1] << 4) | q[..., 2]
    n = boxes.shape[0]
    ratio = np.full(n, np.nan, np.float32)
    fg = np.zeros((n, 3), np.uint8)
    bg = np.zeros((n, 3), np.uint8)
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(np.float64)):
        bx0, bx1 = int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.ceil(x1), 0, w))
        by0, by1 = int(np.clip(np.floor(y0), 0, h)), int(np.clip(np.ceil(y1), 0, h))
        if bx1 <= bx0 or by1 <= by0:
            continue
        ring = (slice(max(by0 - RING, 0), by1 + RING), slice(max(bx0 - RING, 0), bx1 + RING))
        bg[k] = _background(bin_image[ring].ravel(), image[ring].reshape(-1, 3))
        inner = image[by0:by1, bx0:bx1].reshape(-1, 3)
        dist2 = ((inner.astype(np.int32) - bg[k].astype(np.int32)) ** 2).sum(axis=1)
        far = int(dist2.max())
        if far < INK_MIN_DIST2:  # no visible ink
            fg[k], ratio[k] = bg[k], 1.0
            continue
        ink = dist2 >= (far + 3) // 4  # at least half the largest distance
        fg[k] = _ink_colour(inner[ink], bg[k])
        ratio[k] = _contrast_ratio(fg[k], bg[k])
    return ratio, fg, bg


# --------------------------------------------------------------------------------------------
# Checking that a baseline computes what the kernel computes
# --------------------------------------------------------------------------------------------


def _check_pairs(what: str, expected: np.ndarray, got: np.ndarray) -> None:
    if expected.shape == got.shape and np.array_equal(expected, got):
        return
    kernel_set = {tuple(p) for p in expected.tolist()}
    baseline_set = {tuple(p) for p in got.tolist()}
    only_kernel = sorted(kernel_set - baseline_set)[:3]
    only_baseline = sorted(baseline_set - kernel_set)[:3]
    detail = (
        f"only the kernel has {only_kernel}, only the baseline has {only_baseline}"
        if only_kernel or only_baseline
        else "same pairs in a different order"
    )
    raise BenchMismatch(
        f"{what}: the kernel found {len(expected)} pairs, the baseline {len(got)}; {detail}"
    )


def _check_close(
    what: str, expected: np.ndarray, got: np.ndarray, rtol: float, atol: float
) -> None:
    expected, got = np.asarray(expected, np.float64), np.asarray(got, np.float64)
    if expected.shape != got.shape:
        raise BenchMismatch(
            f"{what}: the kernel returned shape {expected.shape}, the baseline {got.shape}"
        )
    close = np.isclose(expected, got, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        bad = np.flatnonzero(~close.ravel())
        k = int(bad[0])
        raise BenchMismatch(
            f"{what}: {bad.size} of {close.size} values differ beyond rtol={rtol}, atol={atol}; "
            f"first at flat index {k}: kernel {expected.ravel()[k]!r}, baseline {got.ravel()[k]!r}"
        )


def _check_overlaps(what: str, kernel: tuple, baseline: tuple) -> None:
    _check_pairs(what, kernel[0], baseline[0])
    _check_close(what + " (intersection areas)", kernel[1], baseline[1], rtol=1e-4, atol=1e-3)
    _check_close(what + " (IoU)", kernel[2], baseline[2], rtol=1e-4, atol=1e-6)


def _check_alignment(what: str, kernel: tuple, baseline: tuple) -> None:
    order = np.lexsort((kernel[0][:, 1], kernel[0][:, 0], kernel[1]))  # documented (edge, i, j)
    if not np.array_equal(order, np.arange(order.size)):
        raise BenchMismatch(f"{what}: the kernel's pairs are not sorted by (edge, i, j)")
    _check_pairs(
        what, np.column_stack([kernel[1], kernel[0]]), np.column_stack([baseline[1], baseline[0]])
    )
    _check_close(what + " (delta)", kernel[2], baseline[2], rtol=0, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchConfig:
    """Problem sizes of one run. :meth:`full` is the issue's; :meth:`quick` a smoke run."""

    box_groups: int
    boxes_per_group: tuple[int, ...]
    overlap_target_boxes: int  # the size the overlap target is stated for
    screenshot: tuple[int, int, int]  # width, height, text boxes
    tokens: tuple[int, int, int]  # rollouts, tokens per rollout, spans per rollout
    repeat: int
    baseline_budget_s: float  # slow baselines get fewer runs, to stay near this per measurement

    @classmethod
    def full(cls, repeat: int | None = None) -> BenchConfig:
        return cls(64, (50, 500, 2000), 500, (1920, 4000, 300), (64, 2048, 200), repeat or 7, 3.0)

    @classmethod
    def quick(cls, repeat: int | None = None) -> BenchConfig:
        return cls(8, (50, 500), 500, (640, 900, 40), (8, 256, 20), repeat or 3, 0.5)


@dataclass(frozen=True)
class Baseline:
    name: str
    run: Callable[[], Any]


@dataclass(frozen=True)
class Target:
    speedup: float

    def met(self, speedup: float) -> bool:
        return speedup >= self.speedup


@dataclass(frozen=True)
class Row:
    """One line of the table: a kernel on one size against one baseline."""

    kernel: str
    size: str
    kernel_time: Timing
    baseline: str
    baseline_time: Timing
    target: Target | None  # set on the row of the best baseline only

    @property
    def speedup(self) -> float:
        return self.baseline_time.median / self.kernel_time.median

    def cells(self) -> list[str]:
        target = f">= {self.target.speedup:g}x" if self.target else ""
        met = ("yes" if self.target.met(self.speedup) else "**no**") if self.target else ""
        return [
            f"`{self.kernel}`",
            self.size,
            format_ms(self.kernel_time.median),
            self.baseline,
            format_ms(self.baseline_time.median),
            f"{self.speedup:,.1f}x",
            target,
            met,
        ]


HEADERS = [
    "kernel",
    "size",
    "vsdpo (ms)",
    "baseline",
    "baseline (ms)",
    "speed-up",
    "target",
    "met?",
]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


#: seconds of untimed kernel calls before timing (see bench_case)
KERNEL_WARMUP_S = 0.3


def bench_case(
    kernel: str,
    size: str,
    run_kernel: Callable[[], Any],
    baselines: Sequence[Baseline],
    check: Callable[[str, Any, Any], None],
    config: BenchConfig,
    target: Target | None = None,
) -> list[Row]:
    """Time the kernel, check every baseline against it on the same inputs, then time them.

    The kernel runs for a while before it is timed: after a long single-threaded stretch (the
    previous case's baselines) the second core takes tens of milliseconds to be fully back,
    and a multi-threaded kernel timed at once is measured on one core (measured here:
    overlap_pairs at 64 x 500, 2.5 ms right after a numpy baseline, 1.4 ms once warm). The
    checking calls double as the baselines' warm-up. With several baselines the table reports
    each, and the target is judged against the fastest."""
    t0 = time.perf_counter()
    expected = run_kernel()
    warm_until = time.perf_counter() + KERNEL_WARMUP_S
    while time.perf_counter() < warm_until:
        run_kernel()
    kernel_time = time_call(run_kernel, config.repeat, warmup=0)
    for baseline in baselines:
        check(f"{kernel} ({size}) vs {baseline.name}", expected, baseline.run())
    times = [
        time_call(b.run, config.repeat, warmup=0, budget_s=config.baseline_budget_s, min_repeat=3)
        for b in baselines
    ]
    best = min(range(len(baselines)), key=lambda k: times[k].median)
    rows = []
    for k, (baseline, timing) in enumerate(zip(baselines, times)):
        name = baseline.name + (" (best)" if k == best and len(baselines) > 1 else "")
        rows.append(Row(kernel, size, kernel_time, name, timing, target if k == best else None))
    _log(f"  {kernel:<20} {size:<28} checked and timed in {time.perf_counter() - t0:5.1f} s")
    return rows


@dataclass(frozen=True)
class Throughput:
    """Pixels the contrast kernel reads per second, next to np.copyto of as many bytes."""

    size: str
    pixels: int
    kernel_time: Timing
    copy_time: Timing

    def cells(self) -> list[str]:
        nbytes = self.pixels * 3
        return [
            "`contrast`",
            self.size,
            f"{self.pixels / 1e6:.2f} MPix ({nbytes / 1e6:.1f} MB)",
            f"{self.pixels / self.kernel_time.median / 1e6:,.0f}",
            f"{nbytes / self.kernel_time.median / 1e9:.2f}",
            f"{nbytes / self.copy_time.median / 1e9:.2f}",
            f"{self.copy_time.median / self.kernel_time.median:.0%}",
        ]


THROUGHPUT_HEADERS = [
    "kernel",
    "size",
    "pixels read (box + 2-px ring)",
    "vsdpo MPix/s",
    "vsdpo GB/s",
    "np.copyto GB/s (same bytes)",
    "vsdpo / copy speed",
]


def pixels_read(shape: tuple[int, ...], boxes: np.ndarray, ring: int = RING) -> int:
    """How many pixels the contrast kernel reads: each box and its ring, clipped to the image."""
    h, w = shape[:2]
    x0 = np.clip(np.floor(boxes[:, 0]) - ring, 0, w)
    y0 = np.clip(np.floor(boxes[:, 1]) - ring, 0, h)
    x1 = np.clip(np.ceil(boxes[:, 2]) + ring, 0, w)
    y1 = np.clip(np.ceil(boxes[:, 3]) + ring, 0, h)
    return int(np.sum((x1 - x0) * (y1 - y0)))


def run_benchmarks(config: BenchConfig, seed: int = 0) -> tuple[list[Row], list[Throughput]]:
    """Every kernel on every size of ``config``; raises :class:`BenchMismatch` if a baseline
    disagrees with a kernel."""
    from vsdpo import kernels as vk

    rows: list[Row] = []
    try:
        import shapely  # noqa: F401

        have_shapely = True
    except ImportError:
        have_shapely = False
        _log("shapely is not installed (pip install 'vsdpo[bench]'): no STRtree baseline")

    for n in config.boxes_per_group:
        layout = layout_boxes(config.box_groups, n, seed)
        b, g, c = layout.boxes, layout.groups, layout.containers
        size = f"{config.box_groups} x {n:,} boxes"
        overlap_baselines = [
            Baseline("numpy all-pairs per group", lambda: overlap_pairs_numpy(b, g))
        ]
        if have_shapely:
            overlap_baselines.append(
                Baseline("shapely STRtree per group", lambda: overlap_pairs_strtree(b, g))
            )
        rows += bench_case(
            "overlap_pairs",
            size,
            lambda: vk.overlap_pairs(b, g),
            overlap_baselines,
            _check_overlaps,
            config,
            Target(20) if n == config.overlap_target_boxes else None,
        )
        rows += bench_case(
            "outside_fraction",
            size,
            lambda: vk.outside_fraction(b, c),
            [Baseline("numpy vectorised", lambda: outside_fraction_numpy(b, c))],
            lambda what, k, base: _check_close(what, k, base, rtol=1e-5, atol=1e-5),
            config,
        )
        rows += bench_case(
            "near_misaligned",
            size,
            lambda: vk.near_misaligned(b, g, ALIGN_TOL),
            [
                Baseline(
                    "numpy sorted windows per group", lambda: near_misaligned_numpy(b, g, ALIGN_TOL)
                )
            ],
            _check_alignment,
            config,
        )

    n_rollouts, n_tokens, n_spans = config.tokens
    batch = token_batch(n_rollouts, n_tokens, n_spans, seed)
    rows += bench_case(
        "token_weights_batch",
        f"{n_rollouts} x {n_tokens:,} tokens x {n_spans} spans",
        lambda: vk.token_weights_batch(
            batch.token_offsets,
            batch.token_splits,
            batch.spans,
            batch.span_weights,
            batch.span_splits,
        ),
        [
            Baseline(
                "numpy searchsorted per rollout", lambda: token_weights_numpy_per_rollout(batch)
            ),
            Baseline(
                "numpy searchsorted, all rollouts at once",
                lambda: token_weights_numpy_batched(batch),
            ),
        ],
        lambda what, k, base: _check_close(what, k, base, rtol=1e-5, atol=1e-4),
        config,
        Target(20),
    )

    width, height, n_texts = config.screenshot
    shot = screenshot(width, height, n_texts, seed)
    size = f"{width}x{height}, {len(shot.boxes)} text boxes"
    contrast_rows = bench_case(
        "contrast",
        size,
        lambda: vk.contrast(shot.image, shot.boxes),
        [Baseline("numpy per box", lambda: contrast_per_box_numpy(shot.image, shot.boxes))],
        lambda what, k, base: _check_close(what + " (ratio)", k[0], base[0], rtol=1e-3, atol=1e-3),
        config,
        Target(5),
    )
    rows += contrast_rows
    pixels = pixels_read(shot.image.shape, shot.boxes)
    src = np.random.default_rng(seed).integers(0, 256, pixels * 3, dtype=np.uint8)
    dst = np.empty_like(src)
    copy_time = time_call(lambda: np.copyto(dst, src), max(config.repeat, 20))
    # one block per kernel, sizes in increasing order within it (sorted() is stable)
    order = [r.kernel for r in rows]
    rows = sorted(rows, key=lambda r: order.index(r.kernel))
    return rows, [Throughput(size, pixels, contrast_rows[0].kernel_time, copy_time)]


def report(
    rows: Sequence[Row],
    throughput: Sequence[Throughput],
    command: str,
    config: BenchConfig,
    quick: bool,
) -> str:
    """The run as markdown: command, machine, the main table, the contrast throughput table."""
    lines = [
        "## vsdpo kernel benchmarks"
        + (" (--quick: smoke-run sizes, not the issue's)" if quick else ""),
        "",
        f"- command: `{command}`",
        f"- machine: {machine_description(['shapely', 'pillow', 'vsdpo'])}",
        f"- timing: `time.perf_counter`, median of {config.repeat} runs after a warm-up; baselines "
        f"slower than {config.baseline_budget_s / config.repeat:.2g} s a call get fewer runs "
        f"(at least 3). Every baseline's output was checked against the kernel's first.",
        "",
        markdown_table(HEADERS, [r.cells() for r in rows], align="llrlrrll"),
        "",
        markdown_table(THROUGHPUT_HEADERS, [t.cells() for t in throughput], align="llrrrrr"),
        "",
    ]
    return "\n".join(lines)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Time each vsdpo kernel against the best numpy/shapely baseline on realistic "
        "inputs and print a markdown table of times, speed-ups and targets.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, a smoke run of a few seconds"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help="timed runs per measurement, median reported (default 7, 3 with --quick)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the report to this markdown file",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the generated inputs (default 0)"
    )
    return parser


def main(argv: list[str] | None = None, *, prog: str = "vsdpo bench kernels") -> int:
    """Run the kernel benchmarks; print the markdown report. Returns the exit status: 0, or 1
    when a baseline disagrees with a kernel (the message says where)."""
    args = _parser(prog).parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        _parser(prog).error(f"--repeat: expected a number >= 1, got {args.repeat}")
    config = BenchConfig.quick(args.repeat) if args.quick else BenchConfig.full(args.repeat)
    command = command_line(prog, sys.argv[1:] if argv is None else argv)
    _log(f"{command}: checking each baseline against its kernel, then timing")
    t0 = time.perf_counter()
    try:
        rows, throughput = run_benchmarks(config, args.seed)
    except BenchMismatch as exc:
        print(
            f"error: baseline and kernel disagree, so no timing is reported: {exc}", file=sys.stderr
        )
        return 1
    text = report(rows, throughput, command, config, args.quick)
    print(text)
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    _log(f"done in {time.perf_counter() - t0:.0f} s")
    return 0
