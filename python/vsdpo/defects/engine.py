"""The group-level driver: all elements of a rollout group in flat arrays, each kernel called once.

:func:`detect_defects` takes the :class:`~vsdpo.artifact.RenderResult` s of one rollout group,
lays every element of every successful render out in one :class:`ElementTable` (boxes f32[N, 4],
group ids = rollout * n_pages + page so that different rollouts and different slides never pair
up), and hands that table to each defect family (overlap, clipped text, overflow, near-miss
alignment, low contrast). Each family calls its kernel once for the whole group (contrast once
per image, since each rollout has its own pixels) and loops only over the kernel's output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vsdpo.artifact import TEXT_KINDS, BBox, Defect, DefectKind, Element, ElementKind, RenderResult
from vsdpo.defects import messages
from vsdpo.defects.config import DefectConfig

#: kinds that hold a plot area: their children's data is drawn inside them
AXES_KINDS = frozenset({ElementKind.AXES, ElementKind.COLORBAR})
#: chart kinds that draw data (excluded from colliding with each other inside one plot area)
DATA_KINDS = frozenset(
    {ElementKind.PATCH, ElementKind.LINE, ElementKind.COLLECTION, ElementKind.IMAGE}
)
#: kinds that show something on their own: a render without any of them drew nothing
CONTENT_KINDS = TEXT_KINDS | DATA_KINDS | {ElementKind.SHAPE}
#: how deep a parent chain may go (deeper chains are cut: a cycle must not hang the engine)
MAX_DEPTH = 64


@dataclass
class ElementTable:
    """Every element of the successful renders of one group, as flat arrays (index = row)."""

    results: Sequence[RenderResult]
    elements: list[Element]
    rollout: np.ndarray  # i64[N] index into results
    page: np.ndarray  # i64[N]
    group: np.ndarray  # i32[N] rollout * n_pages + page
    box: np.ndarray  # f32[N, 4]
    kind: np.ndarray  # U[N] Element.kind
    is_text: np.ndarray  # bool[N]
    active: np.ndarray  # bool[N] visible, big enough, not the figure itself
    background: np.ndarray  # bool[N] full-bleed backgrounds (never collide)
    parent: np.ndarray  # i64[N] row of the parent, -1 for none
    ancestors: np.ndarray  # i64[N, D] rows of parent, grandparent, ..., -1 padded
    area_id: np.ndarray  # i64[N] charts: row of the (canonical) axes whose plot area holds it; -1
    host_area: (
        np.ndarray
    )  # i64[N] charts: for elements of an inset axes, the area holding the inset; -1
    canvas: np.ndarray  # f32[N, 4] (0, 0, W, H) of the element's render
    is_chart: np.ndarray  # bool[N]

    @property
    def n(self) -> int:
        return len(self.elements)

    @property
    def area(self) -> np.ndarray:
        b = self.box
        return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)

    @classmethod
    def build(cls, results: Sequence[RenderResult], config: DefectConfig) -> ElementTable:
        """Lay out the elements of every ``ok`` result (failed renders contribute none)."""
        elements: list[Element] = []
        rollout: list[int] = []
        parent_ids: list[int | None] = []
        for k, r in enumerate(results):
            if r.ok:
                elements.extend(r.elements)
                rollout.extend([k] * len(r.elements))
        n = len(elements)
        roll = np.asarray(rollout, dtype=np.int64)
        page = np.fromiter((e.page for e in elements), dtype=np.int64, count=n)
        n_pages = int(page.max()) + 1 if n else 1
        box = np.asarray([e.bbox for e in elements], dtype=np.float32).reshape(n, 4)
        # renderers should never emit NaN or inverted boxes, but one must not take down the
        # kernels (which refuse them) for the whole group: NaN boxes take no part
        finite = np.isfinite(box).all(axis=1)
        box[~finite] = 0.0
        box[:, 2] = np.maximum(box[:, 2], box[:, 0])
        box[:, 3] = np.maximum(box[:, 3], box[:, 1])
        kind = np.asarray([e.kind for e in elements], dtype=str).reshape(n)
        canvases = np.asarray([(0, 0, *r.canvas) for r in results], dtype=np.float32).reshape(-1, 4)
        canvas = canvases[roll] if n else np.zeros((0, 4), np.float32)

        # parent ids are per render: map them to rows
        row_of: dict[tuple[int, int], int] = {
            (k, e.id): i for i, (k, e) in enumerate(zip(rollout, elements))
        }
        parent_ids = [e.parent for e in elements]
        parent = np.fromiter(
            (row_of.get((k, p), -1) if p is not None else -1 for k, p in zip(rollout, parent_ids)),
            dtype=np.int64,
            count=n,
        )
        ancestors = _ancestors(parent)

        area = np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)
        alpha = np.fromiter((_alpha(e) for e in elements), dtype=np.float64, count=n)
        active = (
            finite
            & (area >= config.min_area)
            & (alpha >= config.min_alpha)
            & (kind != ElementKind.FIGURE)
        )
        canvas_area = (canvas[:, 2] - canvas[:, 0]) * (canvas[:, 3] - canvas[:, 1])
        flagged_bg = np.fromiter(
            (bool(e.meta.get("background")) for e in elements), dtype=bool, count=n
        )
        is_text = np.isin(kind, list(TEXT_KINDS))
        background = flagged_bg | (
            ~is_text & (canvas_area > 0) & (area >= config.background_canvas_fraction * canvas_area)
        )
        is_chart = np.asarray([results[k].domain == "chart" for k in rollout], dtype=bool).reshape(
            n
        )
        table = cls(
            results=results,
            elements=elements,
            rollout=roll,
            page=page,
            group=(roll * n_pages + page).astype(np.int32),
            box=box,
            kind=kind,
            is_text=is_text,
            active=active,
            background=background,
            parent=parent,
            ancestors=ancestors,
            area_id=np.full(n, -1, dtype=np.int64),
            host_area=np.full(n, -1, dtype=np.int64),
            canvas=canvas,
            is_chart=is_chart,
        )
        table.area_id, table.host_area = _plot_areas(table, config)
        return table

    # --- relations -------------------------------------------------------------------------

    def related(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """bool[K]: element i is an ancestor of j or j of i (containment is never a collision)."""
        if self.ancestors.shape[1] == 0:
            return np.zeros(len(i), dtype=bool)
        return (self.ancestors[j] == i[:, None]).any(axis=1) | (
            self.ancestors[i] == j[:, None]
        ).any(axis=1)

    def family(self, i: int) -> tuple:
        """Elements reported together: the tick labels of one axis, the data of one plot area."""
        e = self.elements[i]
        if e.kind == ElementKind.TICK_LABEL and self.parent[i] >= 0:
            return ("ticks", int(self.parent[i]), str(e.meta.get("axis", "")))
        if e.kind == ElementKind.LEGEND_TEXT and self.parent[i] >= 0:
            return ("element", int(self.parent[i]))  # a legend and its entries are one thing
        if self.is_chart[i] and e.kind in DATA_KINDS:
            return ("data", int(self.rollout[i]), int(self.area_id[i]))
        if e.meta.get("family") is not None and self.parent[i] >= 0:
            return ("lines", int(self.parent[i]))  # web: the lines of one box's text
        return ("element", i)

    def lines(self, rows: Iterable[int]) -> list[int]:
        """The union of the code lines of these elements."""
        out: set[int] = set()
        for i in rows:
            out.update(self.elements[i].lines())
        return sorted(out)

    def element_ids(self, rows: Iterable[int]) -> list[int]:
        return sorted({self.elements[i].id for i in rows})

    def region(self, rows: Iterable[int]) -> BBox:
        """Union of the boxes of these elements."""
        b = self.box[np.fromiter(rows, dtype=np.int64)]
        return (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )

    def image_for(self, rollout: int, page: int) -> np.ndarray | None:
        """The RGB pixels of one page of one render, or None when the render has none.

        Decks carry one image per page in ``pages``; a single-canvas render has ``image``, which
        belongs to its only page, or (charts with several figures) to the last page, the one the
        chart renderer shows."""
        r = self.results[rollout]
        if r.pages:
            return r.pages[page] if page < len(r.pages) else None
        if r.image is None:
            return None
        own_pages = self.page[self.rollout == rollout]
        return r.image if page == int(own_pages.max()) else None

    def prefix(self, lines: list[int], config: DefectConfig) -> str:
        return messages.line_prefix(lines, config.max_lines_in_message)


def _alpha(e: Element) -> float:
    if e.meta.get("visible") is False:
        return 0.0
    a = e.meta.get("alpha")
    try:
        return 1.0 if a is None else float(a)
    except (TypeError, ValueError):
        return 1.0


def _ancestors(parent: np.ndarray) -> np.ndarray:
    """i64[N, D]: row of each element's parent, grandparent, ... (-1 padded)."""
    cols: list[np.ndarray] = []
    current = parent
    for _ in range(MAX_DEPTH):
        if not (current >= 0).any():
            break
        cols.append(current)
        current = np.where(current >= 0, parent[np.clip(current, 0, None)], -1)
    if not cols:
        return np.zeros((len(parent), 0), dtype=np.int64)
    return np.stack(cols, axis=1)


