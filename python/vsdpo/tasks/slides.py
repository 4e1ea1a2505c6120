"""The built-in slide-generation task set: short python-pptx decks in four tiers, generated
deterministically.

Every task comes from a small declarative :class:`Deck`: a topic with a title slide (title and
subtitle) and one content slide from an outline, of one of four kinds: bullets, two columns,
image + caption, or a table. :func:`emit` writes the program with python-pptx's default template
layouts (title slide, title and content, two content, title only), so it stays short: the deck is
``prs``, the last line saves it. The tiers mirror the chart set (:mod:`vsdpo.tasks.charts`):

* ``scratch``: the topic and the outline in words — the model writes the whole program;
* ``skeleton``: the reference program with one or two lines replaced by ``# TODO: ...``;
* ``edit``: a working program plus one instruction (a new slide title or subtitle, one more
  bullet, another picture colour, a changed table cell or caption);
* ``repair``: the program with a defect planted by :mod:`vsdpo.evaluate.slide_planting` (long
  text in a small box, a text box moved over another, a box moved off the slide, 8 pt text,
  light grey text), kept in ``meta["broken_code"]`` with the planter's name, kinds and lines; the
  reference is the clean program (the fix removes or undoes the planted lines).

Pictures: the sandbox hides the host's ``/tmp`` and home directories from the program, so a task
cannot hand it an image file; the image + caption slide draws its picture with Pillow (imported
by every slide worker) into the program's own working directory and adds that file.

Size: programs stay under the chart set's token budgets (:data:`MAX_ANSWER_TOKENS`), which is
why a deck has two slides. Generation is a pure function of :data:`VERSION`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from vsdpo.evaluate.slide_planting import SLIDE_PLANTERS
from vsdpo.tasks.suite import draw_suite
from vsdpo.tasks.task import Task, estimate_tokens

#: bump whenever a change alters any generated task
VERSION = "1"
DOMAIN = "slides"

#: how many tasks of each tier the built-in set holds
COUNTS = {"scratch": 50, "skeleton": 60, "edit": 60, "repair": 70}

KINDS = ("bullets", "two_column", "image", "table")
FORMAT = 'Return the whole program in one ```python block; save the deck as "deck.pptx".'
REPAIR_ASK = "The slides have a layout problem; fix it and return the whole program."

#: the chart set's answer budget, by :func:`~vsdpo.tasks.task.estimate_tokens` (within a few
#: percent of the real count on these programs); prompts may be longer than the chart set's
#: 350: a repair prompt carries the slide planters' long lines
MAX_PROMPT_TOKENS = 450
MAX_ANSWER_TOKENS = 232

#: the default template's layouts the programs use
LAYOUT = {"title": 0, "bullets": 1, "two_column": 3, "image": 5, "table": 5}
#: picture colours (Pillow colour names)
PICTURE_COLOURS = ("steelblue", "seagreen", "darkorange", "slateblue", "indianred", "teal")


@dataclass(frozen=True)
class Topic:
    """The texts of one talk, for every kind of content slide."""

    title: str
    subtitles: tuple[str, ...]
    bullets_title: str
    bullets: tuple[str, ...]
    columns_title: str
    columns: tuple[tuple[str, ...], tuple[str, ...]]  # (heading, item, item) per column
    image_title: str
    captions: tuple[str, ...]
    table_title: str
    table: tuple[tuple[str, str, str], ...]  # header row, then data rows


TOPICS = (
    Topic(
        "Cloud migration",
        ("Status update", "Plan for next year", "Team review"),
        "Highlights",
        ("Costs fell by a fifth", "Two regions are live", "Latency halved", "No outages in May",
         "Backups run nightly"),
        "Cloud or on site",
        (("Cloud", "Fast to start", "Pay per use"), ("On site", "Full control", "Fixed cost")),
        "Our new data centre",
        ("Figure 1: the Frankfurt region", "The new region at a glance"),
        "Monthly cost",
        (("Service", "May", "June"), ("Compute", "120", "95"), ("Storage", "40", "42"),
         ("Network", "15", "12")),
    ),
    Topic(
        "Quarterly results",
        ("Second quarter", "Board meeting", "Summary for staff"),
        "Key points",
        ("Revenue grew in every region", "Costs stayed flat", "Two new markets opened",
         "Margins improved", "Hiring is on track"),
        "Plan versus actual",
        (("Plan", "Revenue 40", "Costs 30"), ("Actual", "Revenue 44", "Costs 29")),
        "Our best seller",
        ("Figure 1: units sold per week", "The product of the quarter"),
        "Revenue by region",
        (("Region", "Q1", "Q2"), ("North", "12", "15"), ("South", "9", "11"), ("West", "7", "9")),
    ),
    Topic(
        "Product roadmap",
        ("Spring release", "What comes next", "Plans for the year"),
        "Coming soon",
        ("Dark mode", "Faster search", "Offline editing", "Shared folders", "A new mobile app"),
        "Now and later",
        (("Now", "Bug fixes", "Search"), ("Later", "Mobile app", "Sharing")),
        "The new design",
        ("Figure 1: the home screen", "A first look at the app"),
        "Release dates",
        (("Feature", "Beta", "Launch"), ("Search", "May", "June"), ("Sharing", "June", "Aug"),
         ("Mobile", "Sept", "Nov")),
    ),
    Topic(
        "Customer research",
        ("Interview findings", "What users told us", "Survey results"),
        "What we heard",
        ("Setup takes too long", "Support is friendly", "Prices are fair", "The app feels slow",
         "Reports are useful"),
        "Likes and dislikes",
        (("Likes", "Support", "Reports"), ("Dislikes", "Setup", "Speed")),
        "Where we met users",
        ("Figure 1: a user workshop", "Interviews in Lyon"),
        "Survey scores",
        (("Topic", "2023", "2024"), ("Support", "7.9", "8.4"), ("Speed", "6.1", "6.8"),
         ("Price", "7.0", "7.2")),
    ),
    Topic(
        "Energy savings",
        ("Results of the pilot", "Office buildings", "Year one"),
        "What worked",
        ("Smart heating", "LED lights everywhere", "Solar on two roofs", "Night shutdown",
         "Staff awareness"),
        "Before and after",
        (("Before", "High bills", "Old boilers"), ("After", "Bills down", "Heat pumps")),
        "Solar on the roof",
        ("Figure 1: the new panels", "Panels on the north building"),
        "Energy use (MWh)",
        (("Site", "2023", "2024"), ("North", "410", "350"), ("South", "380", "300"),
         ("Depot", "120", "110")),
    ),
    Topic(
        "Hiring plan",
        ("Next six months", "Growing the team", "For managers"),
        "Priorities",
        ("Two backend engineers", "One designer", "A data analyst", "Faster interviews",
         "Better onboarding"),
        "Teams",
        (("Product", "Designer", "Writer"), ("Platform", "Engineer", "Analyst")),
        "Our new office",
        ("Figure 1: the Berlin office", "Room for twenty more"),
        "Open roles",
        (("Team", "Open", "Filled"), ("Product", "3", "1"), ("Platform", "4", "2"), ("Sales", "2", "2")),
    ),
    Topic(
        "Team retrospective",
        ("Sprint twelve", "What we learned", "Looking back"),
        "Went well",
        ("Releases were on time", "Fewer bugs", "Good pairing", "Clear goals", "Quick reviews"),
        "Keep and change",
        (("Keep", "Pairing", "Demos"), ("Change", "Long meetings", "Late specs")),
        "The team at work",
        ("Figure 1: the team board", "Our planning wall"),
        "Sprint numbers",
        (("Measure", "Sprint 11", "Sprint 12"), ("Stories", "14", "17"), ("Bugs", "9", "5"),
         ("Points", "31", "36")),
    ),
    Topic(
        "Budget review",
        ("Finance update", "Mid-year check", "For department heads"),
        "Summary",
        ("Spending is on plan", "Travel is over budget", "Software costs fell", "Savings of 8%",
         "Reserve untouched"),
        "Spend and save",
        (("Spend", "Training", "Hardware"), ("Save", "Travel", "Licences")),
        "Where the money goes",
        ("Figure 1: spending by team", "Budget split at a glance"),
        "Budget (thousands)",
        (("Item", "Plan", "Actual"), ("Travel", "50", "61"), ("Software", "80", "72"),
         ("Training", "30", "28")),
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Deck:
    """A title slide and one content slide.

    ``kind``: bullets (a title and bullet points), two_column (a title over two lists, each a
    heading and items), image (a title, a Pillow picture and a caption), table (a title over a
    table, header row first)."""

    kind: str
    title: str
    subtitle: str  # "" on image and table decks: their programs are the longest
    heading: str  # the content slide's title
    items: tuple[Any, ...] = ()  # bullets / the two columns / table rows
    colour: str = ""  # image: the picture's colour
    caption: str = ""  # image: the caption


@dataclass
class Program:
    """A generated program and the 1-based lines of each role (title, subtitle, heading, ...)."""

    lines: list[str] = field(default_factory=list)
    roles: dict[str, list[int]] = field(default_factory=dict)

    def add(self, text: str, role: str | None = None) -> None:
        self.lines.append(text)
        if role:
            self.roles.setdefault(role, []).append(len(self.lines))

    @property
    def code(self) -> str:
        return "\n".join(self.lines) + "\n"

    def with_todos(self, todos: dict[str, str]) -> str:
        """The code with the (first) line of each role replaced by ``# TODO: <text>``."""
        lines = list(self.lines)
        for role, text in todos.items():
            n = self.roles[role][0]
            indent = lines[n - 1][: len(lines[n - 1]) - len(lines[n - 1].lstrip())]
            lines[n - 1] = f"{indent}# TODO: {text}"
        return "\n".join(lines) + "\n"


