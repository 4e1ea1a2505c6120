"""Each defect rule of metrics.md section 4 on hand-built elements, at and around its thresholds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsdpo.artifact import Defect, Element, ExecError, RenderResult
from vsdpo.defects import DefectConfig, detect_defects
from vsdpo.defects.contrast import contrast_ratio

from . import BLACK, blank, figure_and_axes, render, text, tick


def defects_of(
    result: RenderResult, kind: str | None = None, config: DefectConfig | None = None
) -> list[Defect]:
    found = detect_defects([result], config)[0]
    for d in found:
        assert 0.0 <= d.severity <= 1.0
    return [d for d in found if kind is None or d.kind == kind]


# --- 4.1 overlap ------------------------------------------------------------------------------


@pytest.mark.parametrize(("x0", "flagged"), [(136, True), (137, False), (140, False)])
def test_text_text_needs_2px_after_the_1px_shrink(x0, flagged):
    # raw overlaps of 4, 3 and 0 px become 2, 1 and none after shrinking both boxes by 1 px
    a = text(2, (100, 100, 140, 114), label="first", line=11)
    b = text(3, (x0, 100, x0 + 40, 114), label="second", line=12)
    found = defects_of(render([*figure_and_axes(), a, b]), "overlap")
    assert bool(found) == flagged
    if flagged:
        (d,) = found
        assert d.lines == [11, 12]
        assert d.message.startswith("lines 11, 12: ")
        assert "'first'" in d.message and "'second'" in d.message
        assert sorted(d.elements) == [2, 3]


def test_tick_labels_of_one_axis_make_one_defect_with_a_pair_count():
    ticks = [tick(10 + k, 100 + 30 * k) for k in range(5)]  # 40 px wide, 30 px apart: 4 pairs
    (d,) = defects_of(render([*figure_and_axes(), *ticks]), "overlap")
    assert d.message == "line 7: the x tick labels overlap each other (4 pairs)"
    assert d.lines == [7]
    assert d.elements == [10, 11, 12, 13, 14]
    assert d.region == (100.0, 425.0, 260.0, 439.0)
    assert d.severity == pytest.approx(8 * 12 / (40 * 14), rel=1e-3)  # shrunk overlap / label area


def _rotated_tick(id_, cx, angle=45.0, length=60.0, height=14.0):
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    w, h = length * c + height * s, length * s + height * c
    return Element(
        id_,
        "tick_label",
        (cx - w / 2, 440 - h / 2, cx + w / 2, 440 + h / 2),
        parent=1,
        text="category",
        source=[(7, 7)],
        font_size=height / 1.2,
        color=BLACK,
        meta={"axis": "x", "rotation": angle},
    )


@pytest.mark.parametrize("angle", [45.0, 30.0])
def test_rotated_tick_labels_are_tested_with_their_rotated_rectangles(angle):
    # 30 px apart the axis-aligned boxes overlap by ~20 px, the rotated labels do not touch
    apart = [_rotated_tick(10 + k, 150 + 30 * k, angle) for k in range(3)]
    assert defects_of(render([*figure_and_axes(), *apart]), "overlap") == []
    crowded = [_rotated_tick(10 + k, 150 + 8 * k, angle) for k in range(3)]
    (d,) = defects_of(render([*figure_and_axes(), *crowded]), "overlap")
    assert "x tick labels overlap each other" in d.message


@pytest.mark.parametrize(("x0", "flagged"), [(180, True), (190, False)])
def test_text_over_a_shape_needs_more_than_10_percent(x0, flagged):
    shape = Element(2, "shape", (0, 0, 200, 200), source=[(4, 4)], name="card")
    # shrunk intersections: 18 x 8 = 144 px2 (14 % of the 1000 px2 text), 8 x 8 (6 %)
    label = text(3, (x0, 50, x0 + 100, 60), parent=None, line=9)
    found = defects_of(render([shape, label], domain="web"), "overlap")
    assert bool(found) == flagged
    if flagged:
        assert found[0].message.startswith("lines 4, 9: the card covers the text 'label'")


def test_a_container_never_collides_with_what_it_contains():
    card = Element(2, "container", (0, 0, 300, 200), source=[(4, 4)])
    inside = text(3, (10, 10, 200, 30), parent=2)
    nested = text(4, (20, 40, 200, 60), parent=5)
    frame = Element(5, "container", (15, 35, 250, 100), parent=2)
    assert defects_of(render([card, inside, frame, nested], domain="web"), "overlap") == []


@pytest.mark.parametrize(("x0", "flagged"), [(60, True), (75, False)])
def test_non_text_over_non_text_needs_more_than_30_percent(x0, flagged):
    a = Element(2, "shape", (0, 0, 100, 100), source=[(4, 4)])
    b = Element(3, "shape", (x0, 0, x0 + 100, 100), source=[(5, 5)])
    # shrunk intersections: 38 x 98 (37 %) and 23 x 98 (23 %)
    assert bool(defects_of(render([a, b], domain="web"), "overlap")) == flagged


def test_full_bleed_backgrounds_are_excluded():
    background = Element(2, "shape", (0, 0, 640, 400), source=[(2, 2)])  # 83 % of the canvas
    label = text(3, (100, 100, 200, 120), parent=None)
    assert defects_of(render([background, label], domain="web"), "overlap") == []


def test_different_rollouts_and_different_pages_never_pair():
    a = text(2, (100, 100, 200, 120), label="a")
    b = text(3, (100, 100, 200, 120), label="b")
    two_rollouts = detect_defects(
        [render([*figure_and_axes(), a]), render([*figure_and_axes(), b])]
    )
    assert [d for ds in two_rollouts for d in ds if d.kind == "overlap"] == []
    b_next_page = text(3, (100, 100, 200, 120), label="b", page=1)
    assert defects_of(render([*figure_and_axes(), a, b_next_page]), "overlap") == []


def test_chart_structure_is_not_a_collision():
    bar = Element(
        2, "patch", (300, 200, 360, 420), parent=1, source=[(10, 10)], color=(31, 119, 180)
    )
    line = Element(3, "line", (90, 60, 590, 410), parent=1, source=[(11, 11)], color=(255, 127, 14))
    bar_label = text(4, (310, 210, 350, 224), label="42")
    twin = Element(5, "axes", (80, 50, 600, 420), parent=0, source=[(12, 12)])
    twin_text = text(6, (300, 300, 360, 314), parent=5, label="twin note")
    image = blank()
    image[200:420, 300:360] = (31, 119, 180)
    image[210:224, 315:345] = (255, 255, 255)  # the white bar label
    elements = [*figure_and_axes(), bar, line, bar_label, twin, twin_text]
    for e in (bar_label, twin_text):
        e.color = (255, 255, 255)
    found = defects_of(render(elements, image=image))
    assert [d for d in found if d.kind == "overlap"] == []


def _legend_chart(legend_box, *, draw_bar=True):
    bar = Element(
        2, "patch", (300, 200, 360, 420), parent=1, source=[(10, 10)], color=(31, 119, 180)
    )
    line = Element(
        3, "line", (90, 150, 590, 410), parent=1, source=[(11, 11)], color=(255, 127, 14)
    )
    legend = Element(4, "legend", legend_box, parent=1, source=[(14, 14)], name="legend")
    entry = text(
        5,
        (legend_box[0] + 30, legend_box[1] + 5, legend_box[0] + 90, legend_box[1] + 19),
        kind="legend_text",
        parent=4,
        line=14,
        label="sales",
    )
    image = blank()
    if draw_bar:
        image[200:420, 300:360] = (31, 119, 180)
    rr, cc = np.arange(150, 410), np.linspace(90, 589, 260).astype(int)
    image[rr, cc] = (255, 127, 14)  # the line, a diagonal far from the legend's corner
    x0, y0, x1, y1 = (int(v) for v in legend_box)
    image[y0:y1, x0:x1] = (255, 255, 255)  # the legend is drawn on top
    image[y0 + 5 : y0 + 19, x0 + 35 : x0 + 85] = 0
    return render([*figure_and_axes(), bar, line, legend, entry], image=image)


def test_legend_over_the_bars_is_flagged_and_blamed_on_both():
    (d,) = defects_of(_legend_chart((280, 180, 420, 260)), "overlap")
    assert "the legend covers the plotted data" in d.message
    assert {10, 14} <= set(d.lines)
    assert d.region == (280.0, 180.0, 420.0, 260.0)
    assert 0.25 < d.severity <= 1.0  # about a third of the legend lies over the bar


def test_legend_over_many_thin_bars_counts_their_coverage_together():
    # Eight histogram bars each under 2.5 % of the legend: none alone passes the 10 %
    # threshold, together they hide a fifth of it.
    legend = Element(2, "legend", (300, 100, 460, 180), parent=1, source=[(14, 14)], name="legend")
    bars = [
        Element(
            3 + k, "patch", (x, 140, x + 10, 420), parent=1, source=[(9, 9)], color=(31, 119, 180)
        )
        for k, x in enumerate(range(300, 460, 20))
    ]
    image = blank()
    for bar in bars:
        x0, y0, x1, y1 = (int(v) for v in bar.bbox)
        image[y0:y1, x0:x1] = bar.color
    image[100:180, 300:460] = (255, 255, 255)  # the legend is drawn on top
    (d,) = defects_of(render([*figure_and_axes(), legend, *bars], image=image), "overlap")
    assert "the legend covers the plotted data" in d.message
    assert {9, 14} <= set(d.lines)
    one_bar = render([*figure_and_axes(), legend, bars[0]], image=image)
    assert defects_of(one_bar, "overlap") == []  # a single bar under 2.5 % of it is fine


def test_legend_in_an_empty_corner_is_fine_though_the_line_box_spans_it():
    assert defects_of(_legend_chart((450, 60, 590, 120)), "overlap") == []


def test_an_annotation_over_the_legend_is_one_defect():
    result = _legend_chart((450, 60, 590, 120))
    result.elements.append(text(6, (470, 62, 560, 76), label="note", line=20))
    (d,) = defects_of(result, "overlap")
    assert d.message.startswith("lines 14, 20: the legend covers the text 'note'")


def test_identical_text_drawn_twice_in_place_is_not_an_overlap():
    a = text(2, (100, 100, 160, 114), label="67000")
    b = text(3, (100, 100, 160, 114), label="67000")
    assert defects_of(render([*figure_and_axes(), a, b]), "overlap") == []


def test_text_of_another_subplot_running_into_an_axes_is_flagged():
    left = Element(1, "axes", (60, 50, 300, 420), parent=0, source=[(3, 3)], name="axes 1")
    right = Element(2, "axes", (340, 50, 600, 420), parent=0, source=[(4, 4)], name="axes 2")
    ylabel = text(3, (290, 150, 304, 330), kind="axis_label", parent=2, line=8, label="Revenue")
    found = defects_of(
        render([Element(0, "figure", (0, 0, 640, 480)), left, right, ylabel]), "overlap"
    )
    (d,) = found
    assert d.message.startswith(
        "lines 3, 8: the axis label 'Revenue' runs into the plot area of the axes 1"
    )


# --- 4.2 clipped text, 4.3 overflow ------------------------------------------------------------

AXES_CLIP = {"clip_on": True, "clip_box": [80, 50, 600, 420]}


@pytest.mark.parametrize(
    ("box", "flagged"), [((560, 200, 640, 214), True), ((519, 200, 601, 214), False)]
)
def test_text_clipped_by_its_axes(box, flagged):
    # hidden 50 % vs 1/82 (< 2 %, no row of its height hidden)
    note = text(2, box, label="peak", line=9, meta=dict(AXES_CLIP))
    found = defects_of(render([*figure_and_axes(), note]), "clipped_text")
    assert bool(found) == flagged
    if flagged:
        assert found[0].message == "line 9: the text 'peak' is cut off by the axes (50 % hidden)"
        assert found[0].severity == pytest.approx(0.5)
    assert (
        defects_of(render([*figure_and_axes(), note]), "overflow") == []
    )  # the visible part is inside


def test_clipped_text_counts_rows_of_its_height():
    note = text(2, (100, 45, 500, 65), label="long", meta=dict(AXES_CLIP))  # 5 of 20 rows hidden
    assert defects_of(render([*figure_and_axes(), note]), "clipped_text")


@pytest.mark.parametrize(("x1", "flagged"), [(643, True), (641, False)])
def test_text_2px_off_the_canvas(x1, flagged):
    title = text(2, (x1 - 400, 10, x1, 30), kind="title", label="Long title", line=5)
    found = defects_of(render([*figure_and_axes(), title]), "overflow")
    assert bool(found) == flagged
    if flagged:
        assert found[0].message.startswith("line 5: the title 'Long title' runs off the canvas")
        assert found[0].severity == pytest.approx(0.1)  # the floor for text flagged by pixels


@pytest.mark.parametrize(
    ("box", "flagged"), [((430, 100, 650, 200), True), ((441, 100, 641, 200), False)]
)
def test_element_more_than_1_percent_off_the_canvas(box, flagged):
    patch = Element(2, "patch", box, parent=1, source=[(6, 6)])
    assert bool(defects_of(render([*figure_and_axes(), patch]), "overflow")) == flagged


def test_data_clipped_to_its_axes_does_not_overflow():
    line = Element(2, "line", (-200, 60, 900, 410), parent=1, source=[(6, 6)], meta=dict(AXES_CLIP))
    assert defects_of(render([*figure_and_axes(), line]), "overflow") == []


def test_legend_and_entries_off_canvas_are_one_defect():
    legend = Element(2, "legend", (610, 60, 760, 120), parent=1, source=[(14, 14)], name="legend")
    entries = [
        text(3 + k, (640, 65 + 20 * k, 700, 79 + 20 * k), kind="legend_text", parent=2, line=14)
        for k in range(2)
    ]
    (d,) = defects_of(render([*figure_and_axes(), legend, *entries]), "overflow")
    assert d.message.startswith("line 14: the legend runs off the canvas")
    assert d.elements == [2, 3, 4]


# --- 4.4 near-miss alignment ----------------------------------------------------------------


def _two_titles(dy):
    a = Element(1, "axes", (40, 60, 300, 400), parent=0, source=[(3, 3)])
    b = Element(2, "axes", (340, 60, 600, 400), parent=0, source=[(4, 4)])
    ta = text(3, (120, 30, 220, 44), kind="title", parent=1, line=5, label="Left")
    tb = text(4, (270, 30 + dy, 370, 44 + dy), kind="title", parent=2, line=6, label="Right")
    return render([Element(0, "figure", (0, 0, 640, 480)), a, b, ta, tb])


@pytest.mark.parametrize(
    ("dy", "flagged"), [(2.0, True), (4.0, True), (0.5, False), (1.0, False), (6.0, False)]
)
def test_subplot_titles_near_miss(dy, flagged):
    found = defects_of(_two_titles(dy), "misalignment")
    assert bool(found) == flagged
    if flagged:
        (d,) = found
        assert d.lines == [5, 6]
        assert "vertical centres" in d.message and f"{dy:.0f} px apart" in d.message
        assert 0.2 <= d.severity <= 0.4


def test_closer_near_misses_are_more_severe():
    (near,) = defects_of(_two_titles(1.5), "misalignment")
    (far,) = defects_of(_two_titles(3.9), "misalignment")
    assert near.severity > far.severity


def test_an_exact_alignment_chain_is_not_a_near_miss():
    axes = [
        Element(1 + k, "axes", (100 + k, 50 + 110 * k, 300, 150 + 110 * k), parent=0)
        for k in range(3)
    ]
    assert defects_of(render([Element(0, "figure", (0, 0, 640, 480)), *axes]), "misalignment") == []
    broken = Element(4, "axes", (104, 380, 300, 470), parent=0)  # 2 px from the chain's end
    found = defects_of(
        render([Element(0, "figure", (0, 0, 640, 480)), *axes, broken]), "misalignment"
    )
    assert [d.message for d in found if "left edges" in d.message]


def test_far_apart_elements_are_not_compared():
    a = Element(1, "axes", (100, 10, 300, 100), parent=0)
    b = Element(2, "axes", (102, 300, 300, 400), parent=0)  # 200 px below: more than 0.25 H
    assert defects_of(render([Element(0, "figure", (0, 0, 640, 480)), a, b]), "misalignment") == []


# --- 4.5 low contrast --------------------------------------------------------------------------


def _text_on_white(colour, font_size=12.0, ink=True, **meta):
    image = blank()
    if ink:
        image[103:113, 105:195] = colour  # the glyphs
    label = text(
        2, (100, 100, 200, 116), label="Note", line=12, color=colour, font_size=font_size, meta=meta
    )
    return render([*figure_and_axes(), label], image=image)


def test_white_text_on_white_is_flagged_black_is_not():
    (d,) = defects_of(_text_on_white((255, 255, 255)), "low_contrast")
    assert d.severity == 1.0
    assert d.message.startswith("line 12: the text 'Note' has low contrast")
    assert defects_of(_text_on_white(BLACK), "low_contrast") == []


def test_contrast_thresholds_follow_wcag_aa():
    grey = (0x77, 0x77, 0x77)  # 4.4781:1 on white
    assert contrast_ratio(np.array(grey), np.array([255, 255, 255])) == pytest.approx(
        4.4781, abs=1e-4
    )
    (d,) = defects_of(_text_on_white(grey), "low_contrast")
    assert d.severity == pytest.approx(4.5 / 4.4781, abs=1e-3) or d.severity == 1.0
    assert defects_of(_text_on_white((0x76, 0x76, 0x76)), "low_contrast") == []
    assert defects_of(_text_on_white(grey, font_size=24.0), "low_contrast") == []  # large: needs 3
    assert defects_of(_text_on_white(grey, font_size=19.0, weight="bold"), "low_contrast") == []
    (d,) = defects_of(_text_on_white((0x95, 0x95, 0x95), font_size=24.0), "low_contrast")  # 2.9953
    assert d.severity == pytest.approx(3.0 / 2.9953, abs=1e-3) or d.severity == 1.0


def test_severity_is_required_over_measured_ratio():
    colour = (0xAA, 0xAA, 0xAA)
    ratio = float(contrast_ratio(np.array(colour), np.array([255, 255, 255])))
    (d,) = defects_of(_text_on_white(colour), "low_contrast")
    assert d.severity == pytest.approx(min(1.0, 4.5 / ratio), rel=1e-3)


def test_undeclared_colours_are_measured_from_the_pixels():
    dark = _text_on_white(BLACK)
    dark.elements[-1].color = None
    assert defects_of(dark, "low_contrast") == []
    invisible = _text_on_white(BLACK, ink=False)
    invisible.elements[-1].color = None
    assert defects_of(invisible, "low_contrast")


def test_text_over_a_dark_bar_is_judged_against_the_bar():
    image = blank()
    image[90:130, 90:210] = (20, 20, 80)
    image[103:113, 105:195] = 255
    label = text(2, (100, 100, 200, 116), color=(255, 255, 255), background=(255, 255, 255))
    assert defects_of(render([*figure_and_axes(), label], image=image), "low_contrast") == []


# --- execution errors, empty renders, untraced elements ---------------------------------------


def test_exec_error():
    failed = RenderResult(
        ok=False, domain="chart", error=ExecError("NameError", "name 'x' is not defined", line=4)
    )
    (d,) = defects_of(failed)
    assert (d.kind, d.severity, d.lines) == ("exec_error", 1.0, [4])
    assert d.message == "line 4: NameError: name 'x' is not defined"
    no_line = RenderResult(
        ok=False, domain="chart", error=ExecError("Timeout", "ran for more than 20 s")
    )
    (d,) = defects_of(no_line)
    assert d.message == "Timeout: ran for more than 20 s" and d.lines == []


def test_empty_render():
    (d,) = defects_of(render(figure_and_axes()))
    assert (d.kind, d.severity) == ("empty", 1.0)
    assert defects_of(render([*figure_and_axes(), text(2, (100, 100, 200, 116))])) == []


def test_a_thin_rule_is_content():
    rule = Element(2, "line", (80, 200, 600, 200.5), parent=1, source=[(9, 9)])
    assert defects_of(render([*figure_and_axes(), rule]), "empty") == []


def test_untraced_elements_give_messages_without_lines():
    a = text(2, (100, 100, 140, 114), line=None, label="a")
    b = text(3, (120, 100, 160, 114), line=None, label="b")
    (d,) = defects_of(render([*figure_and_axes(), a, b]), "overlap")
    assert d.lines == [] and not d.message.startswith("line")


def test_disabled_kinds_are_not_reported():
    config = DefectConfig(kinds=frozenset({"overflow"}))
    assert defects_of(_text_on_white((255, 255, 255)), config=config) == []
