"""Builders of hand-made renders for the defect engine tests."""

from __future__ import annotations

import numpy as np

from vsdpo.artifact import Element, RenderResult

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def blank(width: int = 640, height: int = 480, colour=WHITE) -> np.ndarray:
    return np.full((height, width, 3), colour, dtype=np.uint8)


def render(elements, *, image=None, domain="chart", canvas=(640, 480)) -> RenderResult:
    """A successful render of ``elements`` on a white canvas (or ``image``)."""
    if image is None:
        image = blank(*canvas)
    return RenderResult(ok=True, domain=domain, image=image, canvas=canvas, elements=list(elements))


def figure_and_axes(axes_box=(80, 50, 600, 420)) -> list[Element]:
    """A figure (id 0) holding one axes (id 1), as the chart renderer lays them out."""
    return [
        Element(0, "figure", (0, 0, 640, 480), name="figure"),
        Element(1, "axes", axes_box, parent=0, source=[(3, 3)], name="axes"),
    ]


def text(id_, box, *, kind="text", parent=1, line=10, label="label", **kwargs) -> Element:
    kwargs.setdefault("color", BLACK)
    kwargs.setdefault("font_size", 12.0)
    source = [(line, line)] if line else []
    return Element(id_, kind, box, parent=parent, text=label, source=source, **kwargs)


def tick(id_, x0, *, width=40, y0=425, axis="x", line=7, rotation=0.0, label=None) -> Element:
    return text(
        id_,
        (x0, y0, x0 + width, y0 + 14),
        kind="tick_label",
        line=line,
        label=label or f"tick {id_}",
        name=f"{axis} tick label 'tick {id_}'",
        meta={"axis": axis, "rotation": rotation},
    )
