"""Which user-code lines made, placed, filled and styled each python-pptx shape.

This module monkeypatches python-pptx *inside the sandboxed child only* (the slides runner calls
:func:`install`). python-pptx objects are throw-away proxies over lxml elements (``slide.shapes[0]``
is a new object on every access), so records are not kept on the proxies: they are keyed by where
the element sits in the deck: ``(slide root element, shape id, table cell, paragraph index)``,
found by walking up from the proxy's element to its ``p:sp`` / ``p:pic`` / ``p:graphicFrame`` /
``p:grpSp`` / ``p:cxnSp`` (and, on the way, the ``a:tc`` and ``a:p`` it is in).

What is recorded, always the innermost frame of the user's program (``co_filename == filename``)
of the *outermost* python-pptx call in progress (nested calls inside python-pptx reuse it):

* **create**: ``shapes.add_textbox/add_shape/add_picture/add_table/add_chart/add_connector/
  add_group_shape/...``, ``placeholder.insert_picture/insert_table/insert_chart`` (on the shape
  they return) and ``slides.add_slide`` (on every placeholder the layout put on the new slide);
* every **property setter** and mutating method of every python-pptx class, by category:
  ``geometry`` (left, top, width, height, rotation, column widths, row heights), ``text``
  (``.text =``, ``add_paragraph``, ``add_run``, ``clear``...), ``frame`` (word wrap, auto size,
  margins, anchor, paragraph level/alignment/spacing), ``font`` (size, name, bold, italic,
  ``fit_text``), ``color`` (a colour or fill set inside text properties: the text colour),
  ``fill`` (a shape's or cell's fill), ``line`` and ``other``;
* ``Presentation.slide_width/slide_height`` as deck-wide ``geometry`` lines.

The records die with the program (one program runs per sandboxed process).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:
    from vsdpo.sandbox import USER_FILENAME
except ImportError:  # pragma: no cover
    USER_FILENAME = "<completion>"

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
SHAPE_TAGS = frozenset(_P + t for t in ("sp", "pic", "graphicFrame", "grpSp", "cxnSp"))
_TEXT_PROPS = frozenset(_A + t for t in ("rPr", "defRPr", "endParaRPr", "pPr"))
_LINE_TAG = _A + "ln"

CATEGORIES = ("create", "geometry", "text", "frame", "font", "color", "fill", "line", "other")

_GEOMETRY = frozenset(
    {"left", "top", "width", "height", "rotation", "begin_x", "begin_y", "end_x", "end_y"}
    | {"begin_connect", "end_connect", "crop_left", "crop_right", "crop_top", "crop_bottom"}
)
_TEXT = frozenset(
    {"text", "add_paragraph", "add_run", "add_line_break", "clear", "merge", "split", "text_frame"}
)
_FRAME = frozenset(
    {"word_wrap", "auto_size", "margin_left", "margin_right", "margin_top", "margin_bottom"}
    | {"vertical_anchor", "level", "alignment", "line_spacing", "space_before", "space_after"}
)
_FONT = frozenset({"size", "name", "bold", "italic", "underline", "fit_text", "language_id"})
_COLOR = frozenset({"rgb", "theme_color", "brightness"})
_FILL = frozenset({"solid", "background", "patterned", "gradient", "gradient_angle", "pattern"})
_CREATE = frozenset(
    {"add_textbox", "add_shape", "add_picture", "add_table", "add_chart", "add_connector"}
    | {"add_group_shape", "add_ole_object", "add_movie", "insert_picture", "insert_table"}
    | {"insert_chart", "build_freeform"}
)
#: non-property methods (beyond add_* / insert_*) that change the deck
_MUTATORS = _TEXT | _FILL | {"fit_text", "solid", "background"}


@dataclass
class TraceState:
    filename: str = USER_FILENAME
    on: bool = False
    depth: int = 0  # nesting of wrapped python-pptx calls in progress
    line: int | None = None  # the user line of the outermost call in progress
    # (root id, shape id, cell (row, col) or None, paragraph index or None) -> category -> lines
    records: dict[tuple, dict[str, dict[int, None]]] = field(default_factory=dict)
    roots: dict[int, Any] = field(default_factory=dict)  # id -> root element (kept alive)
    deck_lines: dict[str, dict[int, None]] = field(default_factory=dict)  # slide size etc.
    presentations: list[Any] = field(default_factory=list)  # created, in order
    saved: list[Any] = field(default_factory=list)  # saved (last = the deck), in order
    save_lines: dict[int, None] = field(default_factory=dict)


STATE = TraceState()
_ORIGINALS: list[tuple[Any, str, Any]] = []
_installed = False


def user_line(filename: str | None = None) -> int | None:
    """Line of the innermost frame of the user's program on the current stack, or None."""
    target = filename or STATE.filename
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == target:
            return frame.f_lineno
        frame = frame.f_back
    return None


