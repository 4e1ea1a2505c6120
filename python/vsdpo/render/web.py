"""Rendering HTML/CSS completions in real Chromium, every element traced to markup and CSS rules.

One Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright through ``executable_path``)
stays alive for the renderer's lifetime. Pages are untrusted, so:

* no network: the browser resolves no host (``--host-resolver-rules``), and every request of the
  page goes through a route that serves only the page itself and, when ``base_dir`` is given,
  plain files under that folder (the Design2Code pages' ``rick.jpg``); everything else is
  aborted and reported (``RenderResult.stdout`` and the root element's ``meta``). ``data:`` URLs
  never reach the network. No ``file://`` URL is ever opened, so a page cannot show local files;
* a page that runs scripts of its own (:func:`~vsdpo.render.web_source.runs_scripts`: a
  ``<script>``, an ``onload``...) is loaded by a navigation to a fresh origin
  (``http://rN.vsdpo.invalid/``) with scripts on, so nothing of one page (globals, timers,
  storage, patched prototypes) is seen by the next; cookies are cleared after it and pop-ups
  are closed;
* a static page is written into the tab's current document in place (``document.open``, what
  Playwright's ``set_content`` does): a navigation costs about 60 ms of CPU even for an empty
  page, the in-place load about 5. The tab's document was navigated to with the response header
  ``Content-Security-Policy: script-src 'none'``, which ``document.open`` keeps: no page script
  has ever run in that window and none can (no ``<script>``, handler, ``javascript:`` URL or
  ``eval``), while scripting stays on for the parser, so ``<noscript>`` stays hidden as in any
  browser. A tab that last showed a scripted page navigates first. Pages render the same either
  way (``navigation="always"`` navigates for every page);
* scripts run (pages may need them) but the whole render has a deadline: a page that hangs or
  crashes its renderer gives an :class:`~vsdpo.artifact.ExecError` ("Timeout" / "Crash") and its
  tab, or the browser if the tab cannot be closed, is replaced; the caller never hangs.

Threading contract: a :class:`WebRenderer` may be shared by any number of threads. All browser
work runs on the renderer's own thread (an asyncio loop driving Playwright's async API), and up
to ``concurrency`` pages render at once, each in its own reused tab (tab and context re-creation
are most of a naive render's cost). :meth:`WebRenderer.render_many` keeps them all busy.

Cost (a 2-core machine is saturated by two tabs): static pages load in place (above), parsing a
page overlaps the renders before it,
the capture is the DevTools ``Page.captureScreenshot`` of the whole canvas with fast PNG
compression (the same pixels as Playwright's full-page screenshot, at about half its cost),
decoding runs off the loop while the tab renders the next page, and a navigation reuses the
tab's render frame (``RenderDocument`` off). :meth:`WebRenderer.render_iter` hands each result
over as soon as it is ready.

Canvas: ``viewport`` wide (1280 by default) and as tall as the document (at least the viewport,
at most ``max_height``); content wider than the viewport is outside the canvas, which is how
horizontal scrolling shows up as a defect.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import mimetypes
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.artifact import Element, ExecError, RenderResult
from vsdpo.code import extract_code
from vsdpo.render.web_source import SourceMap, element_source, rules_for_page, trace_source

#: what Playwright passes as --disable-features (its chromiumSwitches.ts)
_PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
)
#: Debian's chromium; override with $VSDPO_CHROMIUM
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: the offline, headless-friendly flags every Chromium here gets (see shared/data/README.md)
BASE_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
CHROMIUM_ARGS = (
    *BASE_CHROMIUM_ARGS,
    # a navigation reuses the tab's render frame instead of building a new one per document
    # (RenderDocument): about 15 % of a render's cost on a 2-core machine; and no spare renderer
    # process is kept warm (SpareRendererForSitePerProcess), which had each navigation move to a
    # new process: about 10 % more. Chromium keeps only one --disable-features, so Playwright's
    # own list is repeated here
    "--disable-features="
    + ",".join(
        _PLAYWRIGHT_DISABLED_FEATURES + ("RenderDocument", "SpareRendererForSitePerProcess")
    ),
)
_ORIGIN_HOST = "vsdpo.invalid"
#: the policy a static page's document is served with (and keeps through ``document.open``)
NO_SCRIPTS = "script-src 'none'"
_WALK_JS = (Path(__file__).with_name("web_elements.js")).read_text(encoding="utf-8")


def find_chromium() -> str | None:
    """The Chromium executable to drive: ``$VSDPO_CHROMIUM``, Debian's, or one on ``PATH``."""
    for candidate in (os.environ.get("VSDPO_CHROMIUM"), DEFAULT_CHROMIUM):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class _Job:
    """One render's page and what its route may serve."""

    url: str | None  # the navigation's URL; None when the page is written in place
    origin: str  # relative URLs of the page resolve here
    html: str  # the annotated page (served as UTF-8)
    base_dir: Path | None
    static: bool  # served with scripts forbidden (NO_SCRIPTS)
    blocked: list[str] = field(default_factory=list)


