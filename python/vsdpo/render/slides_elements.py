"""From a deck's shape records and LibreOffice's PDF to slide images and Elements.

Geometry comes from the pptx (EMU -> pixels at ``dpi``, 914400 EMU per inch); the *text*
comes from the PDF: every character LibreOffice drew, with its box, its rendered font size and
its fill colour (pdfium's text layer), so line breaking, font substitution and auto-fit
shrinking are LibreOffice's real ones, and text that overflows its box is measured where it was
drawn. The characters are matched to the deck's paragraphs and runs by aligning the two texts
(:class:`difflib.SequenceMatcher` over the non-blank characters, in z-order; bullets and
autonumbers that LibreOffice adds match nothing and are skipped).

Elements of one slide (``page`` = slide index):

* ``figure``: the slide itself (never a defect by itself);
* ``shape`` / ``image``: every shape, picture, table, group and connector, with ``meta["slide"]``
  (z-order, fill, placeholder type, ``lines_by``: the user lines by category);
* ``container``: each text frame (a shape's, a table cell's), box = its shape or cell, with the
  rendered extent of its text in ``meta["extent"]``;
* ``text`` / ``title``: one per run per rendered line, box = the union of its glyph boxes,
  ``color`` = the colour LibreOffice filled it with, ``font_size`` = rendered size in pixels.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from vsdpo.artifact import Element, ElementKind, LineRange

EMU_PER_INCH = 914400
DEFAULT_DPI = 96
#: categories of user lines that make or move a shape (blamed for overlaps, off-slide)
SHAPE_CATEGORIES = ("create", "geometry", "fill", "line", "other")
#: categories of user lines behind a text frame's text (blamed for overflow)
TEXT_CATEGORIES = ("create", "geometry", "text", "frame", "font")
_TITLE_PLACEHOLDERS = ("TITLE", "CENTER_TITLE", "VERTICAL_TITLE")


@dataclass
class PdfChar:
    char: str
    box: tuple[float, float, float, float]  # pixels, y down
    size_pt: float
    rgb: tuple[int, int, int]
    space_before: bool = False  # a blank came before it in the PDF's text


def render_pdf(
    pdf_bytes: bytes, dpi: int = DEFAULT_DPI, max_pages: int | None = None
) -> tuple[list[np.ndarray], list[list[PdfChar]]]:
    """Every page (the first ``max_pages``) of a PDF as RGB pixels at ``dpi``, and its drawn
    (non-blank) characters."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument(pdf_bytes)
    scale = dpi / 72.0
    images: list[np.ndarray] = []
    chars: list[list[PdfChar]] = []
    try:
        n = len(pdf) if max_pages is None else min(len(pdf), max_pages)
        for i in range(n):
            page = pdf[i]
            _, height_pt = page.get_size()
            bitmap = page.render(scale=scale, rev_byteorder=True)
            array = bitmap.to_numpy()
            images.append(np.ascontiguousarray(array[..., :3]))
            textpage = page.get_textpage()
            r, g, b, a = (ctypes.c_uint() for _ in range(4))
            page_chars: list[PdfChar] = []
            blank = False
            for k in range(textpage.count_chars()):
                code = raw.FPDFText_GetUnicode(textpage.raw, k)
                ch = chr(code) if code else ""
                if not ch or ch.isspace() or not ch.isprintable():
                    blank = True
                    continue
                if raw.FPDFText_IsGenerated(textpage.raw, k) == 1:
                    continue
                x0, y0, x1, y1 = textpage.get_charbox(k)
                if x1 <= x0 and y1 <= y0:
                    continue
                raw.FPDFText_GetFillColor(textpage.raw, k, r, g, b, a)
                page_chars.append(
                    PdfChar(
                        ch,
                        (
                            x0 * scale,
                            (height_pt - y1) * scale,
                            x1 * scale,
                            (height_pt - y0) * scale,
                        ),
                        float(raw.FPDFText_GetFontSize(textpage.raw, k)),
                        (int(r.value), int(g.value), int(b.value)),
                        blank,
                    )
                )
                blank = False
            chars.append(page_chars)
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return images, chars


