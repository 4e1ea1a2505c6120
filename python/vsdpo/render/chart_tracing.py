"""Which user-code lines made or styled each matplotlib artist.

This module monkeypatches matplotlib *inside the sandboxed child only* (the chart runner calls
:func:`install`). Three kinds of hooks record, on the artist objects themselves, the innermost
frame of the user's program (``co_filename == filename``):

* **creation**: every ``__init__`` of an :class:`~matplotlib.artist.Artist` subclass stores
  ``(line, primary)``. *Primary* means the artist was created directly by a user call (``ax.bar``
  making a Rectangle, ``ax.text``, ``ax.legend``); artists built as parts of another artist's
  construction (an Axes' title Text, a Legend's texts, a Table cell's text) are *secondary* and
  their creation line is only a fallback;
* **styling**: every ``set_*`` method of every Artist subclass, plus a few Axes/Axis methods that
  configure without a ``set_`` name (``legend``, ``tick_params``, ``ticklabel_format``,
  ``update_units`` when it installs a category/date converter, ``Axis._set_lim`` behind
  ``set_xlim``...), adds the line to the object's style set. ``Artist.update_from`` (how
  matplotlib copies a tick's look onto the ticks it creates lazily, and a plotted line's look
  onto its legend handle) copies the style set too, so records follow the properties;
* **draw calls** (``savefig``, ``show``, ``tight_layout``, ``canvas.draw``): while they run nothing
  is recorded as styling, so the tick labels that matplotlib creates *inside* them are not blamed
  on them; they only remember the call as a last-resort ``drawn`` line. ``savefig``/``show`` lines
  are kept globally for the same fallback, ``tight_layout``/``subplots_adjust`` lines as *layout*
  lines of the figure and its axes.

Axes also remember the data calls that requested autoscaling (``ax.plot``, ``ax.bar``...), per
axis: tick labels are attributed to them when nothing configured the axis.

``rcParams[...] = v`` assignments are recorded per key (``font.size`` -> line 3), so text styled
through rc settings is traced to them.

Overhead: a frame walk per *outermost* recorded call (nested calls reuse its line), none while
tracing is off (the runner's own draw and extraction), and never ``sys.settrace``.
"""

from __future__ import annotations

import ast
import functools
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

try:  # the sandbox package defines the filename user code is compiled under
    from vsdpo.sandbox import USER_FILENAME
except ImportError:  # pragma: no cover - before the sandbox package lands
    USER_FILENAME = "<completion>"

# attribute names stored on artists (plain attributes: artists have a __dict__, and the records die
# with the artist, so nothing leaks between programs)
CREATED = "_vsdpo_created"  # (line, primary)
STYLED = "_vsdpo_styled"  # dict[int, None], insertion-ordered set of lines
DRAWN = "_vsdpo_drawn"  # line of the draw call (savefig/tight_layout) the artist was created in
DATA = "_vsdpo_data"  # on Axis: lines of data calls that requested autoscaling of this axis
LAYOUT = "_vsdpo_layout"  # on Figure/Axes: tight_layout / subplots_adjust lines

_OFF, _RECORD, _DRAW = 0, 1, 2

# Non-``set_*`` methods that configure the object they are called on.
_AXES_STYLE_METHODS = (
    "legend", "text", "annotate", "tick_params", "grid", "axis", "table", "margins",
    "invert_xaxis", "invert_yaxis", "label_outer", "autoscale", "bar_label", "clabel",
    "plot", "bar", "barh", "scatter", "hist", "pie", "errorbar", "boxplot", "violinplot", "fill",
    "fill_between", "fill_betweenx", "imshow", "pcolormesh", "pcolor", "contour", "contourf",
    "stackplot", "stem", "step", "hlines", "vlines", "axhline", "axvline", "axhspan", "axvspan",
    "quiver", "hexbin", "broken_barh", "eventplot", "matshow", "loglog", "semilogx", "semilogy",
)  # fmt: skip
_FIGURE_STYLE_METHODS = (
    "legend",
    "text",
    "suptitle",
    "supxlabel",
    "supylabel",
    "colorbar",
    "align_labels",
)
_LEGEND_STYLE_METHODS = ("set_draggable",)
# Axis setters that are about the axis *label*, not the tick labels; recorded on the label Text only.
_AXIS_LABEL_SETTERS = frozenset(
    {"set_label_text", "set_label_coords", "set_label_position", "set_label"}
)
# Axes methods that configure the tick machinery of one or more of its axes (``axis=`` kwarg).
_AXES_AXIS_CONFIG_METHODS = (
    "ticklabel_format",
    "locator_params",
    "minorticks_on",
    "minorticks_off",
)


