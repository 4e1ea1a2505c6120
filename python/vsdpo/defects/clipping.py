"""Text clipped by its container (metrics.md 4.2) and content off the canvas (4.3).

Clipped text: a text whose renderer declared a clip box (``meta["clip_on"]`` true and
``meta["clip_box"]``: the axes for matplotlib, the nearest clipping ancestor for HTML) and that
is not inside it: hidden fraction > 0.02 or more than 1 px of its height hidden.

Overflow: an element more than 1 % outside the canvas, or a text at least 2 px outside. An
element with a declared clip box only counts with its visible part, the intersection of its box
and its clip box: a line clipped by its axes is normal, and the hidden part of a clipped text
is already reported as clipped text.

One :func:`vsdpo.kernels.outside_fraction` call per defect kind for the whole group. Tick labels
of one axis (and the data of one plot area) that run off together make one defect.
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


def clip_boxes(t: ElementTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(has_clip bool[K], clip f32[K, 4])``: the declared clip box of each element, if any."""
    has = np.zeros(len(rows), dtype=bool)
    clip = np.zeros((len(rows), 4), dtype=np.float32)
    for n, r in enumerate(rows):
        meta = t.elements[r].meta
        box = meta.get("clip_box")
        if meta.get("clip_on") and box is not None and len(box) == 4:
            b = np.asarray(box, dtype=np.float32)
            if np.all(np.isfinite(b)) and b[2] >= b[0] and b[3] >= b[1]:
                has[n], clip[n] = True, b
    return has, clip


def find_clipped_text(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """Clipped-text defects of the whole group, as ``(rollout index, defect)``."""
    texts = np.flatnonzero(t.active & t.is_text)
    has, clip = clip_boxes(t, texts)
    rows, clip = texts[has], clip[has]
    if len(rows) == 0:
        return []
    hidden = kernels.outside_fraction(t.box[rows], clip).astype(np.float64)
    b = t.box[rows]
    # rows of pixels of the text's height that fall outside the clip box (above or below)
    hidden_height = np.clip(clip[:, 1] - b[:, 1], 0, None) + np.clip(b[:, 3] - clip[:, 3], 0, None)
    flagged = (hidden > config.clipped_fraction) | (hidden_height > config.clipped_height_px)
    container = "the axes" if bool(t.is_chart[rows].any()) else "its container"
    return _grouped(
        t,
        config,
        rows[flagged],
        hidden[flagged],
        DefectKind.CLIPPED_TEXT,
        lambda prefix, subject, plural, n, worst: messages.clipped(
            prefix, subject, plural, n, container, worst
        ),
    )


def find_overflow(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """Off-canvas defects of the whole group, as ``(rollout index, defect)``."""
    rows = np.flatnonzero(t.active & ~t.background)
    if len(rows) == 0:
        return []
    boxes = t.box[rows].copy()
    has, clip = clip_boxes(t, rows)
    # only the visible part of a clipped element can run off the canvas: clipping data to its
    # axes is normal, and the hidden part of clipped text is reported as clipped_text
    if has.any():
        vb, cb = boxes[has], clip[has]
        vb[:, :2] = np.minimum(np.maximum(vb[:, :2], cb[:, :2]), cb[:, 2:])
        vb[:, 2:] = np.maximum(np.minimum(vb[:, 2:], cb[:, 2:]), vb[:, :2])
        boxes[has] = vb
    canvas = t.canvas[rows]
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
    is_text = t.is_text[rows]
    by_pixels = is_text & (px_out >= config.overflow_text_px)
    flagged = (outside > config.overflow_fraction) | by_pixels
    severity = np.where(by_pixels, np.maximum(outside, config.overflow_text_min_severity), outside)
    return _grouped(
        t, config, rows[flagged], severity[flagged], DefectKind.OVERFLOW, messages.overflow
    )


def _grouped(
    t: ElementTable, config: DefectConfig, rows, severity, kind: str, message
) -> list[tuple[int, Defect]]:
    """One defect per family (the tick labels of one axis, the data of one area, an element)."""
    families: dict[tuple, list[int]] = defaultdict(list)
    for n, r in enumerate(rows):
        families[(int(t.rollout[r]), int(t.page[r]), t.family(int(r)))].append(n)
    out = []
    for (k, page, _), members in families.items():
        member_rows = [int(rows[n]) for n in members]
        worst = float(np.clip(max(severity[n] for n in members), 0.0, 1.0))
        lines = t.lines(member_rows)
        legend = [r for r in member_rows if t.kind[r] == ElementKind.LEGEND]
        plural = len(members) > 1 and not legend  # a legend and its entries read as one thing
        subject = messages.family_name(t.elements[(legend or member_rows)[0]], plural)
        out.append(
            (
                k,
                Defect(
                    kind=kind,
                    severity=worst,
                    message=message(t.prefix(lines, config), subject, plural, len(members), worst),
                    elements=t.element_ids(member_rows),
                    region=t.region(member_rows),
                    lines=lines,
                    page=page,
                ),
            )
        )
    return out
