"""Design2Code scores: hand-computed values on built blocks and renders, and real pages."""

from __future__ import annotations

import numpy as np
import pytest

from vsdpo.artifact import Element, RenderResult
from vsdpo.metrics.common import color_similarity
from vsdpo.metrics.design2code import (
    CLIP_SKIPPED,
    Block,
    adjust_cost_for_context,
    design2code_scores,
    difference_of_means,
    find_local_clip,
    merge_blocks_by_bbox,
    page_blocks,
    score_blocks,
)

REF = [
    Block("welcome to the page", (0.1, 0.1, 0.4, 0.05), (0, 0, 0)),
    Block("a paragraph of text", (0.1, 0.3, 0.6, 0.1), (255, 89, 94)),
    Block("footer note", (0.1, 0.8, 0.2, 0.05), (50, 50, 50)),
]


def test_identical_blocks_score_the_maximum() -> None:
    s = score_blocks(REF, REF)
    assert (s.block_match, s.text, s.position, s.color) == (1.0, 1.0, 1.0, 1.0)
    assert s.final is None and s.low_level == 1.0


def test_one_changed_colour_lowers_only_the_colour_score() -> None:
    cand = [REF[0], Block(REF[1].text, REF[1].bbox, (44, 160, 44)), REF[2]]
    s = score_blocks(cand, REF)
    assert s.color == pytest.approx((1 + 0.273316 + 1) / 3, abs=1e-6)  # metrics.md 0.2 vector
    assert (s.block_match, s.text, s.position) == (1.0, 1.0, 1.0)


def test_one_moved_block_lowers_only_the_position_score() -> None:
    cand = [REF[0], Block(REF[1].text, (0.3, 0.35, 0.6, 0.1), REF[1].color), REF[2]]
    s = score_blocks(cand, REF)
    assert s.position == pytest.approx((1 + (1 - 0.2) + 1) / 3)  # max(|dx| = .2, |dy| = .05)
    assert (s.block_match, s.text, s.color) == (1.0, 1.0, 1.0)


def test_one_missing_block_lowers_only_the_block_match() -> None:
    s = score_blocks(REF[:2], REF)
    areas = [0.4 * 0.05, 0.6 * 0.1]
    matched = 2 * sum(areas)
    assert s.block_match == pytest.approx(matched / (matched + 0.2 * 0.05))
    assert (s.text, s.position, s.color) == (1.0, 1.0, 1.0)


def test_one_changed_text_lowers_the_text_score_by_its_ratio() -> None:
    cand = [REF[0], Block("a paragraph of text!", REF[1].bbox, REF[1].color), REF[2]]
    s = score_blocks(cand, REF)
    ratio = 2 * 19 / (20 + 19)
    assert s.text == pytest.approx((1 + ratio + 1) / 3)
    assert (s.block_match, s.position, s.color) == (1.0, 1.0, 1.0)


def test_no_blocks_or_no_match_gives_zero() -> None:
    assert score_blocks([], REF).low_level == 0.0
    unrelated = [Block("zzzz qqqq", (0, 0, 0.1, 0.1), (0, 0, 0))]
    s = score_blocks(unrelated, REF)
    assert s.low_level == 0.0 and s.notes == ["no matched blocks"]


def test_difference_of_means_hand_computed() -> None:
    assert difference_of_means([-1.0, -1.0], [-1.0, -1.0]) == 0.0
    # left: [-0.4] vs [-1.0]: mx - my = 0.6 > 0 and min(-0.4) > min(-1.0) -> 0.6
    assert difference_of_means([-1.0, -0.4], [-1.0, -1.0]) == pytest.approx(0.6)
    assert difference_of_means([-1.0], [-0.4]) == pytest.approx(-0.6)
    # mean -0.5 vs -0.6 (up by 0.1), but min(-0.9) is not above min(-0.6): 0
    assert difference_of_means([-0.1, -0.9], [-0.6]) == 0.0


def test_context_bonus_hand_computed() -> None:
    cost = np.array([[-1.0, -0.2], [-0.3, -0.9]])
    adj = adjust_cost_for_context(cost, 0.1, 1)
    # cell (0,0): window = all four; remove -1.0; the two most negative left: -0.9, -0.3
    assert adj[0, 0] == pytest.approx(-1.0 + 0.1 * (-0.9 - 0.3))
    assert adj[1, 1] == pytest.approx(-0.9 + 0.1 * (-1.0 - 0.3))
    assert adj[0, 1] == -0.2 and adj[1, 0] == -0.3  # >= -0.5: unchanged


