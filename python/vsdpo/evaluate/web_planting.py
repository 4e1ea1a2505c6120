"""Planting known visual defects into working HTML pages.

Each planter takes a page's HTML and returns a :class:`~vsdpo.evaluate.planting.PlantedScript`
(the same record the chart planters use): a copy with one defect planted as whole new lines, and
those lines, so an evaluation can check that the defect engine finds the defect and blames a
planted line. Lines go in at the start of a line, so every original line keeps its text and
:meth:`PlantedScript.original_line` maps the copy's lines back exactly. Where a page is parsed
(:func:`vsdpo.render.web_source.trace_source`), it is never rendered.

* ``narrow_box`` (expects ``clipped_text`` or ``overflow``): a box 60 px wide holding a phrase
  that cannot wrap, at the top of the body;
* ``white_on_white`` (expects ``low_contrast``): a white paragraph on a white background;
* ``over_heading`` (expects ``overlap``): an absolutely positioned filled box (``z-index: 10``)
  over the first heading (``h1``..``h6``) with text, its bottom on a zero-height wrapper (two
  lines): inside the heading, after its text, when the end tag has a line of its own (the box
  then covers the heading's last 64 px whatever its margins), else right after the heading;
* ``negative_margin`` (expects ``overflow`` or ``clipped_text``): a paragraph pulled 400 px
  past the left edge by its margin;
* ``wide_element`` (expects ``overflow``): a 3000 px wide filled band.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vsdpo.artifact import DefectKind
from vsdpo.code import line_spans
from vsdpo.evaluate.planting import PlantedScript, Planter
from vsdpo.render.web_source import trace_source

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

NARROW_BOX = (
    '<div style="width: 60px">Quarterly&nbsp;results&nbsp;overview&nbsp;for&nbsp;all&nbsp;regions'
    "</div>"
)
WHITE_ON_WHITE = (
    '<p style="color: #ffffff; background-color: #ffffff">'
    "Note: preliminary figures, subject to revision</p>"
)
OVER_HEADING = (
    '<div style="position: relative; height: 0; margin: 0; padding: 0">',
    '<div style="position: absolute; left: 0; right: 0; bottom: 0; height: 64px; z-index: 10; '
    'background-color: #336699"></div></div>',
)
_END_TAG_LINE = re.compile(r"\s*</h[1-6]\s*>", re.IGNORECASE)
NEGATIVE_MARGIN = (
    '<p style="margin-left: -400px">This paragraph was pulled past the left edge of the page by a '
    "negative margin and cannot be read in full</p>"
)
WIDE_ELEMENT = '<div style="width: 3000px; background-color: #dde3ee">A very wide banner</div>'


def _insert_lines(html: str, before_line: int, new: tuple[str, ...], planter: str, kinds):
    """The copy with ``new`` as whole lines before 1-based line ``before_line``."""
    spans = line_spans(html)
    if not 1 <= before_line <= len(spans):
        return None
    m = _LINE_BREAK.search(html)
    newline = m.group(0) if m else "\n"
    at = spans[before_line - 1][0]
    block = "".join(line + newline for line in new)
    return PlantedScript(
        planter=planter,
        source=html[:at] + block + html[at:],
        lines=tuple(range(before_line, before_line + len(new))),
        expected_kinds=tuple(kinds),
        inserted_at=before_line,
        n_inserted=len(new),
    )


def _after_body(html: str, new: tuple[str, ...], planter: str, kinds) -> PlantedScript | None:
    """Insert at the start of the line after ``<body ...>`` (the top of the page)."""
    smap = trace_source(html)
    body = next((t for t in smap.tags if t.name == "body"), None)
    if body is None:
        return None
    return _insert_lines(html, body.start_tag_end_line + 1, new, planter, kinds)


def plant_narrow_box(html: str) -> PlantedScript | None:
    return _after_body(
        html, (NARROW_BOX,), "narrow_box", (DefectKind.CLIPPED_TEXT, DefectKind.OVERFLOW)
    )


def plant_white_on_white(html: str) -> PlantedScript | None:
    return _after_body(html, (WHITE_ON_WHITE,), "white_on_white", (DefectKind.LOW_CONTRAST,))


def plant_over_heading(html: str) -> PlantedScript | None:
    smap = trace_source(html)
    heading = next((t for t in smap.tags if re.fullmatch(r"h[1-6]", t.name) and t.texts), None)
    if heading is None:
        return None
    at = heading.end_line + 1
    spans = line_spans(html)
    last_text = max(b for _, b in heading.texts)
    if last_text < heading.end_line <= len(spans):
        start, end = spans[heading.end_line - 1]
        if _END_TAG_LINE.match(html, start, end):
            at = heading.end_line  # inside the heading, just before its end tag
    return _insert_lines(html, at, OVER_HEADING, "over_heading", (DefectKind.OVERLAP,))


def plant_negative_margin(html: str) -> PlantedScript | None:
    return _after_body(
        html,
        (NEGATIVE_MARGIN,),
        "negative_margin",
        (DefectKind.OVERFLOW, DefectKind.CLIPPED_TEXT),
    )


def plant_wide_element(html: str) -> PlantedScript | None:
    return _after_body(html, (WIDE_ELEMENT,), "wide_element", (DefectKind.OVERFLOW,))


def _planter(name: str, kinds: tuple[str, ...], fn: Callable, description: str) -> Planter:
    return Planter(name, kinds, fn, description)


WEB_PLANTERS: dict[str, Planter] = {
    p.name: p
    for p in (
        _planter(
            "narrow_box",
            (DefectKind.CLIPPED_TEXT, DefectKind.OVERFLOW),
            plant_narrow_box,
            "60 px box around a phrase that cannot wrap",
        ),
        _planter(
            "white_on_white",
            (DefectKind.LOW_CONTRAST,),
            plant_white_on_white,
            "white paragraph on white",
        ),
        _planter(
            "over_heading",
            (DefectKind.OVERLAP,),
            plant_over_heading,
            "absolutely positioned box over the first heading",
        ),
        _planter(
            "negative_margin",
            (DefectKind.OVERFLOW, DefectKind.CLIPPED_TEXT),
            plant_negative_margin,
            "paragraph pulled 400 px past the left edge",
        ),
        _planter(
            "wide_element",
            (DefectKind.OVERFLOW,),
            plant_wide_element,
            "3000 px wide band",
        ),
    )
}


def plant_page(name: str, html: str) -> PlantedScript | None:
    """Plant one named defect (``None`` when the page does not fit the planter)."""
    return WEB_PLANTERS[name].plant(html)
