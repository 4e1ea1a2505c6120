"""Near-miss alignment (metrics.md 4.4): edges of peers that almost, but not exactly, line up.

Peers are the elements that a reader compares: in charts, elements of the same kind on one
figure (the titles of the subplots, the axes of a grid, the y axis labels of stacked plots,
legends); elsewhere, siblings (same parent) on one page. For each of the six edge classes a
pair is a near-miss when ``1 px < d <= tau``, ``tau = max(4 px, 0.004 W)``, unless the two are
aligned through a chain of exactly aligned peers (each step <= 1 px), and only when the pair
is close in the other direction (vertical gap <= 0.25 H for left/right/centre; the mirror rule
for top/bottom/middle): far-apart elements are not compared by eye.

Chart text is compared by its centres only: a title's left and right edges move with the
length of its words, so they say nothing about how it was placed.

One :func:`vsdpo.kernels.near_misaligned` call for the whole group; defects are grouped per
peer set and edge class, and are mild (severity 0.2 to 0.4): near-misses are cosmetic.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from vsdpo import kernels
from vsdpo.artifact import Defect, DefectKind, ElementKind
from vsdpo.defects import messages
from vsdpo.defects.config import DefectConfig

if TYPE_CHECKING:
    from vsdpo.defects.engine import ElementTable

#: chart kinds whose placement is compared across peers
CHART_PEER_KINDS = (
    ElementKind.AXES,
    ElementKind.COLORBAR,
    ElementKind.LEGEND,
    ElementKind.TITLE,
    ElementKind.AXIS_LABEL,
)
_CENTRES_ONLY = np.array([False, False, True, False, False, True])
_ALL_EDGES = np.ones(6, dtype=bool)


def _edges(b: np.ndarray) -> np.ndarray:
    """f64[N, 6]: left, right, h-centre, top, bottom, v-centre (kernel edge-class order)."""
    b = b.astype(np.float64)
    return np.stack(
        [b[:, 0], b[:, 2], (b[:, 0] + b[:, 2]) / 2, b[:, 1], b[:, 3], (b[:, 1] + b[:, 3]) / 2],
        axis=1,
    )


def _peer_groups(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    """i32[K] peer-set id of each row."""
    ids: dict[tuple, int] = {}
    out = np.empty(len(rows), dtype=np.int32)
    for n, r in enumerate(rows):
        e = t.elements[r]
        if t.is_chart[r]:
            sub = str(e.meta.get("axis", "")) if e.kind == ElementKind.AXIS_LABEL else ""
            key = (int(t.group[r]), e.kind, sub)
        else:
            key = (int(t.group[r]), "parent", int(t.parent[r]))
        out[n] = ids.setdefault(key, len(ids))
    return out


def _chain_clusters(values: np.ndarray, groups: np.ndarray, aligned_px: float) -> np.ndarray:
    """Cluster id per row: rows of one group linked by steps of at most ``aligned_px``."""
    order = np.lexsort((values, groups))
    v, g = values[order], groups[order]
    new = np.ones(len(v), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (np.diff(v) > aligned_px)
    cluster = np.empty(len(v), dtype=np.int64)
    cluster[order] = np.cumsum(new)
    return cluster


def find_misalignments(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """Near-miss alignment defects of the whole group, as ``(rollout index, defect)``."""
    chart_peer = t.is_chart & np.isin(t.kind, CHART_PEER_KINDS)
    rows = np.flatnonzero(t.active & ~t.background & (chart_peer | ~t.is_chart))
    if len(rows) < 2:
        return []
    groups = _peer_groups(t, rows)
    width = (t.canvas[rows, 2] - t.canvas[rows, 0]).astype(np.float64)
    height = (t.canvas[rows, 3] - t.canvas[rows, 1]).astype(np.float64)
    tau = np.maximum(config.align_tol_px, config.align_tol_width_fraction * width)
    boxes = t.box[rows]
    pairs, edge, delta = kernels.near_misaligned(boxes, groups, float(tau.max()))
    if len(pairs) == 0:
        return []
    a, b = pairs[:, 0], pairs[:, 1]
    edge = edge.astype(np.int64)
    dist = np.abs(delta.astype(np.float64))

    allowed = np.where((t.is_chart[rows] & t.is_text[rows])[:, None], _CENTRES_ONLY, _ALL_EDGES)
    keep = allowed[a, edge] & allowed[b, edge] & (dist > config.aligned_px) & (dist <= tau[a])

    edges = _edges(boxes)
    clusters = np.stack(
        [_chain_clusters(edges[:, e], groups, config.aligned_px) for e in range(6)], axis=1
    )
    keep &= clusters[a, edge] != clusters[b, edge]

    bx = boxes.astype(np.float64)
    v_gap = np.clip(np.maximum(bx[a, 1], bx[b, 1]) - np.minimum(bx[a, 3], bx[b, 3]), 0, None)
    h_gap = np.clip(np.maximum(bx[a, 0], bx[b, 0]) - np.minimum(bx[a, 2], bx[b, 2]), 0, None)
    horizontal_class = edge <= 2  # left / right / h-centre: elements stacked in a column
    gap_ok = np.where(
        horizontal_class,
        v_gap <= config.align_gap_fraction * height[a],
        h_gap <= config.align_gap_fraction * width[a],
    )
    keep &= gap_ok

    hi, lo = config.misalignment_severity
    closeness = np.clip((tau[a] - dist) / np.maximum(tau[a] - config.aligned_px, 1e-9), 0.0, 1.0)
    severity = lo + (hi - lo) * closeness

    grouped: dict[tuple[int, int], list[int]] = defaultdict(list)
    for p in np.flatnonzero(keep):
        grouped[(int(groups[a[p]]), int(edge[p]))].append(int(p))
    out = []
    for (_, e), members in grouped.items():
        involved = sorted({int(rows[a[p]]) for p in members} | {int(rows[b[p]]) for p in members})
        first = members[0]
        ra, rb = int(rows[a[first]]), int(rows[b[first]])
        lines = t.lines(involved)
        message = messages.near_miss(
            t.prefix(lines, config),
            messages.element_name(t.elements[ra]),
            messages.element_name(t.elements[rb]),
            e,
            float(dist[first]),
            len(members),
        )
        out.append(
            (
                int(t.rollout[ra]),
                Defect(
                    kind=DefectKind.MISALIGNMENT,
                    severity=float(max(severity[p] for p in members)),
                    message=message,
                    elements=t.element_ids(involved),
                    region=t.region(involved),
                    lines=lines,
                    page=int(t.page[ra]),
                ),
            )
        )
    return out