def test_merge_by_identical_box() -> None:
    blocks = merge_blocks_by_bbox(
        [Block("a", (0, 0, 1, 1), (10, 10, 10)), Block("b", (0, 0, 1, 1), (20, 30, 40))]
    )
    assert len(blocks) == 1 and blocks[0].text == "a b" and blocks[0].color == (15, 20, 25)


def run(block: int, order: int, text: str, box, color=(0, 0, 0), raw=True) -> Element:
    meta = {"d2c": [block, order], "alpha": 1.0}
    if raw:
        meta["raw"] = f"  {text}\n "
    return Element(0, "text", box, text=text, color=color, background=(255, 255, 255), meta=meta)


def test_page_blocks_group_text_runs_by_pool_tag() -> None:
    elements = [
        run(0, 0, "Hello  World", (100, 10, 300, 30)),
        run(0, 0, "cont", (100, 30, 200, 50), raw=False),  # second line of the same node
        run(1, 1, "Other", (0, 100, 100, 120), color=(255, 0, 0)),
        run(0, 2, "em text", (300, 10, 400, 30)),  # an <em> inside block 0
        run(-1, 3, "dropped", (0, 200, 50, 220)),  # a nearer inline colour: no block
        run(2, 4, "off page", (2000, 0, 2100, 20)),
    ]
    result = RenderResult(ok=True, domain="web", canvas=(1000, 500), elements=elements)
    blocks = page_blocks(result)
    assert [b.text for b in blocks] == ["hello  world em text", "other"]
    assert blocks[0].bbox == pytest.approx((0.1, 0.02, 0.3, 0.08))
    assert blocks[1].color == (255, 0, 0)


# ---------------------------------------------------------------------------- real pages

PAGE = """<!DOCTYPE html><html><head><style>
body {{ margin: 0; font-family: sans-serif; }}
h1 {{ color: #000000; margin: 20px; }}
p {{ color: {p_colour}; margin: 20px 20px 20px {p_left}px; width: 500px; }}
</style></head><body>
<h1>Welcome to the page</h1>
<p>A paragraph of <em>plain</em> text that says hello.</p>
<div><span>Footer</span> note <i style="color: red">own colour</i></div>
</body></html>"""


def page(p_colour: str = "#FF595E", p_left: int = 20) -> str:
    return PAGE.format(p_colour=p_colour, p_left=p_left)


@pytest.fixture(scope="module")
def pages(chromium_executable):
    from vsdpo.render.web import WebRenderer

    variants = {"ref": page(), "colour": page(p_colour="#2CA02C"), "moved": page(p_left=220)}
    with WebRenderer(concurrency=1, executable=chromium_executable) as r:
        out = dict(zip(variants, r.render_many(list(variants.values()), extract=False)))
    for name, res in out.items():
        assert res.ok, (name, res.error)
    return out


def test_real_page_blocks(pages) -> None:
    # text under a non-pool tag with its own inline colour (the <i>) belongs to no block
    blocks = page_blocks(pages["ref"])
    texts = [b.text for b in blocks]
    assert texts == [
        "welcome to the page",
        "a paragraph of plain text that says hello.",
        "footer",
        "note",
    ]
    assert blocks[1].color == (255, 89, 94)


def test_real_pages_identical_and_changed_colour(pages) -> None:
    same = design2code_scores(pages["ref"], pages["ref"])
    assert (same.block_match, same.text, same.position, same.color) == (1.0, 1.0, 1.0, 1.0)
    s = design2code_scores(pages["colour"], pages["ref"])
    sim = color_similarity((44, 160, 44), (255, 89, 94))
    assert s.color == pytest.approx((3 + sim) / 4)
    assert (s.block_match, s.text, s.position) == (1.0, 1.0, 1.0)
    if find_local_clip() is None:
        assert s.clip is None and CLIP_SKIPPED in s.notes


def test_real_pages_moved_block(pages) -> None:
    s = design2code_scores(pages["moved"], pages["ref"], clip=False)
    assert s.position == pytest.approx((3 + 1 - 200 / 1280) / 4, abs=1e-3)
    assert (s.block_match, s.text, s.color) == (1.0, 1.0, 1.0)
