"""The slide renderer end to end: sandboxed python-pptx, real LibreOffice, pdfium, elements.

One renderer per module (LibreOffice and the sandbox workers start once)."""

from __future__ import annotations

import os
import signal
import textwrap

import pytest

from vsdpo.artifact import ElementKind

DECK = textwrap.dedent(
    """\
    from pptx import Presentation
    from pptx.util import Inches, Pt
    from pptx.dml.color import RGBColor
    prs = Presentation()
    prs.slide_width = Inches(13.333)
    prs.slide_height = Inches(7.5)
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
    box.text_frame.text = "Quarterly results"
    run = box.text_frame.paragraphs[0].runs[0]
    run.font.size = Pt(32)
    run.font.color.rgb = RGBColor(0x20, 0x40, 0x80)
    box.left = Inches(2)
    slide2 = prs.slides.add_slide(prs.slide_layouts[1])
    slide2.shapes.title.text = "Second slide"
    slide2.placeholders[1].text = "A bullet"
    prs.save("deck.pptx")
    """
)


@pytest.fixture(scope="module")
def renderer(soffice_executable):
    from vsdpo.render.slides import SlidesRenderer

    with SlidesRenderer(workers=1) as r:
        yield r


def test_renders_every_slide_with_measured_text_and_blamed_lines(renderer):
    result = renderer.render(DECK, extract=False)
    assert result.ok, result.error
    assert len(result.pages) == 2 and result.canvas == (1280, 720)
    assert result.pages[0].shape == (720, 1280, 3)
    text = next(e for e in result.elements if e.kind == ElementKind.TEXT and e.page == 0)
    assert text.text == "Quarterly results"
    assert text.color == (0x20, 0x40, 0x80)  # the colour LibreOffice drew, from the PDF
    assert text.meta["font_pt"] == pytest.approx(32, abs=0.2)
    lines = text.lines()
    assert {8, 9, 11, 12} <= set(lines)  # created, text set, font size, colour
    shape = result.element(text.parent)
    shape = result.element(shape.parent)
    assert shape.kind == ElementKind.SHAPE and shape.name == "text box 'TextBox 1'"
    assert shape.bbox[0] == pytest.approx(2 * 96, abs=0.5)  # moved by line 13
    assert 13 in shape.lines() and 8 in shape.lines()
    # the text is measured where LibreOffice drew it: inside the box, right of its left edge
    assert shape.bbox[0] < text.bbox[0] < shape.bbox[2]
    title = next(e for e in result.elements if e.kind == ElementKind.TITLE)
    assert title.page == 1 and title.text == "Second slide" and {14, 15} <= set(title.lines())
    assert result.traced_fraction == 1.0


def test_presentation_left_in_a_variable_is_found(renderer):
    code = DECK.replace('prs.save("deck.pptx")\n', "")
    result = renderer.render(code, extract=False)
    assert result.ok and len(result.pages) == 2


def test_no_presentation_and_exceptions_are_errors(renderer):
    none = renderer.render("x = 1\n", extract=False)
    assert not none.ok and none.error.type == "NoPresentation"
    boom = renderer.render(
        "from pptx import Presentation\nprs = Presentation()\nraise ValueError('boom')\n",
        extract=False,
    )
    assert not boom.ok and boom.error.type == "ValueError" and boom.error.line == 3


def test_detects_planted_style_defects_on_a_real_render(renderer):
    from vsdpo.defects import detect_defects

    code = DECK.replace("Pt(32)", "Pt(8)").replace(
        "RGBColor(0x20, 0x40, 0x80)", "RGBColor(0xDD, 0xDD, 0xDD)"
    )
    result = renderer.render(code, extract=False)
    kinds = {d.kind: d for d in detect_defects([result])[0]}
    assert 11 in kinds["small_font"].lines
    assert 12 in kinds["low_contrast"].lines


def test_office_restarts_after_a_crash_and_a_hang(soffice_executable):
    from vsdpo.render.office import OfficeError, OfficeService

    with OfficeService() as office:
        from vsdpo.render.slides_runner import run

        pptx = run(DECK)["pptx"]
        assert office.convert(pptx).startswith(b"%PDF")
        with pytest.raises(OfficeError) as bad:
            office.convert(b"not a deck")
        assert bad.value.kind == "error"
        os.killpg(office.pid, signal.SIGKILL)  # LibreOffice crashes
        with pytest.raises(OfficeError) as crashed:
            office.convert(pptx)
        assert crashed.value.kind == "crash" and office.restarts == 1
        with pytest.raises(OfficeError) as hung:
            office.convert(pptx, timeout_s=0.001)  # no answer in time: treated as a hang
        assert hung.value.kind == "timeout" and office.restarts == 2
        assert office.convert(pptx).startswith(b"%PDF")
