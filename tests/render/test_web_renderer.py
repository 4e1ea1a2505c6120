"""The web renderer in real Chromium: elements, tracing, isolation, hangs, web defects.

One renderer serves the whole module, and the defect pages render in one ``render_many``
batch, so the file stays well under a minute on two shared cores.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from vsdpo.artifact import DefectKind, RenderResult
from vsdpo.defects import detect_defects

pytestmark = pytest.mark.chromium

BASIC = """<!DOCTYPE html>
<html>
<head>
<style>
body { margin: 0; font-family: sans-serif; background: #ffffff; }
h1 { color: rgb(200, 0, 0); font-size: 32px; }
.note {
  color: #333333;
  background: rgb(230, 230, 250);
}
</style>
</head>
<body>
<h1>Hello heading</h1>
<p class="note">A <b>bold</b> note</p>
<img src="pixel.png" width="40" height="40">
<img src="http://example.com/x.png" width="20" height="20">
<iframe src="file:///etc/passwd" width="50" height="50"></iframe>
</body>
</html>
"""

# Each page has one planted defect on a known line (the comment names it).
DEFECT_PAGES = {
    "covered": """<html><head><style>
h1 { margin: 0; font-size: 32px; }
.badge {
  position: absolute; top: 0; left: 0; width: 200px; height: 60px; background: #0a0;
}
</style></head><body style="margin:0">
<h1>Heading under a badge</h1>
<div class="badge"></div>
</body></html>""",  # .badge rule: lines 3-5
    "narrow": """<html><head><style>
.box {
  width: 40px;
}
</style></head><body>
<div class="box">Supercalifragilistic expialidocious</div>
</body></html>""",  # .box rule: lines 2-4
    "wide": """<html><head><style>
body { margin: 0 }
</style></head><body>
<div style="width: 3000px; background: #eee">A very wide band</div>
<p>normal text</p>
</body></html>""",  # the 3000px div: line 4
    "pushed": """<html><head><style>
body { margin: 0 }
.off { margin-left: -300px; }
</style></head><body>
<p class="off">This paragraph is pushed off the left edge of the page by a margin</p>
</body></html>""",  # .off rule: line 3
    "ghost": """<html><body>
<p style="color: #ffffff">white text on white</p>
</body></html>""",  # line 2
    "clipped": """<html><head><style>
.frame { width: 300px; height: 30px; overflow: hidden; line-height: 20px; }
</style></head><body>
<div class="frame">first line of text that wraps onto more lines than the frame can show at all</div>
</body></html>""",  # .frame rule: line 2
}


@pytest.fixture(scope="module")
def renderer(chromium_executable):
    from vsdpo.render.web import WebRenderer

    with WebRenderer(concurrency=2, executable=chromium_executable, timeout_s=10) as r:
        yield r


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("site")
    Image.new("RGB", (4, 4), (0, 0, 255)).save(folder / "pixel.png")
    return folder


@pytest.fixture(scope="module")
def basic(renderer, assets) -> RenderResult:
    return renderer.render(BASIC, extract=False, base_dir=assets)


@pytest.fixture(scope="module")
def defect_pages(renderer) -> dict[str, tuple[RenderResult, list]]:
    results = renderer.render_many(list(DEFECT_PAGES.values()), extract=False)
    return {name: (res, detect_defects([res])[0]) for name, res in zip(DEFECT_PAGES, results)}


def only_text(result: RenderResult, text: str):
    found = [e for e in result.elements if e.is_text and e.text == text]
    assert len(found) == 1, [e.text for e in result.elements if e.is_text]
    return found[0]


def test_elements_text_runs_and_styles(basic):
    assert basic.ok and basic.domain == "web"
    assert basic.canvas[0] == 1280 and basic.canvas[1] >= 720
    assert basic.image.shape == (basic.canvas[1], basic.canvas[0], 3)
    h1 = only_text(basic, "Hello heading")
    assert h1.color == (200, 0, 0) and h1.font_size == 32.0
    assert h1.background == (255, 255, 255)
    note = only_text(basic, "note")
    assert note.background == (230, 230, 250) and note.color == (51, 51, 51)
    bold = only_text(basic, "bold")
    assert bold.parent == note.parent  # an inline <b> is no box: its text belongs to the <p>
    assert basic.element(note.parent).name == "<p.note>"
    # boxes in order of the page, text runs after them
    kinds = [e.kind for e in basic.elements]
    assert kinds.index("text") > kinds.index("image")
    assert basic.traced_fraction == 1.0


def test_sources_name_the_markup_and_the_css_rules(basic):
    h1 = only_text(basic, "Hello heading")
    assert h1.lines() == [6, 14]  # the h1 rule and the text
    bold = only_text(basic, "bold")
    assert set(bold.lines()) == {7, 8, 9, 10, 15}  # the .note rule (block) and the line
    body = basic.element(basic.element(h1.parent).parent)
    assert body.meta["tag"] == "body" and body.source[0][0] == 5  # body rule + its markup
    assert (13, 19) in body.source


def test_css_rule_lines_agree_with_chromium_devtools(chromium_executable):
    """The rule lines we trace are the ones Chromium's own CSS inspector reports."""
    from playwright.sync_api import sync_playwright

    from vsdpo.render.web import CHROMIUM_ARGS
    from vsdpo.render.web_source import trace_source

    smap = trace_source(BASIC)
    ours = {(r.start_line, r.end_line) for r in smap.rules if r.selector == ".note"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_executable, args=list(CHROMIUM_ARGS))
        page = browser.new_page()
        # loaded as a document (set_content writes it in, which loses the sheets' positions)
        page.route(
            "**/*", lambda route: route.fulfill(body=smap.annotated, content_type="text/html")
        )
        page.goto("http://page.vsdpo.invalid/")
        cdp = page.context.new_cdp_session(page)
        headers: dict[str, dict] = {}
        cdp.on(
            "CSS.styleSheetAdded",
            lambda e: headers.update({e["header"]["styleSheetId"]: e["header"]}),
        )
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "p.note"})["nodeId"]
        matched = cdp.send("CSS.getMatchedStylesForNode", {"nodeId": node})
        devtools = set()
        for m in matched["matchedCSSRules"]:
            rule = m["rule"]
            if rule.get("origin") != "regular":
                continue
            # DevTools: 0-based lines inside the sheet, whose text starts at header.startLine
            start = headers[rule["styleSheetId"]]["startLine"]
            selector = rule["selectorList"]["selectors"][0]["range"]
            body = rule["style"]["range"]
            devtools.add((start + selector["startLine"] + 1, start + body["endLine"] + 1))
        browser.close()
    assert ours == devtools


