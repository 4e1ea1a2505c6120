"""Tests of the renderers. ``render_code`` runs the chart runner in-process on trusted programs."""

from __future__ import annotations

import os
import tempfile
import textwrap

from vsdpo.artifact import Element, RenderResult


def render_code(code: str, **args: object) -> RenderResult:
    """Run a trusted matplotlib program through the chart runner in this process (in a temp cwd)."""
    from vsdpo.render.chart import from_runner_output
    from vsdpo.render.chart_runner import run

    code = textwrap.dedent(code).lstrip("\n")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            value = run(code, dict(args))
        finally:
            os.chdir(cwd)
    return from_runner_output(value, code, 0)


def only(result: RenderResult, kind: str, text: str | None = None) -> Element:
    """The single element of ``kind`` (and ``text``), failing loudly otherwise."""
    found = [e for e in result.elements if e.kind == kind and (text is None or e.text == text)]
    assert len(found) == 1, f"expected one {kind} {text!r}, found {[e.name for e in found]}"
    return found[0]


def of_kind(result: RenderResult, kind: str, **meta: object) -> list[Element]:
    return [
        e
        for e in result.elements
        if e.kind == kind and all(e.meta.get(k) == v for k, v in meta.items())
    ]
