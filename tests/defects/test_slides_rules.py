"""Slide rules on hand-made slide elements (no LibreOffice needed)."""

from __future__ import annotations

import numpy as np

from vsdpo.artifact import Element, RenderResult
from vsdpo.defects import detect_defects

W, H = 1280, 720


def slide(*shapes) -> list[Element]:
    return [Element(0, "figure", (0, 0, W, H), name="slide 1"), *shapes]


def shape(id_, box, *, z, filled=False, has_text=True, line=5, name=None, **meta) -> Element:
    return Element(
        id_, "shape", box, parent=0, source=[(line, line)], name=name or f"text box 'S{id_}'",
        meta={"slide": True, "z": z, "filled": filled, "has_text": has_text,
              "lines_by": {"create": [line], "geometry": [line + 100]}, **meta},
    )  # fmt: skip


def frame(id_, shape_el, *, extent=None, line=5, text_line=None) -> Element:
    text_lines = [line] + ([text_line] if text_line else [])
    return Element(
        id_, "container", shape_el.bbox, parent=shape_el.id, name=f"the text of {shape_el.name}",
        source=[(n, n) for n in text_lines],
        meta={"text_frame": True, "extent": extent, "rotation": 0.0,
              "lines_by": {"create": [line], "text": text_lines}},
    )  # fmt: skip


def line_(id_, frame_el, box, *, pt=20.0, font_line=None, colour=(0, 0, 0)) -> Element:
    return Element(
        id_, "text", box, parent=frame_el.id, text="Some text", color=colour,
        font_size=pt * 96 / 72, source=[(7, 7)],
        meta={"family": frame_el.id, "font_pt": pt, "declared_pt": pt,
              "lines_by": {"font": [font_line] if font_line else [], "text": [7]}},
    )  # fmt: skip


def run(elements, image=None) -> list:
    image = np.full((H, W, 3), 255, np.uint8) if image is None else image
    r = RenderResult(
        ok=True, domain="slides", image=image, pages=[image], canvas=(W, H), elements=list(elements)
    )
    return detect_defects([r])[0]


def kinds(defects) -> dict:
    return {d.kind: d for d in defects}


def test_clean_slide_has_no_defect():
    a = shape(1, (96, 96, 576, 192), z=0, line=5)
    fa = frame(2, a, extent=[110, 110, 400, 150])
    la = line_(3, fa, (110, 110, 400, 150))
    b = shape(4, (96, 288, 576, 384), z=1, line=6)
    fb = frame(5, b, extent=[110, 300, 400, 340])
    lb = line_(6, fb, (110, 300, 400, 340))
    assert run(slide(a, fa, la, b, fb, lb)) == []


def test_text_overflowing_its_box_is_blamed_on_the_frame_lines():
    a = shape(1, (96, 96, 288, 144), z=0, line=5)
    fa = frame(2, a, extent=[100, 100, 280, 260], text_line=9)
    la = line_(3, fa, (100, 100, 280, 260))
    d = kinds(run(slide(a, fa, la)))["clipped_text"]
    assert 9 in d.lines and "overflows its box by 116 px (bottom)" in d.message


def test_filled_shape_above_text_covers_it_but_a_card_below_does_not():
    text_shape = shape(1, (96, 96, 576, 192), z=1, line=5)
    f = frame(2, text_shape, extent=[110, 110, 400, 150])
    t = line_(3, f, (110, 110, 400, 150))
    card = shape(
        4, (80, 80, 592, 208), z=0, filled=True, has_text=False, line=8, name="shape 'Card'"
    )
    assert run(slide(text_shape, f, t, card)) == []  # text on a card: by design
    cover = shape(
        4, (300, 100, 700, 200), z=2, filled=True, has_text=False, line=8, name="picture 'P'"
    )
    d = kinds(run(slide(text_shape, f, t, cover)))["overlap"]
    assert "covers" in d.message and 108 in d.lines and 105 in d.lines


def test_text_lines_of_two_boxes_overlap():
    a = shape(1, (96, 96, 576, 192), z=0, line=5)
    fa = frame(2, a, extent=[110, 110, 400, 150])
    la = line_(3, fa, (110, 110, 400, 150))
    b = shape(4, (200, 120, 680, 216), z=1, line=6)
    fb = frame(5, b, extent=[210, 125, 500, 165], text_line=12)
    lb = line_(6, fb, (210, 125, 500, 165))
    d = kinds(run(slide(a, fa, la, b, fb, lb)))["overlap"]
    assert {5, 6, 12, 105, 106} <= set(d.lines)


def test_shape_off_the_slide_small_font_and_empty_placeholder():
    a = shape(1, (1000, 96, 1500, 192), z=0, line=5)
    fa = frame(2, a, extent=[1010, 110, 1200, 150])
    la = line_(3, fa, (1010, 110, 1200, 150), pt=8.0, font_line=21)
    empty = shape(4, (96, 400, 576, 500), z=1, has_text=False, line=30, empty_placeholder=True,
                  name="body placeholder 'Content Placeholder 2'")  # fmt: skip
    found = kinds(run(slide(a, fa, la, empty)))
    assert "runs off the slide" in found["overflow"].message and 105 in found["overflow"].lines
    assert found["small_font"].lines == [21] and "8 pt" in found["small_font"].message
    assert found["empty_placeholder"].lines == [30]


def test_near_miss_alignment_between_visible_shapes_only():
    a = shape(1, (96, 96, 576, 192), z=0, line=5)
    fa = frame(2, a, extent=[110, 110, 400, 150])
    la = line_(3, fa, (110, 110, 400, 150))
    b = shape(4, (99, 240, 579, 336), z=1, line=6)  # 3 px off a's left edge
    fb = frame(5, b, extent=[113, 250, 300, 290])
    lb = line_(6, fb, (113, 250, 300, 290))
    assert "misalignment" in kinds(run(slide(a, fa, la, b, fb, lb)))
    invisible = shape(4, (99, 240, 579, 336), z=1, line=6, has_text=False)
    assert "misalignment" not in kinds(run(slide(a, fa, la, invisible)))