def test_network_is_blocked_and_reported_local_files_served(basic):
    blocked = basic.elements[0].meta["blocked_requests"]
    assert "http://example.com/x.png" in blocked
    assert "vsdpo: blocked request to http://example.com/x.png" in basic.stdout
    # the image beside the page was served: its blue pixels are on the screenshot
    img = next(e for e in basic.elements if e.kind == "image" and e.bbox[2] - e.bbox[0] == 40)
    x0, y0, x1, y1 = (int(v) for v in img.bbox)
    patch = basic.image[y0 + 5 : y1 - 5, x0 + 5 : x1 - 5].reshape(-1, 3)
    assert (np.abs(patch.astype(int) - (0, 0, 255)).max(axis=1) < 30).mean() > 0.9
    # the iframe pointing at a local file shows nothing of it
    frame = next(e for e in basic.elements if e.meta.get("tag") == "iframe")
    x0, y0, x1, y1 = (int(v) for v in frame.bbox)
    assert not any(e.is_text and "root:" in (e.text or "") for e in basic.elements)
    assert basic.image[y0 + 3 : y1 - 3, x0 + 3 : x1 - 3].std() < 40


def test_completion_extraction_keeps_lines_of_the_code(renderer):
    completion = "Here is the page:\n```html\n<html><body>\n<p>hi there</p>\n</body></html>\n```\n"
    res = renderer.render(completion)
    assert res.ok and res.code_offset == completion.index("<html>")
    assert only_text(res, "hi there").lines() == [2]


def test_a_hanging_page_times_out_and_the_renderer_carries_on(renderer):
    old = renderer.timeout_s
    renderer.timeout_s = 2.0
    try:
        hung = renderer.render("<p>x</p><script>while (true) {}</script>", extract=False)
    finally:
        renderer.timeout_s = old
    assert not hung.ok and hung.error.type == "Timeout"
    after = renderer.render("<p>still alive</p>", extract=False)
    assert after.ok and only_text(after, "still alive")