def _ranges(lines: Sequence[int], ranges: dict[int, tuple[int, int]]) -> list[LineRange]:
    return sorted({ranges.get(n, (n, n)) for n in lines if n})


def _merge(
    *groups: dict[str, list[int]] | None, categories: Sequence[str] | None = None
) -> list[int]:
    out: dict[int, None] = {}
    for g in groups:
        for cat, lines in (g or {}).items():
            if categories is None or cat in categories:
                out.update(dict.fromkeys(lines))
    return list(out)


def _shape_label(shape: dict[str, Any]) -> str:
    ph = shape.get("placeholder")
    if ph:
        what = {
            "TITLE": "title placeholder",
            "CENTER_TITLE": "title placeholder",
            "SUBTITLE": "subtitle placeholder",
            "BODY": "body placeholder",
            "OBJECT": "content placeholder",
            "PICTURE": "picture placeholder",
        }.get(ph, f"{ph.lower().replace('_', ' ')} placeholder")
    elif shape.get("table") is not None:
        what = "table"
    elif shape.get("tag") == "pic":
        what = "picture"
    elif shape.get("type") == "TEXT_BOX":
        what = "text box"
    elif shape.get("tag") == "grpSp":
        what = "group"
    elif shape.get("tag") == "cxnSp":
        what = "connector"
    elif shape.get("tag") == "graphicFrame":
        what = "chart" if shape.get("type") == "CHART" else "graphic frame"
    else:
        what = "shape"
    return f"{what} '{shape.get('name', '')}'"


@dataclass
class _TextSlot:
    """One text frame (a shape's or a table cell's) whose characters are matched to the PDF."""

    frame: Element
    shape: dict[str, Any]
    text: dict[str, Any]
    cell_lines: dict[str, list[int]] | None


def _expected(slots: list[_TextSlot]) -> tuple[str, list[tuple[int, int, int]]]:
    chars, labels = [], []
    for s, slot in enumerate(slots):
        for p, para in enumerate(slot.text.get("paragraphs", [])):
            runs = para.get("runs") or [{"text": para.get("text", "")}]
            for r, run in enumerate(runs):
                for ch in run.get("text", ""):
                    if not ch.isspace():
                        chars.append(ch)
                        labels.append((s, p, r))
    return "".join(chars), labels


def _split_lines(chars: list[PdfChar]) -> list[list[PdfChar]]:
    """Split a run's characters (in drawing order) into rendered lines."""
    out: list[list[PdfChar]] = []
    for ch in chars:
        if out:
            prev = out[-1][-1]
            h = max(prev.box[3] - prev.box[1], ch.box[3] - ch.box[1], 1.0)
            cy_prev = (prev.box[1] + prev.box[3]) / 2
            cy = (ch.box[1] + ch.box[3]) / 2
            if abs(cy - cy_prev) <= 0.6 * h and ch.box[0] >= prev.box[0] - 2:
                out[-1].append(ch)
                continue
        out.append([ch])
    return out


