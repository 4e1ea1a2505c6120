"""contrast: WCAG ratios measured from pixels, against the metrics.md definition.

Three kinds of checks: the WCAG reference itself against the test vectors of metrics.md 4.5;
the kernel on synthetic two-colour images, where the answer is unambiguous (property test);
and text really drawn by Pillow with a TrueType font, where anti-aliasing makes the estimate
approximate (within 5 %).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from vsdpo import kernels

from .reference import hex_rgb, ref_contrast_two_colours, wcag_ratio

WHITE = (255, 255, 255)

# metrics.md section 4.5: foreground on white -> contrast ratio
WCAG_VECTORS = [
    ("#777777", 4.4781),
    ("#767676", 4.5422),
    ("#000000", 21.0),
    ("#1F77B4", 4.8209),
    ("#2CA02C", 3.4026),
    ("#959595", 2.9953),
]


@pytest.mark.parametrize(("colour", "expected"), WCAG_VECTORS)
def test_reference_wcag_ratio_matches_metrics_vectors(colour: str, expected: float) -> None:
    assert wcag_ratio(hex_rgb(colour), WHITE) == pytest.approx(expected, abs=1e-4)
    assert wcag_ratio(WHITE, hex_rgb(colour)) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_reference_white_on_yellow() -> None:
    assert wcag_ratio(WHITE, hex_rgb("#FFFF00")) == pytest.approx(1.0738, abs=1e-4)


@pytest.mark.parametrize(("colour", "expected"), WCAG_VECTORS)
def test_solid_text_colour_on_white_gives_the_metrics_vector(colour: str, expected: float) -> None:
    img = np.full((40, 120, 3), 255, np.uint8)
    img[15:25, 20:60] = hex_rgb(colour)  # a solid "glyph" inside the text box
    ratio, fg, bg = kernels.contrast(img, [[10, 10, 100, 30]])
    assert fg[0].tolist() == list(hex_rgb(colour)) and bg[0].tolist() == list(WHITE)
    assert ratio[0] == pytest.approx(expected, abs=1e-3)


def test_docstring_example() -> None:
    img = np.full((20, 40, 3), 255, np.uint8)
    img[5:15, 5:35] = 0
    ratio, fg, bg = kernels.contrast(img, [[0, 0, 40, 20]])
    assert ratio[0] == pytest.approx(21.0, rel=1e-6)
    assert fg[0].tolist() == [0, 0, 0] and bg[0].tolist() == [255, 255, 255]


# ------------------------------------------------------------------------------ property test

COLOURS = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


@st.composite
def faint_colours(draw: st.DrawFn, b: tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour visibly different from ``b`` (distance >= 16) yet less than 16 levels away in
    every channel: two channels move by 12..15 levels, the third by up to 15. Often, but not
    always, both colours then share the top 4 bits of every channel."""
    still = draw(st.integers(0, 2))
    out = []
    for channel, v in enumerate(b):
        step = draw(st.integers(-15, 15) if channel == still else st.integers(12, 15))
        if draw(st.booleans()):  # stay within the 16-level band of v where possible
            step = step if (v % 16) + step <= 15 else -step
        out.append(v + step if 0 <= v + step <= 255 else v - step)
    return tuple(out)


