"""A deterministic generator of varied, clean python-pptx decks (there is no public slide set
here), for the slide detector's evaluation and the slide tests.

:func:`generate_decks` returns ``n`` programs, each the plain python-pptx code a careful author
would write: a 16:9 or 4:3 deck of 3 to 6 slides drawn from six slide types (title, bullets,
two columns, image + caption, table, chart image), with one of several colour schemes, light or
white backgrounds, and texts of varied length. Pictures (photos stand-ins, bar charts) are drawn
with PIL inside the program, so a deck needs no files. Every deck has a two-column slide (two
``Body`` text boxes, which the shape-over planter collides).

The decks are meant to be defect-free: geometry on a 0.25 in grid or mirrored about the slide's
centre line (no edges 1-5 px apart by accident), boxes sized for their text, fonts >= 14 pt,
dark text on light backgrounds and white text on dark bars. Text boxes are named ``Title``/
``Body`` so planted code can find them. The deck variable is ``prs``; the last line saves it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SLIDE_TYPES = ("title", "bullets", "two_column", "image_caption", "table", "chart")

_SCHEMES = (
    # (dark, accent, background)
    ((0x1F, 0x2A, 0x44), (0x2E, 0x75, 0xB6), (0xFF, 0xFF, 0xFF)),
    ((0x22, 0x22, 0x22), (0xC0, 0x39, 0x2B), (0xFA, 0xFA, 0xFA)),
    ((0x0B, 0x3D, 0x2E), (0x1E, 0x88, 0x5A), (0xF4, 0xF8, 0xF5)),
    ((0x3A, 0x1F, 0x5D), (0x7B, 0x4F, 0xB0), (0xFF, 0xFF, 0xFF)),
    ((0x33, 0x33, 0x33), (0xE6, 0x7E, 0x22), (0xFD, 0xFB, 0xF7)),
)
_TOPICS = (
    "Quarterly results",
    "Product roadmap",
    "Customer research",
    "Hiring plan",
    "Cloud migration",
    "Market overview",
    "Energy savings",
    "Team retrospective",
    "Budget review",
    "Launch checklist",
)
_PHRASES = (
    "Revenue grew in every region",
    "Costs stayed flat year on year",
    "Two new markets opened",
    "Churn fell below four percent",
    "Support tickets halved",
    "Release cadence is now weekly",
    "Hiring is on track",
    "Margins improved slightly",
    "The pilot met its targets",
    "Feedback was mostly positive",
    "Latency dropped by a third",
    "Three vendors were shortlisted",
    "Training starts next month",
    "Risks are tracked weekly",
    "Onboarding takes two days",
)
_SHORT = ("North", "South", "East", "West", "Online", "Retail", "Partners", "Direct")


@dataclass(frozen=True)
class Deck:
    name: str
    code: str
    slide_types: tuple[str, ...]
    wide: bool


def _rgb(c: tuple[int, int, int]) -> str:
    return f"RGBColor(0x{c[0]:02X}, 0x{c[1]:02X}, 0x{c[2]:02X})"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = {"Title": 0, "Body": 0}

    def __call__(self, line: str = "") -> None:
        self.lines.append(line)

    def name(self, prefix: str) -> str:
        self.n[prefix] += 1
        return f"{prefix} {self.n[prefix]}"


def _textbox(w: _Writer, var: str, box, name: str, paragraphs, size: int, colour, bold=False):
    x, y, wd, ht = box
    w(
        f"{var} = slide.shapes.add_textbox(Inches({x:g}), Inches({y:g}), Inches({wd:g}), Inches({ht:g}))"
    )
    w(f'{var}.name = "{name}"')
    w(f"{var}.text_frame.word_wrap = True")
    for k, text in enumerate(paragraphs):
        if k == 0:
            w(f"p = {var}.text_frame.paragraphs[0]")
        else:
            w(f"p = {var}.text_frame.add_paragraph()")
        w(f"p.text = {text!r}")
        w(f"p.font.size = Pt({size})")
        w(f"p.font.color.rgb = {_rgb(colour)}")
        if bold:
            w("p.font.bold = True")


def _new_slide(w: _Writer, background) -> None:
    w("slide = prs.slides.add_slide(prs.slide_layouts[6])")
    if background != (0xFF, 0xFF, 0xFF):
        w("slide.background.fill.solid()")
        w(f"slide.background.fill.fore_color.rgb = {_rgb(background)}")


def _title(w: _Writer, W: float, text: str, dark) -> None:
    _textbox(w, "title", (0.75, 0.5, W - 1.5, 1.0), w.name("Title"), [text], 32, dark, bold=True)


def _image_code(w: _Writer, rng: random.Random, kind: str, accent, size=(600, 400)) -> None:
    """Lines drawing a PIL image into ``img`` (a bar chart or an abstract 'photo')."""
    wd, ht = size
    w(f"img = Image.new('RGB', ({wd}, {ht}), (255, 255, 255))")
    w("draw = ImageDraw.Draw(img)")
    if kind == "chart":
        values = [rng.randint(20, 95) for _ in range(rng.randint(3, 6))]
        w(f"values = {values}")
        w(f"draw.line([(40, {ht - 40}), ({wd - 20}, {ht - 40})], fill=(80, 80, 80), width=2)")
        w("for i, v in enumerate(values):")
        w(f"    x0 = 60 + i * {(wd - 100) // len(values)}")
        w(
            f"    draw.rectangle([x0, {ht - 40} - v * {(ht - 80) / 100:.2f}, "
            f"x0 + {(wd - 100) // len(values) - 20}, {ht - 40}], fill={tuple(accent)})"
        )
    else:
        w(f"for i in range({ht}):")
        w(
            f"    draw.line([(0, i), ({wd}, i)], fill=({accent[0]} * i // {ht}, "
            f"{accent[1]} * i // {ht}, 160 + {min(accent[2], 95)} * i // {ht}))"
        )
        w(
            f"draw.ellipse([{wd // 3}, {ht // 4}, {wd // 3 + ht // 2}, {ht // 4 + ht // 2}], fill=(250, 220, 120))"
        )
    w("buf = BytesIO()")
    w("img.save(buf, format='PNG')")
    w("buf.seek(0)")


def _slide(w: _Writer, rng: random.Random, kind: str, W: float, scheme, topic: str) -> None:
    dark, accent, background = scheme
    grey = (0x44, 0x44, 0x44)
    if kind == "title":
        _new_slide(w, background)
        w(
            "bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, Inches(2.5), prs.slide_width, Inches(2))"
        )
        w("bar.fill.solid()")
        w(f"bar.fill.fore_color.rgb = {_rgb(dark)}")
        w("bar.line.fill.background()")
        _textbox(
            w,
            "title",
            (0.75, 2.75, W - 1.5, 1.25),
            w.name("Title"),
            [topic],
            40,
            (255, 255, 255),
            True,
        )
        sub = rng.choice(("Status update", "Review and next steps", "Findings and proposals"))
        _textbox(w, "sub", (0.75, 5.0, W - 1.5, 0.75), w.name("Body"), [sub], 20, grey)
        return
    _new_slide(w, background)
    if kind == "bullets":
        _title(w, W, rng.choice(("Highlights", "Where we are", "Key points")), dark)
        items = rng.sample(_PHRASES, rng.randint(3, 5))
        _textbox(
            w,
            "body",
            (0.75, 1.75, W - 1.5, 4.75),
            w.name("Body"),
            ["• " + s for s in items],
            20,
            grey,
        )
    elif kind == "two_column":
        _title(w, W, rng.choice(("Before and after", "Options", "Plan versus actual")), dark)
        col = 4.0 if W < 11 else 5.5
        left = rng.sample(_PHRASES, 3)
        right = rng.sample([p for p in _PHRASES if p not in left], 3)
        _textbox(
            w, "left", (0.75, 1.75, col, 4.5), w.name("Body"), ["• " + s for s in left], 18, grey
        )
        _textbox(
            w,
            "right",
            (W - 0.75 - col, 1.75, col, 4.5),
            w.name("Body"),
            ["• " + s for s in right],
            18,
            grey,
        )
    elif kind in ("image_caption", "chart"):
        _title(w, W, "Sales by channel" if kind == "chart" else "In the field", dark)
        _image_code(w, rng, "chart" if kind == "chart" else "photo", accent)
        pic_w = 5.5 if W < 11 else 6.0
        w(
            f"pic = slide.shapes.add_picture(buf, Inches(0.75), Inches(1.75), Inches({pic_w:g}), Inches({pic_w * 2 / 3:g}))"
        )
        caption = rng.choice(
            ("Figure 1: units sold per channel", "Site visit, spring", "Prototype under test")
        )
        _textbox(
            w,
            "caption",
            (0.75, 1.75 + pic_w * 2 / 3 + 0.25, pic_w, 0.5),
            w.name("Body"),
            [caption],
            14,
            grey,
        )
        side = (W - 0.75 - (W - pic_w - 2.0), 1.75, W - pic_w - 2.0, 3.5)
        if side[2] >= 2.5:
            notes = rng.sample(_PHRASES, 2)
            _textbox(w, "notes", side, w.name("Body"), notes, 16, grey)
    elif kind == "table":
        _title(w, W, rng.choice(("Numbers at a glance", "Results by region")), dark)
        rows, cols = rng.randint(3, 5), rng.randint(3, 4)
        w(
            f"shape = slide.shapes.add_table({rows}, {cols}, Inches(0.75), Inches(1.75), Inches({W - 1.5:g}), Inches({rows * 0.5:g}))"
        )
        w("table = shape.table")
        header = ["Region", "Q1", "Q2", "Q3"][:cols]
        for c, text in enumerate(header):
            w(f"table.cell(0, {c}).text = {text!r}")
            w(f"table.cell(0, {c}).fill.solid()")
            w(f"table.cell(0, {c}).fill.fore_color.rgb = {_rgb(dark)}")
        for r in range(1, rows):
            w(f"table.cell({r}, 0).text = {rng.choice(_SHORT)!r}")
            for c in range(1, cols):
                w(f"table.cell({r}, {c}).text = '{rng.randint(10, 999)}'")
        w("for row in table.rows:")
        w("    for cell in row.cells:")
        w("        cell.text_frame.paragraphs[0].font.size = Pt(14)")
        _textbox(
            w, "note", (0.75, 1.75 + rows * 0.5 + 0.5, W - 1.5, 0.75), w.name("Body"),
            [rng.choice(("Figures in thousands of units", "Source: internal reporting"))], 14, grey,
        )  # fmt: skip


def make_deck(seed: int, index: int = 0) -> Deck:
    """One deck, a pure function of ``seed``."""
    rng = random.Random(seed)
    wide = rng.random() < 0.6
    W = 13.333 if wide else 10.0
    scheme = _SCHEMES[rng.randrange(len(_SCHEMES))]
    topic = rng.choice(_TOPICS)
    middle = rng.sample(("bullets", "image_caption", "table", "chart"), rng.randint(1, 3))
    types = (
        ["title", "two_column", *middle] if rng.random() < 0.5 else ["title", *middle, "two_column"]
    )
    w = _Writer()
    w("from io import BytesIO")
    w("")
    w("from PIL import Image, ImageDraw")
    w("from pptx import Presentation")
    w("from pptx.dml.color import RGBColor")
    w("from pptx.enum.shapes import MSO_SHAPE")
    w("from pptx.util import Emu, Inches, Pt")
    w("")
    w("prs = Presentation()")
    if wide:
        w("prs.slide_width = Emu(12192000)")
        w("prs.slide_height = Emu(6858000)")
    for kind in types:
        w("")
        w(f"# --- {kind.replace('_', ' ')} slide")
        _slide(w, rng, kind, W, scheme, topic)
    w("")
    w('prs.save("deck.pptx")')
    return Deck(f"deck_{index:03d}", "\n".join(w.lines) + "\n", tuple(types), wide)


def generate_decks(n: int = 40, seed: int = 0) -> list[Deck]:
    """``n`` decks, deterministic in ``seed``."""
    return [make_deck(seed * 100003 + k, k) for k in range(n)]