@dataclass
class TraceState:
    """Per-program tracing state (one program runs at a time in a sandbox worker)."""

    filename: str = USER_FILENAME
    mode: int = _OFF
    line: int | None = None  # line of the outermost user call in progress
    draw_line: int | None = None  # line of the draw call in progress (mode _DRAW)
    construct_depth: int = 0  # nesting of artist constructors in progress
    rc_lines: dict[str, dict[int, None]] = field(default_factory=dict)  # rc key -> lines
    output_lines: dict[int, None] = field(default_factory=dict)  # savefig / show lines


STATE = TraceState()
_ORIGINALS: list[tuple[Any, str, Any]] = []  # (owner, name, original) for uninstall
_PATCHED_CLASSES: set[type] = set()
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


def _add(obj: Any, attr: str, line: int) -> None:
    d = obj.__dict__
    lines = d.get(attr)
    if lines is None:
        d[attr] = {line: None}
    else:
        lines[line] = None


def _current_line() -> int | None:
    st = STATE
    return st.line if st.line is not None else user_line()


# ---------------------------------------------------------------------------- wrapper factories


def _style_recorder(
    orig: Callable, targets: Callable[[Any, tuple, dict], Iterable[Any]] | None = None
) -> Callable:
    """Wrap a method so that, called (directly or not) from user code, it records the user line on
    ``self`` (or on ``targets(self, args, kwargs)``)."""

    @functools.wraps(orig)
    def wrapper(self, *args, **kwargs):
        st = STATE
        if st.mode != _RECORD or st.construct_depth:
            return orig(self, *args, **kwargs)
        line = st.line
        outermost = line is None
        if outermost:
            line = user_line()
            if line is None:
                return orig(self, *args, **kwargs)
        for target in targets(self, args, kwargs) if targets else (self,):
            _add(target, STYLED, line)
        if not outermost:
            return orig(self, *args, **kwargs)
        st.line = line
        try:
            return orig(self, *args, **kwargs)
        finally:
            st.line = None

    wrapper.__vsdpo_original__ = orig
    return wrapper


def _init_recorder(orig: Callable) -> Callable:
    """Wrap an Artist ``__init__`` to record the creating line and mark nested construction."""

    @functools.wraps(orig)
    def wrapper(self, *args, **kwargs):
        st = STATE
        if st.mode == _OFF:
            return orig(self, *args, **kwargs)
        d = self.__dict__
        saved_line = st.line
        if CREATED not in d and DRAWN not in d:
            if st.mode == _RECORD:
                line = saved_line if saved_line is not None else user_line()
                if line is not None:
                    d[CREATED] = (line, st.construct_depth == 0)
                    st.line = line  # nested constructions reuse it instead of walking the stack
            elif st.draw_line is not None:
                d[DRAWN] = st.draw_line
        st.construct_depth += 1
        try:
            return orig(self, *args, **kwargs)
        finally:
            st.construct_depth -= 1
            st.line = saved_line

    wrapper.__vsdpo_original__ = orig
    return wrapper


def _draw_recorder(orig: Callable, on_call: Callable[[Any, int], None] | None = None) -> Callable:
    """Wrap a call that draws or lays out: nothing inside is recorded as styling; artists created
    inside remember the call as their ``drawn`` line; ``on_call(self, line)`` records the call."""

    @functools.wraps(orig)
    def wrapper(self, *args, **kwargs):
        st = STATE
        if st.mode != _RECORD:
            return orig(self, *args, **kwargs)
        line = _current_line()
        if line is None:
            return orig(self, *args, **kwargs)
        if on_call is not None:
            on_call(self, line)
        saved = (st.mode, st.draw_line, st.line)
        st.mode, st.draw_line = _DRAW, line
        try:
            return orig(self, *args, **kwargs)
        finally:
            st.mode, st.draw_line, st.line = saved

    wrapper.__vsdpo_original__ = orig
    return wrapper


