"""Renderers: programs (completions) in, :class:`~vsdpo.artifact.RenderResult` out.

``chart`` runs matplotlib in the sandbox (:mod:`vsdpo.render.chart`), ``web`` renders HTML in a
persistent Chromium (:mod:`vsdpo.render.web`), ``slides`` runs python-pptx in the sandbox and
renders the deck with a persistent LibreOffice (:mod:`vsdpo.render.slides`). Every renderer has
``render_many(completions) -> list[RenderResult]`` and is a context manager.
"""

from __future__ import annotations

from typing import Any

DOMAINS = ("chart", "web", "slides")


def open_renderer(domain: str, workers: int = 2, **kwargs: Any) -> Any:
    """A started renderer for ``domain`` with ``workers`` programs rendered at once."""
    if domain == "chart":
        from vsdpo.render.chart import ChartRenderer

        return ChartRenderer(workers=workers, **kwargs)
    if domain == "web":
        from vsdpo.render.web import WebRenderer

        return WebRenderer(concurrency=workers, **kwargs)
    if domain == "slides":
        from vsdpo.render.slides import SlidesRenderer

        return SlidesRenderer(workers=workers, **kwargs)
    raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
