"""``vsdpo bench web``: web page rendering throughput, the persistent renderer vs the naive way.

The same pages (default: the Design2Code dev pages), each mode with ``--workers`` pages in
flight at once:

* **naive**: launch Chromium per page (Playwright, ``executable_path``, the README's offline
  args, :data:`BASELINE_ARGS`), new
  page at 1280x720, ``goto(file://...)`` until ``load``, full-page PNG, close: the baseline of
  ``shared/data/README.md``;
* **warm browser**: one browser, a new context and page per render, same capture (the README's
  second baseline: merely reusing the browser);
* **renderer**: :meth:`vsdpo.render.web.WebRenderer.render_iter` (reused tabs at fresh origins,
  the in-page walk with markup and CSS tracing, PNG decoded to pixels) plus
  :func:`vsdpo.defects.detect_defects` on every page as it comes back: everything a trainer
  needs. The renderer is warmed (untimed) on the first ``--workers`` pages: the figure is the
  persistent renderer's steady state;
* **renderer, jpeg** (``--modes`` includes ``jpeg``): the same with JPEG capture;
* **renderer, navigating** (``--modes`` includes ``navigate``): the same with
  ``navigation="always"``: every page gets a navigation to a fresh origin, as a page with
  scripts does (static pages otherwise load in place).

Prints a markdown table (pages, ok, seconds, pages/s, ratio vs naive), the machine and command.
The issue's target: the renderer >= 5x naive.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vsdpo.bench.timing import ModeRun, command_line, machine_description, throughput_table
from vsdpo.render.web import BASE_CHROMIUM_ARGS

MODES = ("naive", "warm", "renderer", "jpeg", "navigate")
#: the baselines' Chromium arguments, exactly those of shared/data/README.md (the renderer's own
#: CHROMIUM_ARGS add tuning that is part of what is being measured)
BASELINE_ARGS = BASE_CHROMIUM_ARGS
TARGET_RATIO = 5.0
DEFAULT_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "design2code_dev"


@dataclass
class ModeResult:
    mode: str
    label: str
    pages: int
    succeeded: int
    seconds: float
    startup_s: float = 0.0

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else float("inf")


async def _capture(browser, path: Path, viewport: tuple[int, int]) -> bool:
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        page = await context.new_page()
        await page.goto(path.resolve().as_uri(), wait_until="load", timeout=60000)
        await page.screenshot(full_page=True, type="png", timeout=60000)
        return True
    except Exception:
        return False
    finally:
        await context.close()


async def _naive(pages: Sequence[Path], workers: int, executable: str) -> list[bool]:
    from playwright.async_api import async_playwright

    gate = asyncio.Semaphore(workers)
    async with async_playwright() as p:

        async def one(path: Path) -> bool:
            async with gate:
                browser = await p.chromium.launch(
                    executable_path=executable, args=list(BASELINE_ARGS)
                )
                try:
                    return await _capture(browser, path, (1280, 720))
                finally:
                    await browser.close()

        return list(await asyncio.gather(*(one(path) for path in pages)))


async def _warm(
    pages: Sequence[Path], workers: int, executable: str
) -> tuple[list[bool], float, float]:
    from playwright.async_api import async_playwright

    gate = asyncio.Semaphore(workers)
    async with async_playwright() as p:
        t0 = time.perf_counter()
        browser = await p.chromium.launch(executable_path=executable, args=list(BASELINE_ARGS))
        startup = time.perf_counter() - t0

        async def one(path: Path) -> bool:
            async with gate:
                return await _capture(browser, path, (1280, 720))

        start = time.perf_counter()
        ok = list(await asyncio.gather(*(one(path) for path in pages)))
        elapsed = time.perf_counter() - start
        await browser.close()
    return ok, elapsed, startup


def bench_naive(pages: Sequence[Path], workers: int, executable: str) -> ModeResult:
    start = time.perf_counter()
    ok = asyncio.run(_naive(pages, workers, executable))
    return ModeResult(
        "naive", "launch Chromium per page", len(pages), sum(ok), time.perf_counter() - start
    )


def bench_warm(pages: Sequence[Path], workers: int, executable: str) -> ModeResult:
    ok, seconds, startup = asyncio.run(_warm(pages, workers, executable))
    return ModeResult(
        "warm", "one browser, new context + page per render", len(pages), sum(ok), seconds, startup
    )


def bench_renderer(
    pages: Sequence[Path], workers: int, image_format: str = "png", navigation: str = "auto"
) -> ModeResult:
    from vsdpo.defects import detect_defects
    from vsdpo.render.web import WebRenderer

    sources = [p.read_text(encoding="utf-8", errors="replace") for p in pages]
    t0 = time.perf_counter()
    dirs = [p.parent for p in pages]
    with WebRenderer(
        concurrency=workers, image_format=image_format, navigation=navigation
    ) as renderer:
        # untimed warm-up on the first pages, so the timed run is the persistent renderer's
        # steady state (the naive mode has no state to warm: it launches Chromium per page)
        renderer.render_many(sources[:workers], extract=False, base_dirs=dirs[:workers])
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        results = []
        for r in renderer.render_iter(sources, extract=False, base_dirs=dirs):
            detect_defects([r])  # overlaps the renders still in flight
            results.append(r)
        seconds = time.perf_counter() - start
    mode = "navigate" if navigation == "always" else "renderer" if image_format == "png" else "jpeg"
    how = ", a navigation per page" if navigation == "always" else ""
    return ModeResult(
        mode,
        f"WebRenderer ({workers} reused tabs, tracing, {image_format}{how}) + detect_defects",
        len(pages),
        sum(r.ok for r in results),
        seconds,
        startup,
    )


def report(results: Sequence[ModeResult], command: str, directory: Path) -> str:
    table = throughput_table(
        [ModeRun(r.mode, r.label, r.pages, r.succeeded, r.seconds, r.startup_s) for r in results],
        "pages",
    )
    return "\n".join(
        [
            f"### Web rendering throughput ({results[0].pages if results else 0} pages from "
            f"`{directory}`)",
            "",
            f"- command: `{command}`",
            f"- machine: {machine_description(['playwright', 'vsdpo'])}",
            "",
            table,
            "",
            f"Target: renderer >= {TARGET_RATIO:g}x naive.",
        ]
    )


def main(argv: Sequence[str] | None = None, prog: str = "vsdpo bench web") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--limit", type=int, help="the first N pages (sorted by name)")
    parser.add_argument("--workers", type=int, default=2, help="pages in flight (default: 2)")
    parser.add_argument("--modes", default="naive,warm,renderer", help=f"from {','.join(MODES)}")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from vsdpo.render.web import find_chromium

    executable = find_chromium()
    if executable is None:
        print(f"{prog}: no Chromium found", file=sys.stderr)
        return 2
    directory = Path(args.directory)
    pages = sorted(p for p in directory.glob("*.htm*"))[: args.limit]
    if not pages:
        print(f"{prog}: no .html pages in {directory}", file=sys.stderr)
        return 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results = []
    for mode in modes:
        if mode == "naive":
            results.append(bench_naive(pages, args.workers, executable))
        elif mode == "warm":
            results.append(bench_warm(pages, args.workers, executable))
        elif mode == "renderer":
            results.append(bench_renderer(pages, args.workers, "png"))
        elif mode == "jpeg":
            results.append(bench_renderer(pages, args.workers, "jpeg"))
        elif mode == "navigate":
            results.append(bench_renderer(pages, args.workers, "png", navigation="always"))
        else:
            print(f"{prog}: unknown mode {mode!r}", file=sys.stderr)
            return 2
    print(report(results, command_line(prog, list(argv or sys.argv[1:])), directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