def _propagating_update_from(orig: Callable) -> Callable:
    """``dest.update_from(src)`` copies src's look, so it copies src's style records too."""

    @functools.wraps(orig)
    def wrapper(self, other):
        result = orig(self, other)
        # bookkeeping, valid in every mode (it mostly happens at draw time, with recording off)
        lines = getattr(other, "__dict__", {}).get(STYLED)
        if lines:
            self.__dict__.setdefault(STYLED, {}).update(lines)
        return result

    wrapper.__vsdpo_original__ = orig
    return wrapper


# ---------------------------------------------------------------------------- targets


def _axes_axis_targets(self, args: tuple, kwargs: dict) -> list[Any]:
    """Axes + the axes' Axis objects selected by an ``axis=`` argument ('x', 'y', 'both')."""
    which = kwargs.get("axis", "both")
    axis_map = getattr(self, "_axis_map", {})
    if which in ("both", "all", None):
        return [self, *axis_map.values()]
    return [self, *(a for name, a in axis_map.items() if name == which)]


def _tick_params_targets(self, args: tuple, kwargs: dict) -> list[Any]:
    """``Axis.set_tick_params``: grid-only changes (``ax.grid(...)`` goes through it) leave the tick
    labels alone, so they are not recorded on the axis whose records tick labels inherit."""
    keys = [k for k in kwargs if k not in ("which", "reset")]
    if keys and all(k.startswith("grid") for k in keys):
        return []
    return [self]


def _figure_and_axes(self, args: tuple, kwargs: dict) -> list[Any]:
    return [self, *getattr(self, "axes", [])]


def _record_layout(fig: Any, line: int) -> None:
    for obj in (fig, *getattr(fig, "axes", [])):
        _add(obj, LAYOUT, line)


def _record_output(fig: Any, line: int) -> None:
    STATE.output_lines[line] = None


# ---------------------------------------------------------------------------- special hooks


def _make_update_units(orig: Callable) -> Callable:
    """``Axis.update_units(data)`` returns True when it installed a converter (categories, dates):
    then the data call decided the tick labels' text, so it configures the axis."""

    @functools.wraps(orig)
    def wrapper(self, data):
        result = orig(self, data)
        if result and STATE.mode == _RECORD and not STATE.construct_depth:
            line = _current_line()
            if line is not None:
                _add(self, STYLED, line)
        return result

    wrapper.__vsdpo_original__ = orig
    return wrapper


def _make_request_autoscale(orig: Callable) -> Callable:
    """Remember, per axis, the data calls that asked for autoscaling (they decide the limits, and
    so the numeric tick labels, when nothing else configured the axis)."""

    @functools.wraps(orig)
    def wrapper(self, axis="all", tight=None):
        st = STATE
        if st.mode == _RECORD and not st.construct_depth:
            line = _current_line()
            if line is not None:
                axis_map = getattr(self, "_axis_map", {})
                names = list(axis_map) if axis == "all" else [axis]
                for name in names:
                    if name in axis_map:
                        _add(axis_map[name], DATA, line)
        return orig(self, axis, tight)

    wrapper.__vsdpo_original__ = orig
    return wrapper


def _make_rc_setitem(orig: Callable) -> Callable:
    @functools.wraps(orig)
    def wrapper(self, key, val):
        st = STATE
        if st.mode == _RECORD:
            line = _current_line()
            if line is not None:
                st.rc_lines.setdefault(key, {})[line] = None
        return orig(self, key, val)

    wrapper.__vsdpo_original__ = orig
    return wrapper


# ---------------------------------------------------------------------------- install


def _patch(owner: Any, name: str, make: Callable[[Callable], Callable]) -> None:
    if isinstance(owner, type):  # patch the class that defines it, so subclasses see one wrapper
        owner = next((k for k in owner.__mro__ if name in k.__dict__), owner)
        orig = owner.__dict__.get(name)
    else:
        orig = getattr(owner, name, None)
    if orig is None or getattr(orig, "__vsdpo_original__", None) is not None:
        return
    setattr(owner, name, make(orig))
    _ORIGINALS.append((owner, name, orig))