def _union(boxes: Sequence[tuple[float, float, float, float]]) -> tuple[float, float, float, float]:
    b = np.asarray(boxes, dtype=np.float64)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def slide_elements(
    described: dict[str, Any],
    chars: Sequence[Sequence[PdfChar]],
    canvases: Sequence[tuple[int, int]],
    *,
    dpi: int = DEFAULT_DPI,
    ranges: dict[int, tuple[int, int]] | None = None,
) -> list[Element]:
    """The elements of every slide (see the module docstring)."""
    ranges = ranges or {}
    s = dpi / EMU_PER_INCH
    deck_geometry = (described.get("deck_lines") or {}).get("geometry", [])
    elements: list[Element] = []

    def add(**kwargs: Any) -> Element:
        e = Element(id=len(elements), **kwargs)
        elements.append(e)
        return e

    for slide in described.get("slides", []):
        page = int(slide["index"])
        if page >= len(canvases):
            break
        width, height = canvases[page]
        root = add(
            kind=ElementKind.FIGURE,
            bbox=(0.0, 0.0, float(width), float(height)),
            page=page,
            name=f"slide {page + 1}",
            background=tuple(slide["background"]) if slide.get("background") else None,
            source=_ranges(_merge(slide.get("background_lines")), ranges),
        )
        by_id: dict[int, Element] = {}
        slots: list[_TextSlot] = []
        for shape in slide.get("shapes", []):
            x, y, w, h = shape["box"]
            box = (x * s, y * s, (x + w) * s, (y + h) * s)
            lines_by = dict(shape.get("lines") or {})
            if deck_geometry:
                lines_by["deck"] = list(deck_geometry)
            kind = ElementKind.IMAGE if shape.get("tag") == "pic" else ElementKind.SHAPE
            parent = by_id.get(shape["group"]) if shape.get("group") is not None else None
            filled = shape.get("fill") not in (None, "none")
            meta = {
                "slide": True,
                "z": shape.get("z", 0),
                "shape_id": shape["id"],
                "fill": shape.get("fill"),
                "filled": filled or kind == ElementKind.IMAGE or shape.get("table") is not None,
                "placeholder": shape.get("placeholder"),
                "empty_placeholder": bool(shape.get("empty_placeholder")),
                "shape_type": shape.get("type"),
                "tag": shape.get("tag"),
                "rotation": shape.get("rotation", 0.0),
                "lines_by": lines_by,
                "has_text": False,
            }
            el = add(
                kind=kind,
                bbox=box,
                parent=(parent or root).id,
                page=page,
                name=_shape_label(shape),
                background=tuple(shape["fill_rgb"]) if shape.get("fill_rgb") else None,
                source=_ranges(_merge(lines_by, categories=SHAPE_CATEGORIES), ranges),
                meta=meta,
            )
            by_id[shape["id"]] = el
            text = shape.get("text")
            if text and any(p.get("text", "").strip() for p in text.get("paragraphs", [])):
                meta["has_text"] = True
                frame_lines = _merge(
                    lines_by,
                    *(p.get("lines") for p in text["paragraphs"]),
                    categories=TEXT_CATEGORIES,
                )
                frame = add(
                    kind=ElementKind.CONTAINER,
                    bbox=box,
                    parent=el.id,
                    page=page,
                    name=f"the text of {_shape_label(shape)}",
                    background=el.background,
                    source=_ranges(frame_lines, ranges),
                    meta={
                        "text_frame": True,
                        "wrap": text.get("wrap"),
                        "auto_size": text.get("auto_size"),
                        "margins_px": [m * s for m in text.get("margins", [0, 0, 0, 0])],
                        "lines_by": {**lines_by, "text": frame_lines},
                        "rotation": shape.get("rotation", 0.0),
                    },
                )
                slots.append(_TextSlot(frame, shape, text, None))
            table = shape.get("table")
            if table:
                meta["has_text"] = True
                xs = np.concatenate([[0], np.cumsum(table["cols"])]) * s + box[0]
                ys = np.concatenate([[0], np.cumsum(table["rows"])]) * s + box[1]
                for cell in table["cells"]:
                    r, c = cell["row"], cell["col"]
                    rs, cs = cell["span"]
                    r1, c1 = min(r + max(rs, 1), len(ys) - 1), min(c + max(cs, 1), len(xs) - 1)
                    cbox = (float(xs[c]), float(ys[r]), float(xs[c1]), float(ys[r1]))
                    ctext = cell.get("text") or {}
                    if not any(p.get("text", "").strip() for p in ctext.get("paragraphs", [])):
                        continue
                    clines = _merge(
                        lines_by,
                        cell.get("lines"),
                        *(p.get("lines") for p in ctext["paragraphs"]),
                        categories=TEXT_CATEGORIES,
                    )
                    frame = add(
                        kind=ElementKind.CONTAINER,
                        bbox=cbox,
                        parent=el.id,
                        page=page,
                        name=f"cell ({r + 1}, {c + 1}) of {_shape_label(shape)}",
                        background=tuple(cell["fill_rgb"]) if cell.get("fill_rgb") else None,
                        source=_ranges(clines, ranges),
                        meta={
                            "text_frame": True,
                            "table_cell": [r, c],
                            "wrap": True,
                            "auto_size": None,
                            "margins_px": [m * s for m in ctext.get("margins", [0, 0, 0, 0])],
                            "lines_by": {**lines_by, "text": clines},
                            "rotation": 0.0,
                        },
                    )
                    slots.append(_TextSlot(frame, shape, ctext, cell.get("lines")))
        page_chars = list(chars[page]) if page < len(chars) else []
        _text_elements(slots, page_chars, page, add, ranges)
    return elements


