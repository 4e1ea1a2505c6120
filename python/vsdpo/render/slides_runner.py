"""The function the sandbox worker calls to run one python-pptx program: ``run(code, args)``.

It runs *inside* the sandboxed child (cwd = a fresh temp dir). Steps:

1. install the python-pptx tracing (:mod:`vsdpo.render.slides_tracing`) and compile the code
   with the sandbox's ``USER_FILENAME``; exec it as ``__main__`` (exceptions propagate: the
   sandbox turns them into an ``ExecError`` pointing at the user line). ``Presentation.save``
   to a path only records the deck (nothing is written; its line is kept); saving to a file
   object works as usual;
2. find the deck: the last one saved, else the last ``Presentation`` left in a global variable,
   else the last one created with slides; none is a ``NoPresentation`` error;
3. serialise it (.pptx bytes) and describe every slide's shapes as plain dicts: geometry in EMU
   (group children mapped through their group's transform), z-order, placeholder type, fill,
   the text of every paragraph and run with its declared font size and colour, table cells, and
   the user lines recorded for each shape, cell and paragraph, by category.

LibreOffice runs outside the sandbox on the bytes; the host turns the PDF and these records into
elements (:mod:`vsdpo.render.slides_elements`).

Importing this module installs the hooks and builds a tiny deck, so every job forked from a warm
worker starts with python-pptx imported, patched and warm.
"""

from __future__ import annotations

import builtins
import io
import linecache
import time
from typing import Any

from vsdpo.render import slides_tracing
from vsdpo.render.slides_tracing import USER_FILENAME

#: at most this many slides are described and rendered (the rest are cut, and said so)
MAX_SLIDES = 60
#: at most this many shapes per slide are described
MAX_SHAPES = 400

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_FILL_TAGS = {
    _A + "noFill": "none",
    _A + "solidFill": "solid",
    _A + "gradFill": "gradient",
    _A + "blipFill": "picture",
    _A + "pattFill": "pattern",
    _A + "grpFill": "group",
}


class NoPresentation(Exception):
    """The program made no python-pptx Presentation the runner could find."""


def _find_deck(namespace: dict) -> Any:
    from pptx.presentation import Presentation

    st = slides_tracing.STATE
    if st.saved:
        return st.saved[-1]
    in_vars = [v for v in namespace.values() if isinstance(v, Presentation)]
    if in_vars:
        order = {id(p): n for n, p in enumerate(st.presentations)}
        return max(in_vars, key=lambda p: order.get(id(p), -1))
    with_slides = [p for p in st.presentations if len(p.slides)]
    if with_slides:
        return with_slides[-1]
    raise NoPresentation(
        "the program made no python-pptx Presentation (save it, or leave it in a variable)"
    )


def _rgb(color: Any) -> tuple[int, int, int] | None:
    try:
        if color is not None and color.type is not None and color.rgb is not None:
            v = color.rgb
            return (int(v[0]), int(v[1]), int(v[2]))
    except (AttributeError, TypeError, ValueError, IndexError):
        pass
    return None


def _fill(shape: Any) -> tuple[str | None, tuple[int, int, int] | None]:
    """(fill type or None when inherited and unknown, solid RGB when explicit)."""
    el = shape._element
    sppr = el.find(_P + "spPr")
    if sppr is not None:
        for child in sppr:
            kind = _FILL_TAGS.get(child.tag)
            if kind is not None:
                rgb = None
                if kind == "solid":
                    clr = child.find(_A + "srgbClr")
                    if clr is not None and clr.get("val"):
                        v = clr.get("val")
                        try:
                            rgb = (int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16))
                        except ValueError:
                            rgb = None
                return kind, rgb
    style = el.find(_P + "style")
    ref = style.find(_A + "fillRef") if style is not None else None
    if ref is not None and ref.get("idx") not in (None, "0"):
        return "theme", None
    return None, None


def _font_size(font: Any) -> float | None:
    try:
        return font.size.pt if font.size is not None else None
    except AttributeError:
        return None