def _all_subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        for sub in c.__subclasses__():
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return out


def _patch_artist_classes() -> None:
    """Wrap ``__init__`` and every ``set_*`` defined by each Artist class not yet patched."""
    from matplotlib.artist import Artist
    from matplotlib.axes._base import _AxesBase
    from matplotlib.axis import Axis
    from matplotlib.figure import FigureBase
    from matplotlib.legend import Legend

    for cls in [Artist, *_all_subclasses(Artist)]:
        if cls in _PATCHED_CLASSES:
            continue
        _PATCHED_CLASSES.add(cls)
        for name, value in list(cls.__dict__.items()):
            if not isinstance(value, types.FunctionType):
                continue
            if name == "__init__":
                _patch(cls, name, _init_recorder)
            elif name.startswith("set_") and not (
                issubclass(cls, Axis) and name in _AXIS_LABEL_SETTERS
            ):
                _patch(cls, name, _style_recorder)
        extra: tuple[str, ...] = ()
        if issubclass(cls, _AxesBase):
            extra = _AXES_STYLE_METHODS
            for name in _AXES_AXIS_CONFIG_METHODS:
                if isinstance(cls.__dict__.get(name), types.FunctionType):
                    _patch(cls, name, lambda f: _style_recorder(f, _axes_axis_targets))
            if isinstance(cls.__dict__.get("_request_autoscale_view"), types.FunctionType):
                _patch(cls, "_request_autoscale_view", _make_request_autoscale)
        elif issubclass(cls, FigureBase):
            extra = _FIGURE_STYLE_METHODS
        elif issubclass(cls, Legend):
            extra = _LEGEND_STYLE_METHODS
        for name in extra:
            if isinstance(cls.__dict__.get(name), types.FunctionType):
                _patch(cls, name, _style_recorder)


def install() -> None:
    """Install the hooks (idempotent). Call it in the sandboxed child, never in the trainer."""
    global _installed
    import matplotlib
    import matplotlib.axes
    import matplotlib.axis
    import matplotlib.collections
    import matplotlib.figure
    import matplotlib.image
    import matplotlib.legend
    import matplotlib.lines
    import matplotlib.offsetbox
    import matplotlib.patches
    import matplotlib.projections.polar
    import matplotlib.spines
    import matplotlib.table
    import matplotlib.text
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.figure import Figure

    _patch_artist_classes()  # picks up classes imported since the last call (mplot3d, venn...)
    if _installed:
        return
    _patch(Artist, "update_from", _propagating_update_from)
    _patch(Axis, "update_units", _make_update_units)
    _patch(Axis, "_set_lim", _style_recorder)
    setter = Axis.__dict__["set_tick_params"]
    Axis.set_tick_params = _style_recorder(setter.__vsdpo_original__, _tick_params_targets)
    _ORIGINALS.append((Axis, "set_tick_params", setter))
    _patch(Figure, "tight_layout", lambda f: _draw_recorder(f, _record_layout))
    _patch(Figure, "subplots_adjust", lambda f: _style_recorder(f, _figure_and_axes))
    _patch(Axes, "get_tightbbox", _draw_recorder)
    # reading limits or tick labels (ax.get_xlim(), ax.get_xticklabels()) runs autoscaling and
    # tick updates: those are not the reader's doing, so nothing inside is recorded as styling
    _patch(Axes, "_unstale_viewLim", _draw_recorder)
    _patch(Axis, "_update_ticks", _draw_recorder)
    _patch(Figure, "draw_without_rendering", _draw_recorder)
    _patch(FigureCanvasBase, "draw", _draw_recorder)
    _patch(FigureCanvasBase, "draw_idle", _draw_recorder)
    _patch(FigureCanvasBase, "print_figure", lambda f: _draw_recorder(f, _record_output))
    _patch(matplotlib.RcParams, "__setitem__", _make_rc_setitem)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    _patch(FigureCanvasAgg, "draw", _draw_recorder)
    _installed = True


