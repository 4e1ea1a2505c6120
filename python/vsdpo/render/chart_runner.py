"""The function the sandbox worker calls to render one matplotlib program: ``run(code, args)``.

It runs *inside* the sandboxed child (cwd = a fresh temp dir). Steps:

1. select the Agg backend, install tracing (:mod:`vsdpo.render.chart_tracing`) and the figure
   capture hooks (``savefig`` and ``show`` only record: nothing is written, their line is kept as
   the last-resort blame), all inside an ``rc_context`` so a program's rcParams never leak into
   the next one;
2. compile the code with the sandbox's ``USER_FILENAME`` and exec it as ``__main__``; exceptions
   propagate (the sandbox turns them into an ``ExecError`` pointing at the user line);
3. collect the figures: every figure still open, plus every figure the program saved or showed
   and then closed, in creation order. The **main** figure is the last one with content (the
   usual "final" chart; an empty leftover ``plt.figure()`` never wins);
4. draw each figure once with ``fig.canvas.draw()`` at the fixed DPI, *without* a tight bbox, so
   off-canvas content stays off-canvas; take the RGB buffer;
5. walk each drawn figure into element dicts (:mod:`vsdpo.render.chart_elements`).

The return value is a plain dict (picklable, no matplotlib objects): see :func:`run`.

Importing this module **patches matplotlib** (tracing and capture hooks) and renders a tiny
warm-up chart: the sandbox worker imports the runner once in its fork server, so every job's
child inherits the hooks (about 25 ms to install) and warm font caches instead of paying for
them. Import it only where programs run, never in the trainer.
"""

from __future__ import annotations

import builtins
import io
import itertools
import linecache
import math
import os
import sys
import time
from typing import Any

import numpy as np

from vsdpo.render import chart_calls, chart_elements, chart_tracing
from vsdpo.render.chart_tracing import USER_FILENAME

DEFAULT_DPI = 100

# figures the program saved or showed (it may close them afterwards); reset per run
_captured: list[Any] = []
_capture_installed = False
# the capture hooks record only while a program runs: outside run() (a test or a notebook that
# called run() in its own process) savefig and show do what matplotlib does
_capturing = False


def _install_capture() -> None:
    """Make ``Figure.savefig``, ``Figure.show`` and ``pyplot.show`` record instead of output
    while :func:`run` executes a program."""
    global _capture_installed
    if _capture_installed:
        return
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    real_savefig, real_fig_show = Figure.savefig, Figure.show
    real_plt_show, real_plt_savefig = plt.show, plt.savefig

    def savefig(self, fname, *args, **kwargs):
        # a buffer the program may read back is written for real
        if not _capturing or not isinstance(fname, (str, os.PathLike)):
            return real_savefig(self, fname, *args, **kwargs)
        _capture(self)
        return None

    def fig_show(self, *args, **kwargs):
        if not _capturing:
            return real_fig_show(self, *args, **kwargs)
        _capture(self)

    def plt_show(*args, **kwargs):
        if not _capturing:
            return real_plt_show(*args, **kwargs)
        for manager in _open_managers():
            _capture(manager.canvas.figure)

    def plt_savefig(*args, **kwargs):
        if not _capturing:
            return real_plt_savefig(*args, **kwargs)
        # pyplot's own version redraws the whole figure afterwards (draw_idle): skip that
        return plt.gcf().savefig(*args, **kwargs)

    real_init = Figure.__init__
    serial = itertools.count()

    def init(self, *args, **kwargs):  # creation order, to list the figures as the program made them
        self._vsdpo_serial = next(serial)
        real_init(self, *args, **kwargs)

    savefig.__wrapped__ = real_savefig
    Figure.__init__ = init
    Figure.savefig = savefig
    Figure.show = fig_show
    plt.show = plt_show
    plt.savefig = plt_savefig
    _capture_installed = True


def _capture(fig: Any) -> None:
    chart_tracing.note_output_call()
    if not any(f is fig for f in _captured):
        _captured.append(fig)


def _open_managers() -> list[Any]:
    from matplotlib._pylab_helpers import Gcf

    return sorted(Gcf.get_all_fig_managers(), key=lambda m: m.num)


def _has_content(fig: Any) -> bool:
    return bool(
        fig.axes
        or fig.texts
        or fig.patches
        or fig.images
        or fig.lines
        or fig.legends
        or getattr(fig, "subfigs", None)
        or getattr(fig, "_suptitle", None)
    )


def _collect_figures() -> list[Any]:
    figures = [m.canvas.figure for m in _open_managers()]
    for fig in _captured:
        if not any(f is fig for f in figures):
            figures.append(fig)
    order = {id(f): i for i, f in enumerate(figures)}
    return sorted(figures, key=lambda f: (getattr(f, "_vsdpo_serial", math.inf), order[id(f)]))