def _str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(items: tuple[str, ...]) -> str:
    """One string literal whose lines become the paragraphs (python-pptx splits on newlines)."""
    return '"' + "\\n".join(items) + '"'


def emit(d: Deck) -> Program:
    """Write the program that builds ``d``."""
    prog = Program()
    if d.kind == "image":
        prog.add("from PIL import Image")
    prog.add("from pptx import Presentation")
    if d.kind in ("image", "table"):
        prog.add("from pptx.util import Inches")
    prog.add("")
    prog.add("prs = Presentation()")
    prog.add(f"slide = prs.slides.add_slide(prs.slide_layouts[{LAYOUT['title']}])", "layout1")
    prog.add(f"slide.shapes.title.text = {_str(d.title)}", "title")
    if d.subtitle:
        prog.add(f"slide.placeholders[1].text = {_str(d.subtitle)}", "subtitle")
    prog.add("")
    prog.add(f"slide = prs.slides.add_slide(prs.slide_layouts[{LAYOUT[d.kind]}])", "layout2")
    prog.add(f"slide.shapes.title.text = {_str(d.heading)}", "heading")
    if d.kind == "bullets":
        prog.add(f"slide.placeholders[1].text = {_lines(d.items)}", "body")
    elif d.kind == "two_column":
        prog.add(f"slide.placeholders[1].text = {_lines(d.items[0])}", "left")
        prog.add(f"slide.placeholders[2].text = {_lines(d.items[1])}", "right")
    elif d.kind == "image":
        prog.add(f'Image.new("RGB", (4, 3), "{d.colour}").save("photo.png")', "picture")
        prog.add('slide.shapes.add_picture("photo.png", Inches(2), Inches(2), Inches(6))', "place")
        box = "slide.shapes.add_textbox(Inches(2), Inches(6.5), Inches(6), Inches(1))"
        prog.add(f"{box}.text_frame.text = {_str(d.caption)}", "caption")
    elif d.kind == "table":
        rows = ", ".join("[" + ", ".join(_str(c) for c in row) + "]" for row in d.items)
        prog.add(f"rows = [{rows}]", "rows")
        n = len(d.items)
        prog.add(
            f"table = slide.shapes.add_table({n}, 3, Inches(1), Inches(2), Inches(8), "
            f"Inches({n // 2 + 1})).table",
            "table",
        )
        prog.add("for r, row in enumerate(rows):", "loop")
        prog.add("    for c, text in enumerate(row):", "loop")
        prog.add("        table.cell(r, c).text = text", "cell")
    else:
        raise ValueError(f"unknown slide kind {d.kind!r}")
    prog.add('prs.save("deck.pptx")', "save")
    return prog


