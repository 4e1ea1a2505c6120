"""The one-sentence messages of defects: who is involved, which lines, how bad.

Every message starts with the blamed lines ("line 12: ", "lines 3, 7: ") when any are known and
names the elements by :attr:`vsdpo.artifact.Element.name`, so a reader (or the teacher model)
knows what to change and where: ``"line 12: the x tick labels overlap each other (7 pairs)"``.
"""

from __future__ import annotations

from collections.abc import Iterable

from vsdpo.artifact import Element, ElementKind

_EDGE_PHRASES = (
    "left edges",
    "right edges",
    "horizontal centres",
    "top edges",
    "bottom edges",
    "vertical centres",
)


def line_prefix(lines: Iterable[int], max_lines: int = 4) -> str:
    """``"line 12: "``, ``"lines 3, 7: "``, ``"lines 1, 2, 3, 4 and 5 more: "`` or ``""``.

    >>> line_prefix([12]), line_prefix([7, 3]), line_prefix([]), line_prefix(range(1, 7), 3)
    ('line 12: ', 'lines 3, 7: ', '', 'lines 1, 2, 3 and 3 more: ')
    """
    ls = sorted(set(lines))
    if not ls:
        return ""
    if len(ls) == 1:
        return f"line {ls[0]}: "
    shown = ", ".join(str(n) for n in ls[:max_lines])
    more = f" and {len(ls) - max_lines} more" if len(ls) > max_lines else ""
    return f"lines {shown}{more}: "


def element_name(element: Element) -> str:
    """The element as a noun phrase: ``"the x tick label '2019'"``, ``"the legend"``.

    >>> element_name(Element(0, "title", (0, 0, 1, 1), text="Sales"))
    "the title 'Sales'"
    """
    name = element.name.strip()
    if not name:
        name = element.kind.replace("_", " ")
        if element.text:
            text = " ".join(element.text.split())
            name += f" '{text[:40]}{'…' if len(text) > 40 else ''}'"
    return name if name.lower().startswith(("the ", "a ", "an ")) else f"the {name}"


def family_name(element: Element, plural: bool) -> str:
    """A name for the family an element belongs to (the tick labels of one axis, a chart's data).

    With ``plural=False`` the single element is named instead."""
    if not plural:
        return element_name(element)
    if element.meta.get("family_name"):  # e.g. the lines of one slide text frame
        return str(element.meta["family_name"])
    if element.kind in (ElementKind.LEGEND, ElementKind.LEGEND_TEXT):
        return "the legend"
    if element.kind == ElementKind.TICK_LABEL:
        axis = element.meta.get("axis")
        return f"the {axis} tick labels" if axis in ("x", "y") else "the tick labels"
    if element.kind in (
        ElementKind.LINE,
        ElementKind.PATCH,
        ElementKind.COLLECTION,
        ElementKind.IMAGE,
    ):
        return "the plotted data"
    return f"the {element.kind.replace('_', ' ')}s"


def pairs_phrase(n: int) -> str:
    return f"{n} pair{'s' if n != 1 else ''}"


def percent(fraction: float) -> str:
    return f"{round(100 * fraction):d} %"


def overlap_each_other(prefix: str, family: str, n_pairs: int) -> str:
    return f"{prefix}{family} overlap each other ({pairs_phrase(n_pairs)})"


def overlap_between(
    prefix: str, a: str, a_plural: bool, b: str, n_pairs: int, covered: float
) -> str:
    verb = "overlap" if a_plural else "overlaps"
    detail = f"{pairs_phrase(n_pairs)}, " if n_pairs > 1 else ""
    return f"{prefix}{a} {verb} {b} ({detail}{percent(covered)} of the smaller box)"


def covers_text(
    prefix: str, cover: str, text: str, text_plural: bool, n_pairs: int, covered: float
) -> str:
    detail = f"{pairs_phrase(n_pairs)}, " if n_pairs > 1 else ""
    what = "the text" if not text_plural else "a label"
    return f"{prefix}{cover} covers {text} ({detail}up to {percent(covered)} of {what})"