def _rgb_buffer(fig: Any) -> np.ndarray:
    rgba = np.asarray(fig.canvas.buffer_rgba())
    if rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4 and rgba.flags.c_contiguous:
        # every alpha byte 255 <=> every native-endian 32-bit pixel >= 0xFF000000 (little endian)
        opaque = sys.byteorder == "little" and not (rgba.view(np.uint32) < 0xFF000000).any()
        if opaque:  # the usual case: PIL drops the alpha ~2x faster than numpy's strided copy
            from PIL import Image

            h, w = rgba.shape[:2]
            image = Image.frombuffer("RGBA", (w, h), rgba, "raw", "RGBA", 0, 1).convert("RGB")
            return np.array(image)
    rgb = rgba[..., :3]
    alpha = rgba[..., 3:4]
    if alpha.min() < 255:  # transparent figure: composite over white, as a viewer would show it
        a = alpha.astype(np.float32) / 255.0
        rgb = (rgb.astype(np.float32) * a + 255.0 * (1.0 - a)).round().astype(np.uint8)
    return np.ascontiguousarray(rgb)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def run(code: str, args: dict | None = None) -> dict[str, Any]:
    """Render one matplotlib program; return plain data.

    ``args`` (all optional): ``dpi`` (default 100), ``trace`` (default True; False skips the
    tracing hooks, to measure their cost), ``chart_calls`` (default True: record ChartMimic's
    chart-type and colour calls, :mod:`vsdpo.render.chart_calls`, on the main figure element), ``image`` ("rgb" default: uint8 arrays; "png": PNG
    bytes; "none"), ``max_elements`` per figure (default 5000), ``filename`` (default
    ``USER_FILENAME``).

    Returns ``{"figures": [{"width", "height", "has_content"}...], "main": index or None,
    "images": [array | bytes | None per figure], "canvas": (w, h) of the main figure,
    "elements": [element dicts, ``page`` = figure index], "timings": {"exec", "draw", "extract",
    "encode"}, "dpi": dpi, "traced": bool}``.

    ``cleanup`` (default True) closes the figures afterwards; a sandboxed job, whose process ends
    right after, passes False and skips that work.
    """
    args = dict(args or {})
    dpi = int(args.get("dpi", DEFAULT_DPI))
    trace = bool(args.get("trace", True))
    image_format = args.get("image", "rgb")
    max_elements = int(args.get("max_elements", chart_elements.DEFAULT_MAX_ELEMENTS))
    filename = args.get("filename", USER_FILENAME)
    cleanup = bool(args.get("cleanup", True))

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    global _capturing
    _install_capture()  # before tracing, so tracing wraps (and can unwrap) the capture hooks
    if trace:
        chart_tracing.install()
    record_calls = bool(args.get("chart_calls", True))
    if record_calls:
        chart_calls.install()  # after tracing: its wrappers sit on top of the tracing hooks
    chart_elements.install_draw_probe()
    plt.close("all")
    _captured.clear()
    timings: dict[str, float] = {}
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)  # tracebacks
    _capturing = True
    try:
        with matplotlib.rc_context():
            t0 = time.perf_counter()
            compiled = compile(code, filename, "exec", dont_inherit=True)
            namespace = {"__name__": "__main__", "__file__": filename, "__builtins__": builtins}
            if trace:
                chart_tracing.start(filename)
            else:
                chart_tracing.reset()
            if record_calls:
                chart_calls.start()
            try:
                exec(compiled, namespace)  # noqa: S102 - running the program is the job
                calls = chart_calls.finish() if record_calls else None
            finally:
                chart_tracing.stop()  # also when the hooks are not installed: resets state
                chart_calls.stop()
            timings["exec"] = time.perf_counter() - t0
            result = _draw_and_extract(code, dpi, image_format, max_elements, trace, timings)
            _attach_calls(result, calls)
            return result
    finally:
        _capturing = False
        _captured.clear()
        if cleanup:
            plt.close("all")
            linecache.cache.pop(filename, None)


def _attach_calls(result: dict[str, Any], calls: dict[str, Any] | None) -> None:
    """Put the program's ChartMimic call record (:mod:`vsdpo.render.chart_calls`) on the main
    figure's element, as ``meta["chartmimic"]`` (the record is about the whole run)."""
    main = result.get("main")
    if calls is None or main is None:
        return
    for element in result["elements"]:
        if element["kind"] == "figure" and element["page"] == main:
            element["meta"]["chartmimic"] = calls
            return


def _draw_and_extract(
    code: str,
    dpi: int,
    image_format: str,
    max_elements: int,
    trace: bool,
    timings: dict[str, float],
) -> dict[str, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    ranges = chart_tracing.statement_ranges(code) if trace else {}

    def to_ranges(lines):
        return chart_tracing.to_ranges(lines, ranges)

    figures = _collect_figures()
    infos, images, elements = [], [], []
    draw_s = extract_s = encode_s = 0.0
    for page, fig in enumerate(figures):
        t0 = time.perf_counter()
        if not isinstance(fig.canvas, FigureCanvasAgg):  # Figure() made without pyplot
            FigureCanvasAgg(fig)
        fig.set_dpi(dpi)
        drawn = chart_elements.draw_and_probe(fig)
        image = _rgb_buffer(fig)
        t1 = time.perf_counter()
        elements.extend(
            chart_elements.figure_elements(
                fig,
                drawn,
                page=page,
                first_id=len(elements),
                to_ranges=to_ranges,
                max_elements=max_elements,
            )
        )
        t2 = time.perf_counter()
        if image_format == "png":
            images.append(_png(image))
        elif image_format == "none":
            images.append(None)
        else:
            images.append(image)
        encode_s += time.perf_counter() - t2
        draw_s += t1 - t0
        extract_s += t2 - t1
        infos.append(
            {
                "width": int(image.shape[1]),
                "height": int(image.shape[0]),
                "has_content": _has_content(fig),
            }
        )
    with_content = [i for i, info in enumerate(infos) if info["has_content"]]
    main = with_content[-1] if with_content else (len(infos) - 1 if infos else None)
    timings.update(draw=draw_s, extract=extract_s, encode=encode_s)
    return {
        "figures": infos,
        "main": main,
        "images": images,
        "canvas": (infos[main]["width"], infos[main]["height"]) if main is not None else (0, 0),
        "elements": elements,
        "timings": timings,
        "dpi": dpi,
        "traced": trace,
    }


WARM_UP = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2], label="x")
ax.set_title("warm $x^2$")
ax.legend()
"""


def warm_up() -> None:
    """Install every hook and render one small chart, so later renders start warm."""
    run(WARM_UP, {"image": "none"})


warm_up()