# ----------------------------------------------------------------------------- locating elements


def _is_element(obj: Any) -> bool:
    from lxml import etree

    return isinstance(obj, etree._Element)


def element_of(obj: Any, depth: int = 0) -> Any:
    """The lxml element a python-pptx proxy wraps (or its parent proxy's), or None."""
    if obj is None or depth > 4:
        return None
    if _is_element(obj):
        return obj
    d = getattr(obj, "__dict__", None)
    if not d:
        return None
    el = d.get("_element")
    if el is not None and _is_element(el):
        return el
    for value in d.values():
        if _is_element(value):
            return value
    parent = d.get("_parent")
    return element_of(parent, depth + 1) if parent is not None else None


def locate(el: Any) -> tuple | None:
    """``(root, shape id, cell, paragraph)`` of an element, or None when it is in no slide
    shape (then ``(root, None, None, None)`` for slide-level elements such as the background)."""
    if el is None:
        return None
    cell = para = None
    node = el
    sid = None
    while node is not None:
        tag = node.tag
        if tag == _A + "p" and para is None:
            parent = node.getparent()
            if parent is not None:
                para = list(parent.iterchildren(_A + "p")).index(node)
        elif tag == _A + "tc" and cell is None:
            tr = node.getparent()
            tbl = tr.getparent() if tr is not None else None
            if tr is not None and tbl is not None:
                cell = (
                    list(tbl.iterchildren(_A + "tr")).index(tr),
                    list(tr.iterchildren(_A + "tc")).index(node),
                )
        elif tag in SHAPE_TAGS:
            try:
                sid = int(node[0][0].get("id"))
            except (IndexError, TypeError, ValueError):
                sid = None
            break
        node = node.getparent()
    root = el.getroottree().getroot()
    if sid is None:
        cell = para = None
    return (root, sid, cell, para)


def _category(owner: type, name: str, el: Any) -> str:
    cls = owner.__name__
    if cls == "LineFormat":
        return "line"
    if name in _CREATE:
        return "create"
    if name in _COLOR or name in _FILL or cls in ("ColorFormat", "FillFormat"):
        node = el
        while node is not None and node.tag not in SHAPE_TAGS:
            if node.tag in _TEXT_PROPS:
                return "color"
            if node.tag == _LINE_TAG:
                return "line"
            node = node.getparent()
        return "fill"
    if name in _GEOMETRY:
        return "geometry"
    if name in _FONT and cls in ("Font", "TextFrame"):
        return "font"
    if name in _TEXT:
        return "text"
    if name in _FRAME:
        return "frame"
    return "other"


def _record(key: tuple, category: str, line: int) -> None:
    root, sid, cell, para = key
    STATE.roots[id(root)] = root
    slot = STATE.records.setdefault((id(root), sid, cell, para), {})
    slot.setdefault(category, {})[line] = None


def _record_on(obj: Any, category: str, line: int) -> None:
    key = locate(element_of(obj))
    if key is not None:
        _record(key, category, line)


def _record_created(result: Any, line: int) -> None:
    """``create`` on a returned shape, or on every placeholder of a returned slide."""
    if result is None:
        return
    shapes = getattr(result, "placeholders", None) if type(result).__name__ == "Slide" else None
    if shapes is not None:
        for shape in list(shapes):
            _record_on(shape, "create", line)
        return
    _record_on(result, "create", line)


# ----------------------------------------------------------------------------- wrappers


