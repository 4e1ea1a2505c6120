"""Web-page rules: what the generic families cannot see on an HTML page.

Elements of ``domain == "web"`` renders made by :mod:`vsdpo.render.web` (``meta["dom"]``) are
boxes (``container``, ``image``) and text runs (one per line of a text node). Boxes overlap all the time on a page
without anything being wrong (a float inside a block's box, a transparent wrapper), and what
covers what depends on paint order, not on geometry. So for web pages:

* **covered text**: the renderer hit-tests points of every text run; a run whose topmost
  element there is another element with a fill (background colour or image, or an image) is
  covered by it (``meta["covered_by"]``), e.g. an absolutely positioned box over a heading;
* **text over text**: two text runs of different boxes intersecting by >= 2 px both ways (after
  the 1 px shrink), as for charts;
* **text overflowing its box**: a text run sticking out of the box that holds it (which does not
  clip it) by more than 2 px sideways or a third of its font size vertically: a fixed-width box
  too narrow for its text. Reported as clipped text (the text escapes its container), blaming
  the box's lines (its markup and the CSS rules that sized it) and the text's;
* **off the page**: a box outside the canvas (wider than the viewport, so the page scrolls
  sideways, or above/left of the page); only the outermost such box is reported, since its
  children are off the page because it is.

The generic overlap and overflow families skip web elements (:func:`generic_view`), and the
near-miss alignment family sees only the filled boxes of a page, not its text runs or
transparent layout boxes. Clipped text (by an ``overflow`` ancestor) and low contrast are the
generic rules.
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

#: a box hides what is under it when its background is at least this opaque
MIN_FILL = 0.3
#: covered text: at least this fraction of the run's hit-test points hit another element
MIN_COVERED = 0.3
#: text overflowing its box: sideways by more than this many px
OVERFLOW_SIDE_PX = 2.0
#: ... or vertically by more than this fraction of the font size
OVERFLOW_FONT_FRACTION = 0.35
#: a box off the page must stick out at least this many px (a border bleeding 1 px is not)
OFF_PAGE_MIN_PX = 3.0
#: severity floor of a text overflowing its box (a word sticking out is visible)
OVERFLOW_MIN_SEVERITY = 0.2


def page_scrolls_sideways(root_meta: dict, margin_px: float = OFF_PAGE_MIN_PX) -> bool:
    """Whether a rendered page scrolls sideways, from its root element's DOM facts: content
    wider than the viewport, unless the viewport hides horizontal overflow (``overflow-x:
    hidden`` on the root, or on the body when the root's overflow is visible)."""
    width, viewport = root_meta.get("scroll_width"), root_meta.get("viewport")
    if not width or not viewport or width <= viewport[0] + margin_px:
        return False
    return root_meta.get("viewport_overflow_x") not in ("hidden", "clip")


def web_rows(t: ElementTable) -> np.ndarray:
    """bool[N]: a DOM box or text run of a web render (``meta["dom"]``, set by the renderer).

    Other elements of web renders (hand-made ones) keep the generic rules."""
    if t.n == 0:
        return np.zeros(0, dtype=bool)
    return np.fromiter(
        (
            t.results[k].domain == "web" and bool(e.meta.get("dom"))
            for k, e in zip(t.rollout, t.elements)
        ),
        dtype=bool,
        count=t.n,
    )


def generic_view(t: ElementTable, kind: str) -> ElementTable:
    """The table a generic family sees: web elements left out where this module judges them."""
    web = web_rows(t)
    if not web.any():
        return t
    if kind in (DefectKind.OVERLAP, DefectKind.OVERFLOW):
        return dataclasses.replace(t, active=t.active & ~web)
    if kind == DefectKind.MISALIGNMENT:
        filled = np.fromiter((_fill(e) >= MIN_FILL for e in t.elements), dtype=bool, count=t.n)
        return dataclasses.replace(t, active=t.active & (~web | (filled & ~t.is_text)))
    return t


def find_web_defects(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """The web-only defects of the whole group, as ``(rollout index, defect)``."""
    web = web_rows(t)
    if not web.any():
        return []
    out: list[tuple[int, Defect]] = []
    if config.enabled(DefectKind.OVERLAP):
        covered = _covered_text(t, web, config)
        out += covered
        out += _text_over_text(t, web, config, covered)
    if config.enabled(DefectKind.CLIPPED_TEXT):
        out += _text_out_of_box(t, web, config)
    if config.enabled(DefectKind.OVERFLOW):
        out += _off_the_page(t, web, config)
    return out


# ---------------------------------------------------------------------------------------------
# helpers


def _fill(e) -> float:
    if e.kind == ElementKind.IMAGE:
        return 1.0
    try:
        return float(e.meta.get("fill", 0.0) or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _rows_by_id(t: ElementTable) -> dict[tuple[int, int], int]:
    return {(int(t.rollout[i]), e.id): i for i, e in enumerate(t.elements)}


def _defect(
    t: ElementTable,
    config: DefectConfig,
    kind: str,
    rows: list[int],
    severity: float,
    message: str,
    region_rows: list[int] | None = None,
) -> tuple[int, Defect]:
    lines = t.lines(rows)
    r0 = rows[0]
    return (
        int(t.rollout[r0]),
        Defect(
            kind=kind,
            severity=float(np.clip(severity, 0.0, 1.0)),
            message=t.prefix(lines, config) + message,
            elements=t.element_ids(rows),
            region=t.region(region_rows or rows),
            lines=lines,
            page=int(t.page[r0]),
        ),
    )


def _text_family(t: ElementTable, rows: list[int]) -> str:
    """One text run by its text; several by the box that holds them."""
    if len(rows) > 1 and t.parent[rows[0]] >= 0:
        return f"the text of {messages.element_name(t.elements[int(t.parent[rows[0]])])}"
    return messages.element_name(t.elements[rows[0]])


# ---------------------------------------------------------------------------------------------
# overlap


def _covered_text(
    t: ElementTable, web: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    row_of = _rows_by_id(t)
    groups: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for i in np.flatnonzero(web & t.active & t.is_text):
        meta = t.elements[i].meta
        cover_id = meta.get("covered_by")
        fraction = float(meta.get("covered_fraction") or 0.0)
        if cover_id is None or fraction < MIN_COVERED or meta.get("covered_by_fixed"):
            continue
        c = row_of.get((int(t.rollout[i]), int(cover_id)))
        if c is None or not t.active[c] or _fill(t.elements[c]) < MIN_FILL:
            continue
        if t.related(np.array([i]), np.array([c]))[0]:
            continue
        groups[(c, int(t.parent[i]))].append((int(i), fraction))
    out = []
    for (c, _), members in groups.items():
        rows = [r for r, _ in members]
        worst = max(f for _, f in members)
        text = _text_family(t, rows)
        cover = messages.element_name(t.elements[c])
        out.append(
            _defect(
                t,
                config,
                DefectKind.OVERLAP,
                [c, *rows],
                worst,
                f"{cover} covers {text} ({len(rows)} line{'s' if len(rows) > 1 else ''}, "
                f"{messages.percent(worst)} of the points tested)",
                region_rows=rows,
            )
        )
    return out


def _text_over_text(
    t: ElementTable, web: np.ndarray, config: DefectConfig, covered: list[tuple[int, Defect]]
) -> list[tuple[int, Defect]]:
    cand = np.flatnonzero(web & t.active & t.is_text)
    if len(cand) < 2:
        return []
    boxes = shrink(t.box[cand], config.shrink_px)
    pairs, _, _ = kernels.overlap_pairs(boxes, t.group[cand], 0.0)
    if len(pairs) == 0:
        return []
    # a run under another element is hidden: it collides with nothing (the cover is reported)
    hidden = {
        (int(t.rollout[i]), t.elements[i].id)
        for i in cand
        if float(t.elements[i].meta.get("covered_fraction") or 0.0) >= MIN_COVERED
    }
    explained = hidden | {(k, e) for k, d in covered for e in d.elements}
    groups: dict[tuple[int, int, int], list[tuple[int, int]]] = defaultdict(list)
    for a, b in pairs:
        i, j = int(cand[a]), int(cand[b])
        if t.parent[i] == t.parent[j]:
            continue  # runs of one box sit side by side on purpose (a <sup>, a bold word)
        bi, bj = boxes[a], boxes[b]
        w = min(bi[2], bj[2]) - max(bi[0], bj[0])
        h = min(bi[3], bj[3]) - max(bi[1], bj[1])
        if min(w, h) < config.text_text_min_px:
            continue
        k = int(t.rollout[i])
        if (k, t.elements[i].id) in explained or (k, t.elements[j].id) in explained:
            continue
        if _same_text_same_place(t, i, j):
            continue
        pa, pb = sorted((int(t.parent[i]), int(t.parent[j])))
        groups[(k, pa, pb)].append((i, j))
    out = []
    for (_, pa, _pb), pairs_ in groups.items():
        rows = sorted({r for p in pairs_ for r in p})
        side_a = [i if t.parent[i] == pa else j for i, j in pairs_]
        side_b = [j if t.parent[i] == pa else i for i, j in pairs_]
        name_a = _text_family(t, sorted(set(side_a)))
        name_b = _text_family(t, sorted(set(side_b)))
        n = len(pairs_)
        out.append(
            _defect(
                t,
                config,
                DefectKind.OVERLAP,
                rows,
                1.0,
                f"{name_a} and {name_b} overlap each other ({messages.pairs_phrase(n)})",
            )
        )
    return out


def _same_text_same_place(t: ElementTable, i: int, j: int) -> bool:
    a, b = t.elements[i].text, t.elements[j].text
    if a is None or b is None or " ".join(a.split()) != " ".join(b.split()):
        return False
    bi, bj = t.box[i].astype(np.float64), t.box[j].astype(np.float64)
    iw = max(0.0, min(bi[2], bj[2]) - max(bi[0], bj[0]))
    ih = max(0.0, min(bi[3], bj[3]) - max(bi[1], bj[1]))
    union = t.area[i] + t.area[j] - iw * ih
    return iw * ih >= 0.95 * max(union, 1e-9)


# ---------------------------------------------------------------------------------------------
# text escaping its box, boxes off the page


def _text_out_of_box(
    t: ElementTable, web: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    groups: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for i in np.flatnonzero(web & t.active & t.is_text):
        p = int(t.parent[i])
        if p < 0 or t.background[p]:
            continue
        holder = t.elements[p]
        if holder.meta.get("clips"):
            continue  # the box clips its text: the clipped-text rule reports it
        b, c = t.box[i].astype(np.float64), t.box[p].astype(np.float64)
        side = max(c[0] - b[0], b[2] - c[2], 0.0)
        vertical = max(c[1] - b[1], b[3] - c[3], 0.0)
        font = float(t.elements[i].font_size or 0.0)
        if side <= OVERFLOW_SIDE_PX and vertical <= max(
            OVERFLOW_SIDE_PX, OVERFLOW_FONT_FRACTION * font
        ):
            continue
        iw = max(0.0, min(b[2], c[2]) - max(b[0], c[0]))
        ih = max(0.0, min(b[3], c[3]) - max(b[1], c[1]))
        outside = 1.0 - iw * ih / max(float(t.area[i]), 1e-9)
        groups[p].append((int(i), outside, max(side, vertical)))
    out = []
    for p, members in groups.items():
        rows = [r for r, _, _ in members]
        worst = max(o for _, o, _ in members)
        px = max(d for _, _, d in members)
        holder = t.elements[p]
        fixed = [
            axis
            for axis, key in (("width", "fixed_width"), ("height", "fixed_height"))
            if holder.meta.get(key)
        ]
        why = (
            f"; its {' and '.join(fixed)} {'is' if len(fixed) == 1 else 'are'} set" if fixed else ""
        )
        if len(rows) == 1:
            what = f"{messages.element_name(t.elements[rows[0]])} overflows its box"
        else:
            what = f"{len(rows)} lines of text overflow their box"
        out.append(
            _defect(
                t,
                config,
                DefectKind.CLIPPED_TEXT,
                [p, *rows],
                max(worst, OVERFLOW_MIN_SEVERITY),
                f"{what}, {messages.element_name(holder)} (up to {px:.0f} px outside it{why})",
                region_rows=rows,
            )
        )
    return out


def _off_the_page(
    t: ElementTable, web: np.ndarray, config: DefectConfig
) -> list[tuple[int, Defect]]:
    """Boxes off the page, each reported once at the outermost box that carries it off.

    Only what shows counts: a text run, an image or a filled box outside the canvas (its visible
    part, inside its clip box); a transparent wrapper whose box pokes out (a grid row's negative
    margin) is not a defect unless something visible goes with it."""
    rows = np.flatnonzero(web & t.active)
    out: list[tuple[int, Defect]] = []
    outside = np.zeros(t.n, dtype=np.float64)
    px_out = np.zeros(t.n, dtype=np.float64)
    if len(rows):
        boxes = t.box[rows].astype(np.float32).copy()
        for n, r in enumerate(rows):  # only the visible part of a clipped box can run off
            meta = t.elements[r].meta
            clip = meta.get("clip_box")
            if meta.get("clip_on") and clip is not None and len(clip) == 4:
                b = boxes[n]
                b[0], b[1] = max(b[0], clip[0]), max(b[1], clip[1])
                b[2], b[3] = max(min(b[2], clip[2]), b[0]), max(min(b[3], clip[3]), b[1])
        canvas = t.canvas[rows]
        outside[rows] = kernels.outside_fraction(boxes, canvas).astype(np.float64)
        px_out[rows] = np.max(
            np.stack(
                [
                    canvas[:, 0] - boxes[:, 0],
                    canvas[:, 1] - boxes[:, 1],
                    boxes[:, 2] - canvas[:, 2],
                ],
                axis=1,
            ),
            axis=1,
        )
    # off the page: more than 1 % and at least a few px outside, but not wholly outside
    # (hidden on purpose: skip links at left:-9999px)
    off = (outside > config.overflow_fraction) & (outside < 1.0 - 1e-6)
    off &= px_out >= np.where(t.is_text, config.overflow_text_px, OFF_PAGE_MIN_PX)
    shows = t.is_text | np.fromiter(
        (_fill(e) >= MIN_FILL for e in t.elements), dtype=bool, count=t.n
    )
    culprits: dict[int, list[int]] = defaultdict(list)
    for r in np.flatnonzero(off & shows & ~t.background):
        top = int(r)
        for _ in range(64):
            p = int(t.parent[top])
            if p < 0 or not off[p]:
                break
            top = p
        culprits[top].append(int(r))
    for top, shown in culprits.items():
        e = t.elements[top]
        c, b = t.canvas[top], t.box[top]
        where = []
        if b[2] > c[2] + 0.5:
            where.append(f"{b[2] - c[2]:.0f} px past the right edge")
        if b[0] < c[0] - 0.5:
            where.append(f"{c[0] - b[0]:.0f} px past the left edge")
        if b[1] < c[1] - 0.5:
            where.append(f"{c[1] - b[1]:.0f} px above the top")
        worst = max(float(outside[r]) for r in shown)
        carried = len([r for r in shown if r != top])
        extra = (
            f"; {carried} visible element{'s' if carried != 1 else ''} with it" if carried else ""
        )
        out.append(
            _defect(
                t,
                config,
                DefectKind.OVERFLOW,
                [top],
                max(worst, float(outside[top])),
                f"{messages.element_name(e)} runs off the page "
                f"({messages.percent(float(outside[top]))} outside: {', '.join(where)}{extra})",
            )
        )
    # a page that scrolls sideways with no box to blame (an inline run, a pseudo-element)
    reported = {k for k, _ in out}
    for k, result in enumerate(t.results):
        if result.domain != "web" or not result.ok or not result.elements or k in reported:
            continue
        if not result.elements[0].meta.get("dom"):
            continue
        meta = result.elements[0].meta
        if page_scrolls_sideways(meta):
            width, viewport = meta["scroll_width"], meta["viewport"]
            out.append(
                (
                    k,
                    Defect(
                        kind=DefectKind.OVERFLOW,
                        severity=float(min(1.0, (width - viewport[0]) / width)),
                        message=f"the page is {width} px wide, wider than the "
                        f"{viewport[0]} px viewport (it scrolls sideways)",
                        region=(float(viewport[0]) - 1, 0.0, float(viewport[0]), 1.0),
                    ),
                )
            )
    return out