def test_renders_from_several_threads_at_once(renderer):
    results: dict[int, RenderResult] = {}

    def work(n: int) -> None:
        results[n] = renderer.render(f"<p>page {n}</p>", extract=False)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [0, 1, 2, 3]
    for n, res in results.items():
        assert res.ok and only_text(res, f"page {n}")


def test_render_iter_yields_in_order_as_render_many(renderer):
    pages = [f"<p>iter {n}</p>" for n in range(5)]
    it = renderer.render_iter(pages, extract=False)
    got = [only_text(res, f"iter {n}").text for n, res in enumerate(it)]
    assert got == [f"iter {n}" for n in range(5)]


ANIMATED = """<html><head><style>
body { margin: 0 }
@keyframes fade { from { background: rgb(255, 0, 0) } to { background: rgb(0, 0, 255) } }
@keyframes spin { from { background: rgb(0, 0, 0) } to { background: rgb(90, 90, 90) } }
.once { width: 200px; height: 100px; animation: fade 100s forwards }
.loop { width: 200px; height: 100px; background: rgb(0, 255, 0); animation: spin 100s infinite }
.label { pointer-events: none; position: absolute; top: 0; left: 0 }
</style></head><body>
<div class="once"></div>
<div class="loop"></div>
<span class="label">floating label</span>
<input autofocus value="typed">
</body></html>"""


def test_animations_are_stopped_before_the_walk_and_the_capture(renderer):
    # as Playwright's screenshot(animations="disabled"): a finite animation shows its end, an
    # infinite one is cancelled (the element's own style shows); the boxes are measured then
    res = renderer.render(ANIMATED, extract=False)
    assert res.ok
    assert tuple(res.image[50, 100]) == (0, 0, 255)
    assert tuple(res.image[150, 100]) == (0, 255, 0)
    once = next(e for e in res.elements if e.name == "<div.once>")
    assert once.background == (0, 0, 255)


def test_elements_ignoring_the_pointer_still_cover_text(renderer):
    page = """<html><body style="margin:0">
<h1 style="margin:0; font-size:32px">Heading under a label</h1>
<div id="lid" style="pointer-events:none; position:absolute; top:0; left:0; width:400px;
     height:50px; background:#0a0"></div>
</body></html>"""
    res = renderer.render(page, extract=False)
    heading = only_text(res, "Heading under a label")
    assert heading.meta.get("covered_by") is not None


def _blamed(defects, kind, line):
    return [d for d in defects if d.kind == kind and line in d.lines]


def test_positioned_box_over_a_heading(defect_pages):
    res, defects = defect_pages["covered"]
    heading = only_text(res, "Heading under a badge")
    assert heading.meta.get("covered_by") is not None
    found = _blamed(defects, DefectKind.OVERLAP, 4)
    assert found and 7 in found[0].lines  # the badge's rule and the heading's markup


def test_fixed_width_box_too_narrow_for_its_text(defect_pages):
    res, defects = defect_pages["narrow"]
    found = _blamed(defects, DefectKind.CLIPPED_TEXT, 3)
    assert found and "overflow" in found[0].message and 6 in found[0].lines


def test_element_wider_than_the_viewport(defect_pages):
    res, defects = defect_pages["wide"]
    assert res.elements[0].meta["scroll_width"] == 3000
    found = _blamed(defects, DefectKind.OVERFLOW, 4)
    assert len(found) == 1 and "right edge" in found[0].message
    assert not _blamed(defects, DefectKind.OVERFLOW, 5)


def test_negative_margin_off_the_left_edge(defect_pages):
    _, defects = defect_pages["pushed"]
    found = _blamed(defects, DefectKind.OVERFLOW, 3)
    assert found and "left edge" in found[0].message


def test_white_on_white_text(defect_pages):
    _, defects = defect_pages["ghost"]
    assert _blamed(defects, DefectKind.LOW_CONTRAST, 2)


def test_text_clipped_by_an_overflow_box(defect_pages):
    res, defects = defect_pages["clipped"]
    runs = [e for e in res.elements if e.is_text]
    assert len(runs) > 1 and all(e.meta["clip_on"] for e in runs)
    found = _blamed(defects, DefectKind.CLIPPED_TEXT, 2)
    assert len(found) == 1  # the hidden lines of one box make one defect