@st.composite
def two_colour_tiles(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """An image made of tiles, one text box per tile. Each tile is filled with a background
    colour B and holds a solid rectangle of colour A (no anti-aliasing) well inside its box,
    covering less than half of the box, so that B is dominant and A the only ink.
    A == B (a blank box) is allowed; otherwise A differs visibly from B (distance >= 16).
    Returns the image, the boxes and the (A, B) colours drawn in each box."""
    n = draw(st.integers(0, 10))
    tiles, boxes, drawn = [], [], []
    x = 0
    height = 44
    for _ in range(n):
        w, h = draw(st.integers(6, 40)), draw(st.integers(6, 40))
        b = draw(COLOURS)
        distinct = COLOURS.filter(lambda c, b=b: _dist2(c, b) >= 256)
        a = draw(st.one_of(st.just(b), distinct, faint_colours(b)))
        rw = draw(st.integers(1, w - 4))
        rh = draw(st.integers(1, min(h - 4, (w * h) // (2 * rw) - 1)))  # A covers < half the box
        rx, ry = draw(st.integers(2, w - 2 - rw)), draw(st.integers(2, h - 2 - rh))
        tile = np.empty((height, w + 8, 3), np.uint8)
        tile[:] = b
        tile[2 + ry : 2 + ry + rh, 4 + rx : 4 + rx + rw] = a  # box at (4, 2) within the tile
        tiles.append(tile)
        boxes.append([x + 4, 2, x + 4 + w, 2 + h])
        drawn.append((a, b))
        x += w + 8
    image = np.concatenate(tiles, axis=1) if tiles else np.zeros((height, 8, 3), np.uint8)
    return image, np.asarray(boxes, np.float32).reshape(-1, 4), drawn


def _dist2(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    return sum((int(p) - int(q)) ** 2 for p, q in zip(a, b))


@given(case=two_colour_tiles())
def test_matches_reference_on_two_colour_boxes(case: tuple[np.ndarray, np.ndarray, list]) -> None:
    image, boxes, drawn = case
    ratio, fg, bg = kernels.contrast(image, boxes)
    want_ratio, want_fg, want_bg = ref_contrast_two_colours(image, boxes)
    assert [tuple(c) for c in want_fg] == [a for a, _ in drawn]  # the reference sees the drawing
    wrong = [
        f"box {k}: drew {a} on {b}, kernel fg={fg[k].tolist()} bg={bg[k].tolist()}"
        f" ratio={ratio[k]:.4f}"
        f" (WCAG {wcag_ratio(a, b):.4f})"
        for k, (a, b) in enumerate(drawn)
        if (tuple(fg[k]), tuple(bg[k])) != (a, b)
    ]
    assert not wrong, "\n".join(wrong)
    assert ratio.dtype == np.float32 and fg.dtype == np.uint8 and bg.dtype == np.uint8
    assert fg.shape == bg.shape == (len(boxes), 3)
    np.testing.assert_array_equal(bg, want_bg)
    np.testing.assert_array_equal(fg, want_fg)
    np.testing.assert_allclose(ratio, want_ratio, rtol=1e-5)
    assert np.all((ratio >= 1) & (ratio <= 21 + 1e-5))


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ((240, 240, 240), (255, 255, 255)),  # faint grey on white
        ((15, 15, 0), (0, 0, 0)),  # near-black on black
        ((96, 96, 96), (111, 111, 111)),  # two mid greys
        ((255, 255, 255), (244, 250, 241)),  # white on off-white
    ],
)
def test_two_close_flat_colours_are_told_apart(text: tuple, background: tuple) -> None:
    # visibly different colours (distance >= 16) that agree in the top 4 bits of every channel
    img = np.empty((30, 40, 3), np.uint8)
    img[:] = background
    img[12:18, 10:30] = text
    ratio, fg, bg = kernels.contrast(img, [[5, 8, 35, 22]])
    assert (fg[0].tolist(), bg[0].tolist()) == (list(text), list(background))
    assert ratio[0] == pytest.approx(wcag_ratio(text, background), rel=1e-5)


# ------------------------------------------------------------------------------ Pillow text


@functools.cache
def _font_path() -> str:
    from matplotlib import font_manager

    return font_manager.findfont("DejaVu Sans", fallback_to_default=False)


TEXT_PAIRS = {
    # dark on light
    "black on white": ("#000000", "#FFFFFF"),
    "tab:blue on white": ("#1F77B4", "#FFFFFF"),
    "dark grey on light grey": ("#333333", "#EEEEEE"),
    "navy on pale yellow": ("#000080", "#FFFFCC"),
    # light on dark
    "white on black": ("#FFFFFF", "#000000"),
    "yellow on navy": ("#FFFF00", "#000080"),
    "light grey on dark slate": ("#DDDDDD", "#2F4F4F"),
    # mid greys
    "#777777 on white": ("#777777", "#FFFFFF"),
    "#959595 on white": ("#959595", "#FFFFFF"),
    "white on #808080": ("#FFFFFF", "#808080"),
    "#555555 on #AAAAAA": ("#555555", "#AAAAAA"),
}


@pytest.mark.parametrize("size", [14, 24, 48])
@pytest.mark.parametrize("pair", list(TEXT_PAIRS))
def test_pillow_text_measures_the_wcag_ratio(pair: str, size: int) -> None:
    text_hex, bg_hex = TEXT_PAIRS[pair]
    text_rgb, bg_rgb = hex_rgb(text_hex), hex_rgb(bg_hex)
    font = ImageFont.truetype(_font_path(), size)
    image = Image.new("RGB", (size * 14, size * 3), bg_rgb)
    draw = ImageDraw.Draw(image)
    lines = ["Revenue 2019", "Quarterly HIL"]
    boxes = []
    for k, line in enumerate(lines):  # two lines, each its own tight box
        origin = (size // 2 + k * size * 6, size)
        draw.text(origin, line, fill=text_rgb, font=font)
        boxes.append(draw.textbbox(origin, line, font=font))

    ratio, fg, bg = kernels.contrast(np.asarray(image), np.asarray(boxes, np.float32))
    expected = wcag_ratio(text_rgb, bg_rgb)
    np.testing.assert_allclose(
        ratio, expected, rtol=0.05, err_msg=f"fg={fg.tolist()} bg={bg.tolist()}"
    )
    # the background is a flat field; allow the estimate a couple of levels of rounding
    assert np.abs(bg.astype(int) - np.asarray(bg_rgb)).max() <= 2, bg.tolist()


# ------------------------------------------------------------------------------ edge cases


def test_uniform_box_has_ratio_one_and_fg_equal_bg() -> None:
    img = np.full((30, 30, 3), (200, 30, 90), np.uint8)
    ratio, fg, bg = kernels.contrast(img, [[5, 5, 25, 25], [0, 0, 30, 30], [10, 10, 10.5, 10.5]])
    assert ratio.tolist() == [1.0, 1.0, 1.0]
    assert fg.tolist() == bg.tolist() == [[200, 30, 90]] * 3


@pytest.mark.parametrize(
    "box",
    [
        [100, 0, 120, 10],  # right of the image
        [0, 60, 10, 80],  # below
        [-50, -40, -20, -10],  # above and left
        [-1e6, 5, -1e6 + 30, 15],  # far away
    ],
)
def test_box_outside_the_image_gives_nan(box: list[float]) -> None:
    img = np.zeros((40, 60, 3), np.uint8)
    img[10:20, 10:20] = 255
    ratio, _fg, _bg = kernels.contrast(img, [box, [5, 5, 25, 25]])
    assert np.isnan(ratio[0])
    assert ratio[1] == pytest.approx(21.0, rel=1e-6)  # the other box is unaffected


def test_box_partly_off_the_image_is_clipped() -> None:
    img = np.full((40, 60, 3), 240, np.uint8)
    img[2:8, 50:58] = (10, 20, 160)  # ink near the top-right corner
    inside = kernels.contrast(img, [[44, 0, 60, 14]])
    overhanging = kernels.contrast(img, [[44, -30, 95, 14]])
    for got, want in zip(overhanging, inside):
        np.testing.assert_array_equal(got, want)
    assert overhanging[1][0].tolist() == [10, 20, 160] and overhanging[2][0].tolist() == [240] * 3
    assert overhanging[0][0] == pytest.approx(wcag_ratio((10, 20, 160), (240, 240, 240)), rel=1e-5)


def test_many_boxes_are_independent() -> None:
    rng = np.random.default_rng(2)
    img = np.full((50, 400, 3), 255, np.uint8)
    boxes, colours = [], []
    for k in range(20):
        colour = tuple(int(v) for v in rng.integers(0, 120, size=3))
        img[20:30, 20 * k + 5 : 20 * k + 12] = colour
        boxes.append([20 * k + 2, 15, 20 * k + 16, 35])
        colours.append(list(colour))
    ratio, fg, _bg = kernels.contrast(img, boxes)
    assert fg.tolist() == colours
    np.testing.assert_allclose(ratio, [wcag_ratio(c, WHITE) for c in colours], rtol=1e-5)


# ------------------------------------------------------------------------------ inputs and outputs


def _image_and_boxes() -> tuple[np.ndarray, np.ndarray]:
    img = np.full((60, 80, 3), (250, 245, 230), np.uint8)
    img[10:20, 10:30] = (20, 40, 60)
    img[35:45, 40:70] = (200, 10, 10)
    boxes = np.array([[5, 5, 40, 25], [35, 30, 75, 50], [0, 0, 80, 60]], np.float32)
    return img, boxes


def _image_layouts(img: np.ndarray) -> dict[str, np.ndarray]:
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    doubled = np.repeat(np.repeat(img, 2, axis=0), 2, axis=1)
    return {
        "contiguous": img,
        "RGB view of RGBA": rgba[..., :3],  # pixel stride 4
        "every other pixel": doubled[::2, ::2],
        "fortran order": np.asfortranarray(img),
        "int64": img.astype(np.int64),
    }


@pytest.mark.parametrize("layout", list(_image_layouts(np.zeros((1, 1, 3), np.uint8))))
def test_any_image_layout_gives_the_same_result(layout: str) -> None:
    img, boxes = _image_and_boxes()
    want = kernels.contrast(img, boxes)
    assert np.all(want[0] > 2)
    got = kernels.contrast(_image_layouts(img)[layout], boxes)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize(
    "boxes",
    [
        lambda b: np.repeat(b, 2, axis=0)[::2],
        np.asfortranarray,
        lambda b: np.ascontiguousarray(b.T).T,
        lambda b: b.astype(np.float64),
        lambda b: b.astype(np.int32).tolist(),
    ],
    ids=["strided rows", "fortran order", "transposed view", "float64", "int32 list"],
)
def test_any_boxes_layout_gives_the_same_result(boxes) -> None:
    img, b = _image_and_boxes()
    want = kernels.contrast(img, b)
    for g, w in zip(kernels.contrast(img, boxes(b)), want):
        np.testing.assert_array_equal(g, w)


def test_empty_inputs_give_empty_outputs() -> None:
    img, _ = _image_and_boxes()
    for boxes in (np.zeros((0, 4), np.float32), []):
        ratio, fg, bg = kernels.contrast(img, boxes)
        assert ratio.shape == (0,) and ratio.dtype == np.float32
        assert fg.shape == (0, 3) and fg.dtype == np.uint8
        assert bg.shape == (0, 3) and bg.dtype == np.uint8
    # an empty image: every box has no pixel inside it
    ratio, fg, bg = kernels.contrast(np.zeros((0, 0, 3), np.uint8), [[0, 0, 5, 5], [1, 1, 2, 2]])
    assert ratio.shape == (2,) and np.all(np.isnan(ratio))
    assert fg.shape == bg.shape == (2, 3)
