"""Rendering matplotlib completions into :class:`~vsdpo.artifact.RenderResult` s (host side).

The untrusted program runs in a warm sandbox worker (:class:`vsdpo.sandbox.SandboxPool`) whose
runner is :func:`vsdpo.render.chart_runner.run`; the modules ChartMimic-style scripts import are
preloaded so a render pays for none of them (in two tiers, see :class:`ChartRenderer`). This side extracts the code from the completion
(keeping its character offset, so blamed lines map back to completion characters), and turns the
runner's plain dict into Elements.

Multiple figures: ``RenderResult.pages`` holds every figure's image in creation order, elements
carry ``page`` = figure index, and ``image``/``canvas`` are those of the *main* figure, the last
one with content (see :mod:`vsdpo.render.chart_runner`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from vsdpo.artifact import Element, ExecError, RenderResult
from vsdpo.code import extract_code

RUNNER = "vsdpo.render.chart_runner:run"
#: what the workers import once. ChartMimic scripts import these (see shared/data/README.md);
#: together they cost about a second per fresh process, which is the point of a warm pool.
PRELOAD = (
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "mpl_toolkits.mplot3d",
    "scipy.stats",
    "pandas",
    "networkx",
    "squarify",
    "matplotlib_venn",
    "vsdpo.render.chart_runner",
)
#: the preload of the *light* workers, which run every program that imports none of
#: :data:`HEAVY_MODULES`. Every job is a fork of its worker, and forking (page tables) and the
#: copy-on-write faults that follow cost in proportion to the worker's memory: scipy, pandas and
#: networkx more than double it (about 125 MB of private memory instead of 50), which made every
#: job ~13 ms dearer although few programs use them.
LIGHT_PRELOAD = (
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "mpl_toolkits.mplot3d",
    "squarify",
    "vsdpo.render.chart_runner",
)
#: top-level packages that send a program to the heavy workers (which preload :data:`PRELOAD`)
HEAVY_MODULES = frozenset({"scipy", "pandas", "networkx", "matplotlib_venn", "seaborn"})


def imported_roots(code: str) -> set[str]:
    """Top-level package names the program imports by an ``import`` statement (none if it does not
    parse). A program that imports a heavy package some other way still works, in a light worker:
    it pays for that import itself."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.partition(".")[0])
    return roots


def needs_heavy_worker(code: str) -> bool:
    """Whether the program imports one of :data:`HEAVY_MODULES`."""
    return not HEAVY_MODULES.isdisjoint(imported_roots(code))