def _wrap(owner: type, name: str, func: Callable, setter: bool) -> Callable:
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        st = STATE
        if not st.on or st.depth:
            st.depth += 1
            try:
                return func(self, *args, **kwargs)
            finally:
                st.depth -= 1
        line = user_line()
        if line is None:
            return func(self, *args, **kwargs)
        st.depth += 1
        st.line = line
        try:
            result = func(self, *args, **kwargs)
        finally:
            st.depth -= 1
            st.line = None
        try:
            if owner.__name__ == "Presentation":
                st.deck_lines.setdefault("geometry" if setter else "other", {})[line] = None
            elif name in _CREATE or name == "add_slide":
                _record_created(result, line)
            else:
                el = element_of(self)
                key = locate(el)
                if key is not None:
                    _record(key, _category(owner, name, el), line)
        except Exception:  # noqa: BLE001, S110 - tracing must never break the program
            pass
        return result

    wrapper.__vsdpo_original__ = func
    return wrapper


def _patch_class(cls: type) -> None:
    for name, value in list(vars(cls).items()):
        if name.startswith("__"):
            continue
        if isinstance(value, property) and value.fset is not None:
            if getattr(value.fset, "__vsdpo_original__", None) is not None:
                continue
            new = property(
                value.fget, _wrap(cls, name, value.fset, True), value.fdel, value.__doc__
            )
            setattr(cls, name, new)
            _ORIGINALS.append((cls, name, value))
        elif inspect.isfunction(value) and (
            name.startswith(("add_", "insert_")) or name in _MUTATORS
        ):
            if getattr(value, "__vsdpo_original__", None) is not None:
                continue
            setattr(cls, name, _wrap(cls, name, value, False))
            _ORIGINALS.append((cls, name, value))


def _pptx_classes() -> list[type]:
    import importlib
    import pkgutil

    import pptx

    out: list[type] = []
    for info in pkgutil.walk_packages(pptx.__path__, "pptx."):
        if ".oxml" in info.name or info.name.endswith((".spec", ".exc", ".types")):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - an optional part we cannot import is not traced
            continue
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == info.name:
                out.append(value)
    return out


def _save_recorder(func: Callable) -> Callable:
    import os

    @functools.wraps(func)
    def save(self, file):
        STATE.saved = [p for p in STATE.saved if p is not self] + [self]
        if STATE.on:
            line = user_line()
            if line is not None:
                STATE.save_lines[line] = None
        if isinstance(file, (str, os.PathLike)):
            return None  # recorded only: the deck is serialised by the runner
        return func(self, file)

    save.__vsdpo_original__ = func
    return save


def _init_recorder(func: Callable) -> Callable:
    @functools.wraps(func)
    def init(self, *args, **kwargs):
        func(self, *args, **kwargs)
        STATE.presentations.append(self)

    init.__vsdpo_original__ = func
    return init


def install() -> None:
    """Install the hooks (idempotent). Call it in the sandboxed child, never in the trainer."""
    global _installed
    if _installed:
        return
    from pptx.presentation import Presentation

    for cls in _pptx_classes():
        _patch_class(cls)
    for name, make in (("save", _save_recorder), ("__init__", _init_recorder)):
        orig = Presentation.__dict__.get(name) or getattr(Presentation, name)
        setattr(Presentation, name, make(orig))
        _ORIGINALS.append((Presentation, name, orig))
    _installed = True


def uninstall() -> None:
    global _installed
    while _ORIGINALS:
        owner, name, orig = _ORIGINALS.pop()
        setattr(owner, name, orig)
    _installed = False


def start(filename: str = USER_FILENAME) -> TraceState:
    """Begin recording for one program compiled under ``filename``."""
    global STATE
    STATE = TraceState(filename=filename, on=True)
    return STATE


def stop() -> TraceState:
    STATE.on = False
    STATE.depth = 0
    STATE.line = None
    return STATE


def records_for(root: Any, shape_id: int | None, cell=None, para=None) -> dict[str, list[int]]:
    """The lines recorded for one shape (or cell, or paragraph), by category."""
    slot = STATE.records.get((id(root), shape_id, cell, para), {})
    return {cat: list(lines) for cat, lines in slot.items()}


def paragraph_records(root: Any, shape_id: int, cell=None) -> dict[int, dict[str, list[int]]]:
    """Per paragraph index: the lines recorded on that paragraph (or its runs), by category."""
    out: dict[int, dict[str, list[int]]] = {}
    for (rid, sid, c, p), slot in STATE.records.items():
        if rid == id(root) and sid == shape_id and c == cell and p is not None:
            out[p] = {cat: list(lines) for cat, lines in slot.items()}
    return out