def uninstall() -> None:
    """Restore every patched method (used by tests and overhead measurements)."""
    global _installed
    while _ORIGINALS:
        owner, name, orig = _ORIGINALS.pop()
        setattr(owner, name, orig)
    _PATCHED_CLASSES.clear()
    _installed = False


def is_installed() -> bool:
    return _installed


def start(filename: str = USER_FILENAME) -> TraceState:
    """Begin recording for one program compiled under ``filename``."""
    global STATE
    _patch_artist_classes()
    STATE = TraceState(filename=filename, mode=_RECORD)
    return STATE


def reset() -> TraceState:
    """Forget the previous program's global records (rc lines, savefig lines); recording off."""
    global STATE
    STATE = TraceState()
    return STATE


def stop() -> TraceState:
    """Stop recording (the runner's own draw and extraction are not user actions)."""
    STATE.mode = _OFF
    STATE.line = None
    STATE.draw_line = None
    STATE.construct_depth = 0
    return STATE


def note_output_call(line: int | None = None) -> None:
    """Record a savefig/show call made by the user (the runner's recorders call this)."""
    if STATE.mode != _RECORD:
        return
    line = line if line is not None else user_line()
    if line is not None:
        STATE.output_lines[line] = None


# ---------------------------------------------------------------------------- reading records


def created(obj: Any) -> tuple[int, bool] | None:
    """``(line, primary)`` of the user call that created ``obj``, or None."""
    return getattr(obj, "__dict__", {}).get(CREATED)


def styled(obj: Any) -> list[int]:
    """Lines that set properties of ``obj`` after (or outside) its construction."""
    return list(getattr(obj, "__dict__", {}).get(STYLED, ()))


def own_lines(obj: Any) -> list[int]:
    """Lines that made ``obj`` directly (primary creation) or styled it."""
    out = dict.fromkeys(styled(obj))
    c = created(obj)
    if c is not None and c[1]:
        out[c[0]] = None
    return list(out)


def fallback_lines(obj: Any) -> list[int]:
    """Weak evidence: the line that created ``obj`` as part of something else, or the draw call it
    was created in."""
    c = created(obj)
    if c is not None:
        return [c[0]]
    d = getattr(obj, "__dict__", {}).get(DRAWN)
    return [d] if d is not None else []


def data_lines(axis: Any) -> list[int]:
    """Data calls that requested autoscaling of this Axis."""
    return list(getattr(axis, "__dict__", {}).get(DATA, ()))


def layout_lines(obj: Any) -> list[int]:
    return list(getattr(obj, "__dict__", {}).get(LAYOUT, ()))


def rc_lines(prefixes: Iterable[str]) -> list[int]:
    """Lines that assigned rcParams whose key starts with one of ``prefixes``."""
    prefixes = tuple(prefixes)
    out: dict[int, None] = {}
    for key, lines in STATE.rc_lines.items():
        if key.startswith(prefixes):
            out.update(lines)
    return list(out)


def output_lines() -> list[int]:
    """Lines of the user's savefig/show calls (blamed only when nothing else touched an element)."""
    return list(STATE.output_lines)


# ---------------------------------------------------------------------------- lines -> ranges


def statement_ranges(code: str) -> dict[int, tuple[int, int]]:
    """Map each code line to the 1-based line range of the innermost statement containing it.

    A frame reports the line of the call in progress; a call spread over several lines belongs
    to the whole statement (``ax.legend(\\n loc=...)``). Compound statements contribute only their
    header (``for ... in ax.bar(...):``). Unparsable code maps nothing (lines stay single)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    out: dict[int, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or node.end_lineno is None:
            continue
        start, end = node.lineno, node.end_lineno
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = max(start, body[0].lineno - 1)  # header only
            if getattr(node, "decorator_list", None):
                start = min(d.lineno for d in node.decorator_list)
        for n in range(start, end + 1):
            prev = out.get(n)
            if prev is None or (end - start) < (prev[1] - prev[0]):  # innermost wins
                out[n] = (start, end)
    return out


def to_ranges(lines: Iterable[int], ranges: dict[int, tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, de-duplicated statement ranges covering ``lines``."""
    return sorted({ranges.get(n, (n, n)) for n in lines if n})
