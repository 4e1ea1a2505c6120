"""The annotated "inspect" picture: outlines in the defect's colour, numbered, listed below."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vsdpo.artifact import Defect, ExecError, RenderResult
from vsdpo.inspect_image import MARGIN, PALETTE, annotate, save_annotated


def _chart() -> RenderResult:
    image = np.full((300, 640, 3), 255, dtype=np.uint8)
    image[100:200, 150:250] = (200, 200, 200)
    return RenderResult(ok=True, domain="chart", image=image, canvas=(640, 300))


DEFECTS = [
    Defect(
        "overlap",
        0.8,
        "line 12: the x tick labels overlap each other (7 pairs)",
        region=(150, 100, 250, 200),
        lines=[12],
    ),
    Defect(
        "overflow",
        0.4,
        "line 5: the title 'A very long title' runs off the canvas (40 % outside)",
        region=(300, -20, 460, 10),
        lines=[5],
    ),
    Defect("misalignment", 0.3, "no region: listed only"),
]


def test_outlines_in_distinct_colours_and_a_panel_below():
    img = np.asarray(annotate(_chart(), DEFECTS))
    h, w = img.shape[:2]
    assert w == 640 + 2 * MARGIN and h > 300 + 2 * MARGIN + 3 * 20  # the list of three defects
    # the first defect's outline runs along its region's left edge, in the first colour
    column = img[100 + MARGIN + 20 : 200 + MARGIN - 20, 150 + MARGIN]
    assert (np.abs(column.astype(int) - PALETTE[0]).max(axis=1) < 10).all()
    # the second one is clipped to the frame (its region starts above the canvas), second colour
    top_edge = img[0:5, 300 + MARGIN + 60]
    assert (np.abs(top_edge.astype(int) - PALETTE[1]).max(axis=1) < 10).any()
    # the panel under the image holds dark text on white
    panel = img[300 + 2 * MARGIN + 5 :]
    assert (panel < 80).all(axis=2).sum() > 500


def test_no_defects_still_gives_a_readable_picture():
    img = annotate(_chart(), [])
    assert img.size[0] == 640 + 2 * MARGIN and img.size[1] > 300 + 2 * MARGIN


def test_an_exec_error_shows_the_error_on_a_blank_canvas(tmp_path):
    failed = RenderResult(
        ok=False,
        domain="chart",
        canvas=(640, 480),
        error=ExecError(
            "NameError", "name 'x' is not defined", 'File "<completion>", line 4\nNameError', line=4
        ),
    )
    defect = Defect("exec_error", 1.0, "line 4: NameError: name 'x' is not defined", lines=[4])
    path = save_annotated(failed, [defect], tmp_path / "sub" / "error.png")
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[1] == 640 and img.shape[0] > 240
    card = img[:200]
    red_heading = (card[..., 0] > 150) & (card[..., 1] < 80)
    assert red_heading.sum() > 50
    assert (card < 80).all(axis=2).sum() > 200  # the error text


def test_pages_of_a_deck_are_stacked_and_outlined_on_their_page():
    pages = [np.full((100, 200, 3), 255, np.uint8), np.full((100, 200, 3), 255, np.uint8)]
    deck = RenderResult(ok=True, domain="slides", image=pages[0], pages=pages, canvas=(200, 100))
    d = Defect("overflow", 0.5, "shape off the slide", region=(20, 20, 80, 60), page=1)
    img = np.asarray(annotate(deck, [d]))
    second_page_y = MARGIN + 100 + MARGIN
    left_edge = img[second_page_y + 30 : second_page_y + 50, MARGIN + 20]
    assert (np.abs(left_edge.astype(int) - PALETTE[0]).max(axis=1) < 10).all()
    first_page = img[MARGIN + 30 : MARGIN + 50, MARGIN + 20]
    assert (first_page == 255).all()