class ChartRenderer:
    """Renders matplotlib programs in pools of warm sandbox workers. Use as a context manager.

    Two pools of ``workers`` workers each, with the same sandbox: *light* workers (numpy and
    matplotlib preloaded) run most programs; programs that import scipy, pandas, networkx or
    matplotlib_venn go to *heavy* workers that preload those too (started in the background, so
    construction waits for the light pool only; ``start_heavy=False`` starts them when a program
    first needs them). At most ``workers`` programs run at once.
    """

    def __init__(
        self,
        workers: int | None = None,
        dpi: int = 100,
        limits: Any | None = None,
        *,
        trace: bool = True,
        image_format: str = "rgb",
        max_elements: int = 5000,
        start_heavy: bool = True,
    ) -> None:
        from vsdpo.sandbox import SandboxPool

        self.dpi = dpi
        self.args = {
            "dpi": dpi,
            "trace": trace,
            "image": image_format,
            "max_elements": max_elements,
            "cleanup": False,  # the job process exits right after: no plt.close('all')
        }
        self._heavy: SandboxPool | None = None
        self._heavy_error: BaseException | None = None

        def start_heavy() -> None:
            try:
                self._heavy = SandboxPool(RUNNER, workers=workers, limits=limits, preload=PRELOAD)
            except BaseException as exc:  # noqa: BLE001 - reported when a program needs it
                self._heavy_error = exc

        self._heavy_thread = threading.Thread(target=start_heavy, daemon=True)
        self._heavy_lock = threading.Lock()
        if start_heavy:
            self._heavy_thread.start()
        try:
            self.pool = SandboxPool(RUNNER, workers=workers, limits=limits, preload=LIGHT_PRELOAD)
        except BaseException:
            self._close_heavy()
            raise
        self.workers = self.pool.n_workers

    @property
    def heavy_pool(self) -> Any:
        """The heavy workers' pool (starts it if needed, and waits for it to be ready)."""
        with self._heavy_lock:
            if self._heavy_thread.ident is None:
                self._heavy_thread.start()
        self._heavy_thread.join()
        if self._heavy is None:
            raise RuntimeError(f"the heavy chart workers failed to start: {self._heavy_error}")
        return self._heavy

    def render(self, completion: str, *, extract: bool = True) -> RenderResult:
        """Render one completion (``extract=False``: the text is the code itself)."""
        return self.render_many([completion], extract=extract)[0]

    def render_many(
        self, completions: Sequence[str], *, extract: bool = True
    ) -> list[RenderResult]:
        """Render several completions at once, one per free worker."""
        extracted = [_extract(c, extract) for c in completions]
        t0 = time.perf_counter()

        def run_one(code: str) -> Any:
            pool = self.heavy_pool if needs_heavy_worker(code) else self.pool
            return pool.run(code, dict(self.args))

        codes = [code for code, _ in extracted]
        if len(codes) == 1:
            results = [run_one(codes[0])]
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as ex:
                results = list(ex.map(run_one, codes))
        wall = time.perf_counter() - t0
        return [
            to_render_result(res, code, offset, batch_wall_s=wall / max(1, len(extracted)))
            for (code, offset), res in zip(extracted, results)
        ]

    def _close_heavy(self) -> None:
        with self._heavy_lock:
            if self._heavy_thread.ident is None:
                return
        self._heavy_thread.join()
        if self._heavy is not None:
            self._heavy.close()

    def close(self) -> None:
        self.pool.close()
        self._close_heavy()

    def __enter__(self) -> ChartRenderer:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _extract(completion: str, extract: bool) -> tuple[str, int]:
    if not extract:
        return completion, 0
    ex = extract_code(completion, "chart")
    return ex.code, ex.offset


def to_render_result(
    res: Any, code: str, offset: int, *, batch_wall_s: float | None = None
) -> RenderResult:
    """Turn a :class:`~vsdpo.sandbox.SandboxResult` of the chart runner into a RenderResult."""
    timings = {"total": float(res.wall_s)}
    if batch_wall_s is not None:
        timings["batch_share"] = batch_wall_s
    if not res.ok:
        error = res.error or ExecError(
            type=str(res.status).capitalize(), message=res.stderr[-500:].strip()
        )
        return RenderResult(
            ok=False,
            domain="chart",
            code=code,
            code_offset=offset,
            error=error,
            timings=timings,
            stdout=res.stdout,
        )
    return from_runner_output(res.value, code, offset, timings=timings, stdout=res.stdout)


def from_runner_output(
    value: dict[str, Any],
    code: str,
    offset: int,
    *,
    timings: dict[str, float] | None = None,
    stdout: str = "",
) -> RenderResult:
    """Build a RenderResult from :func:`vsdpo.render.chart_runner.run`'s dict."""
    timings = {**{k: float(v) for k, v in value.get("timings", {}).items()}, **(timings or {})}
    pages = [_as_image(img) for img in value.get("images", [])]
    main = value.get("main")
    elements = [Element.from_dict(d) for d in value.get("elements", [])]
    return RenderResult(
        ok=True,
        domain="chart",
        code=code,
        code_offset=offset,
        image=pages[main] if main is not None and pages else None,
        pages=pages if len(pages) > 1 and all(p is not None for p in pages) else [],
        canvas=tuple(value.get("canvas", (0, 0))),
        elements=elements,
        timings=timings,
        stdout=stdout,
    )


def _as_image(image: Any) -> np.ndarray | None:
    if image is None or isinstance(image, np.ndarray):
        return image
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(image)).convert("RGB"))


def render_chart(completion: str, **kwargs: Any) -> RenderResult:
    """One-shot convenience: start a one-worker renderer, render, shut it down.

    Keyword arguments go to :class:`ChartRenderer` except ``extract``."""
    extract = kwargs.pop("extract", True)
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("start_heavy", False)  # started only if this program needs it
    with ChartRenderer(**kwargs) as renderer:
        return renderer.render(completion, extract=extract)