def runs_into(
    prefix: str, text: str, text_plural: bool, axes: str, n_pairs: int, covered: float
) -> str:
    verb = "run" if text_plural else "runs"
    detail = f"{pairs_phrase(n_pairs)}, " if n_pairs > 1 else ""
    what = "a label" if text_plural else "the text"
    return f"{prefix}{text} {verb} into the plot area of {axes} ({detail}up to {percent(covered)} of {what})"


def legend_over_data(prefix: str, legend: str, covered: float | None, n_artists: int) -> str:
    if covered is not None:
        detail = f"{percent(covered)} of the legend"
    else:
        detail = f"{n_artists} data artist{'s' if n_artists != 1 else ''} under it"
    return f"{prefix}{legend} covers the plotted data ({detail})"


def clipped(prefix: str, subject: str, plural: bool, n: int, container: str, hidden: float) -> str:
    if plural:
        return (
            f"{prefix}{n} of {subject} are cut off by {container} (up to {percent(hidden)} hidden)"
        )
    return f"{prefix}{subject} is cut off by {container} ({percent(hidden)} hidden)"


def overflow(prefix: str, subject: str, plural: bool, n: int, outside: float) -> str:
    if plural:
        return f"{prefix}{n} of {subject} run off the canvas (up to {percent(outside)} outside)"
    return f"{prefix}{subject} runs off the canvas ({percent(outside)} outside)"


def near_miss(prefix: str, a: str, b: str, edge: int, delta: float, n_pairs: int) -> str:
    more = f"; {n_pairs - 1} more pair{'s' if n_pairs > 2 else ''} like this" if n_pairs > 1 else ""
    return (
        f"{prefix}{a} and {b} are almost but not exactly aligned "
        f"({_EDGE_PHRASES[edge]} {abs(delta):.0f} px apart{more})"
    )


def low_contrast(
    prefix: str, subject: str, plural: bool, n: int, ratio: float, required: float
) -> str:
    verb, count = ("have", f"; {n} labels") if plural else ("has", "")
    return (
        f"{prefix}{subject} {verb} low contrast against the background "
        f"(contrast ratio {ratio:.2f}, needs {required:g}{count})"
    )


def empty(domain: str) -> str:
    what = {"chart": "no text and no data", "web": "no visible content", "slides": "no content"}
    return f"the code ran but drew nothing ({what.get(domain, 'no content')})"


# --- slides ----------------------------------------------------------------------------------


def text_overflows_box(
    prefix: str, frame: str, px: float, sides: list[str], off_slide: bool
) -> str:
    """``"line 12: the text of text box 'TextBox 3' overflows its box by 38 px (bottom)"``."""
    where = f" ({', '.join(sides)})" if sides else ""
    off = " and runs off the slide" if off_slide else ""
    return f"{prefix}{frame} overflows its box by {px:.0f} px{where}{off}"


def off_slide(prefix: str, shape: str, outside: float, where: list[str]) -> str:
    detail = f": {', '.join(where)}" if where else ""
    return f"{prefix}{shape} runs off the slide ({percent(outside)} outside{detail})"


def small_font(prefix: str, text: str, size_pt: float, min_pt: float, shrunk: bool) -> str:
    how = " (shrunk to fit its box)" if shrunk else ""
    return (
        f"{prefix}{text} is set in {size_pt:.3g} pt{how}, too small to read at presentation "
        f"size (at least {min_pt:.3g} pt)"
    )


def empty_placeholder(prefix: str, shape: str, slide: int) -> str:
    return f"{prefix}{shape} on slide {slide} is empty (fill it or remove it)"


def shapes_overlap(prefix: str, a: str, b: str, covered: float) -> str:
    return f"{prefix}{a} and {b} overlap ({percent(covered)} of the smaller one)"


def text_straddles(prefix: str, text: str, shape: str, covered: float) -> str:
    return f"{prefix}{text} runs over the edge of {shape} ({percent(covered)} of a line over it)"
