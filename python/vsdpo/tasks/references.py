"""Reference images on demand: render each task's reference program once and keep the PNG.

The generated sets load without Chromium or LibreOffice, so their tasks carry no image
(``reference_image=None``); an experiment that compares against the reference picture (a
fidelity score, a VLM prompt) calls :func:`render_reference_images` first. Slide decks are stored
as one PNG with the slides stacked top to bottom.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vsdpo.tasks.task import Task


def image_path(out_dir: str | Path, task: Task) -> Path:
    """Where the reference image of ``task`` goes under ``out_dir``."""
    return Path(out_dir) / (re.sub(r"[^A-Za-z0-9_.-]+", "__", task.id) + ".png")


def render_reference_images(
    tasks: Sequence[Task],
    out_dir: str | Path,
    *,
    renderer: Any | None = None,
    overwrite: bool = False,
    workers: int = 2,
) -> list[Task]:
    """``tasks`` with ``reference_image`` set to a PNG of their rendered reference program.

    Tasks that already have an image are kept as they are, and a PNG already under ``out_dir``
    is reused unless ``overwrite``. ``renderer``: a started renderer of the tasks' one domain
    (else one is opened for the call). A reference that fails to render raises RuntimeError:
    references are meant to render."""
    from PIL import Image

    out_dir = Path(out_dir)
    todo = [
        t
        for t in tasks
        if not t.reference_image and (overwrite or not image_path(out_dir, t).is_file())
    ]
    if todo:
        domains = {t.domain for t in todo}
        if len(domains) != 1:
            raise ValueError(f"render one domain at a time, got {sorted(domains)}")
        domain = domains.pop()
        out_dir.mkdir(parents=True, exist_ok=True)
        if renderer is None:
            from vsdpo.render import open_renderer

            with open_renderer(domain, workers=workers) as opened:
                results = _render(opened, domain, todo)
        else:
            results = _render(renderer, domain, todo)
        failed = [(t.id, r.error) for t, r in zip(todo, results) if not r.ok]
        if failed:
            raise RuntimeError(f"{len(failed)} reference(s) failed to render: {failed[:3]}")
        for t, r in zip(todo, results):
            Image.fromarray(_picture(r)).save(image_path(out_dir, t))
    return [
        t if t.reference_image else replace(t, reference_image=str(image_path(out_dir, t)))
        for t in tasks
    ]


def _render(renderer: Any, domain: str, tasks: Sequence[Task]) -> list[Any]:
    codes = [t.reference_code for t in tasks]
    if domain == "web":
        dirs = [t.meta.get("base_dir") for t in tasks]
        return renderer.render_many(codes, extract=False, base_dirs=dirs)
    return renderer.render_many(codes, extract=False)


def _picture(result: Any) -> np.ndarray:
    """The RGB image of a result; a deck's slides stacked top to bottom."""
    pages = [np.asarray(p) for p in (getattr(result, "pages", None) or [])]
    if len(pages) > 1:
        width = max(p.shape[1] for p in pages)
        padded = [
            np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0)), constant_values=255) for p in pages
        ]
        return np.concatenate(padded, axis=0)
    image = result.image
    if isinstance(image, (str, Path)):
        from PIL import Image

        return np.asarray(Image.open(image).convert("RGB"))
    return np.asarray(image)