class _Tab:
    """A reusable tab: its own browser context and page, routed through the current job."""

    def __init__(self, context: Any, page: Any, cdp: Any) -> None:
        self.context = context
        self.page = page
        self.cdp = cdp  # the page's DevTools session, for the capture
        self.job: _Job | None = None
        self.crashed = False
        self.origin: str | None = None  # the current document's origin (None: about:blank)
        self.pristine = False  # served with NO_SCRIPTS: no page script ever ran in this window


class WebRenderer:
    """Renders HTML completions in one persistent Chromium. Use as a context manager.

    ``concurrency`` tabs render at once; ``timeout_s`` bounds each render (load, walk and
    screenshot); ``javascript=False`` stops page scripts (the walk still runs); ``trace=False``
    skips the in-page walk (image only); ``image_format`` ``"png"`` (exact pixels, default) or
    ``"jpeg"`` (cheaper to capture and decode); ``navigation`` ``"auto"`` (static pages load in
    place, see the module's docstring) or ``"always"`` (every page gets a navigation)."""

    def __init__(
        self,
        *,
        concurrency: int = 2,
        viewport: tuple[int, int] = (1280, 720),
        timeout_s: float = 20.0,
        javascript: bool = True,
        trace: bool = True,
        cover_test: bool = True,
        image_format: str = "png",
        max_height: int = 8192,
        max_elements: int = 8000,
        executable: str | None = None,
        navigation: str = "auto",
    ) -> None:
        if image_format not in ("png", "jpeg"):
            raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
        if navigation not in ("auto", "always"):
            raise ValueError(f"navigation must be 'auto' or 'always', got {navigation!r}")
        self.navigation = navigation
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise RuntimeError(
                "no Chromium found: install Debian's chromium or set $VSDPO_CHROMIUM"
            )
        self.concurrency = max(1, int(concurrency))
        self.viewport = (int(viewport[0]), int(viewport[1]))
        self.timeout_s = float(timeout_s)
        self.javascript = javascript
        self.trace = trace
        self.cover_test = cover_test
        self.image_format = image_format
        self.max_height = int(max_height)
        self.max_elements = int(max_elements)
        self.restarts = 0  # browser (re)starts after the first, for monitoring
        self._origins = itertools.count(1)
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="vsdpo-web", daemon=True
        )
        self._thread.start()
        self._playwright: Any = None
        self._browser: Any = None
        self._tabs: asyncio.Queue | None = None
        self._file_cache: dict[Path, bytes] = {}
        self._call(self._start())

    # -- public API ---------------------------------------------------------------------------

    def render(
        self, completion: str, *, extract: bool = True, base_dir: str | os.PathLike | None = None
    ) -> RenderResult:
        """Render one completion (``extract=False``: the text is the HTML itself).

        ``base_dir``: a folder whose files the page may load by relative URL (images beside it)."""
        return self.render_many([completion], extract=extract, base_dirs=[base_dir])[0]

    def render_many(
        self,
        completions: Sequence[str],
        *,
        extract: bool = True,
        base_dirs: Sequence[str | os.PathLike | None] | None = None,
    ) -> list[RenderResult]:
        """Render several completions, ``concurrency`` at a time; results in input order."""
        return list(self.render_iter(completions, extract=extract, base_dirs=base_dirs))

    def render_iter(
        self,
        completions: Sequence[str],
        *,
        extract: bool = True,
        base_dirs: Sequence[str | os.PathLike | None] | None = None,
    ) -> Iterator[RenderResult]:
        """As :meth:`render_many`, but each result is yielded (in input order) as soon as it and
        the ones before it are done, so the caller's work on it overlaps the renders after it.
        All pages are submitted before the first result is yielded."""
        if self._closed:
            raise RuntimeError("the WebRenderer is closed")
        dirs = list(base_dirs) if base_dirs is not None else [None] * len(completions)
        if len(dirs) != len(completions):
            raise ValueError("base_dirs needs one entry per completion")
        # each page starts rendering as soon as it is parsed: parsing the next overlaps the
        # browser's work on the ones before
        futures = []
        for completion, base in zip(completions, dirs):
            t0 = time.perf_counter()
            if extract:
                ex = extract_code(completion, "web")
                code, offset = ex.code, ex.offset
            else:
                code, offset = completion, 0
            smap = trace_source(code)
            job = (code, offset, smap, Path(base) if base else None, time.perf_counter() - t0)
            futures.append(asyncio.run_coroutine_threadsafe(self._render_one(*job), self._loop))
        return (f.result() for f in futures)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._stop(), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> WebRenderer:  # noqa: PYI034 - Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten renderer must not leave Chromium running
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:
                pass

    # -- the loop thread ----------------------------------------------------------------------

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        await self._launch()

    async def _launch(self) -> None:
        self._browser = await self._playwright.chromium.launch(
            executable_path=self.executable, args=list(CHROMIUM_ARGS), headless=True
        )
        self._tabs = asyncio.Queue()
        for _ in range(self.concurrency):
            self._tabs.put_nowait(await self._new_tab())

    async def _restart(self) -> None:
        self.restarts += 1
        old = self._browser
        try:
            await asyncio.wait_for(old.close(), 10)
        except Exception:
            pass
        await self._launch()

    async def _stop(self) -> None:
        try:
            if self._browser is not None:
                await asyncio.wait_for(self._browser.close(), 15)
        except Exception:
            pass
        if self._playwright is not None:
            await self._playwright.stop()

    async def _new_tab(self) -> _Tab:
        context = await self._browser.new_context(
            viewport={"width": self.viewport[0], "height": self.viewport[1]},
            java_script_enabled=self.javascript,
            accept_downloads=False,
            service_workers="block",
        )
        page = await context.new_page()
        tab = _Tab(context, page, await context.new_cdp_session(page))

        async def route(route: Any) -> None:
            await self._serve(tab, route)

        await context.route("**/*", route)
        page.on("crash", lambda _page: setattr(tab, "crashed", True))
        context.on("page", lambda p: asyncio.ensure_future(p.close()) if p != page else None)
        return tab

    async def _serve(self, tab: _Tab, route: Any) -> None:
        """The only way anything reaches a page: its own HTML and files under ``base_dir``."""
        url = route.request.url
        job = tab.job
        try:
            if job is not None and job.url is not None and url == job.url:
                headers = {"content-type": "text/html; charset=utf-8"}
                if job.static:
                    headers["content-security-policy"] = NO_SCRIPTS
                await route.fulfill(body=job.html.encode("utf-8"), headers=headers)
                return
            body = self._local_file(job, url) if job is not None else None
            if body is not None:
                kind = mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"
                await route.fulfill(body=body, content_type=kind)
                return
            if job is not None:
                job.blocked.append(url)
            await route.abort("blockedbyclient")
        except Exception:
            pass  # the page went away while its request was pending

    def _local_file(self, job: _Job, url: str) -> bytes | None:
        if job.base_dir is None or not url.startswith(job.origin + "/"):
            return None
        from urllib.parse import unquote

        rel = unquote(url[len(job.origin) + 1 :].split("?")[0].split("#")[0])
        base = job.base_dir.resolve()
        path = (base / rel).resolve()
        if base not in path.parents or not path.is_file():
            return None
        if path not in self._file_cache:
            self._file_cache[path] = path.read_bytes()
        return self._file_cache[path]

    async def _render_one(
        self, code: str, offset: int, smap: SourceMap, base_dir: Path | None, parse_s: float
    ) -> RenderResult:
        tab = await self._tabs.get()
        static = not (smap.runs_scripts and self.javascript)
        html = smap.annotated
        if static and tab.pristine and tab.origin is not None and self.navigation == "auto":
            job = _Job(None, tab.origin, html, base_dir, static)
        else:
            origin = f"http://r{next(self._origins)}.{_ORIGIN_HOST}"
            job = _Job(f"{origin}/", origin, html, base_dir, static)
        timings = {"parse": parse_s}
        t0 = time.perf_counter()
        healthy = False
        try:
            tab.job = job
            value = await asyncio.wait_for(
                self._load_and_walk(tab, job, smap, timings), self.timeout_s
            )
            healthy = not tab.crashed
        except asyncio.TimeoutError:
            return self._failure(
                code,
                offset,
                "Timeout",
                f"the page did not finish rendering in {self.timeout_s:g} s",
                timings,
                t0,
            )
        except Exception as exc:  # Playwright errors: crashed tab, closed browser, ...
            kind = "Crash" if tab.crashed or "crash" in str(exc).lower() else "RenderError"
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return self._failure(code, offset, kind, message, timings, t0)
        finally:
            tab.job = None
            await self._recycle(tab, healthy, clear_cookies=not static)
        # decoding and building elements off the loop: the tab is already rendering the next page
        try:
            return await self._loop.run_in_executor(
                None, self._result, code, offset, smap, value, job, timings, t0
            )
        except Exception as exc:  # an image Pillow cannot read, a walk result out of shape
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return self._failure(code, offset, "RenderError", message, timings, t0)

    async def _recycle(self, tab: _Tab, healthy: bool, clear_cookies: bool = True) -> None:
        """Give the tab back, or replace it (and the browser, if it is gone or stuck).

        ``clear_cookies=False`` after a static page: its scripts are forbidden (NO_SCRIPTS) and
        what the route serves carries no ``Set-Cookie``, so it cannot have set any."""
        if healthy:
            try:
                if clear_cookies:
                    await asyncio.wait_for(tab.context.clear_cookies(), 5)
                self._tabs.put_nowait(tab)
                return
            except Exception:
                pass
        try:
            await asyncio.wait_for(tab.context.close(), 5)
            fresh = await asyncio.wait_for(self._new_tab(), 15)
        except Exception:
            await self._restart()  # puts a full set of fresh tabs in the queue
            return
        self._tabs.put_nowait(fresh)

    async def _load(self, tab: _Tab, job: _Job) -> None:
        """Load the page: in place when ``job.url`` is None, else by navigating to it."""
        if job.url is None:
            await tab.page.set_content(job.html, wait_until="load")
            return
        tab.pristine = False  # until the new document is there
        await tab.page.goto(job.url, wait_until="load")
        tab.origin = job.origin
        tab.pristine = job.static

    async def _load_and_walk(
        self, tab: _Tab, job: _Job, smap: SourceMap, timings: dict[str, float]
    ) -> dict[str, Any]:
        page = tab.page
        t = time.perf_counter()
        await self._load(tab, job)
        timings["load"] = time.perf_counter() - t
        raw: dict[str, Any] = {}
        if self.trace:
            t = time.perf_counter()
            raw = await page.evaluate(
                _WALK_JS,
                json.dumps(
                    {
                        "rules": rules_for_page(smap),
                        "maxElements": self.max_elements,
                        "coverTest": self.cover_test,
                        "prepare": True,
                    }
                ),
            )
            raw = json.loads(raw)
            timings["walk"] = time.perf_counter() - t
            height = int(raw.get("scrollHeight") or self.viewport[1])
        else:
            prepared = await page.evaluate(
                _WALK_JS, json.dumps({"prepare": True, "prepareOnly": True})
            )
            height = int(json.loads(prepared)["scrollHeight"])
        height = max(self.viewport[1], min(height, self.max_height))
        t = time.perf_counter()
        # the DevTools capture straight from the compositor surface, the whole canvas at once
        # (beyond the viewport), PNG with fast compression: the same pixels as Playwright's
        # full-page screenshot at about half its cost
        params: dict[str, Any] = {
            "format": self.image_format,
            "captureBeyondViewport": True,
            "fromSurface": True,
            "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": self.viewport[0], "height": height, "scale": 1},
        }
        if self.image_format == "jpeg":
            params["quality"] = 90
        reply = await tab.cdp.send("Page.captureScreenshot", params)
        shot = base64.b64decode(reply["data"])
        timings["screenshot"] = time.perf_counter() - t
        return {"raw": raw, "shot": shot, "height": height}

    # -- results ------------------------------------------------------------------------------

    def _failure(
        self, code: str, offset: int, kind: str, message: str, timings: dict, t0: float
    ) -> RenderResult:
        timings["total"] = time.perf_counter() - t0 + timings.get("parse", 0.0)
        return RenderResult(
            ok=False,
            domain="web",
            code=code,
            code_offset=offset,
            error=ExecError(type=kind, message=message),
            timings=timings,
        )

    def _result(
        self,
        code: str,
        offset: int,
        smap: SourceMap,
        value: dict[str, Any],
        job: _Job,
        timings: dict[str, float],
        t0: float,
    ) -> RenderResult:
        from PIL import Image

        t = time.perf_counter()
        picture = Image.open(io.BytesIO(value["shot"]))
        if picture.mode != "RGB":  # Chromium's PNG of an opaque page is RGB already
            picture = picture.convert("RGB")
        # one copy out of Pillow; the crop (a capture a pixel too big) is a view of it
        image = np.asarray(picture)[: value["height"], : self.viewport[0]]
        if not image.flags.c_contiguous:
            image = np.ascontiguousarray(image)
        timings["decode"] = time.perf_counter() - t
        raw = value["raw"]
        elements = to_elements(raw, smap) if raw else []
        if elements:
            elements[0].meta.update(
                blocked_requests=list(job.blocked),
                scroll_width=raw.get("scrollWidth"),
                viewport_overflow_x=raw.get("viewportOverflowX"),
                scroll_height=raw.get("scrollHeight"),
                viewport=list(self.viewport),
                rules_lined_up=[raw.get("rulesLinedUp", 0), raw.get("rulesSeen", 0)],
                truncated=bool(raw.get("truncated")),
                walk_phase_ms=raw.get("phaseMs"),
            )
        timings["total"] = time.perf_counter() - t0 + timings.get("parse", 0.0)
        log = "".join(f"vsdpo: blocked request to {u}\n" for u in job.blocked)
        return RenderResult(
            ok=True,
            domain="web",
            code=code,
            code_offset=offset,
            image=image,
            canvas=(int(image.shape[1]), int(image.shape[0])),
            elements=elements,
            timings=timings,
            stdout=log,
        )


