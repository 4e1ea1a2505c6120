"""The shared vocabulary: what a renderer produces and what the defect engine reports.

Every renderer (chart, web, slides) turns a program into a :class:`RenderResult`: an image,
the :class:`Element` s it drew (each with its pixel box and the code lines that made it), or an
:class:`ExecError`. The defect engine turns the elements of a whole rollout group into
:class:`Defect` s, each blamed on code lines. Credit assignment and feedback only ever read these
types, so they are the contract between the renderers and the trainer.

Coordinates are canvas pixels, origin top-left, y growing downward; boxes are
``(x0, y0, x1, y1)`` with ``x0 <= x1`` and ``y0 <= y1``. Code lines are 1-based and refer to the
extracted *code*, not the completion it came from (see :mod:`vsdpo.code` for the mapping).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

BBox = tuple[float, float, float, float]
RGB = tuple[int, int, int]
LineRange = tuple[int, int]  # 1-based, inclusive at both ends


class ElementKind:
    """Names for ``Element.kind``. Renderers may add their own; these are the ones the engine knows."""

    TEXT = "text"  # free text: annotations, fig.text, a web text run, a slide paragraph
    TITLE = "title"
    SUPTITLE = "suptitle"
    AXIS_LABEL = "axis_label"
    TICK_LABEL = "tick_label"
    LEGEND = "legend"
    LEGEND_TEXT = "legend_text"
    TABLE_CELL = "table_cell"
    AXES = "axes"
    COLORBAR = "colorbar"
    PATCH = "patch"
    LINE = "line"
    COLLECTION = "collection"
    IMAGE = "image"
    CONTAINER = "container"  # a web element box, a slide text frame, a table
    SHAPE = "shape"
    FIGURE = "figure"


#: kinds whose element carries readable text (overlap, clipping and contrast rules for text apply)
TEXT_KINDS = frozenset(
    {
        ElementKind.TEXT,
        ElementKind.TITLE,
        ElementKind.SUPTITLE,
        ElementKind.AXIS_LABEL,
        ElementKind.TICK_LABEL,
        ElementKind.LEGEND_TEXT,
        ElementKind.TABLE_CELL,
    }
)


class DefectKind:
    OVERLAP = "overlap"
    CLIPPED_TEXT = "clipped_text"
    OVERFLOW = "overflow"
    MISALIGNMENT = "misalignment"
    LOW_CONTRAST = "low_contrast"
    EXEC_ERROR = "exec_error"
    EMPTY = "empty"
    # slides: text set too small to read at presentation size; a placeholder left empty
    SMALL_FONT = "small_font"
    EMPTY_PLACEHOLDER = "empty_placeholder"

    ALL = (
        OVERLAP,
        CLIPPED_TEXT,
        OVERFLOW,
        MISALIGNMENT,
        LOW_CONTRAST,
        EXEC_ERROR,
        EMPTY,
        SMALL_FONT,
        EMPTY_PLACEHOLDER,
    )


@dataclass
class Element:
    """One drawn thing, with where it is and which code lines made it."""

    id: int
    kind: str
    bbox: BBox
    parent: int | None = None  # id of the element that should contain it (axes, figure, frame)
    text: str | None = None
    color: RGB | None = None  # text or stroke colour, when known
    background: RGB | None = None  # the colour declared behind it, when known
    font_size: float | None = None  # in canvas pixels
    source: list[LineRange] = field(default_factory=list)  # code lines that created or styled it
    page: int = 0  # slide index for decks; 0 for single-canvas artifacts
    name: str = ""  # a human label: "x tick label '2019'", "legend", "<h1> 'Welcome'"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def traced(self) -> bool:
        """True when at least one code line is known to have made or styled this element."""
        return bool(self.source)

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def lines(self) -> list[int]:
        """The individual code lines named by ``source``, sorted and de-duplicated."""
        return sorted({n for a, b in self.source for n in range(a, b + 1)})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bbox"] = [round(float(v), 2) for v in self.bbox]
        d["source"] = [list(r) for r in self.source]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Element:
        d = dict(d)
        d["bbox"] = tuple(float(v) for v in d["bbox"])
        d["source"] = [tuple(r) for r in d.get("source", [])]
        for key in ("color", "background"):
            if d.get(key) is not None:
                d[key] = tuple(int(v) for v in d[key])
        return cls(**d)


@dataclass
class ExecError:
    """Why a program produced no artifact."""

    type: str  # exception class name, or "Timeout", "MemoryLimit", "Crash", "NoOutput", ...
    message: str
    traceback: str = ""
    line: int | None = None  # the user-code line the error points at, when known

    def summary(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.type}: {self.message}".strip()


@dataclass
class RenderResult:
    """What rendering one program produced."""

    ok: bool
    domain: str  # "chart", "web" or "slides"
    code: str = ""
    code_offset: int = 0  # character offset of ``code`` inside the completion it came from
    error: ExecError | None = None
    image: np.ndarray | None = None  # RGB uint8 [H, W, 3] of the (first) canvas
    pages: list[np.ndarray] = field(default_factory=list)  # one image per slide, for decks
    canvas: tuple[int, int] = (0, 0)  # (width, height) in pixels
    elements: list[Element] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    stdout: str = ""

    @property
    def traced_fraction(self) -> float:
        """Fraction of text elements traced to at least one code line (1.0 when there are none)."""
        texts = [e for e in self.elements if e.is_text]
        return sum(e.traced for e in texts) / len(texts) if texts else 1.0

    def element(self, element_id: int) -> Element:
        for e in self.elements:
            if e.id == element_id:
                return e
        raise KeyError(f"no element with id {element_id}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the image is left out; renderers save it as PNG beside the JSON)."""
        return {
            "ok": self.ok,
            "domain": self.domain,
            "code_offset": self.code_offset,
            "error": dataclasses.asdict(self.error) if self.error else None,
            "canvas": list(self.canvas),
            "elements": [e.to_dict() for e in self.elements],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "traced_fraction": round(self.traced_fraction, 4),
        }


@dataclass
class Defect:
    """One visual problem, blamed on code lines."""

    kind: str  # a DefectKind value
    severity: float  # in [0, 1]
    message: str  # one sentence naming the element and the line
    elements: list[int] = field(default_factory=list)  # element ids involved
    region: BBox | None = None  # where to outline it on the image
    lines: list[int] = field(default_factory=list)  # 1-based code lines blamed
    page: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.severity <= 1.0:
            raise ValueError(f"Defect.severity must be in [0, 1], got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.region is not None:
            d["region"] = [round(float(v), 2) for v in self.region]
        d["severity"] = round(float(self.severity), 4)
        return d
