"""Planting known layout defects into working python-pptx programs.

Each planter returns a :class:`~vsdpo.evaluate.planting.PlantedScript` (the record the chart and
web planters use): a copy of the program with new lines inserted just before its last
``.save(...)`` statement (or at the end), and those lines. The planted code finds what it needs
at run time (the deck variable is the one the program saves; text boxes are found by the
``Title``/``Body`` names of :mod:`vsdpo.evaluate.slide_decks`, falling back to any shape with
text), so the inserted lines are the only change:

* ``long_text`` (expects ``clipped_text``): a 1.5 x 0.4 in text box holding a long paragraph;
* ``shape_over`` (expects ``overlap``): on the slide with the most text boxes, the last one
  moved onto the first (offset by an eighth of its size);
* ``off_slide`` (expects ``overflow``): a text box moved two thirds past the right edge;
* ``small_font`` (expects ``small_font``): every run of a body text box set to 8 pt;
* ``light_grey`` (expects ``low_contrast``): every run of a body text box set to light grey
  (#D9D9D9) on its light background.
"""

from __future__ import annotations

import ast
import re

from vsdpo.artifact import DefectKind
from vsdpo.code import line_spans
from vsdpo.evaluate.planting import PlantedScript, Planter

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
LONG_TEXT = (
    "This paragraph explains the quarterly figures in far more detail than a slide can hold, "
    "and it keeps going well past the bottom of its small box"
)


def _save_point(source: str) -> tuple[int, str, str] | None:
    """(1-based line to insert before, indentation, deck expression) of the last ``X.save(...)``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    saves = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "save"
        and isinstance(node.func.value, ast.Name)
    ]
    lines = [source[s:e] for s, e in line_spans(source)]
    if not saves:
        return None
    last = max(saves, key=lambda c: (c.lineno, c.col_offset))
    stmt = next(
        (
            s
            for s in ast.walk(tree)
            if isinstance(s, ast.stmt)
            and s.lineno <= last.lineno <= (s.end_lineno or s.lineno)
            and not hasattr(s, "body")
        ),
        None,
    )
    line = stmt.lineno if stmt is not None else last.lineno
    text = lines[line - 1]
    indent = text[: len(text) - len(text.lstrip())]
    return line, indent, last.func.value.id


def _insert(
    source: str, planter: str, kinds: tuple[str, ...], body: list[str]
) -> PlantedScript | None:
    point = _save_point(source)
    if point is None:
        return None
    line, indent, prs = point
    m = _LINE_BREAK.search(source)
    newline = m.group(0) if m else "\n"
    new = [indent + b.format(prs=prs) for b in body]
    at = line_spans(source)[line - 1][0]
    block = "".join(x + newline for x in new)
    return PlantedScript(
        planter=planter,
        source=source[:at] + block + source[at:],
        lines=tuple(range(line, line + len(new))),
        expected_kinds=kinds,
        inserted_at=line,
        n_inserted=len(new),
    )


def _body_pick() -> list[str]:
    """Lines that set ``_sh`` to a body text box (else any shape with text) of the deck."""
    return [
        "_bodies = [sh for s in {prs}.slides for sh in s.shapes if sh.has_text_frame and sh.text_frame.text.strip()]",
        "_sh = next((sh for sh in _bodies if sh.name.startswith('Body')), _bodies[-1])",
    ]


def plant_long_text(source: str) -> PlantedScript | None:
    return _insert(
        source,
        "long_text",
        (DefectKind.CLIPPED_TEXT,),
        [
            "from pptx.util import Inches as _In, Pt as _Pt",
            "_tb = {prs}.slides[-1].shapes.add_textbox(_In(1), _In(1.75), _In(1.5), _In(0.4))",
            "_tb.text_frame.word_wrap = True",
            f"_tb.text_frame.text = {LONG_TEXT!r}",
            "_tb.text_frame.paragraphs[0].font.size = _Pt(18)",
        ],
    )


def plant_shape_over(source: str) -> PlantedScript | None:
    return _insert(
        source,
        "shape_over",
        (DefectKind.OVERLAP,),
        [
            "_count = lambda s: sum(1 for sh in s.shapes if sh.has_text_frame and sh.text_frame.text.strip())",
            "_s = max({prs}.slides, key=_count)",
            "_t = [sh for sh in _s.shapes if sh.has_text_frame and sh.text_frame.text.strip()]",
            "_t[-1].left, _t[-1].top = _t[1].left + _t[1].width // 8, _t[1].top + _t[1].height // 8",
        ],
    )


def plant_off_slide(source: str) -> PlantedScript | None:
    return _insert(
        source,
        "off_slide",
        (DefectKind.OVERFLOW,),
        [*_body_pick(), "_sh.left = {prs}.slide_width - _sh.width // 3"],
    )


def plant_small_font(source: str) -> PlantedScript | None:
    return _insert(
        source,
        "small_font",
        (DefectKind.SMALL_FONT,),
        [
            "from pptx.util import Pt as _Pt",
            *_body_pick(),
            "_ = [setattr(r.font, 'size', _Pt(8)) for p in _sh.text_frame.paragraphs for r in p.runs]",
        ],
    )


def plant_light_grey(source: str) -> PlantedScript | None:
    return _insert(
        source,
        "light_grey",
        (DefectKind.LOW_CONTRAST,),
        [
            "from pptx.dml.color import RGBColor as _RGB",
            *_body_pick(),
            "_ = [setattr(r.font.color, 'rgb', _RGB(0xD9, 0xD9, 0xD9)) for p in _sh.text_frame.paragraphs for r in p.runs]",
        ],
    )


SLIDE_PLANTERS: dict[str, Planter] = {
    p.name: p
    for p in (
        Planter(
            "long_text", (DefectKind.CLIPPED_TEXT,), plant_long_text, "long text in a small box"
        ),
        Planter(
            "shape_over", (DefectKind.OVERLAP,), plant_shape_over, "a text box moved over another"
        ),
        Planter(
            "off_slide", (DefectKind.OVERFLOW,), plant_off_slide, "a text box moved off the slide"
        ),
        Planter("small_font", (DefectKind.SMALL_FONT,), plant_small_font, "8 pt font"),
        Planter(
            "light_grey", (DefectKind.LOW_CONTRAST,), plant_light_grey, "light grey text on white"
        ),
    )
}


def plant_deck(name: str, source: str) -> PlantedScript | None:
    """Plant one named defect (``None`` when the program has no ``.save(...)`` to plant before)."""
    return SLIDE_PLANTERS[name].plant(source)
