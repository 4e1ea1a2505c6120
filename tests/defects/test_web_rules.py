"""The web-page rules (vsdpo.defects.web) on hand-made page layouts, as the web renderer emits them."""

from __future__ import annotations

from vsdpo.artifact import DefectKind, Element
from vsdpo.defects import detect_defects

from . import render

CANVAS = (1280, 900)
DOM = {"dom": True}  # made by the web renderer


def page(*elements: Element) -> list[Element]:
    """<html> (0) > <body> (1) > elements, as the renderer lays a page out."""
    return [
        Element(0, "container", (0, 0, 1280, 900), source=[(1, 40)], name="<html>", meta=DOM),
        Element(
            1, "container", (0, 0, 1280, 900), parent=0, source=[(5, 39)], name="<body>", meta=DOM
        ),
        *elements,
    ]


def box(id_, bbox, *, parent=1, lines=(10, 12), fill=0.0, **meta) -> Element:
    return Element(
        id_,
        "container",
        bbox,
        parent=parent,
        source=[lines],
        name=f"<div#b{id_}>",
        meta={"fill": fill, "position": "static", **DOM, **meta},
    )


def run(id_, bbox, *, parent, line=11, text="some words", **meta) -> Element:
    return Element(
        id_,
        "text",
        bbox,
        parent=parent,
        text=text,
        color=(0, 0, 0),
        background=(255, 255, 255),
        font_size=16.0,
        source=[(line, line)],
        meta={"family": parent, **DOM, **meta},
    )


def defects_of(*elements: Element, kinds=(DefectKind.OVERLAP, DefectKind.CLIPPED_TEXT)):
    result = render(page(*elements), domain="web", canvas=CANVAS)
    return [d for d in detect_defects([result])[0] if d.kind in kinds]


def test_a_filled_box_over_a_heading_is_reported_with_both_lines():
    heading = box(2, (0, 0, 600, 40), lines=(10, 10))
    cover = box(3, (0, 0, 300, 60), lines=(20, 22), fill=1.0, position="absolute")
    words = run(4, (0, 5, 240, 35), parent=2, line=10, covered_by=3, covered_fraction=1.0)
    found = defects_of(heading, cover, words)
    assert len(found) == 1
    d = found[0]
    assert d.kind == DefectKind.OVERLAP
    assert {10, 20, 21, 22} <= set(d.lines)
    assert "covers" in d.message and "<div#b3>" in d.message


def test_a_transparent_or_fixed_cover_is_not_a_defect():
    heading = box(2, (0, 0, 600, 40))
    glass = box(3, (0, 0, 300, 60), fill=0.0, position="absolute")
    words = run(4, (0, 5, 240, 35), parent=2, covered_by=3, covered_fraction=1.0)
    assert defects_of(heading, glass, words) == []
    banner = box(3, (0, 0, 300, 60), fill=1.0, position="fixed")
    under = run(4, (0, 5, 240, 35), parent=2, covered_by=3, covered_fraction=1.0)
    under.meta["covered_by_fixed"] = True
    assert defects_of(heading, banner, under) == []


def test_text_over_text_of_different_boxes_and_not_within_one_box():
    a, b = box(2, (0, 0, 400, 40), lines=(10, 10)), box(3, (100, 10, 500, 50), lines=(30, 30))
    ra = run(4, (0, 5, 300, 30), parent=2, line=10)
    rb = run(5, (100, 15, 400, 40), parent=3, line=30)
    found = defects_of(a, b, ra, rb)
    assert [d.kind for d in found] == [DefectKind.OVERLAP]
    assert set(found[0].lines) == {10, 30}
    # two runs of one box touching (a bold word next to its sentence) are not a collision
    same = run(5, (295, 5, 400, 30), parent=2, line=10)
    assert defects_of(a, ra, same) == []


