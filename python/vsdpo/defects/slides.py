"""Slide rules: the layout defects of python-pptx decks rendered by LibreOffice.

Elements of ``domain == "slides"`` renders (:mod:`vsdpo.render.slides_elements`) are shapes
(declared geometry), text frames, and text lines measured in the PDF. Text boxes are invisible
rectangles, and what covers what depends on the z-order, so for slides:

* **overlap** (one :func:`vsdpo.kernels.overlap_pairs` call for the group over text lines and
  *visible* shapes: filled shapes, pictures, tables):
  text lines of two different frames intersecting by >= 2 px both ways; a visible shape drawn
  *above* a text (later in z-order) covering more than 10 % of a line; a text drawn over a
  visible shape straddling its edge (10-90 % of a line over it; wholly inside is a card or a
  banner, by design); two visible shapes covering more than 30 % of the smaller one without one
  lying inside the other. One defect per pair of shapes, blamed on the lines that created and
  placed them (and set the text, for text collisions);
* **text overflowing its box** (``clipped_text``): the rendered extent of a frame's text more
  than 2 px outside its shape (a table's cells: outside the table, since rows grow), blamed on
  the lines that created, sized, filled and styled the frame;
* **off the slide** (``overflow``, one :func:`vsdpo.kernels.outside_fraction` call): a visible
  top-level shape more than 1 % (and 2 px) outside the slide; full-slide backgrounds excepted;
* **font too small** (``small_font``): rendered size below 10 pt on a 7.5 in tall slide (scaled
  with the slide's height), blamed on the lines that set the size (or the text);
* **empty placeholder** (``empty_placeholder``): a layout placeholder left without content,
  blamed on the ``add_slide`` line.

The generic near-miss alignment family sees only visible top-level shapes (not text lines,
whose edges follow their words); low contrast is the generic rule on the text lines (their
colour is the one LibreOffice drew, the background is measured on the slide image).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from vsdpo import kernels
from vsdpo.artifact import Defect, DefectKind, ElementKind
from vsdpo.defects import messages
from vsdpo.defects.config import DefectConfig
from vsdpo.defects.overlap import shrink

if TYPE_CHECKING:
    from vsdpo.defects.engine import ElementTable

#: the slide height (inches) the minimum font size is given for
REFERENCE_SLIDE_HEIGHT_IN = 7.5
DPI = 96.0
_SIDE_NAMES = ("left", "top", "right", "bottom")


def slide_rows(t: ElementTable) -> np.ndarray:
    """bool[N]: an element made by the slide renderer (shape, frame, text line or the slide)."""
    if t.n == 0:
        return np.zeros(0, dtype=bool)
    return np.fromiter(
        (
            t.results[k].domain == "slides"
            and (
                bool(e.meta.get("slide"))
                or bool(e.meta.get("text_frame"))
                or e.meta.get("family") is not None
                or e.kind == ElementKind.FIGURE
            )
            for k, e in zip(t.rollout, t.elements)
        ),
        dtype=bool,
        count=t.n,
    )


def _visible_shapes(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    """bool[N]: slide shapes that show something by themselves (fill, picture, table)."""
    return rows & np.fromiter(
        (
            bool(e.meta.get("slide"))
            and bool(e.meta.get("filled"))
            and not e.meta.get("empty_placeholder")
            and e.meta.get("tag") != "grpSp"
            for e in t.elements
        ),
        dtype=bool,
        count=t.n,
    )


def _shows(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    """bool[N]: slide shapes with visible content (a fill, a picture, or text)."""
    return _visible_shapes(t, rows) | (
        rows
        & np.fromiter(
            (bool(e.meta.get("slide")) and bool(e.meta.get("has_text")) for e in t.elements),
            dtype=bool,
            count=t.n,
        )
    )


def _top_level(t: ElementTable) -> np.ndarray:
    """bool[N]: elements whose parent is the slide itself."""
    p = t.parent
    return (p >= 0) & (t.kind[np.clip(p, 0, None)] == ElementKind.FIGURE)


def slides_view(t: ElementTable, kind: str) -> ElementTable:
    """The table a generic family sees: slide elements left out where this module judges them."""
    rows = slide_rows(t)
    if not rows.any():
        return t
    if kind in (DefectKind.OVERLAP, DefectKind.OVERFLOW, DefectKind.CLIPPED_TEXT):
        return dataclasses.replace(t, active=t.active & ~rows)
    if kind == DefectKind.MISALIGNMENT:
        straight = np.fromiter(
            (float(e.meta.get("rotation") or 0.0) % 360 == 0 for e in t.elements),
            dtype=bool,
            count=t.n,
        )
        peers = _shows(t, rows) & _top_level(t) & straight & ~t.background
        return dataclasses.replace(t, active=t.active & (~rows | peers))
    return t


def find_slide_defects(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """The slide-only defects of the whole group, as ``(rollout index, defect)``."""
    rows = slide_rows(t)
    if not rows.any():
        return []
    out: list[tuple[int, Defect]] = []
    if config.enabled(DefectKind.OVERLAP):
        out += _overlaps(t, rows, config)
    if config.enabled(DefectKind.CLIPPED_TEXT):
        out += _text_overflow(t, rows, config)
    if config.enabled(DefectKind.OVERFLOW):
        out += _off_slide(t, rows, config)
    if config.enabled(DefectKind.SMALL_FONT):
        out += _small_font(t, rows, config)
    if config.enabled(DefectKind.EMPTY_PLACEHOLDER):
        out += _empty_placeholders(t, rows, config)
    return out


# ---------------------------------------------------------------------------------------------
# helpers


def _lines_by(t: ElementTable, row: int, categories: tuple[str, ...]) -> list[int]:
    by = t.elements[row].meta.get("lines_by") or {}
    out: set[int] = set()
    for cat in categories:
        out.update(by.get(cat) or [])
    return sorted(out)


def _defect(
    t: ElementTable,
    config: DefectConfig,
    kind: str,
    rows: list[int],
    lines: list[int],
    severity: float,
    message: str,
    region_rows: list[int] | None = None,
) -> tuple[int, Defect]:
    r0 = rows[0]
    return (
        int(t.rollout[r0]),
        Defect(
            kind=kind,
            severity=float(np.clip(severity, 0.0, 1.0)),
            message=t.prefix(lines, config) + message,
            elements=t.element_ids(rows),
            region=t.region(region_rows or rows),
            lines=sorted(set(lines)),
            page=int(t.page[r0]),
        ),
    )


def _shape_of(t: ElementTable, row: int) -> int:
    """The row of the shape an element belongs to (a text line -> its frame -> its shape)."""
    r = row
    for _ in range(4):
        if t.elements[r].meta.get("slide"):
            return r
        p = int(t.parent[r])
        if p < 0:
            return row
        r = p
    return r


def _top_shape(t: ElementTable, row: int) -> int:
    """The top-level shape (the outermost group) of a shape."""
    r = _shape_of(t, row)
    for _ in range(16):
        p = int(t.parent[r])
        if p < 0 or not t.elements[p].meta.get("slide"):
            return r
        r = p
    return r


def _z(t: ElementTable, row: int) -> int:
    return int(t.elements[_shape_of(t, row)].meta.get("z", 0))


def _geometry_lines(t: ElementTable, row: int) -> list[int]:
    return _lines_by(t, _shape_of(t, row), ("create", "geometry"))


# ---------------------------------------------------------------------------------------------
# overlap


def _overlaps(t: ElementTable, rows: np.ndarray, config: DefectConfig) -> list[tuple[int, Defect]]:
    texts = rows & t.is_text & t.active
    solids = _visible_shapes(t, rows) & t.active & ~t.background
    cand = np.flatnonzero(texts | solids)
    if len(cand) < 2:
        return []
    boxes = shrink(t.box[cand], config.shrink_px)
    pairs, inter, _ = kernels.overlap_pairs(boxes, t.group[cand], 0.0)
    if len(pairs) == 0:
        return []
    i, j = cand[pairs[:, 0]], cand[pairs[:, 1]]
    bi, bj = boxes[pairs[:, 0]], boxes[pairs[:, 1]]
    keep = ~t.related(i, j)
    area = t.area.astype(np.float64)
    # (priority, rollout, page, shape pair) -> (rows, lines, severity, message, region rows)
    found: dict[tuple, tuple] = {}

    def offer(priority: int, a: int, b: int, payload: tuple) -> None:
        key = (int(t.rollout[a]), int(t.page[a]), *sorted((_top_shape(t, a), _top_shape(t, b))))
        old = found.get(key)
        if old is None or priority < old[0]:
            found[key] = (priority, *payload)

    text_pairs: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for p in np.flatnonzero(keep):
        a, b = int(i[p]), int(j[p])
        if _top_shape(t, a) == _top_shape(t, b):
            continue  # one shape (a group, a table) collides with itself only by design
        w = float(min(bi[p, 2], bj[p, 2]) - max(bi[p, 0], bj[p, 0]))
        h = float(min(bi[p, 3], bj[p, 3]) - max(bi[p, 1], bj[p, 1]))
        ta, tb = bool(t.is_text[a]), bool(t.is_text[b])
        if ta and tb:
            if t.parent[a] != t.parent[b] and min(w, h) >= config.text_text_min_px:
                fa, fb = sorted((int(t.parent[a]), int(t.parent[b])))
                text_pairs[(fa, fb)].append((a, b))
            continue
        if ta or tb:
            text, shape = (a, b) if ta else (b, a)
            covered = float(inter[p]) / max(area[text], 1e-9)
            above = _z(t, shape) > _z(t, text)
            frame = int(t.parent[text])
            if above and covered > config.slide_text_cover_fraction:
                name_s = messages.element_name(t.elements[shape])
                name_t = messages.element_name(t.elements[frame])
                lines = _geometry_lines(t, shape) + _geometry_lines(t, text)
                msg = f"{name_s} covers {name_t} ({messages.percent(covered)} of a line hidden)"
                offer(0, shape, text, ([shape, frame, text], lines, covered, msg, [text]))
            elif not above and (
                config.slide_straddle_fraction < covered < 1.0 - config.slide_straddle_fraction
            ):
                lines = _geometry_lines(t, shape) + _lines_by(
                    t, frame, ("create", "geometry", "text")
                )
                msg = messages.text_straddles(
                    "",
                    messages.element_name(t.elements[frame]),
                    messages.element_name(t.elements[shape]),
                    covered,
                )
                offer(2, shape, text, ([frame, text, shape], lines, covered, msg, [text]))
            continue
        smaller = max(min(area[a], area[b]), 1e-9)
        covered = float(inter[p]) / smaller
        if config.slide_shape_overlap_fraction < covered < config.slide_contained_fraction:
            lines = _geometry_lines(t, a) + _geometry_lines(t, b)
            msg = messages.shapes_overlap(
                "",
                messages.element_name(t.elements[a]),
                messages.element_name(t.elements[b]),
                covered,
            )
            offer(3, a, b, ([a, b], lines, covered, msg, [a, b]))
    for (fa, fb), members in text_pairs.items():
        rows_ = sorted({r for pair in members for r in pair})
        lines = (
            _geometry_lines(t, fa)
            + _geometry_lines(t, fb)
            + _lines_by(t, fa, ("text",))
            + _lines_by(t, fb, ("text",))
        )
        msg = (
            f"{messages.element_name(t.elements[fa])} and {messages.element_name(t.elements[fb])}"
            f" overlap each other ({messages.pairs_phrase(len(members))} of lines)"
        )
        offer(1, fa, fb, ([fa, fb, *rows_], lines, 1.0, msg, rows_))
    out = []
    for _, (_, rows_, lines, severity, msg, region) in found.items():
        out.append(_defect(t, config, DefectKind.OVERLAP, rows_, lines, severity, msg, region))
    return out


# ---------------------------------------------------------------------------------------------
# text overflowing its box, shapes off the slide


def _text_overflow(
    t: ElementTable, rows: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    out = []
    for f in np.flatnonzero(rows & (t.kind == ElementKind.CONTAINER)):
        meta = t.elements[f].meta
        extent = meta.get("extent")
        if not meta.get("text_frame") or extent is None:
            continue
        if float(meta.get("rotation") or 0.0) % 360 != 0:
            continue
        shape = _shape_of(t, int(f))
        box = t.box[shape if meta.get("table_cell") else f].astype(np.float64)
        e = np.asarray(extent, dtype=np.float64)
        over = np.array([box[0] - e[0], box[1] - e[1], e[2] - box[2], e[3] - box[3]])
        if meta.get("table_cell"):
            over[[0, 2]] = 0.0  # cells wrap; only rows growing past the table count
        worst = float(over.max())
        if worst <= config.slide_overflow_px:
            continue
        iw = max(0.0, min(e[2], box[2]) - max(e[0], box[0]))
        ih = max(0.0, min(e[3], box[3]) - max(e[1], box[1]))
        ext_area = max((e[2] - e[0]) * (e[3] - e[1]), 1e-9)
        outside = 1.0 - iw * ih / ext_area
        canvas = t.canvas[f]
        off = bool(
            e[0] < canvas[0] - 1
            or e[1] < canvas[1] - 1
            or e[2] > canvas[2] + 1
            or e[3] > canvas[3] + 1
        )
        sides = [name for name, d in zip(_SIDE_NAMES, over) if d > config.slide_overflow_px]
        texts = [int(r) for r in np.flatnonzero(t.parent == f)]
        lines = _lines_by(t, int(f), ("create", "geometry", "text", "frame", "font"))
        msg = messages.text_overflows_box(
            "", messages.element_name(t.elements[f]), worst, sides, off
        )
        out.append(
            _defect(
                t,
                config,
                DefectKind.CLIPPED_TEXT,
                [int(f), *texts],
                lines,
                max(outside, 0.2),
                msg,
                region_rows=texts or [int(f)],
            )
        )
    return out


def _off_slide(t: ElementTable, rows: np.ndarray, config: DefectConfig) -> list[tuple[int, Defect]]:
    cand = np.flatnonzero(_shows(t, rows) & _top_level(t) & t.active & ~t.background)
    if len(cand) == 0:
        return []
    boxes = t.box[cand]
    canvas = t.canvas[cand]
    outside = kernels.outside_fraction(boxes, canvas).astype(np.float64)
    px_out = np.max(
        np.stack(
            [
                canvas[:, 0] - boxes[:, 0],
                canvas[:, 1] - boxes[:, 1],
                boxes[:, 2] - canvas[:, 2],
                boxes[:, 3] - canvas[:, 3],
            ],
            axis=1,
        ),
        axis=1,
    )
    out = []
    for n in np.flatnonzero((outside > config.overflow_fraction) & (px_out >= 2.0)):
        r = int(cand[n])
        b, c = t.box[r], t.canvas[r]
        where = []
        for label, d in (
            ("left", c[0] - b[0]),
            ("top", c[1] - b[1]),
            ("right", b[2] - c[2]),
            ("bottom", b[3] - c[3]),
        ):
            if d > 0.5:
                where.append(f"{d:.0f} px past the {label} edge")
        lines = _lines_by(t, r, ("create", "geometry", "deck"))
        msg = messages.off_slide("", messages.element_name(t.elements[r]), float(outside[n]), where)
        out.append(_defect(t, config, DefectKind.OVERFLOW, [r], lines, float(outside[n]), msg))
    return out


# ---------------------------------------------------------------------------------------------
# small fonts, empty placeholders


def min_font_pt(canvas_height_px: float, config: DefectConfig) -> float:
    """The smallest readable size on a slide this tall (10 pt on a 7.5 in slide)."""
    height_in = canvas_height_px / DPI if canvas_height_px > 0 else REFERENCE_SLIDE_HEIGHT_IN
    return config.slide_min_font_pt * height_in / REFERENCE_SLIDE_HEIGHT_IN


def _small_font(
    t: ElementTable, rows: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    by_frame: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for r in np.flatnonzero(rows & t.is_text & t.active):
        pt = t.elements[r].meta.get("font_pt")
        if pt is None:
            continue
        height = float(t.canvas[r, 3] - t.canvas[r, 1])
        if float(pt) < min_font_pt(height, config) - 0.05:
            by_frame[int(t.parent[r])].append((int(r), float(pt)))
    out = []
    for frame, members in by_frame.items():
        texts = [r for r, _ in members]
        smallest = min(pt for _, pt in members)
        height = float(t.canvas[frame, 3] - t.canvas[frame, 1])
        need = min_font_pt(height, config)
        declared = [t.elements[r].meta.get("declared_pt") for r in texts]
        shrunk = all(d is not None and d >= need for d in declared)
        lines: set[int] = set()
        for r in texts:
            lines.update(t.elements[r].meta.get("lines_by", {}).get("font") or [])
        if not lines:
            lines.update(_lines_by(t, frame, ("create", "text")))
        severity = float(np.clip(2.0 * (need - smallest) / need, 0.2, 1.0))
        msg = messages.small_font(
            "", messages.element_name(t.elements[frame]), smallest, need, shrunk
        )
        out.append(
            _defect(
                t,
                config,
                DefectKind.SMALL_FONT,
                [frame, *texts],
                sorted(lines),
                severity,
                msg,
                texts,
            )
        )
    return out


def _empty_placeholders(
    t: ElementTable, rows: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    out = []
    for r in np.flatnonzero(rows):
        e = t.elements[r]
        if not e.meta.get("empty_placeholder"):
            continue
        lines = _lines_by(t, int(r), ("create",))
        msg = messages.empty_placeholder("", messages.element_name(e), int(t.page[r]) + 1)
        out.append(
            _defect(
                t,
                config,
                DefectKind.EMPTY_PLACEHOLDER,
                [int(r)],
                lines,
                config.empty_placeholder_severity,
                msg,
            )
        )
    return out