def _plot_areas(t: ElementTable, config: DefectConfig) -> tuple[np.ndarray, np.ndarray]:
    """Charts: ``(area_id, host_area)`` of every element (-1 for none).

    ``area_id`` is the row of the axes whose plot area the element is drawn in. Twin axes
    (twinx/twiny: nearly the same box) share one plot area, represented by the first of them, so
    a line of the twin is not "data of another axes". ``host_area`` is, for elements of an inset
    axes (one lying inside another), the plot area the inset is drawn over: an inset's tick
    labels sit on its host's plot area by design."""
    n = t.n
    is_axes = np.isin(t.kind, list(AXES_KINDS)) & t.is_chart
    canonical = np.arange(n, dtype=np.int64)
    host = np.full(n, -1, dtype=np.int64)
    axes_rows = np.flatnonzero(is_axes)
    for g in np.unique(t.group[axes_rows]):
        rows = axes_rows[t.group[axes_rows] == g]
        if len(rows) < 2:
            continue
        b = t.box[rows].astype(np.float64)
        ix = np.clip(
            np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]),
            0,
            None,
        )
        iy = np.clip(
            np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]),
            0,
            None,
        )
        inter = ix * iy
        a = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.nan_to_num(inter / (a[:, None] + a[None, :] - inter))
            inside = np.nan_to_num(inter / a[:, None])  # [r, c]: fraction of r inside c
        twin = iou > config.twin_axes_iou
        canonical[rows] = rows[np.argmax(twin, axis=1)]  # first twin (itself when none earlier)
        holds = (inside >= config.inset_fraction) & ~twin
        larger = np.where(holds, a[None, :], np.inf)
        has_host = holds.any(axis=1)
        host[rows[has_host]] = rows[np.argmin(larger[has_host], axis=1)]  # the tightest host
    host = np.where(host >= 0, canonical[np.clip(host, 0, None)], -1)
    chain = np.concatenate([np.arange(n, dtype=np.int64)[:, None], t.ancestors], axis=1)
    hit = (chain >= 0) & is_axes[np.clip(chain, 0, None)]
    first = np.argmax(hit, axis=1)
    axes_row = np.where(hit.any(axis=1), chain[np.arange(n), first], -1)
    area_id = np.where(axes_row >= 0, canonical[np.clip(axes_row, 0, None)], -1)
    host_area = np.where(area_id >= 0, host[np.clip(area_id, 0, None)], -1)
    return area_id, host_area