def _text(tf: Any, root: Any, shape_id: int, cell: tuple | None) -> dict[str, Any]:
    para_lines = slides_tracing.paragraph_records(root, shape_id, cell)
    paragraphs = []
    for n, p in enumerate(tf.paragraphs):
        runs = []
        for r in p.runs:
            runs.append(
                {
                    "text": r.text,
                    "size_pt": _font_size(r.font) or _font_size(p.font),
                    "bold": bool(r.font.bold or p.font.bold),
                    "rgb": _rgb(r.font.color) if r.font.color.type is not None else None,
                }
            )
        paragraphs.append(
            {
                "text": p.text,
                "level": int(p.level or 0),
                "size_pt": _font_size(p.font),
                "runs": runs,
                "lines": para_lines.get(n, {}),
            }
        )
    body = tf._txBody.bodyPr
    auto = None
    try:
        auto = tf.auto_size.name if tf.auto_size is not None else None
    except (AttributeError, ValueError):
        auto = None
    return {
        "wrap": tf.word_wrap,
        "auto_size": auto,
        "margins": [
            int(body.lIns) if body.lIns is not None else 91440,
            int(body.tIns) if body.tIns is not None else 45720,
            int(body.rIns) if body.rIns is not None else 91440,
            int(body.bIns) if body.bIns is not None else 45720,
        ],
        "paragraphs": paragraphs,
    }


def _emu(v: Any) -> int:
    try:
        return int(v) if v is not None else 0
    except (TypeError, ValueError):
        return 0


