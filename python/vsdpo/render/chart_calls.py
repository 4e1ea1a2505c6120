"""ChartMimic's call instrumentation (metrics.md 1.6 and 1.7), inside the sandboxed chart worker.

ChartMimic learns a chart's *type* and *colours* by wrapping matplotlib's plotting callables and
running the script. The chart runner installs the same wrappers (:func:`install`) and, per program,
records (:func:`start` ... :func:`finish`):

* **chart types** (1.6): a count per category of the *outermost* instrumented calls (a global
  "inside" flag hides nested calls: ``hist`` -> ``bar`` counts as ``hist``). Categories follow the
  effective table of matplotlib 3.8.4 (2D methods by name, ``plot`` on a PolarAxes as
  ``plot_polar``, 3D ``scatter``/``bar`` shared with 2D, ``Ellipse`` and ``Circle`` shared, ...),
  so they do not depend on the installed matplotlib;
* **colours** (1.7): the objects each outermost call of the colour run registers under
  ``"<group>--<colour at registration>"``, re-read when the program is done. The colour run
  instruments a slightly different set than the type run (``_make_line`` instead of ``plot``,
  ``_fill_between_x_or_y`` instead of ``fill_between``...), with its own flag, as in ChartMimic.

Both the benchmark's behaviour and a fixed one are recorded, because the quirks happen at run
time: *faithful* keeps a registered object per key (a later object with the same key replaces the
earlier one) and, once a wrapped call raises, counts and registers nothing more (the flag is
never reset); an error while registering or re-reading empties the faithful colour list (the
original's extraction program dies). *Fixed* resets the flag, re-reads every registered object
and skips colours it cannot read. The near-duplicate filter and the scores are computed host-side
(:mod:`vsdpo.metrics.chartmimic`). Only calls made while the program runs are recorded (the
runner's own drawing is not).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------------------- run state


@dataclass
class _Run:
    types: dict[str, int] = field(default_factory=dict)  # faithful
    types_fixed: dict[str, int] = field(default_factory=dict)
    type_depth: int = 0
    type_stuck: bool = False
    colour_depth: int = 0
    colour_stuck: bool = False
    colour_failed: bool = False  # faithful: the original's colour extraction would have died
    keyed: dict[str, tuple[str, Any, Callable]] = field(default_factory=dict)  # faithful
    registered: list[tuple[str, Any, Callable]] = field(default_factory=list)  # fixed


_RUN: _Run | None = None
_WRAPPERS: set[int] = set()  # ids of the wrappers installed (to recognise them)


def start() -> None:
    """Begin recording one program."""
    global _RUN
    _RUN = _Run()


def stop() -> None:
    """Stop recording (what the runner draws afterwards is not the program's doing)."""
    global _RUN
    _RUN = None


def finish(run: _Run | None = None) -> dict[str, Any]:
    """The plain-data record of the program that just ran (call before :func:`stop`)."""
    run = run or _RUN
    if run is None:
        return {}
    faithful: list[str] = []
    if not run.colour_failed:
        try:
            for group, obj, reader in run.keyed.values():
                for colour in reader(obj):
                    if colour is None:
                        raise ValueError("unreadable colour")
                    faithful.append(f"{group}--{colour}")
        except Exception:  # noqa: BLE001 - the original's suffix dies: no colours at all
            faithful = []
    fixed: list[str] = []
    for group, obj, reader in run.registered:
        try:
            colours = reader(obj)
        except Exception:  # noqa: BLE001 - an object that cannot be read back is skipped
            continue
        fixed.extend(f"{group}--{c}" for c in colours if c is not None)
    return {
        "types": dict(run.types),
        "types_fixed": dict(run.types_fixed),
        "colors": list(dict.fromkeys(faithful)),  # registration order, not set order [quirk]
        "colors_fixed": list(dict.fromkeys(fixed)),
    }


# ---------------------------------------------------------------------------- colours


def to_hex(color: Any) -> str | None:
    """ChartMimic's ``convert_color_to_hex``: ``#rrggbb``/``#rrggbbaa`` strings upper-cased as
    they are, anything else through ``to_rgba`` then ``to_hex`` (alpha dropped); None if that
    fails."""
    import matplotlib.colors as mcolors
    import numpy as np

    try:
        if isinstance(color, str):
            if color.startswith("#") and len(color) in (7, 9):
                return color.upper()
            return mcolors.to_hex(mcolors.to_rgba(color)).upper()
        if isinstance(color, (list, tuple, np.ndarray)) and len(color) in (3, 4):
            return mcolors.to_hex(color).upper()
    except (ValueError, TypeError):
        return None
    return None


def _cmap_name(cmap: Any) -> str:
    return cmap if isinstance(cmap, str) else cmap.name


# readers: object -> list of colour strings (hex or colormap name); None for an unreadable one
def _read_color(obj: Any) -> list[str | None]:
    return [to_hex(obj.get_color())]


def _read_face(obj: Any) -> list[str | None]:
    return [to_hex(obj.get_facecolor())]


def _read_first_face(obj: Any) -> list[str | None]:
    return [to_hex(list(obj.get_facecolors()[0]))]


def _read_first_face_if_any(obj: Any) -> list[str | None]:
    faces = obj.get_facecolor()
    return [to_hex(list(faces[0]))] if len(faces) else []


def _read_original_face(obj: Any) -> list[str | None]:
    return [to_hex(list(obj._original_facecolor))]


def _read_all_faces(obj: Any) -> list[str | None]:
    return [to_hex(c) for c in obj.get_facecolors().tolist()]


def _read_all_edges(obj: Any) -> list[str | None]:
    return [to_hex(list(c)) for c in obj.get_edgecolors()]


def _read_cmap(obj: Any) -> list[str | None]:
    return [obj.get_cmap().name]


def _constant(name: str) -> Callable[[Any], list[str | None]]:
    return lambda obj: [name]


def _read_arrow_faces(obj: Any) -> list[str | None]:
    return [to_hex(p.get_facecolor()) for p in obj]


def _read_venn(obj: Any) -> list[str | None]:
    # empty regions have no patch: the original fails on them (None), the fixed list skips them
    return [None if p is None else to_hex(p.get_facecolor()) for p in obj.patches]


Registration = tuple[str | None, Any, Callable]  # (colour at registration, object, reader)


def _each(items: Any, reader: Callable) -> list[Registration]:
    return [(reader(item)[0], item, reader) for item in items]


def _one_for_all(obj: Any, reader: Callable) -> list[Registration]:
    """One object registered under its *last* colour, re-read for all of them (ChartMimic's
    ``#! Attention`` branches); no colour at all makes the original fail (NameError)."""
    colours = reader(obj)
    if not colours:
        raise LookupError("nothing to register")
    return [(colours[-1], obj, reader)]


def _cmap_or(kwargs: dict, fallback: Callable[[], list[Registration]], obj: Any) -> list:
    cmap = kwargs.get("cmap")
    if cmap is not None:
        name = _cmap_name(cmap)
        return [(name, obj, _constant(name))]
    return fallback()


def _flatten_patches(patches: Any) -> list[Any]:
    out = []
    for item in patches:
        if hasattr(item, "get_facecolor"):
            out.append(item)
        else:  # one container per dataset
            out.extend(_flatten_patches(item))
    return out


def _polar(args: tuple) -> bool:
    from matplotlib.projections.polar import PolarAxes

    return bool(args) and type(args[0]) is PolarAxes


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class _Spec:
    """What one instrumented callable does in the type run and in the colour run."""

    type_category: str | Callable[[tuple], str] | None = None
    colour_group: str | Callable[[tuple], str] | None = None
    register: Callable[[tuple, dict, Any], list[Registration]] | None = None
    colour_applies: Callable[[tuple], bool] | None = None  # default: always


def _scatter(args: tuple, kwargs: dict, result: Any) -> list[Registration]:
    """2D (and polar) scatter: the colormap's name if ``cmap=`` was passed, else the first
    point's face colour (nothing when there are no points)."""

    def first_face() -> list[Registration]:
        faces = _read_first_face_if_any(result)
        return [(faces[0], result, _read_first_face_if_any)] if faces else []

    return _cmap_or(kwargs, first_face, result)


def _axes_specs() -> dict[str, _Spec]:
    def lines(args, kwargs, result):
        return [(to_hex(line.get_color()), line, _read_color) for line in result]

    return {
        "bar": _Spec(
            "bar",
            "bar",
            lambda a, k, r: [(_read_original_face(p)[0], p, _read_original_face) for p in r],
        ),
        "barh": _Spec("barh"),
        "plot": _Spec(
            lambda a: "plot_polar" if _polar(a) else "plot",
            "plot_polar",
            lambda a, k, r: lines(a, k, r) if _polar(a) else [],
            colour_applies=lambda a: bool(a) and _is_polar_axes(a[0]),
        ),
        "axhline": _Spec("axhline", "axhline", lambda a, k, r: _each([r], _read_color)),
        "axvline": _Spec("axvline", "axvline", lambda a, k, r: _each([r], _read_color)),
        "axvspan": _Spec("axvspan", "axvspan", lambda a, k, r: _each([r], _read_face)),
        "axhspan": _Spec("axhspan", "axhspan", lambda a, k, r: _each([r], _read_face)),
        "hlines": _Spec("hlines", "hlines", lambda a, k, r: _one_for_all(r, _read_all_edges)),
        "vlines": _Spec("vlines", "vlines", lambda a, k, r: _one_for_all(r, _read_all_edges)),
        "errorbar": _Spec("errorbar"),
        "boxplot": _Spec(
            "boxplot",
            "boxplot",
            lambda a, k, r: _each([b for b in r["boxes"] if _is_path_patch(b)], _read_face),
        ),
        "violinplot": _Spec(
            "violinplot",
            "violinplot",
            lambda a, k, r: _each(r["bodies"], _read_first_face),
        ),
        "violin": _Spec("violin"),
        "hist": _Spec("hist", "hist", lambda a, k, r: _each(_flatten_patches(r[2]), _read_face)),
        "fill_between": _Spec("fill_between"),
        "fill_betweenx": _Spec("fill_betweenx"),
        "_fill_between_x_or_y": _Spec(
            None, "fill_between", lambda a, k, r: _each([r], _read_first_face)
        ),
        "scatter": _Spec(
            "scatter", lambda a: "scatter_polar" if _polar(a) else "scatter", _scatter
        ),
        "quiver": _Spec("quiver", "quiver", lambda a, k, r: _one_for_all(r, _read_all_faces)),
        "pie": _Spec("pie", "pie", lambda a, k, r: _each(r[0], _read_face)),
        "fill": _Spec("fill", "fill", lambda a, k, r: _each(r, _read_face)),
        "imshow": _Spec("imshow", "imshow", lambda a, k, r: _each([r], _read_cmap)),
        "pcolor": _Spec("pcolor", "pcolor", lambda a, k, r: _each([r], _read_cmap)),
        "contour": _Spec("contour", "contour", lambda a, k, r: _each([r], _read_cmap)),
        "contourf": _Spec("contourf", "contourf", lambda a, k, r: _each([r], _read_cmap)),
        "broken_barh": _Spec(
            "broken_barh", "broken_barh", lambda a, k, r: _one_for_all(r, _read_all_faces)
        ),
        "tripcolor": _Spec("tripcolor", "tripcolor", lambda a, k, r: _each([r], _read_cmap)),
    }


def _axes3d_specs() -> dict[str, _Spec]:
    def scatter(a, k, r):
        return _cmap_or(k, lambda: _one_for_all(r, _read_all_faces), r)

    def surface(a, k, r):
        return _cmap_or(k, lambda: [(_read_first_face(r)[0], r, _read_first_face)], r)

    return {
        "scatter": _Spec("scatter", "scatter_3d", scatter),
        "plot": _Spec(
            "plot_3d",
            "plot_3d",
            lambda a, k, r: [(to_hex(line.get_color()), line, _read_color) for line in r],
        ),
        "plot_surface": _Spec("plot_surface", "plot_surface_3d", surface),
        "bar3d": _Spec(
            "bar3d", "bar3d_3d", lambda a, k, r: [(_read_first_face(r)[0], r, _read_first_face)]
        ),
        "bar": _Spec("bar", "bar_3d", lambda a, k, r: _each(r, _read_face)),
        "add_collection3d": _Spec(
            "add_collection3d",
            "add_collection3d_3d",
            lambda a, k, r: _one_for_all(r, _read_all_faces),
        ),
    }


def _is_polar_axes(ax: Any) -> bool:
    from matplotlib.projections.polar import PolarAxes

    return isinstance(ax, PolarAxes)


def _is_path_patch(obj: Any) -> bool:
    from matplotlib.patches import PathPatch

    return type(obj) is PathPatch


def _init_spec(category: str, cls: type, reader: Callable) -> _Spec:
    """A constructor: counted as ``category``; registers the new object when it is exactly of
    class ``cls`` (an ``Arc`` built through ``Ellipse.__init__`` counts but registers nothing,
    as in the original)."""

    def register(args, kwargs, result):
        obj = args[0]
        if type(obj) is not cls:
            return []
        colours = reader(obj)
        return [(colours[-1] if colours else None, obj, reader)]

    return _Spec(category, category, register)


# ---------------------------------------------------------------------------- wrapping


def _wrap(orig: Callable, spec: _Spec) -> Callable:
    @functools.wraps(orig)
    def wrapper(*args, **kwargs):
        run = _RUN
        if run is None:
            return orig(*args, **kwargs)
        type_entered = spec.type_category is not None and run.type_depth == 0
        colour_entered = (
            spec.register is not None
            and run.colour_depth == 0
            and (spec.colour_applies is None or spec.colour_applies(args))
        )
        if type_entered:
            cat = spec.type_category
            cat = cat(args) if callable(cat) else cat
            run.types_fixed[cat] = run.types_fixed.get(cat, 0) + 1
            if not run.type_stuck:
                run.types[cat] = run.types.get(cat, 0) + 1
        type_counted = spec.type_category is not None
        colour_counted = spec.register is not None and (
            spec.colour_applies is None or spec.colour_applies(args)
        )
        if type_counted:
            run.type_depth += 1
        if colour_counted:
            run.colour_depth += 1
        try:
            result = orig(*args, **kwargs)
        except BaseException:
            # the original sets its flag back only after a normal return [quirk]
            run.type_stuck |= type_entered
            run.colour_stuck |= colour_entered
            raise
        finally:
            if type_counted:
                run.type_depth -= 1
            if colour_counted:
                run.colour_depth -= 1
        if colour_entered:
            _register(run, spec, args, kwargs, result)
        return result

    _WRAPPERS.add(id(wrapper))
    return wrapper


def _register(run: _Run, spec: _Spec, args: tuple, kwargs: dict, result: Any) -> None:
    group = spec.colour_group
    group = group(args) if callable(group) else group
    faithful = not run.colour_stuck
    try:
        entries = spec.register(args, kwargs, result)
    except Exception:  # noqa: BLE001 - the original's program dies here
        if faithful:
            run.colour_failed = True
        return
    for colour, obj, reader in entries:
        run.registered.append((group, obj, reader))
        if faithful:
            if colour is None:  # "<group>--" + None: the original's program dies
                run.colour_failed = True
                continue
            run.keyed[f"{group}--{colour}"] = (group, obj, reader)


def _install_on(owner: Any, name: str, spec: _Spec) -> None:
    current = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if current is None or id(current) in _WRAPPERS:
        return
    setattr(owner, name, _wrap(current, spec))


def install() -> None:
    """Wrap the instrumented callables (idempotent, per callable: a callable someone restored is
    wrapped again). Modules not imported yet (networkx, squarify, matplotlib_venn) are wrapped
    on a later call once they are."""
    from matplotlib.axes import Axes
    from matplotlib.axes._base import _process_plot_var_args
    from matplotlib.image import NonUniformImage
    from matplotlib.patches import Circle, Ellipse

    for name, spec in _axes_specs().items():
        _install_on(Axes, name, spec)
    make_line = "_make_line" if "_make_line" in _process_plot_var_args.__dict__ else "_makeline"

    def line(args, kwargs, result):
        seg, kw = result
        colour = to_hex(kw["color"]) if kw.get("color") is not None else to_hex(seg.get_color())
        return [(colour, seg, _read_color)]

    _install_on(_process_plot_var_args, make_line, _Spec(None, "line", line))
    _install_on(
        NonUniformImage, "__init__", _init_spec("NonUniformImage", NonUniformImage, _read_cmap)
    )
    # one category and one colour group for both (their __init__ share a defining file)
    _install_on(Ellipse, "__init__", _init_spec("Ellipse/Circle", Ellipse, _read_face))
    _install_on(Circle, "__init__", _init_spec("Ellipse/Circle", Circle, _read_face))
    if "mpl_toolkits.mplot3d" in sys.modules:
        from mpl_toolkits.mplot3d import Axes3D

        for name, spec in _axes3d_specs().items():
            _install_on(Axes3D, name, spec)
    if "squarify" in sys.modules:
        import squarify

        def treemap(args, kwargs, ax):
            return [
                (to_hex(list(p.get_facecolor())), p, _read_face)
                for container in ax.containers
                for p in container
            ]

        _install_on(squarify, "plot", _Spec("squarify.plot", "squarify", treemap))
    if "matplotlib_venn" in sys.modules:
        from matplotlib_venn import _common

        def venn(args, kwargs, result):
            return _one_for_all(args[0], _read_venn)

        _install_on(_common.VennDiagram, "__init__", _Spec("VennDiagram", "VennDiagram", venn))
    if "networkx" in sys.modules:
        _install_networkx()


def _install_networkx() -> None:
    import networkx as nx
    import networkx.drawing.nx_pylab as nx_pylab

    def nodes(args, kwargs, result):
        return _one_for_all(result, _read_all_faces)

    def edges(args, kwargs, result):
        if isinstance(result, list):
            return _one_for_all(result, _read_arrow_faces)
        return _one_for_all(result, _read_all_edges)

    def labels(args, kwargs, result):
        return _each(result.values(), _read_color)

    for name, register in (
        ("draw_networkx_nodes", nodes),
        ("draw_networkx_edges", edges),
        ("draw_networkx_labels", labels),
    ):
        current = getattr(nx_pylab, name, None)
        if current is None:
            continue
        if id(current) not in _WRAPPERS:
            current = _wrap(current, _Spec(name, name, register))
            setattr(nx_pylab, name, current)
        if id(getattr(nx, name, None)) not in _WRAPPERS:
            setattr(nx, name, current)