def _exec_error(result: RenderResult) -> Defect:
    err = result.error
    if err is None:
        return Defect(DefectKind.EXEC_ERROR, 1.0, "the code failed without an error message")
    first_line = (err.message or "").strip().splitlines()[0] if (err.message or "").strip() else ""
    text = f"{err.type}: {first_line}" if first_line else err.type
    if len(text) > 300:
        text = text[:297] + "..."
    lines = [err.line] if err.line else []
    return Defect(DefectKind.EXEC_ERROR, 1.0, messages.line_prefix(lines) + text, lines=lines)


def _drew_nothing(result: RenderResult, config: DefectConfig) -> bool:
    """No visible text and no data: the render is blank.

    Extent, not area, decides here: a horizontal rule (axhline) has no area but is drawn."""

    def drawn(e: Element) -> bool:
        x0, y0, x1, y1 = e.bbox
        extent = max(x1 - x0, y1 - y0)
        return bool(extent >= np.sqrt(config.min_area)) and _alpha(e) >= config.min_alpha

    return not any(
        e.kind in CONTENT_KINDS
        and drawn(e)
        and (e.kind not in TEXT_KINDS or e.text is None or e.text.strip())
        for e in result.elements
    )


def detect_defects(
    results: Sequence[RenderResult], config: DefectConfig | None = None
) -> list[list[Defect]]:
    """The defects of each render of one rollout group (one list per result, in order).

    A failed render gets one ``exec_error`` defect (severity 1, blamed on the error's line when
    known); a render that drew no text and no data gets an ``empty`` defect; the others get
    every overlap, clipped text, overflow, near-miss alignment and low-contrast defect found,
    most severe first. Each kernel runs once for the whole group (contrast once per image).
    """
    # imported here: the families import ElementTable from this module
    from vsdpo.defects.alignment import find_misalignments
    from vsdpo.defects.clipping import find_clipped_text, find_overflow
    from vsdpo.defects.contrast import find_low_contrast
    from vsdpo.defects.overlap import find_overlaps
    from vsdpo.defects.slides import find_slide_defects, slides_view
    from vsdpo.defects.web import find_web_defects, generic_view

    config = config or DefectConfig()
    out: list[list[Defect]] = [[] for _ in results]
    for k, r in enumerate(results):
        if not r.ok:
            out[k].append(_exec_error(r))
        elif _drew_nothing(r, config):
            out[k].append(Defect(DefectKind.EMPTY, 1.0, messages.empty(r.domain)))
    table = ElementTable.build(results, config)
    if table.n:
        families = (
            (DefectKind.OVERLAP, find_overlaps),
            (DefectKind.CLIPPED_TEXT, find_clipped_text),
            (DefectKind.OVERFLOW, find_overflow),
            (DefectKind.MISALIGNMENT, find_misalignments),
            (DefectKind.LOW_CONTRAST, find_low_contrast),
        )
        for kind, find in families:
            if config.enabled(kind):
                for k, defect in find(slides_view(generic_view(table, kind), kind), config):
                    out[k].append(defect)
        for k, defect in find_web_defects(table, config):
            out[k].append(defect)
        for k, defect in find_slide_defects(table, config):
            out[k].append(defect)
    order = {kind: n for n, kind in enumerate(DefectKind.ALL)}
    for defects in out:
        defects.sort(key=lambda d: (-d.severity, order.get(d.kind, 99), d.lines))
    return out