def test_text_too_wide_for_its_fixed_width_box_blames_the_box():
    narrow = box(2, (0, 0, 40, 40), lines=(7, 9), fixed_width=True)
    words = run(3, (0, 0, 150, 20), parent=2, line=20, text="Supercalifragilistic")
    found = defects_of(narrow, words)
    assert len(found) == 1
    d = found[0]
    assert d.kind == DefectKind.CLIPPED_TEXT
    assert {7, 8, 9, 20} <= set(d.lines)
    assert "overflows" in d.message and "width" in d.message


def test_text_inside_its_box_or_in_a_clipping_box_is_not_reported_as_overflowing():
    roomy = box(2, (0, 0, 400, 40))
    assert defects_of(roomy, run(3, (0, 0, 150, 20), parent=2)) == []
    # a box that clips leaves it to the clipped-text rule, which needs the clip box
    clipping = box(2, (0, 0, 40, 40), clips=True)
    clipped = run(3, (0, 0, 150, 20), parent=2, clip_on=True, clip_box=[0, 0, 40, 40])
    found = defects_of(clipping, clipped)
    assert [d.message for d in found if "overflows" in d.message] == []
    assert any("cut off" in d.message for d in found)


def test_a_wide_element_is_reported_once_at_the_outermost_box():
    wide = box(2, (0, 100, 3000, 200), lines=(15, 15))
    inner = box(3, (0, 100, 3000, 150), parent=2, lines=(16, 16), fill=1.0)
    words = run(4, (0, 160, 2500, 180), parent=2, line=17)
    found = defects_of(wide, inner, words, kinds=(DefectKind.OVERFLOW,))
    assert len(found) == 1
    assert 15 in found[0].lines
    assert "runs off the page" in found[0].message and "right edge" in found[0].message


def test_off_page_ignores_hidden_on_purpose_and_invisible_wrappers():
    skip_link = run(2, (-9999, 0, -9900, 20), parent=1)
    # a grid row's negative margin: the transparent row pokes out, its content does not
    row = box(3, (-10, 100, 1290, 200))
    cell = box(4, (5, 100, 600, 200), parent=3, fill=1.0)
    cell_text = run(5, (10, 110, 300, 130), parent=4)
    assert defects_of(skip_link, row, cell, cell_text, kinds=(DefectKind.OVERFLOW,)) == []


def test_negative_margin_pushing_text_off_the_left_edge():
    pushed = box(2, (-300, 100, 980, 200), lines=(25, 27))
    words = run(3, (-300, 110, 400, 130), parent=2, line=26)
    found = defects_of(pushed, words, kinds=(DefectKind.OVERFLOW,))
    assert len(found) == 1 and {25, 26, 27} <= set(found[0].lines)
    assert "left edge" in found[0].message


def test_generic_overlap_rules_skip_web_boxes():
    # a float inside a block's box: boxes overlap, nothing is wrong (and nothing is reported)
    block = box(2, (0, 0, 800, 300), fill=1.0)
    floated = Element(
        3, "image", (0, 0, 200, 200), parent=1, source=[(30, 30)], name="<img>", meta=DOM
    )
    assert defects_of(block, floated) == []


def test_a_page_scrolls_sideways_unless_the_viewport_hides_it():
    from vsdpo.defects.web import page_scrolls_sideways

    wide = {"scroll_width": 3000, "viewport": [1280, 720], "viewport_overflow_x": "visible"}
    assert page_scrolls_sideways(wide)
    assert page_scrolls_sideways(dict(wide, viewport_overflow_x="auto"))
    assert not page_scrolls_sideways(dict(wide, viewport_overflow_x="hidden"))
    assert not page_scrolls_sideways(dict(wide, viewport_overflow_x="clip"))
    assert not page_scrolls_sideways(dict(wide, scroll_width=1282))  # within the margin
    assert page_scrolls_sideways(dict(wide, scroll_width=1282), margin_px=1.0)
    assert not page_scrolls_sideways({"scroll_width": 3000})  # no viewport recorded
