"""Overlaps (metrics.md 4.1): which colliding pairs are defects, grouped into readable defects.

One :func:`vsdpo.kernels.overlap_pairs` call over the whole group finds every intersecting pair
of boxes (shrunk by 1 px first, so touching boxes never collide). The rules then keep:

* text-text: an intersection at least 2 px wide and high. Rotated text (tick labels at 45
  degrees) is tested with its oriented rectangle, not its axis-aligned box, which would make
  every pair of neighbouring rotated labels collide;
* text over a non-text element covering more than 10 % of the smaller box;
* non-text over non-text covering more than 30 % of the smaller box.

Containment is never a collision (an element and any of its ancestors). Charts have structure
that is not a defect: data artists overlapping each other or their axes, text drawn inside its
own plot area (annotations, bar labels), twin axes, inset axes. For charts the legend is checked
against the data instead: the legend box must cover more than 10 % of its area with data, and
for lines and scatter collections, whose boxes are mostly empty, there must be evidence that the
data really runs under the legend: the artist lies mostly under it, or its colour shows in the
thin ring of pixels just outside the legend frame (where a line goes in or comes out).

Pairs are grouped into one defect per pair of families (the tick labels of one axis, the data of
one plot area, or single elements): "line 12: the x tick labels overlap each other (7 pairs)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vsdpo import kernels
from vsdpo.artifact import Defect, DefectKind, ElementKind
from vsdpo.defects import messages
from vsdpo.defects.config import DefectConfig

if TYPE_CHECKING:
    from vsdpo.defects.engine import ElementTable

_AXES_KINDS = (ElementKind.AXES, ElementKind.COLORBAR)
_DATA_KINDS = (ElementKind.PATCH, ElementKind.LINE, ElementKind.COLLECTION, ElementKind.IMAGE)
#: data kinds whose box is the drawn shape (a bar, a heatmap), so box coverage is real coverage
_SOLID_DATA_KINDS = (ElementKind.IMAGE,)

TEXT_TEXT, TEXT_OVER, NONTEXT, LEGEND_DATA = "text-text", "text-over", "nontext", "legend-data"


def shrink(boxes: np.ndarray, px: float) -> np.ndarray:
    """Boxes shrunk by ``px`` on every side; a box thinner than 2 px collapses onto its centre line."""
    b = boxes.astype(np.float32, copy=True)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    b[:, 0] = np.minimum(b[:, 0] + px, cx)
    b[:, 1] = np.minimum(b[:, 1] + px, cy)
    b[:, 2] = np.maximum(b[:, 2] - px, cx)
    b[:, 3] = np.maximum(b[:, 3] - px, cy)
    return b


def find_overlaps(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """Overlap defects of the whole group, as ``(rollout index, defect)``."""
    cand = np.flatnonzero(t.active & ~t.background)
    if len(cand) < 2:
        return []
    boxes = shrink(t.box[cand], config.shrink_px)
    pairs, inter, _ = kernels.overlap_pairs(boxes, t.group[cand], 0.0)
    if len(pairs) == 0:
        return []
    i, j = cand[pairs[:, 0]], cand[pairs[:, 1]]
    bi, bj = boxes[pairs[:, 0]], boxes[pairs[:, 1]]
    keep = ~t.related(i, j)
    i, j, bi, bj, inter = i[keep], j[keep], bi[keep], bj[keep], inter[keep].astype(np.float64)

    area = t.area.astype(np.float64)
    smaller = np.maximum(np.minimum(area[i], area[j]), 1e-9)
    covered = np.minimum(inter / smaller, 1.0)
    iw = np.minimum(bi[:, 2], bj[:, 2]) - np.maximum(bi[:, 0], bj[:, 0])
    ih = np.minimum(bi[:, 3], bj[:, 3]) - np.maximum(bi[:, 1], bj[:, 1])
    depth = np.minimum(iw, ih).astype(np.float64)

    text_i, text_j = t.is_text[i], t.is_text[j]
    both_text = text_i & text_j
    rotated = both_text & (_is_rotated(t, i) | _is_rotated(t, j))
    if rotated.any():
        r_depth, r_covered = _oriented_overlap(t, i[rotated], j[rotated], config.shrink_px)
        depth[rotated], covered[rotated] = r_depth, r_covered

    chart = t.is_chart[i]
    kind_i, kind_j = t.kind[i], t.kind[j]
    same_area = t.area_id[i] == t.area_id[j]
    # text over the area an inset is drawn on counts as its own area (the inset's tick labels)
    own_area_of_text = np.where(
        text_i,
        (t.area_id[j] == t.area_id[i]) | (t.area_id[j] == t.host_area[i]),
        (t.area_id[i] == t.area_id[j]) | (t.area_id[i] == t.host_area[j]),
    )
    data_i, data_j = np.isin(kind_i, _DATA_KINDS), np.isin(kind_j, _DATA_KINDS)
    axes_i, axes_j = np.isin(kind_i, _AXES_KINDS), np.isin(kind_j, _AXES_KINDS)
    legend_i, legend_j = kind_i == ElementKind.LEGEND, kind_j == ElementKind.LEGEND

    # text-text. A legend entry against a text from outside its legend is left to the
    # text-over-legend rule, so one collision gives one defect ("the legend covers ...")
    flag_tt = both_text & (depth >= config.text_text_min_px) & ~_legend_entry_vs_outsider(t, i, j)
    flag_tt &= ~_duplicates(t, i, j, bi, bj)
    # text over non-text; in charts not over the data or axes of its own plot area, and over a
    # line or scatter only when the artist lies mostly under the text (their boxes are mostly
    # empty space: a line's box spans the whole plot)
    one_text = text_i ^ text_j
    own_area = chart & own_area_of_text & (data_i | data_j | axes_i | axes_j)
    other = np.where(text_i, j, i)
    thin = chart & np.isin(t.kind[other], (ElementKind.LINE, ElementKind.COLLECTION))
    thin_hidden = inter / np.maximum(area[other], 1e-9) >= config.legend_hides_artist_fraction
    flag_to = one_text & ~own_area & (~thin | thin_hidden) & (covered > config.text_over_fraction)
    # non-text over non-text; in charts only axes against axes (not twins, not insets) and
    # legend against legend: data against data or axes is the normal structure of a chart
    no_text = ~text_i & ~text_j
    chart_nn = (axes_i & axes_j & ~same_area & (covered < config.inset_fraction)) | (
        legend_i & legend_j
    )
    flag_nn = no_text & np.where(chart, chart_nn, True) & (covered > config.nontext_fraction)
    # charts: legend over data artists
    legend_data = no_text & chart & ((legend_i & data_j) | (legend_j & data_i))

    groups: dict[tuple, _Group] = {}
    for category, mask in ((TEXT_TEXT, flag_tt), (TEXT_OVER, flag_to), (NONTEXT, flag_nn)):
        for p in np.flatnonzero(mask):
            a, b = int(i[p]), int(j[p])
            fa, fb = t.family(a), t.family(b)
            if category == TEXT_OVER and t.is_text[a]:
                a, b, fa, fb = b, a, fb, fa  # the covering element first
            elif category != TEXT_OVER and fb < fa:
                a, b, fa, fb = b, a, fb, fa
            key = (int(t.rollout[a]), int(t.page[a]), category, fa, fb)
            groups.setdefault(key, _Group(category)).add(a, b, float(covered[p]))

    if legend_data.any():
        _legend_over_data(t, config, i[legend_data], j[legend_data], inter[legend_data], groups)

    return [(key[0], g.defect(t, config, page=key[1])) for key, g in groups.items() if g.pairs]


class _Group:
    """Flagged pairs that become one defect."""

    def __init__(self, category: str) -> None:
        self.category = category
        self.pairs: list[tuple[int, int]] = []
        self.side_a: dict[int, None] = {}
        self.side_b: dict[int, None] = {}
        self.worst = 0.0
        self.legend_cover = 0.0  # legend-data: summed coverage of solid artists
        self.hidden_artists = 0  # legend-data: lines/collections seen running under the legend

    def add(self, a: int, b: int, covered: float) -> None:
        self.pairs.append((a, b))
        self.side_a[a] = None
        self.side_b[b] = None
        self.worst = max(self.worst, covered)

    def defect(self, t: ElementTable, config: DefectConfig, page: int) -> Defect:
        rows = list(self.side_a) + list(self.side_b)
        lines = t.lines(rows)
        prefix = t.prefix(lines, config)
        a0, b0 = next(iter(self.side_a)), next(iter(self.side_b))
        a_plural, b_plural = len(self.side_a) > 1, len(self.side_b) > 1
        name_a = messages.family_name(t.elements[a0], a_plural)
        name_b = messages.family_name(t.elements[b0], b_plural)
        n = len(self.pairs)
        if self.category == LEGEND_DATA:
            cover = min(1.0, self.legend_cover)
            severity = max(cover, 0.5 if self.hidden_artists else 0.0)
            shown = cover if cover > 0 and not self.hidden_artists else None
            message = messages.legend_over_data(prefix, name_a, shown, len(self.side_b))
            region = t.region([a0])
        elif t.family(a0) == t.family(b0):
            severity = self.worst
            message = messages.overlap_each_other(
                prefix, messages.family_name(t.elements[a0], True), n
            )
            region = t.region(rows)
        elif self.category == TEXT_OVER:
            severity = self.worst
            if t.kind[a0] in _AXES_KINDS:
                message = messages.runs_into(prefix, name_b, b_plural, name_a, n, self.worst)
            else:
                message = messages.covers_text(prefix, name_a, name_b, b_plural, n, self.worst)
            region = t.region(self.side_b)  # the text that is hidden
        else:
            severity = self.worst
            if b_plural and not a_plural:  # the plural family reads better as the subject
                name_a, name_b, a_plural = name_b, name_a, True
            message = messages.overlap_between(prefix, name_a, a_plural, name_b, n, self.worst)
            region = t.region(rows)
        return Defect(
            kind=DefectKind.OVERLAP,
            severity=float(np.clip(severity, 0.0, 1.0)),
            message=message,
            elements=t.element_ids(rows),
            region=region,
            lines=lines,
            page=page,
        )


def _duplicates(
    t: ElementTable, i: np.ndarray, j: np.ndarray, bi: np.ndarray, bj: np.ndarray
) -> np.ndarray:
    """bool[K]: the same text drawn twice in the same place (IoU >= 0.95), which reads as one."""
    iw = np.clip(np.minimum(bi[:, 2], bj[:, 2]) - np.maximum(bi[:, 0], bj[:, 0]), 0, None)
    ih = np.clip(np.minimum(bi[:, 3], bj[:, 3]) - np.maximum(bi[:, 1], bj[:, 1]), 0, None)
    inter = iw * ih
    union = (
        (bi[:, 2] - bi[:, 0]) * (bi[:, 3] - bi[:, 1])
        + (bj[:, 2] - bj[:, 0]) * (bj[:, 3] - bj[:, 1])
        - inter
    )
    same_place = inter >= 0.95 * np.maximum(union, 1e-9)
    out = np.zeros(len(i), dtype=bool)
    for p in np.flatnonzero(same_place):
        a, b = t.elements[i[p]].text, t.elements[j[p]].text
        out[p] = a is not None and b is not None and " ".join(a.split()) == " ".join(b.split())
    return out


def _legend_entry_vs_outsider(t: ElementTable, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """bool[K]: one of the two is a legend entry and the other is not inside that legend."""
    entry_i = t.kind[i] == ElementKind.LEGEND_TEXT
    entry_j = t.kind[j] == ElementKind.LEGEND_TEXT
    legend = np.where(entry_i, t.parent[i], t.parent[j])
    other = np.where(entry_i, j, i)
    inside = (t.ancestors[other] == legend[:, None]).any(axis=1) if t.ancestors.shape[1] else False
    return (entry_i ^ entry_j) & (legend >= 0) & ~inside


def _legend_over_data(
    t: ElementTable,
    config: DefectConfig,
    i: np.ndarray,
    j: np.ndarray,
    inter: np.ndarray,
    groups: dict[tuple, _Group],
) -> None:
    """Legend over data: >10 % of the legend over data that really runs under it."""
    legend = np.where(t.kind[i] == ElementKind.LEGEND, i, j)
    data = np.where(t.kind[i] == ElementKind.LEGEND, j, i)
    area = t.area.astype(np.float64)
    legend_cover = inter / np.maximum(area[legend], 1e-9)
    artist_hidden = inter / np.maximum(area[data], 1e-9)
    solid = np.isin(t.kind[data], _SOLID_DATA_KINDS)
    # Box-shaped artists (bars, images) count together: a legend over six histogram bars that
    # each cover 4 % of it hides 24 % of it, though no single bar passes the threshold. (A
    # line's box spans the plot, so lines are judged one by one, with evidence below.)
    boxy = np.isin(t.kind[data], (ElementKind.PATCH, ElementKind.IMAGE))
    boxy_cover = np.zeros(len(t.kind), np.float64)
    np.add.at(boxy_cover, legend[boxy], legend_cover[boxy])
    candidates = np.flatnonzero(
        (legend_cover > config.legend_over_data_fraction)
        | (boxy & (boxy_cover[legend] > config.legend_over_data_fraction))
    )
    for p in candidates:
        lg, d = int(legend[p]), int(data[p])
        thin = t.kind[d] in (ElementKind.LINE, ElementKind.COLLECTION)
        if solid[p] or artist_hidden[p] >= config.legend_hides_artist_fraction:
            evidence = True
        else:
            evidence = _colour_in_ring(t, lg, d, config)
        if not evidence:
            continue
        key = (int(t.rollout[lg]), int(t.page[lg]), LEGEND_DATA, t.family(lg), t.family(d))
        g = groups.setdefault(key, _Group(LEGEND_DATA))
        g.add(lg, d, float(min(1.0, legend_cover[p])))
        if thin and not artist_hidden[p] >= config.legend_hides_artist_fraction:
            g.hidden_artists += 1
        else:
            g.legend_cover += float(legend_cover[p])


def _colour_in_ring(t: ElementTable, legend: int, artist: int, config: DefectConfig) -> bool:
    """Does the artist's colour show just outside the legend frame (where it enters or leaves)?"""
    colour = t.elements[artist].color
    image = t.image_for(int(t.rollout[legend]), int(t.page[legend]))
    if colour is None or image is None:
        return False
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in t.box[legend])
    near, far = config.legend_ring_px
    ox0, oy0 = max(0, int(np.floor(x0 - far))), max(0, int(np.floor(y0 - far)))
    ox1, oy1 = min(w, int(np.ceil(x1 + far))), min(h, int(np.ceil(y1 + far)))
    if ox1 <= ox0 or oy1 <= oy0:
        return False
    patch = image[oy0:oy1, ox0:ox1].astype(np.int16)
    ys, xs = np.mgrid[oy0:oy1, ox0:ox1]
    inside = (xs >= x0 - near) & (xs < x1 + near) & (ys >= y0 - near) & (ys < y1 + near)
    ring = patch[~inside]
    if len(ring) == 0:
        return False
    target = np.asarray(colour, dtype=np.int16)
    background = np.median(ring, axis=0)
    if np.abs(background - target).max() <= config.legend_colour_tolerance:
        return False  # the artist has the background's colour: the ring cannot tell
    matches = (np.abs(ring - target).max(axis=1) <= config.legend_colour_tolerance).sum()
    return bool(matches >= config.legend_ring_min_pixels)


