"""Low text contrast (metrics.md 4.5): WCAG 2.x AA, against the rendered pixels.

For each image of the group (one per render, one per slide of a deck) one
:func:`vsdpo.kernels.contrast` call measures every text box on it: the background is the
dominant colour of the box and its 2-px ring, the text colour the dominant colour among the
pixels farthest from it. A text fails when its contrast ratio is below 4.5 (3.0 for large text:
>= 24 px, or >= 18.66 px bold), with severity ``min(1, required / ratio)``.

Which colours are compared:

* background: always the measured one when the box has pixels. The pixels are the truth: a white
  bar label over a dark bar is fine whatever the declared background says, and white text in a
  white box over the data is not;
* text colour: the declared one (``Element.color``, composited over the measured background
  with ``meta["alpha"]``) when the renderer knows it, else the measured one. Anti-aliased glyphs
  of small text never reach their colour (a 10 pt black "a" measures about 4.3:1 on white), so a
  measured text colour would flag correct small text; and a text whose box shows no ink at all
  but whose declared colour stands out is a text that was not drawn there, not a faint one;
* a box with no pixels on the image (off the canvas): the declared pair, when both are known.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from vsdpo import kernels
from vsdpo.artifact import Defect, DefectKind, Element
from vsdpo.defects import messages
from vsdpo.defects.config import DefectConfig

if TYPE_CHECKING:
    from vsdpo.defects.engine import ElementTable


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of u8 sRGB colours ``[..., 3]``.

    >>> round(float(relative_luminance(np.array([119, 119, 119]))), 4)
    0.1845
    """
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WCAG contrast ratio (1..21) of two colour arrays ``[..., 3]``.

    >>> round(float(contrast_ratio(np.array([0x77] * 3), np.array([255] * 3))), 4)
    4.4781
    """
    la, lb = relative_luminance(a), relative_luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def _is_bold(e: Element) -> bool:
    weight = e.meta.get("weight", e.meta.get("fontweight"))
    if isinstance(weight, str):
        return weight.lower() in ("bold", "heavy", "black", "extra bold", "semibold", "demibold")
    try:
        return weight is not None and float(weight) >= 600
    except (TypeError, ValueError):
        return False


def required_ratio(e: Element, config: DefectConfig) -> float:
    """The AA contrast a text needs: 3.0 when large, 4.5 otherwise."""
    size = e.font_size or 0.0
    large = size >= config.large_text_px or (_is_bold(e) and size >= config.large_bold_text_px)
    return config.contrast_large if large else config.contrast_normal


def find_low_contrast(t: ElementTable, config: DefectConfig) -> list[tuple[int, Defect]]:
    """Low-contrast defects of the whole group, as ``(rollout index, defect)``."""
    texts = np.flatnonzero(t.active & t.is_text)
    by_image: dict[tuple[int, int], list[int]] = defaultdict(list)
    for r in texts:
        by_image[(int(t.rollout[r]), int(t.page[r]))].append(int(r))

    failing_rows: list[int] = []
    failing_ratio: list[float] = []
    failing_required: list[float] = []
    for (k, page), rows_list in by_image.items():
        rows = np.asarray(rows_list, dtype=np.int64)
        ratio = _declared_ratio(t, rows)
        image = t.image_for(k, page)
        if image is not None:
            measured, _, background = kernels.contrast(image, t.box[rows])
            measured = measured.astype(np.float64)
            on_image = np.isfinite(measured)
            declared_fg, has_fg = _declared_text_colour(t, rows, background)
            against_pixels = np.where(has_fg, contrast_ratio(declared_fg, background), measured)
            ratio = np.where(on_image, against_pixels, ratio)
        required = np.asarray(
            [required_ratio(t.elements[r], config) for r in rows], dtype=np.float64
        )
        fails = np.isfinite(ratio) & (ratio < required)
        failing_rows.extend(rows[fails].tolist())
        failing_ratio.extend(ratio[fails].tolist())
        failing_required.extend(required[fails].tolist())

    families: dict[tuple, list[int]] = defaultdict(list)
    for n, r in enumerate(failing_rows):
        families[(int(t.rollout[r]), int(t.page[r]), t.family(r))].append(n)
    out = []
    for (k, page, _), members in families.items():
        member_rows = [failing_rows[n] for n in members]
        worst = min(members, key=lambda n: failing_ratio[n] / failing_required[n])
        ratio, required = failing_ratio[worst], failing_required[worst]
        severity = float(min(1.0, required / max(ratio, 1e-9)))
        lines = t.lines(member_rows)
        plural = len(members) > 1
        message = messages.low_contrast(
            t.prefix(lines, config),
            messages.family_name(t.elements[member_rows[0]], plural),
            plural,
            len(members),
            ratio,
            required,
        )
        out.append(
            (
                k,
                Defect(
                    kind=DefectKind.LOW_CONTRAST,
                    severity=severity,
                    message=message,
                    elements=t.element_ids(member_rows),
                    region=t.region(member_rows),
                    lines=lines,
                    page=page,
                ),
            )
        )
    return out


def _declared_text_colour(
    t: ElementTable, rows: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(f64[K, 3], bool[K])``: the declared text colour composited over ``background``."""
    elements = [t.elements[r] for r in rows]
    known = np.fromiter((e.color is not None for e in elements), dtype=bool, count=len(rows))
    colour = np.asarray(
        [e.color if e.color is not None else (0, 0, 0) for e in elements], dtype=np.float64
    )
    alpha = np.asarray([_alpha(e) for e in elements], dtype=np.float64)[:, None]
    colour = alpha * colour.reshape(-1, 3) + (1 - alpha) * background.astype(np.float64)
    return np.round(colour), known


def _alpha(e: Element) -> float:
    try:
        return float(np.clip(float(e.meta.get("alpha", 1.0)), 0.0, 1.0))
    except (TypeError, ValueError):
        return 1.0


def _declared_ratio(t: ElementTable, rows: np.ndarray) -> np.ndarray:
    """f64[K]: the ratio of the declared text colour and background (NaN when either is unknown)."""
    elements = [t.elements[r] for r in rows]
    known = np.fromiter(
        (e.color is not None and e.background is not None for e in elements),
        dtype=bool,
        count=len(rows),
    )
    fg = np.asarray(
        [e.color if k else (0, 0, 0) for e, k in zip(elements, known)], dtype=np.float64
    ).reshape(-1, 3)
    bg = np.asarray(
        [e.background if k else (0, 0, 0) for e, k in zip(elements, known)], dtype=np.float64
    ).reshape(-1, 3)
    return np.where(known, contrast_ratio(fg, bg), np.nan)