def _text_elements(
    slots: list[_TextSlot],
    page_chars: list[PdfChar],
    page: int,
    add: Any,
    ranges: dict[int, tuple[int, int]],
) -> None:
    expected, labels = _expected(slots)
    got = "".join(c.char for c in page_chars)
    assigned: dict[tuple[int, int, int], list[PdfChar]] = {}
    if expected and got:
        matcher = SequenceMatcher(None, expected, got, autojunk=False)
        for a, b, n in matcher.get_matching_blocks():
            for k in range(n):
                assigned.setdefault(labels[a + k], []).append(page_chars[b + k])
    for s_index, slot in enumerate(slots):
        frame = slot.frame
        all_boxes: list[tuple[float, float, float, float]] = []
        is_title = (slot.shape.get("placeholder") or "") in _TITLE_PLACEHOLDERS
        shape_lines = slot.shape.get("lines") or {}
        for p, para in enumerate(slot.text.get("paragraphs", [])):
            runs = para.get("runs") or [{"text": para.get("text", "")}]
            para_lines = para.get("lines") or {}
            for r, run in enumerate(runs):
                got_chars = assigned.get((s_index, p, r), [])
                if not got_chars:
                    continue
                lines = _merge(
                    shape_lines,
                    slot.cell_lines,
                    para_lines,
                    categories=("create", "text", "frame", "font", "color"),
                )
                for n, line_chars in enumerate(_split_lines(got_chars)):
                    box = _union([c.box for c in line_chars])
                    all_boxes.append(box)
                    sizes = [c.size_pt for c in line_chars]
                    colours = [c.rgb for c in line_chars]
                    colour = max(set(colours), key=colours.count)
                    size_pt = float(np.median(sizes))
                    text = "".join(
                        (" " if c.space_before and i else "") + c.char
                        for i, c in enumerate(line_chars)
                    )
                    short = text if len(text) <= 40 else text[:39] + "…"
                    add(
                        kind=ElementKind.TITLE if is_title else ElementKind.TEXT,
                        bbox=box,
                        parent=frame.id,
                        page=page,
                        name=f"the text '{short}' in {frame.name.removeprefix('the text of ')}",
                        text=text,
                        color=colour,
                        background=frame.background,
                        font_size=size_pt * DEFAULT_DPI / 72.0,
                        source=_ranges(lines, ranges),
                        meta={
                            "family": frame.id,
                            "family_name": frame.name,
                            "paragraph": p,
                            "run": r,
                            "line": n,
                            "font_pt": size_pt,
                            "declared_pt": run.get("size_pt") or para.get("size_pt"),
                            "bold": bool(run.get("bold")),
                            "lines_by": {
                                "font": _merge(
                                    shape_lines, slot.cell_lines, para_lines, categories=("font",)
                                ),
                                "color": _merge(
                                    shape_lines, slot.cell_lines, para_lines, categories=("color",)
                                ),
                                "text": lines,
                            },
                        },
                    )
        if all_boxes:
            frame.meta["extent"] = list(_union(all_boxes))