def _group_transform(group: Any, outer: Any) -> Any:
    """Child-space -> slide-space mapping of a group shape (composed with ``outer``)."""
    xfrm = group._element.find(_P + "grpSpPr")
    xfrm = xfrm.find(_A + "xfrm") if xfrm is not None else None
    if xfrm is None:
        return outer

    def pair(tag: str, a: str, b: str) -> tuple[float, float]:
        el = xfrm.find(_A + tag)
        if el is None:
            return (0.0, 0.0)
        return (float(el.get(a, 0)), float(el.get(b, 0)))

    off, ext = pair("off", "x", "y"), pair("ext", "cx", "cy")
    ch_off, ch_ext = pair("chOff", "x", "y"), pair("chExt", "cx", "cy")
    sx = ext[0] / ch_ext[0] if ch_ext[0] else 1.0
    sy = ext[1] / ch_ext[1] if ch_ext[1] else 1.0

    def inner(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return outer(off[0] + (x - ch_off[0]) * sx, off[1] + (y - ch_off[1]) * sy, w * sx, h * sy)

    return inner


def _identity(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
    return (x, y, w, h)


def _describe_shape(
    shape: Any, root: Any, z: int, group_id: int | None, transform: Any
) -> dict[str, Any]:
    sid = int(shape.shape_id)
    box = transform(_emu(shape.left), _emu(shape.top), _emu(shape.width), _emu(shape.height))
    try:
        shape_type = shape.shape_type.name if shape.shape_type is not None else ""
    except (NotImplementedError, AttributeError, ValueError):
        shape_type = ""
    placeholder = None
    if shape.is_placeholder:
        try:
            placeholder = shape.placeholder_format.type.name
        except (AttributeError, ValueError):
            placeholder = "OBJECT"
    fill, fill_rgb = _fill(shape)
    d: dict[str, Any] = {
        "id": sid,
        "name": shape.name,
        "type": shape_type,
        "tag": shape._element.tag.rpartition("}")[2],
        "z": z,
        "group": group_id,
        "box": [float(v) for v in box],
        "rotation": float(getattr(shape, "rotation", 0.0) or 0.0),
        "placeholder": placeholder,
        "fill": fill,
        "fill_rgb": fill_rgb,
        "lines": slides_tracing.records_for(root, sid),
        "text": None,
        "table": None,
    }
    if shape.has_text_frame:
        d["text"] = _text(shape.text_frame, root, sid, None)
    if getattr(shape, "has_table", False):
        table = shape.table
        cells = []
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row.cells):
                if cell.is_spanned:
                    continue
                cells.append(
                    {
                        "row": r,
                        "col": c,
                        "span": [int(cell.span_height), int(cell.span_width)],
                        "text": _text(cell.text_frame, root, sid, (r, c)),
                        "fill_rgb": _rgb(cell.fill.fore_color)
                        if cell.fill.type is not None and cell.fill.type == 1
                        else None,
                        "lines": slides_tracing.records_for(root, sid, (r, c)),
                    }
                )
        d["table"] = {
            "rows": [_emu(row.height) for row in table.rows],
            "cols": [_emu(col.width) for col in table.columns],
            "cells": cells,
        }
    if placeholder is not None:
        kind = type(shape).__name__
        empty_text = shape.has_text_frame and not shape.text_frame.text.strip()
        unfilled = kind in ("PicturePlaceholder", "TablePlaceholder", "ChartPlaceholder")
        d["empty_placeholder"] = bool(empty_text or unfilled)
    return d


def _walk(container: Any, root: Any, shapes: list, group_id: int | None, transform: Any) -> None:
    for shape in container:
        if len(shapes) >= MAX_SHAPES:
            return
        shapes.append(_describe_shape(shape, root, len(shapes), group_id, transform))
        if shape.shape_type is not None and shape.shape_type.name == "GROUP":
            inner = _group_transform(shape, transform)
            _walk(shape.shapes, root, shapes, int(shape.shape_id), inner)


def describe(prs: Any, max_slides: int = MAX_SLIDES) -> dict[str, Any]:
    """Plain-data description of every slide's shapes (see the module docstring)."""
    slides = []
    for index, slide in enumerate(prs.slides):
        if index >= max_slides:
            break
        root = slide._element
        shapes: list[dict[str, Any]] = []
        _walk(slide.shapes, root, shapes, None, _identity)
        bg = None
        try:
            if slide.background.fill.type == 1:  # MSO_FILL.SOLID
                bg = _rgb(slide.background.fill.fore_color)
        except (AttributeError, TypeError, ValueError):
            bg = None
        slides.append(
            {
                "index": index,
                "layout": slide.slide_layout.name,
                "hidden": root.get("show") == "0",
                "background": bg,
                "background_lines": slides_tracing.records_for(root, None),
                "shapes": shapes,
            }
        )
    st = slides_tracing.STATE
    return {
        "slide_size": [_emu(prs.slide_width), _emu(prs.slide_height)],
        "n_slides": len(prs.slides),
        "slides": slides,
        "deck_lines": {cat: list(lines) for cat, lines in st.deck_lines.items()},
        "save_lines": list(st.save_lines),
    }


def run(code: str, args: dict | None = None) -> dict[str, Any]:
    """Run one python-pptx program; return ``{"pptx": bytes, **describe(deck), "timings"}``.

    ``args`` (all optional): ``trace`` (default True), ``filename`` (default ``USER_FILENAME``),
    ``max_slides`` (default :data:`MAX_SLIDES`)."""
    args = dict(args or {})
    trace = bool(args.get("trace", True))
    filename = args.get("filename", USER_FILENAME)
    max_slides = int(args.get("max_slides", MAX_SLIDES))
    slides_tracing.install()
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    compiled = compile(code, filename, "exec", dont_inherit=True)
    namespace = {"__name__": "__main__", "__file__": filename, "__builtins__": builtins}
    st = slides_tracing.start(filename)
    st.on = trace
    try:
        exec(compiled, namespace)  # noqa: S102 - running the program is the job
    finally:
        slides_tracing.stop()
    timings["exec"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    prs = _find_deck(namespace)
    buf = io.BytesIO()
    prs.save(buf)
    timings["save"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    out = describe(prs, max_slides)
    timings["describe"] = time.perf_counter() - t2
    out["pptx"] = buf.getvalue()
    out["timings"] = timings
    out["traced"] = trace
    return out


WARM_UP = """
from pptx import Presentation
from pptx.util import Inches, Pt
prs = Presentation()
slide = prs.slides.add_slide(prs.slide_layouts[1])
slide.shapes.title.text = "warm"
tb = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(2), Inches(1))
tb.text_frame.text = "x"
tb.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
"""


def warm_up() -> None:
    run(WARM_UP)


warm_up()