def required_texts(d: Deck) -> tuple[str, ...]:
    """The strings a faithful deck draws (each short enough to stay on one line)."""
    out = [t for t in (d.title, d.subtitle, d.heading) if t]
    if d.kind == "bullets":
        out += list(d.items)
    elif d.kind == "two_column":
        out += [*d.items[0], *d.items[1]]
    elif d.kind == "image":
        out.append(d.caption)
    elif d.kind == "table":
        out += [c for row in d.items for c in row]
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# Deck makers


def make_deck(rng: random.Random, kind: str) -> Deck:
    topic = rng.choice(TOPICS)
    subtitle = rng.choice(topic.subtitles)
    common = {
        "title": topic.title,
        "subtitle": subtitle if kind in ("bullets", "two_column") else "",
    }
    if kind == "bullets":
        items = tuple(rng.sample(topic.bullets, rng.randint(3, 4)))
        return Deck("bullets", heading=topic.bullets_title, items=items, **common)
    if kind == "two_column":
        return Deck("two_column", heading=topic.columns_title, items=topic.columns, **common)
    if kind == "image":
        return Deck(
            "image",
            heading=topic.image_title,
            colour=rng.choice(PICTURE_COLOURS),
            caption=rng.choice(topic.captions),
            **common,
        )
    if kind == "table":
        rows = (topic.table[0], *rng.sample(topic.table[1:], 2))
        return Deck("table", heading=topic.table_title, items=rows, **common)
    raise ValueError(f"unknown slide kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Tier: scratch


def _quoted(items: Any) -> str:
    return ", ".join(f"'{x}'" for x in items)


def describe(d: Deck) -> str:
    """The outline in words, for a scratch prompt."""
    sub = f", subtitle '{d.subtitle}'" if d.subtitle else " (no subtitle)"
    head = (
        f"a deck on '{d.title}' with the default template. Slide 1 (title slide): title "
        f"'{d.title}'{sub}. Slide 2: "
    )
    if d.kind == "bullets":
        return head + f"title '{d.heading}' and the bullets {_quoted(d.items)}."
    if d.kind == "two_column":
        left, right = d.items
        return (
            head + f"two columns under the title '{d.heading}'; left: {_quoted(left)}; "
            f"right: {_quoted(right)}."
        )
    if d.kind == "image":
        return (
            head + f"title '{d.heading}', a 400x300 {d.colour} picture made with Pillow, 6 inches "
            f"wide, and the caption '{d.caption}' under it."
        )
    if d.kind == "table":
        rows = "; ".join(", ".join(r) for r in d.items)
        return head + f"title '{d.heading}' and a table with the rows: {rows}."
    raise ValueError(f"cannot describe kind {d.kind!r}")


def scratch_task(i: int, draw: int = 0) -> Task:
    rng = _rng("scratch", i, draw)
    deck = make_deck(rng, KINDS[i % len(KINDS)])
    prompt = f"Write a Python program that uses python-pptx to build {describe(deck)}\n{FORMAT}"
    return _task("scratch", i, prompt, deck, {"kind": deck.kind})


# ---------------------------------------------------------------------------------------------
# Tier: skeleton


def _todo_text(d: Deck, role: str) -> str | None:
    if role == "layout2":
        name = {"bullets": "title and content", "two_column": "two content"}.get(
            d.kind, "title only"
        )
        return f"add the second slide with the '{name}' layout ({LAYOUT[d.kind]})"
    texts = {
        "title": f"set the title to '{d.title}'",
        "subtitle": f"set the subtitle to '{d.subtitle}'",
        "heading": f"set the slide's title to '{d.heading}'",
    }
    if role in texts:
        return texts[role]
    if role == "body":
        return f"fill the body with the bullets {_quoted(d.items)}"
    if role in ("left", "right"):
        items = d.items[0 if role == "left" else 1]
        return f"fill the {role} column with {_quoted(items)}"
    if role == "picture":
        return f"make a 4x3 {d.colour} picture with Pillow and save it as photo.png"
    if role == "caption":
        return f"add a caption '{d.caption}' under the picture (6 x 0.5 inches at 2, 6.5)"
    if role == "cell":
        return "set the cell's text"
    return None


def skeleton_task(i: int, draw: int = 0) -> Task:
    rng = _rng("skeleton", i, draw)
    deck = make_deck(rng, KINDS[i % len(KINDS)])
    prog = emit(deck)
    roles = [r for r in prog.roles if _todo_text(deck, r)]
    picked = rng.sample(roles, rng.choice((1, 2, 2)))
    picked.sort(key=lambda r: prog.roles[r][0])
    code = prog.with_todos({r: _todo_text(deck, r) for r in picked})
    prompt = (
        "Complete this python-pptx program: replace each # TODO comment with the code it "
        f"describes.\n\n```python\n{code}```\n{FORMAT}"
    )
    meta = {
        "kind": deck.kind,
        "skeleton_code": code,
        "todo_roles": picked,
        "todo_lines": [prog.roles[r][0] for r in picked],
    }
    return _task("skeleton", i, prompt, deck, meta)


# ---------------------------------------------------------------------------------------------
# Tier: edit


def _edit_heading(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    new = rng.choice(("At a glance", "In short", "The details", "Where we stand", "Next steps"))
    return f"Change the second slide's title to '{new}'.", replace(d, heading=new)


def _edit_subtitle(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if not d.subtitle:
        return None
    new = rng.choice(("June update", "For the whole team", "Draft for review", "Version two"))
    return f"Change the subtitle to '{new}'.", replace(d, subtitle=new)


def _edit_bullet(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if d.kind != "bullets" or len(d.items) >= 4:
        return None
    new = rng.choice(("Questions welcome", "More next month", "Details in the appendix"))
    return f"Add the bullet '{new}' at the end.", replace(d, items=(*d.items, new))


def _edit_colour(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if d.kind != "image":
        return None
    new = rng.choice([c for c in PICTURE_COLOURS if c != d.colour])
    return f"Make the picture {new} instead of {d.colour}.", replace(d, colour=new)


def _edit_caption(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if d.kind != "image":
        return None
    new = rng.choice(("Photo: our team", "Figure 2: a closer look", "Source: internal"))
    return f"Change the caption to '{new}'.", replace(d, caption=new)


def _edit_cell(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if d.kind != "table":
        return None
    r = rng.randrange(1, len(d.items))
    row = d.items[r]
    new = str(rng.randint(10, 99))
    if new == row[2]:
        return None
    items = list(d.items)
    items[r] = (row[0], row[1], new)
    return (
        f"In the table, change the {d.items[0][2]} value of {row[0]} from {row[2]} to {new}.",
        replace(d, items=tuple(items)),
    )


def _edit_swap_columns(rng: random.Random, d: Deck) -> tuple[str, Deck] | None:
    if d.kind != "two_column":
        return None
    left, right = d.items
    return (
        f"Swap the two columns ('{right[0]}' on the left, '{left[0]}' on the right).",
        replace(d, items=(right, left)),
    )


EDITS = {
    "heading": _edit_heading,
    "subtitle": _edit_subtitle,
    "bullet": _edit_bullet,
    "colour": _edit_colour,
    "caption": _edit_caption,
    "cell": _edit_cell,
    "swap_columns": _edit_swap_columns,
}

#: (slide kind, edit) per task, cycled: every edit on the decks it fits
EDIT_PLAN = (
    ("bullets", "bullet"),
    ("two_column", "swap_columns"),
    ("image", "colour"),
    ("table", "cell"),
    ("bullets", "heading"),
    ("two_column", "subtitle"),
    ("image", "caption"),
    ("table", "heading"),
    ("bullets", "subtitle"),
    ("two_column", "heading"),
    ("image", "heading"),
    ("table", "cell"),
)


def edit_task(i: int, draw: int = 0) -> Task:
    rng = _rng("edit", i, draw)
    kind, wanted = EDIT_PLAN[i % len(EDIT_PLAN)]
    base = make_deck(rng, kind)
    names = list(EDITS)
    start = names.index(wanted)
    for name in names[start:] + names[:start]:
        done = EDITS[name](rng, base)
        if done:
            break
    else:  # pragma: no cover - heading fits every deck
        raise AssertionError(f"no edit fits {base.kind}")
    instruction, target = done
    code = emit(base).code
    prompt = (
        f"Here is a python-pptx program:\n\n```python\n{code}```\n"
        f"{instruction} Keep everything else the same.\n{FORMAT}"
    )
    meta = {"kind": base.kind, "edit": name, "instruction": instruction, "base_code": code}
    return _task("edit", i, prompt, target, meta)


# ---------------------------------------------------------------------------------------------
# Tier: repair

#: the slide planters, and the content slides they fit (shape_over needs a slide with three
#: text boxes: the two-column slide)
REPAIR_PLAN = (
    ("long_text", KINDS),
    ("shape_over", ("two_column",)),
    ("off_slide", KINDS),
    ("small_font", KINDS),
    ("light_grey", KINDS),
)


def repair_task(i: int, draw: int = 0) -> Task:
    rng = _rng("repair", i, draw)
    name, kinds = REPAIR_PLAN[i % len(REPAIR_PLAN)]
    kind = kinds[(i // len(REPAIR_PLAN)) % len(kinds)]
    deck = make_deck(rng, kind)
    planted = SLIDE_PLANTERS[name].plant(emit(deck).code)
    assert planted is not None  # every program ends in prs.save(...)
    code = planted.source
    prompt = f"Here is a python-pptx program:\n\n```python\n{code}```\n{REPAIR_ASK}\n{FORMAT}"
    meta = {
        "kind": kind,
        "planted": name,
        "planted_kinds": list(planted.expected_kinds),
        "planted_lines": list(planted.lines),
        "broken_code": code,
    }
    return _task("repair", i, prompt, deck, meta)


# ---------------------------------------------------------------------------------------------
# The set


def _rng(tier: str, i: int, draw: int = 0) -> random.Random:
    # a str seed is hashed with SHA-512 (random.seed version 2): stable across runs and versions
    return random.Random(f"vsdpo/slides/v{VERSION}/{tier}/{i}/{draw}")


def _task(tier: str, i: int, prompt: str, deck: Deck, meta: dict[str, Any]) -> Task:
    return Task(
        id=f"slides/{tier}/{i:04d}",
        domain=DOMAIN,
        tier=tier,
        prompt=prompt,
        reference_code=emit(deck).code,
        required_texts=required_texts(deck),
        meta={"version": VERSION, **meta},
    )


BUILDERS = {
    "scratch": scratch_task,
    "skeleton": skeleton_task,
    "edit": edit_task,
    "repair": repair_task,
}


def fits_budget(task: Task) -> bool:
    return (
        estimate_tokens(task.prompt) <= MAX_PROMPT_TOKENS
        and estimate_tokens(task.reference_code) <= MAX_ANSWER_TOKENS
    )


def generate(counts: dict[str, int] | None = None) -> list[Task]:
    """The built-in slide tasks (all splits), in a fixed order: tier by tier, by index; a task
    that does not fit the budgets or repeats an earlier one's prompt is redrawn."""
    return draw_suite(DOMAIN, BUILDERS, COUNTS if counts is None else counts, fits_budget)