def to_elements(raw: dict[str, Any], smap: SourceMap) -> list[Element]:
    """Elements from the in-page walk's output, each with its source lines."""
    tag_rules = raw.get("tagRules", {})
    out = []
    for i, e in enumerate(raw.get("elements", [])):
        meta = dict(e.get("meta") or {}, dom=True)  # the web defect rules read DOM facts
        if e.get("tag") is not None:
            meta["tag_id"] = e["tag"]
        out.append(
            Element(
                id=i,
                kind=e["kind"],
                bbox=tuple(float(v) for v in e["bbox"]),
                parent=e.get("parent"),
                text=e.get("text"),
                color=tuple(int(v) for v in e["color"]) if e.get("color") else None,
                background=tuple(int(v) for v in e["background"]) if e.get("background") else None,
                font_size=e.get("font_size"),
                source=element_source(smap, e, tag_rules),
                name=e.get("name", ""),
                meta=meta,
            )
        )
    return out


def render_web(completion: str, **kwargs: Any) -> RenderResult:
    """One-shot convenience: start a renderer, render, shut it down.

    Keyword arguments go to :class:`WebRenderer` except ``extract`` and ``base_dir``."""
    extract = kwargs.pop("extract", True)
    base_dir = kwargs.pop("base_dir", None)
    kwargs.setdefault("concurrency", 1)
    with WebRenderer(**kwargs) as renderer:
        return renderer.render(completion, extract=extract, base_dir=base_dir)