def test_clean_pages_have_no_layout_defects(defect_pages, basic):
    flagged = [
        d
        for d in detect_defects([basic])[0]
        if d.kind in (DefectKind.OVERLAP, DefectKind.CLIPPED_TEXT, DefectKind.OVERFLOW)
    ]
    assert flagged == []


def test_without_tracing_the_page_is_captured_at_its_full_height(chromium_executable):
    from vsdpo.render.web import WebRenderer

    tall = '<html><body style="margin:0"><div style="height:1500px;background:#123456">x</div></body></html>'
    with WebRenderer(concurrency=1, executable=chromium_executable, trace=False) as r:
        result = r.render(tall, extract=False)
    assert result.ok, result.error
    assert result.elements == []
    assert result.image.shape[:2] == (1500, 1280)
    assert tuple(result.image[700, 640]) == (0x12, 0x34, 0x56)


# A scripted page that tries to reach the renders after it: globals, a timer rewriting the
# document, storage, and a patched prototype the in-page walk relies on
POISON = """<html><body><p id="x">before</p><script>
window.leaked = 1;
localStorage.setItem("leaked", "1");
setInterval(() => {
  if (!document.getElementById("x")) document.body.innerHTML = "<p>hijacked</p>";
}, 1);
const own = Element.prototype.getBoundingClientRect;
Element.prototype.getBoundingClientRect = function () {
  return document.getElementById("x") ? own.call(this) : new DOMRect(0, 0, 1, 1);
};
document.getElementById("x").textContent = "script ran";
</script></body></html>"""
PROBE = """<html><body><p id="p">probe</p><script>
document.getElementById("p").textContent =
  "globals " + (typeof window.leaked) + ", storage " + localStorage.getItem("leaked");
</script></body></html>"""


def test_static_pages_load_in_place_and_nothing_of_a_scripted_page_reaches_them(
    chromium_executable,
):
    from vsdpo.render.web import WebRenderer

    static = "<html><body><h1>static page</h1><p>second line</p></body></html>"
    # html.parser reads "<!-->" as the start of a comment running to "-->", Chromium as an empty
    # comment: the script is hidden from the check, and must still not run in place
    hidden = '<p id="h">hidden script stayed off</p><!--><script>h.textContent="ran"</script>-->'
    # scripting is on for the parser: <noscript> stays hidden, as in any browser
    noscript = '<p>seen</p><noscript><div style="width: 3000px">no script</div></noscript>'
    # one tab: every page follows the one before it in the same window
    with WebRenderer(concurrency=1, executable=chromium_executable, timeout_s=10) as r:
        first = r.render(static, extract=False)
        poisoned = r.render(POISON, extract=False)
        after = r.render_many([static, hidden, PROBE, static, noscript], extract=False)
        assert r._tabs.qsize() == 1
        tab = r._tabs.get_nowait()
        r._tabs.put_nowait(tab)
        origin_after_static = tab.origin
    assert only_text(poisoned, "script ran")  # scripted pages run their scripts
    for res in (first, after[0], after[3]):
        heading = only_text(res, "static page")
        # the true boxes: neither the timer nor the patched prototype reached this page
        assert heading.bbox[2] - heading.bbox[0] > 100
        assert not any(e.text == "hijacked" for e in res.elements)
    assert only_text(after[1], "hidden script stayed off")
    assert [e.text for e in after[4].elements if e.is_text] == ["seen"]
    assert after[4].elements[0].meta["scroll_width"] == 1280
    # the next scripted page starts at a fresh origin with fresh globals and storage
    assert only_text(after[2], "globals undefined, storage null")
    assert origin_after_static is not None and origin_after_static.endswith(".vsdpo.invalid")


def test_in_place_and_navigated_renders_are_the_same(chromium_executable, assets):
    from vsdpo.render.web import WebRenderer

    pages = [BASIC, *DEFECT_PAGES.values()]
    out = {}
    for mode in ("auto", "always"):
        with WebRenderer(concurrency=1, executable=chromium_executable, navigation=mode) as r:
            out[mode] = r.render_many(pages, extract=False, base_dirs=[assets] * len(pages))
    for a, b in zip(out["auto"], out["always"]):
        assert a.ok and b.ok
        assert np.array_equal(a.image, b.image)
        assert [(e.kind, e.bbox, e.text, e.source) for e in a.elements] == [
            (e.kind, e.bbox, e.text, e.source) for e in b.elements
        ]
    with pytest.raises(ValueError, match="navigation"):
        WebRenderer(executable=chromium_executable, navigation="never")


