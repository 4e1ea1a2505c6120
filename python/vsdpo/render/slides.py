"""Rendering python-pptx completions into :class:`~vsdpo.artifact.RenderResult` s (host side).

A render has three stages:

1. the untrusted program runs in a warm sandbox worker (python-pptx preloaded and traced, see
   :mod:`vsdpo.render.slides_runner`) and hands back the .pptx bytes and its shape records;
2. the persistent LibreOffice (:mod:`vsdpo.render.office`) converts the deck to PDF: a deck it
   cannot convert, or that hangs or crashes it, is an error result (``OfficeTimeout``,
   ``OfficeCrash``, ``OfficeError``), and LibreOffice is restarted when needed;
3. pdfium rasterises each page (``dpi``, 96 by default: a 13.33 in wide slide is 1280 px) and
   reads its text layer; :mod:`vsdpo.render.slides_elements` builds the elements.

``RenderResult.pages`` holds one RGB image per slide (``image`` is the first slide), elements
carry ``page`` = slide index, ``canvas`` is the slide size in pixels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vsdpo.artifact import ExecError, RenderResult
from vsdpo.code import extract_code

RUNNER = "vsdpo.render.slides_runner:run"
#: what the workers import once (python-pptx and what it imports lazily for pictures)
PRELOAD = ("lxml.etree", "PIL.Image", "pptx", "vsdpo.render.slides_runner")


class SlidesRenderer:
    """Renders python-pptx programs: warm sandbox workers + a persistent LibreOffice.

    ``workers`` sandbox workers run programs; ``office_instances`` LibreOffice processes convert
    decks (one is enough on two cores: a conversion is ~0.1 s against ~0.05 s of program).
    Use as a context manager."""

    def __init__(
        self,
        workers: int | None = None,
        dpi: int = 96,
        limits: Any | None = None,
        *,
        trace: bool = True,
        office_instances: int = 1,
        office_timeout_s: float = 60.0,
        max_slides: int = 60,
    ) -> None:
        from vsdpo.render.office import OfficePool
        from vsdpo.sandbox import SandboxPool

        self.dpi = int(dpi)
        self.args = {"trace": trace, "max_slides": int(max_slides)}
        self.office = OfficePool(office_instances, timeout_s=office_timeout_s)
        try:
            self.pool = SandboxPool(RUNNER, workers=workers, limits=limits, preload=PRELOAD)
        except BaseException:
            self.office.close()
            raise
        self.workers = self.pool.n_workers

    @property
    def office_restarts(self) -> int:
        return self.office.restarts

    def render(self, completion: str, *, extract: bool = True) -> RenderResult:
        """Render one completion (``extract=False``: the text is the code itself)."""
        return self.render_many([completion], extract=extract)[0]

    def render_many(
        self, completions: Sequence[str], *, extract: bool = True
    ) -> list[RenderResult]:
        """Render several completions, ``workers`` at a time; results in input order."""
        extracted = [_extract(c, extract) for c in completions]
        if len(extracted) == 1:
            return [self._render_one(*extracted[0])]
        with ThreadPoolExecutor(max_workers=self.workers) as ex:
            return list(ex.map(lambda ce: self._render_one(*ce), extracted))

    def _render_one(self, code: str, offset: int) -> RenderResult:
        t0 = time.perf_counter()
        res = self.pool.run(code, dict(self.args))
        timings = {"sandbox": float(res.wall_s)}
        if not res.ok:
            error = res.error or ExecError(
                type=str(res.status).capitalize(), message=res.stderr[-500:].strip()
            )
            timings["total"] = time.perf_counter() - t0
            return RenderResult(
                ok=False,
                domain="slides",
                code=code,
                code_offset=offset,
                error=error,
                timings=timings,
                stdout=res.stdout,
            )
        value = res.value
        for k, v in (value.get("timings") or {}).items():
            timings[k] = float(v)
        return self.from_deck(value, code, offset, timings=timings, stdout=res.stdout, t0=t0)

    def from_deck(
        self,
        value: dict[str, Any],
        code: str,
        offset: int = 0,
        *,
        timings: dict[str, float] | None = None,
        stdout: str = "",
        t0: float | None = None,
    ) -> RenderResult:
        """LibreOffice + pdfium + elements for the runner's output ``value``."""
        from vsdpo.render.chart_tracing import statement_ranges
        from vsdpo.render.office import OfficeError
        from vsdpo.render.slides_elements import render_pdf, slide_elements

        t0 = time.perf_counter() if t0 is None else t0
        timings = dict(timings or {})
        t = time.perf_counter()
        try:
            pdf = self.office.convert(value["pptx"])
        except OfficeError as exc:
            timings["office"] = time.perf_counter() - t
            timings["total"] = time.perf_counter() - t0
            name = {"timeout": "OfficeTimeout", "crash": "OfficeCrash"}.get(exc.kind, "OfficeError")
            return RenderResult(
                ok=False,
                domain="slides",
                code=code,
                code_offset=offset,
                error=ExecError(name, str(exc)),
                timings=timings,
                stdout=stdout,
            )
        timings["office"] = time.perf_counter() - t
        t = time.perf_counter()
        n_slides = len(value.get("slides", []))
        images, chars = render_pdf(pdf, self.dpi, max_pages=n_slides)
        timings["rasterize"] = time.perf_counter() - t
        t = time.perf_counter()
        canvases = [(int(img.shape[1]), int(img.shape[0])) for img in images]
        elements = slide_elements(
            value, chars, canvases, dpi=self.dpi, ranges=statement_ranges(code)
        )
        timings["elements"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        if not images:
            return RenderResult(
                ok=False,
                domain="slides",
                code=code,
                code_offset=offset,
                error=ExecError("NoSlides", "the presentation has no slides"),
                timings=timings,
                stdout=stdout,
            )
        return RenderResult(
            ok=True,
            domain="slides",
            code=code,
            code_offset=offset,
            image=images[0],
            pages=images,
            canvas=canvases[0],
            elements=elements,
            timings=timings,
            stdout=stdout,
        )

    def close(self) -> None:
        self.pool.close()
        self.office.close()

    def __enter__(self) -> SlidesRenderer:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _extract(completion: str, extract: bool) -> tuple[str, int]:
    if not extract:
        return completion, 0
    ex = extract_code(completion, "slides")
    return ex.code, ex.offset


def render_slides(completion: str, **kwargs: Any) -> RenderResult:
    """One-shot convenience: start a one-worker renderer, render, shut it down."""
    extract = kwargs.pop("extract", True)
    kwargs.setdefault("workers", 1)
    with SlidesRenderer(**kwargs) as renderer:
        return renderer.render(completion, extract=extract)
