"""Rendering matplotlib completions into :class:`~vsdpo.artifact.RenderResult` s (host side).

The untrusted program runs in a warm sandbox worker (:class:`vsdpo.sandbox.SandboxPool`) whose
runner is :func:`vsdpo.render.chart_runner.run`; the modules ChartMimic-style scripts import are
preloaded so a render pays for none of them. This side extracts the code from the completion
(keeping its character offset, so blamed lines map back to completion characters), and turns the
runner's plain dict into Elements.

Multiple figures: ``RenderResult.pages`` holds every figure's image in creation order, elements
carry ``page`` = figure index, and ``image``/``canvas`` are those of the *main* figure, the last
one with content (see :mod:`vsdpo.render.chart_runner`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from vsdpo.artifact import Element, ExecError, RenderResult
from vsdpo.code import extract_code

RUNNER = "vsdpo.render.chart_runner:run"
#: what the worker imports once. ChartMimic scripts import these (see shared/data/README.md);
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


class ChartRenderer:
    """Renders matplotlib programs in a pool of warm sandbox workers. Use as a context manager."""

    def __init__(
        self,
        workers: int | None = None,
        dpi: int = 100,
        limits: Any | None = None,
        *,
        trace: bool = True,
        image_format: str = "rgb",
        max_elements: int = 5000,
    ) -> None:
        from vsdpo.sandbox import SandboxPool

        self.dpi = dpi
        self.args = {
            "dpi": dpi,
            "trace": trace,
            "image": image_format,
            "max_elements": max_elements,
        }
        self.pool = SandboxPool(RUNNER, workers=workers, limits=limits, preload=PRELOAD)

    def render(self, completion: str, *, extract: bool = True) -> RenderResult:
        """Render one completion (``extract=False``: the text is the code itself)."""
        return self.render_many([completion], extract=extract)[0]

    def render_many(
        self, completions: Sequence[str], *, extract: bool = True
    ) -> list[RenderResult]:
        """Render several completions at once, one per free worker."""
        extracted = [_extract(c, extract) for c in completions]
        t0 = time.perf_counter()
        results = self.pool.map(
            [code for code, _ in extracted], [dict(self.args) for _ in extracted]
        )
        wall = time.perf_counter() - t0
        return [
            to_render_result(res, code, offset, batch_wall_s=wall / max(1, len(extracted)))
            for (code, offset), res in zip(extracted, results)
        ]

    def close(self) -> None:
        self.pool.close()

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
    with ChartRenderer(**kwargs) as renderer:
        return renderer.render(completion, extract=extract)