VIEWPORT_PAGES = {
    # the root's overflow belongs to the viewport: it scrolls, it does not clip the band
    "root_scrolls": """<html><head><style>
html { overflow-y: scroll }
body { margin: 0 }
</style></head><body>
<div style="width: 3000px; background: #dde3ee">A very wide band</div>
</body></html>""",  # the band: line 5
    # the body's overflow-x goes to the viewport: the band is cut at its edge, nothing scrolls
    "body_hides": """<html><head><style>
body { margin: 0; overflow-x: hidden }
</style></head><body>
<div style="width: 3000px; background: #dde3ee">A very wide band</div>
</body></html>""",
    # a fixed header, a box over a paragraph far down the page, a paragraph left clear: the
    # cover test scrolls each paragraph under the header, which must not hide the box below it
    "fixed_header": """<html><head><style>
body { margin: 0 }
header { position: fixed; top: 0; left: 0; right: 0; height: 120px; background: #222 }
.spacer { height: 900px }
.slot { position: relative; height: 60px }
.cover { position: absolute; left: 0; top: 0; width: 600px; height: 60px; background: #c00 }
</style></head><body>
<header></header>
<div class="spacer"></div>
<div class="slot"><p style="margin: 0">covered paragraph</p>
<div class="cover"></div></div>
<div class="spacer"></div>
<p>clear paragraph</p>
<div class="spacer"></div>
</body></html>""",  # .cover rule: line 6, its div: line 11
    # a positioned box of its own inside the heading, over the heading's text
    "inside_heading": """<html><body style="margin: 0">
<h1 style="margin: 0; font-size: 32px">Heading with a box inside
<div style="position: relative; height: 0">
<div style="position: absolute; left: 0; right: 0; bottom: 0; height: 64px; background: #369"></div></div>
</h1>
</body></html>""",  # the box: line 4
}


@pytest.fixture(scope="module")
def viewport_pages(renderer) -> dict[str, tuple[RenderResult, list]]:
    results = renderer.render_many(list(VIEWPORT_PAGES.values()), extract=False)
    return {name: (res, detect_defects([res])[0]) for name, res in zip(VIEWPORT_PAGES, results)}


def test_the_roots_overflow_scrolls_the_page_and_the_wide_band_is_blamed(viewport_pages):
    res, defects = viewport_pages["root_scrolls"]
    band = only_text(res, "A very wide band")
    assert not band.meta["clip_on"]
    off = [d for d in defects if d.kind == DefectKind.OVERFLOW]
    assert off and all(5 in d.lines for d in off), [(d.lines, d.message) for d in off]


def test_a_viewport_that_hides_overflow_does_not_scroll_sideways(viewport_pages):
    res, defects = viewport_pages["body_hides"]
    assert res.elements[0].meta["viewport_overflow_x"] == "hidden"
    assert res.elements[0].meta["scroll_width"] == 3000  # the DOM still measures it
    assert [d for d in defects if d.kind == DefectKind.OVERFLOW] == []


def test_a_box_under_a_fixed_header_is_still_found_and_the_header_is_not_blamed(viewport_pages):
    res, defects = viewport_pages["fixed_header"]
    covered = only_text(res, "covered paragraph")
    assert covered.meta.get("covered_by") is not None and not covered.meta.get("covered_by_fixed")
    clear = only_text(res, "clear paragraph")
    assert clear.meta.get("covered_by_fixed")  # the test scrolled it under the header
    overlaps = [d for d in defects if d.kind == DefectKind.OVERLAP]
    assert len(overlaps) == 1 and {6, 11} <= set(overlaps[0].lines)


def test_a_positioned_box_inside_the_heading_covers_its_text(viewport_pages):
    res, defects = viewport_pages["inside_heading"]
    heading = only_text(res, "Heading with a box inside")
    assert heading.meta.get("covered_fraction", 0) > 0.5
    overlaps = [d for d in defects if d.kind == DefectKind.OVERLAP]
    assert len(overlaps) == 1 and 4 in overlaps[0].lines