# --- rotated text ---------------------------------------------------------------------------


def _rotation(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rows), dtype=np.float64)
    for n, r in enumerate(rows):
        try:
            out[n] = float(t.elements[r].meta.get("rotation", 0.0) or 0.0)
        except (TypeError, ValueError):
            out[n] = 0.0
    return out


def _is_rotated(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    """Rotated by an angle that is not a multiple of 90 degrees (the box is then not the text)."""
    rot = np.mod(_rotation(t, rows), 90.0)
    return (rot > 1.0) & (rot < 89.0)


def _oriented_rects(t: ElementTable, rows: np.ndarray, shrink_px: float):
    """Centre, unit axes and half sizes of each text's rotated rectangle.

    The renderer gives the axis-aligned box of the rotated text; the rectangle is recovered
    from it: W = w c + h s and H = w s + h c (c = |cos|, s = |sin|), solved exactly away from
    45 degrees, and with the height estimated from the font size (1.2 em per line) near it."""
    b = t.box[rows].astype(np.float64)
    W, H = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    centre = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
    theta = np.radians(_rotation(t, rows))
    c, s = np.abs(np.cos(theta)), np.abs(np.sin(theta))
    det = c * c - s * s
    font = np.asarray(
        [
            (t.elements[r].font_size or 0.0)
            * 1.2
            * max(1, (t.elements[r].text or "").count("\n") + 1)
            for r in rows
        ],
        dtype=np.float64,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        w_exact = (c * W - s * H) / det
        h_exact = (c * H - s * W) / det
        h_est = np.where(font > 0, np.minimum(font, np.minimum(W, H)), np.minimum(W, H) / 3)
        w_est = (np.maximum(W, H) - h_est * np.minimum(c, s)) / np.maximum(np.maximum(c, s), 1e-6)
    use_exact = (np.abs(det) > 0.3) & (w_exact > 0) & (h_exact > 0)
    width = np.where(use_exact, w_exact, w_est)
    height = np.where(use_exact, h_exact, h_est)
    half = np.stack(
        [np.maximum(width / 2 - shrink_px, 0), np.maximum(height / 2 - shrink_px, 0)], axis=1
    )
    # y grows downward, so a counter-clockwise rotation on screen is a negative angle here
    u = np.stack([np.cos(-theta), np.sin(-theta)], axis=1)
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    return centre, u, v, half


def _oriented_overlap(
    t: ElementTable, i: np.ndarray, j: np.ndarray, shrink_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Separating-axis test on rotated text rectangles.

    Returns the overlap depth (the smallest extent of the projections' intersection over the
    four axes; equal to min(width, height) of the intersection for axis-aligned boxes) and the
    covered fraction of the smaller rectangle (exact for equal rotations)."""
    ci, ui, vi, hi = _oriented_rects(t, i, shrink_px)
    cj, uj, vj, hj = _oriented_rects(t, j, shrink_px)
    d = cj - ci
    extents = []
    for n in (ui, vi, uj, vj):
        ri = hi[:, 0] * np.abs((ui * n).sum(1)) + hi[:, 1] * np.abs((vi * n).sum(1))
        rj = hj[:, 0] * np.abs((uj * n).sum(1)) + hj[:, 1] * np.abs((vj * n).sum(1))
        dist = np.abs((d * n).sum(1))
        extents.append(np.minimum(ri + rj - dist, 2 * np.minimum(ri, rj)))
    ext = np.stack(extents, axis=1)
    depth = ext.min(axis=1)
    # same rotation: the intersection is the product of the extents along i's two axes
    inter = np.clip(ext[:, 0], 0, None) * np.clip(ext[:, 1], 0, None)
    smaller = np.maximum(np.minimum(4 * hi[:, 0] * hi[:, 1], 4 * hj[:, 0] * hj[:, 1]), 1e-9)
    return depth, np.minimum(inter / smaller, 1.0)
