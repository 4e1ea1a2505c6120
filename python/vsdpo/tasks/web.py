"""The built-in UI-to-code task set: short HTML/CSS pages in four tiers, generated deterministically.

Every task comes from a small declarative :class:`Page` (one section of a made-up site: a nav
bar, a landing hero, a grid of cards, a form or a table; its texts, colours and layout) that
:func:`emit` turns into a short page: a ``<style>`` block of one-line rules, then a ``<body>``
with one element per line. The tiers mirror the chart set (:mod:`vsdpo.tasks.charts`):

* ``scratch``: the page in words (texts, colours, layout) — the model writes the whole page;
* ``skeleton``: the reference page with one or two lines (a CSS rule or an element) replaced by
  ``/* TODO: ... */`` / ``<!-- TODO: ... -->`` comments that say what the line must be;
* ``edit``: a working page plus one instruction (a new colour, heading text, column count,
  alignment, an extra link, field or row, a new button label);
* ``repair``: a page whose render has a layout defect the web detector finds, planted in one of
  the page's own rules as the patterns of :mod:`vsdpo.evaluate.web_planting` do: a heading
  squeezed into a 60 px box it cannot wrap in (``clipped_text``), white heading text on a white
  or light page (``low_contrast``), a filled box positioned over the heading (``overlap``), an
  element 3000 px wide (1800 px for a table) or a section pulled past the left edge by a
  negative margin (``overflow``; see :func:`defect_role`). The broken page is
  ``meta["broken_code"]``, with the planted defect's name, kinds and line(s); the reference is
  the clean page.

Reference images: rendering needs Chromium, and the set must load without it, so the tasks carry
``reference_image=None``; :func:`vsdpo.tasks.references.render_reference_images` renders them
when an experiment needs them.

Size: pages stay under the chart set's token budgets (:data:`MAX_ANSWER_TOKENS`; HTML costs the
default model's tokenizer about one token per word or symbol, like the estimate), so the
``<html>``/``<head>`` wrappers are left out (HTML5 implies them) and a page has one section.
Generation is a pure function of :data:`VERSION` (string seeds, never the salted ``hash``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from vsdpo.tasks.suite import draw_suite
from vsdpo.tasks.task import Task, estimate_tokens

#: bump whenever a change alters any generated task
VERSION = "1"
DOMAIN = "web"

#: how many tasks of each tier the built-in set holds
COUNTS = {"scratch": 50, "skeleton": 60, "edit": 60, "repair": 70}

KINDS = ("nav", "landing", "cards", "form", "table")
FORMAT = "Return the whole page in one ```html block (CSS in a <style> tag, no scripts)."
REPAIR_ASK = "The page has a layout problem; fix it and return the whole page."

#: the chart set's budgets, by :func:`~vsdpo.tasks.task.estimate_tokens` (which over-counts
#: these pages by a few percent)
MAX_PROMPT_TOKENS = 350
MAX_ANSWER_TOKENS = 232

#: dark colours: white text on them and them as text on white/light backgrounds pass WCAG AA
DARKS = ("#1f3a5f", "#2d4a22", "#5b2333", "#3a2f6b", "#004d61", "#333333", "#6b3a00")
#: button / header colours with white text (contrast >= 4.5 against #fff)
ACCENTS = ("#b03a2e", "#1d5f99", "#1e6b45", "#7d3c98", "#a04000", "#00695c")
#: light section backgrounds (dark text on them)
LIGHTS = ("#f4f6fa", "#eef5ee", "#fdf6ec", "#f5f0fa", "#eaf4f7", "#f7f7f7")


@dataclass(frozen=True)
class Site:
    """The texts of one made-up site, for every kind of section."""

    brand: str
    links: tuple[str, ...]
    headline: str
    tagline: str
    cta: str
    cards_heading: str
    cards: tuple[tuple[str, str], ...]
    form_heading: str
    fields: tuple[str, ...]
    submit: str
    table_heading: str
    header: tuple[str, str, str]
    rows: tuple[tuple[str, str, str], ...]


SITES = (
    Site(
        "Trailhead",
        ("Shop", "Guides", "Rentals", "Contact", "About"),
        "Gear up for the weekend",
        "Tents, boots and maps for every trail.",
        "Browse gear",
        "Popular gear",
        (("Tents", "Light and warm"), ("Boots", "Made for mud"), ("Packs", "Carry more"),
         ("Maps", "Every trail"), ("Stoves", "Hot meals")),
        "Join our newsletter",
        ("Name", "Email", "Region"),
        "Subscribe",
        "Rental prices",
        ("Item", "Day", "Week"),
        (("Tent", "12", "60"), ("Kayak", "30", "150"), ("Bike", "20", "90"), ("Stove", "5", "25")),
    ),
    Site(
        "Brightdesk",
        ("Spaces", "Pricing", "Events", "Contact", "Blog"),
        "Work near home",
        "Quiet desks and fast wifi in six towns.",
        "Book a desk",
        "Our spaces",
        (("Hot desk", "Any free seat"), ("Fixed desk", "Your own spot"), ("Studio", "Room for four"),
         ("Booth", "Calls in private"), ("Lounge", "Sofas and coffee")),
        "Book a tour",
        ("Name", "Phone", "Town"),
        "Send",
        "Monthly plans",
        ("Plan", "Days", "Price"),
        (("Starter", "4", "49"), ("Regular", "12", "129"), ("Full", "22", "219"), ("Team", "22", "799")),
    ),
    Site(
        "Harbor Bank",
        ("Accounts", "Loans", "Savings", "Help", "Branches"),
        "Banking made simple",
        "Open an account in ten minutes.",
        "Open account",
        "Accounts for you",
        (("Everyday", "No monthly fee"), ("Saver", "Earn interest"), ("Student", "Free until 25"),
         ("Business", "Invoices built in"), ("Joint", "Share with family")),
        "Request a call",
        ("Name", "Phone", "Best time"),
        "Call me",
        "Savings rates",
        ("Account", "Rate", "Minimum"),
        (("Easy", "2.1%", "0"), ("Notice", "3.4%", "500"), ("Fixed", "4.0%", "1000"), ("Kids", "2.5%", "0")),
    ),
    Site(
        "Greenleaf Clinic",
        ("Services", "Doctors", "Hours", "Contact", "News"),
        "Care close to home",
        "Same-day visits for the whole family.",
        "Book a visit",
        "Our services",
        (("Checkups", "Yearly health"), ("Vaccines", "For all ages"), ("Dental", "Gentle care"),
         ("Physio", "Move better"), ("Lab", "Results in a day")),
        "Book a visit",
        ("Name", "Date", "Reason"),
        "Book",
        "Opening hours",
        ("Day", "Opens", "Closes"),
        (("Monday", "8:00", "18:00"), ("Tuesday", "8:00", "18:00"), ("Friday", "8:00", "16:00"),
         ("Saturday", "9:00", "12:00")),
    ),
    Site(
        "Byte School",
        ("Courses", "Mentors", "Pricing", "FAQ", "Login"),
        "Learn to code at night",
        "Small classes, real projects, friendly mentors.",
        "See courses",
        "Courses",
        (("Python", "From zero"), ("Web", "HTML and CSS"), ("Data", "Tables and charts"),
         ("Mobile", "Build an app"), ("Cloud", "Deploy it")),
        "Get the syllabus",
        ("Name", "Email", "Course"),
        "Send it",
        "Next start dates",
        ("Course", "Starts", "Weeks"),
        (("Python", "May 6", "10"), ("Web", "May 13", "8"), ("Data", "June 3", "12"), ("Cloud", "June 10", "6")),
    ),
    Site(
        "Citrus Cafe",
        ("Menu", "Catering", "Hours", "Visit", "Jobs"),
        "Fresh juice every morning",
        "Breakfast, lunch and the best lemonade in town.",
        "See the menu",
        "Today's picks",
        (("Bagel", "With cream cheese"), ("Salad", "Greens and feta"), ("Soup", "Tomato basil"),
         ("Smoothie", "Mango and lime"), ("Cake", "Lemon drizzle")),
        "Order catering",
        ("Name", "Guests", "Date"),
        "Order",
        "Menu",
        ("Dish", "Small", "Large"),
        (("Juice", "3", "5"), ("Soup", "4", "7"), ("Salad", "6", "9"), ("Smoothie", "4", "6")),
    ),
    Site(
        "Nimbus Cloud",
        ("Product", "Pricing", "Docs", "Status", "Sign in"),
        "Servers in a minute",
        "Simple hosting for small teams.",
        "Start free",
        "Plans",
        (("Hobby", "One small server"), ("Team", "Five servers"), ("Scale", "Autoscaling"),
         ("Backup", "Daily snapshots"), ("Support", "Real people")),
        "Contact sales",
        ("Name", "Company", "Email"),
        "Contact us",
        "Server sizes",
        ("Size", "CPUs", "Memory"),
        (("Small", "1", "2 GB"), ("Medium", "2", "4 GB"), ("Large", "4", "8 GB"), ("Huge", "8", "32 GB")),
    ),
    Site(
        "Maple Library",
        ("Catalog", "Events", "Kids", "Visit", "Donate"),
        "Borrow, read, repeat",
        "Books, films and quiet rooms, free for members.",
        "Get a card",
        "This month",
        (("Story time", "Fridays at ten"), ("Book club", "Mystery novels"), ("Film night", "Classics"),
         ("Homework", "Free tutors"), ("Crafts", "For all ages")),
        "Get a library card",
        ("Name", "Address", "Email"),
        "Apply",
        "Branches",
        ("Branch", "Opens", "Rooms"),
        (("Central", "9:00", "6"), ("Riverside", "10:00", "2"), ("Hilltop", "10:00", "3"), ("Oak", "12:00", "1")),
    ),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The page description and the page writer


@dataclass(frozen=True)
class Page:
    """One section of a site, its texts, colours and layout.

    ``kind``: nav (a bar of links over a heading), landing (a hero: heading, tagline, button),
    cards (a heading over a grid of cards), form (a heading over labelled inputs and a button),
    table (a heading over a table). ``items``: the links / cards / fields / rows."""

    kind: str
    heading: str
    items: tuple[Any, ...]
    dark: str  # heading colour; nav bar background
    accent: str  # button background (landing, form)
    light: str  # hero and card background
    text: str = ""  # landing: the tagline
    button: str = ""  # landing / form: the button label
    header: tuple[str, ...] = ()  # table: the header row
    columns: int = 0  # cards: grid columns
    align: str = ""  # nav: justify-content of the links; landing: text-align of the hero
    defect: str = ""  # repair: the planted defect (see DEFECTS)


@dataclass
class Program:
    """A generated page and the 1-based lines of each role (css.box, heading, item1, ...)."""

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
        """The page with the (first) line of each role replaced by a TODO comment (a CSS comment
        inside the style block, an HTML comment in the body)."""
        lines = list(self.lines)
        for role, text in todos.items():
            n = self.roles[role][0]
            lines[n - 1] = (
                f"/* TODO: {text} */" if role.startswith("css.") else f"<!-- TODO: {text} -->"
            )
        return "\n".join(lines) + "\n"


#: the selector and declarations of each kind's rules (role -> (selector, declarations))
def _rules(p: Page) -> dict[str, tuple[str, str]]:
    heading = "h1" if p.kind in ("nav", "landing") else "h2"
    margin = "margin: 0" if p.kind in ("nav", "landing") else "margin: 24px"
    rules = {"css.body": ("body", f"{margin}; font-family: sans-serif")}
    if p.kind == "nav":
        justify = f"; justify-content: {p.align}" if p.align else ""
        rules["css.box"] = (
            "nav",
            f"display: flex; gap: 24px; padding: 16px{justify}; background: {p.dark}",
        )
        rules["css.item"] = ("nav a", "color: #fff")
        rules["css.heading"] = (heading, f"margin: 24px 16px; color: {p.dark}")
    elif p.kind == "landing":
        rules["css.box"] = (
            "section",
            f"padding: 48px; text-align: {p.align or 'center'}; background: {p.light}",
        )
        rules["css.heading"] = (heading, f"color: {p.dark}")
        rules["css.item"] = (
            "a",
            f"display: inline-block; padding: 12px 24px; color: #fff; background: {p.accent}",
        )
    elif p.kind == "cards":
        rules["css.box"] = (
            ".cards",
            f"display: grid; grid-template-columns: repeat({p.columns}, 1fr); gap: 16px",
        )
        rules["css.item"] = (".card", f"padding: 16px; background: {p.light}")
        rules["css.heading"] = (heading, f"color: {p.dark}")
    elif p.kind == "form":
        rules["css.box"] = ("form", "display: grid; gap: 8px; width: 300px")
        rules["css.item"] = (
            "button",
            f"padding: 8px; border: 0; color: #fff; background: {p.accent}",
        )
        rules["css.heading"] = (heading, f"color: {p.dark}")
    elif p.kind == "table":
        rules["css.box"] = ("table", "border-collapse: collapse")
        rules["css.item"] = ("th, td", "padding: 8px; border: 1px solid #999")
        rules["css.heading"] = (heading, f"color: {p.dark}")
    else:
        raise ValueError(f"unknown page kind {p.kind!r}")
    return rules


#: planted defects: (defect kinds that count as finding it, what the broken page does)
DEFECTS = {
    "narrow_box": (("clipped_text", "overflow"), "the heading squeezed into a 60 px box"),
    "white_on_white": (("low_contrast",), "white heading text on a light page"),
    "over_heading": (("overlap",), "a filled box positioned over the heading"),
    "wide_element": (("overflow",), "an element 1800-3000 px wide"),
    "negative_margin": (("overflow", "clipped_text"), "a section pulled past the left edge"),
}


def defect_role(defect: str, kind: str) -> str:
    """The role of the rule ``defect`` is planted in on a ``kind`` page.

    The web detector blames content that runs partly off the page and shows (text, or a filled
    box); content wholly off the page reads as hidden on purpose. So a hero widens its button
    (the section's text would be centred wholly off the page), and a table is pulled only 50 px
    left and widened to 1800 px (its cells have no fill; 3000 px moves the last column's text
    wholly off the page)."""
    if defect in ("narrow_box", "white_on_white"):
        return "css.heading"
    if defect == "over_heading":
        return "css.cover"
    if defect == "wide_element" and kind == "landing":
        return "css.item"
    return "css.box"


def _broken(role: str, decls: str, p: Page) -> str:
    """The declarations of rule ``role`` with ``p.defect`` planted (unchanged elsewhere)."""
    if not p.defect or defect_role(p.defect, p.kind) != role:
        return decls
    if p.defect == "narrow_box":
        return decls + "; width: 60px; white-space: nowrap"
    if p.defect == "white_on_white":
        return decls.replace(f"color: {p.dark}", "color: #fff")
    if p.defect == "wide_element":
        return decls + ("; width: 1800px" if p.kind == "table" else "; width: 3000px")
    if p.defect == "negative_margin":
        shift = {"table": 50, "form": 150}.get(p.kind, 400)
        return decls + f"; margin-left: -{shift}px"
    return decls


def emit(p: Page) -> Program:
    """Write the page ``p``."""
    prog = Program()
    prog.add("<style>")
    for role, (selector, decls) in _rules(p).items():
        prog.add(f"{selector} {{ {_broken(role, decls, p)}; }}", role)
    if p.defect == "over_heading":
        # a zero-height wrapper after the heading holds a filled box whose bottom edge sits on
        # the wrapper's top: the box lies over the heading (web_planting's over_heading)
        prog.add(".cover { position: relative; height: 0; }", "css.cover")
        prog.add(
            f".cover div {{ position: absolute; bottom: 0; left: 0; right: 0; height: 64px; background: {p.accent}; }}",
            "css.cover",
        )
    prog.add("</style>")
    prog.add("<body>")
    tag = "h1" if p.kind in ("nav", "landing") else "h2"
    heading = f"<{tag}>{p.heading}</{tag}>"
    cover = p.defect == "over_heading"
    if p.kind == "nav":
        prog.add("<nav>")
        for k, link in enumerate(p.items):
            prog.add(f'<a href="#">{link}</a>', f"item{k}")
        prog.add("</nav>")
        _heading(prog, heading, cover)
    elif p.kind == "landing":
        prog.add("<section>")
        _heading(prog, heading, cover)
        prog.add(f"<p>{p.text}</p>", "text")
        prog.add(f'<a href="#">{p.button}</a>', "button")
        prog.add("</section>")
    elif p.kind == "cards":
        _heading(prog, heading, cover)
        prog.add('<div class="cards">')
        for k, (title, text) in enumerate(p.items):
            prog.add(f'<div class="card"><h3>{title}</h3>{text}</div>', f"item{k}")
        prog.add("</div>")
    elif p.kind == "form":
        _heading(prog, heading, cover)
        prog.add("<form>")
        for k, name in enumerate(p.items):
            prog.add(f"<label>{name}</label><input>", f"item{k}")
        prog.add(f"<button>{p.button}</button>", "button")
        prog.add("</form>")
    elif p.kind == "table":
        _heading(prog, heading, cover)
        prog.add("<table>")
        prog.add("<tr>" + "".join(f"<th>{h}</th>" for h in p.header) + "</tr>", "header")
        for k, row in enumerate(p.items):
            prog.add("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>", f"item{k}")
        prog.add("</table>")
    prog.add("</body>")
    return prog


def _heading(prog: Program, heading: str, cover: bool) -> None:
    prog.add(heading, "heading")
    if cover:
        prog.add('<div class="cover"><div></div></div>', "cover")


def required_texts(p: Page) -> tuple[str, ...]:
    """The short strings a faithful page draws on one line each (paragraphs that may wrap and
    the card blurbs are left out)."""
    out = [p.heading]
    if p.kind == "nav":
        out += list(p.items)
    elif p.kind == "landing":
        out.append(p.button)
    elif p.kind == "cards":
        out += [title for title, _ in p.items]
    elif p.kind == "form":
        out += [*p.items, p.button]
    elif p.kind == "table":
        out += [*p.header, *(c for row in p.items for c in row)]
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# Page makers


def make_page(rng: random.Random, kind: str) -> Page:
    site = rng.choice(SITES)
    dark, accent, light = rng.choice(DARKS), rng.choice(ACCENTS), rng.choice(LIGHTS)
    common = {"dark": dark, "accent": accent, "light": light}
    if kind == "nav":
        links = (site.brand, *rng.sample(site.links, rng.randint(2, 4)))
        align = rng.choice(("", "", "center", "flex-end"))
        return Page("nav", site.headline, links, align=align, **common)
    if kind == "landing":
        align = rng.choice(("center", "center", "left"))
        return Page(
            "landing", site.headline, (), text=site.tagline, button=site.cta, align=align, **common
        )
    if kind == "cards":
        n = rng.choice((2, 3, 3, 4))
        cards = tuple(rng.sample(site.cards, n))
        columns = n if n < 4 else rng.choice((2, 4))
        return Page("cards", site.cards_heading, cards, columns=columns, **common)
    if kind == "form":
        fields = tuple(site.fields[: rng.randint(2, 3)])
        return Page("form", site.form_heading, fields, button=site.submit, **common)
    if kind == "table":
        rows = tuple(rng.sample(site.rows, 2))
        return Page("table", site.table_heading, rows, header=site.header, **common)
    raise ValueError(f"unknown page kind {kind!r}")


# ---------------------------------------------------------------------------------------------
# Tier: scratch


def _quoted(items: Any) -> str:
    return ", ".join(f"'{x}'" for x in items)


def describe(p: Page) -> str:
    """The page in words, for a scratch prompt."""
    if p.kind == "nav":
        where = {"": "left-aligned", "center": "centred", "flex-end": "right-aligned"}[p.align]
        return (
            f"a navigation bar (background {p.dark}, white {where} links with 24px gaps) with "
            f"the links {_quoted(p.items)}, and below it the heading '{p.heading}' in {p.dark}."
        )
    if p.kind == "landing":
        return (
            f"a hero section (background {p.light}, text {p.align or 'center'}-aligned) with the "
            f"heading '{p.heading}' in {p.dark}, the text '{p.text}' and a link styled as a "
            f"button '{p.button}' (white text on {p.accent})."
        )
    if p.kind == "cards":
        cards = "; ".join(f"'{t}' ({x})" for t, x in p.items)
        return (
            f"the heading '{p.heading}' in {p.dark} over a grid of {len(p.items)} cards in "
            f"{p.columns} columns (background {p.light}, 16px gaps). Each card has a title and "
            f"a line of text: {cards}."
        )
    if p.kind == "form":
        return (
            f"the heading '{p.heading}' in {p.dark} over a 300px wide form with a label and a "
            f"text input for each of {_quoted(p.items)}, and a button '{p.button}' (white text "
            f"on {p.accent})."
        )
    if p.kind == "table":
        rows = "; ".join(", ".join(r) for r in p.items)
        return (
            f"the heading '{p.heading}' in {p.dark} over a table (cells with 8px padding and a "
            f"grey border) with the header row {_quoted(p.header)} and the rows: {rows}."
        )
    raise ValueError(f"cannot describe kind {p.kind!r}")


def scratch_task(i: int, draw: int = 0) -> Task:
    rng = _rng("scratch", i, draw)
    page = make_page(rng, KINDS[i % len(KINDS)])
    prompt = f"Write a short HTML page with {describe(page)}\n{FORMAT}"
    return _task("scratch", i, prompt, page, {"kind": page.kind})


# ---------------------------------------------------------------------------------------------
# Tier: skeleton


def _decls_in_words(decls: str) -> str:
    return ", ".join(d.strip().replace(": ", " ") for d in decls.split(";") if d.strip())


def _todo_text(p: Page, role: str) -> str | None:
    rules = _rules(p)
    if role in rules:
        selector, decls = rules[role]
        return f"a CSS rule for {selector}: {_decls_in_words(decls)}"
    if role == "heading":
        return f"the heading '{p.heading}'"
    if role == "text":
        return f"a paragraph '{p.text}'"
    if role == "button":
        return f"a button '{p.button}'" if p.kind == "form" else f"a link '{p.button}'"
    if role == "header":
        return f"the header row: {', '.join(p.header)}"
    if role.startswith("item"):
        item = p.items[int(role[4:])]
        if p.kind == "nav":
            return f"a link '{item}'"
        if p.kind == "cards":
            return f"a card with the title '{item[0]}' and the text '{item[1]}'"
        if p.kind == "form":
            return f"a label '{item}' and a text input"
        if p.kind == "table":
            return f"a row: {', '.join(item)}"
    return None


def skeleton_task(i: int, draw: int = 0) -> Task:
    rng = _rng("skeleton", i, draw)
    page = make_page(rng, KINDS[i % len(KINDS)])
    prog = emit(page)
    roles = [r for r in prog.roles if r != "css.body" and _todo_text(page, r)]
    # one CSS rule or one element, and sometimes one of each
    css = [r for r in roles if r.startswith("css.")]
    body = [r for r in roles if not r.startswith("css.")]
    picked = {0: [rng.choice(css)], 1: [rng.choice(body)]}.get(
        rng.randrange(3), [rng.choice(css), rng.choice(body)]
    )
    picked.sort(key=lambda r: prog.roles[r][0])
    code = prog.with_todos({r: _todo_text(page, r) for r in picked})
    prompt = (
        "Complete this HTML page: replace each TODO comment with the CSS rule or the element "
        f"it describes.\n\n```html\n{code}```\n{FORMAT}"
    )
    meta = {
        "kind": page.kind,
        "skeleton_code": code,
        "todo_roles": picked,
        "todo_lines": [prog.roles[r][0] for r in picked],
    }
    return _task("skeleton", i, prompt, page, meta)


# ---------------------------------------------------------------------------------------------
# Tier: edit


def _edit_recolor(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    if p.kind in ("nav", "table"):
        new = rng.choice([c for c in DARKS if c != p.dark])
        if p.kind == "table":
            return f"Make the heading colour {new} instead of {p.dark}.", replace(p, dark=new)
        # the heading shares the bar's colour: change both, or the page reads as two themes
        return (
            f"Make the navigation bar background and the heading colour {new} instead of {p.dark}.",
            replace(p, dark=new),
        )
    if p.kind in ("landing", "form"):
        new = rng.choice([c for c in ACCENTS if c != p.accent])
        return f"Make the button background {new} instead of {p.accent}.", replace(p, accent=new)
    new = rng.choice([c for c in LIGHTS if c != p.light])
    return f"Make the card background {new} instead of {p.light}.", replace(p, light=new)


def _edit_heading(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    new = rng.choice(("Welcome", "New this season", "Hello again", "Start here", "Good news"))
    return f"Change the heading to '{new}'.", replace(p, heading=new)


def _edit_columns(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    if p.kind != "cards":
        return None
    options = [c for c in (1, 2, len(p.items)) if c != p.columns]
    new = rng.choice(options)
    what = "one column" if new == 1 else f"{new} columns"
    return f"Show the cards in {what}.", replace(p, columns=new)


def _edit_align(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    if p.kind == "nav":
        new = rng.choice([a for a in ("", "center", "flex-end") if a != p.align])
        words = {"": "on the left", "center": "in the centre", "flex-end": "on the right"}
        return f"Put the links {words[new]} of the bar.", replace(p, align=new)
    if p.kind == "landing":
        new = "left" if (p.align or "center") == "center" else "center"
        return f"Align the hero text to the {new}.", replace(p, align=new)
    return None


def _edit_add_item(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    if p.kind == "nav":
        new = rng.choice([x for x in ("Blog", "Careers", "Press", "Help") if x not in p.items])
        return f"Add a link '{new}' at the end of the bar.", replace(p, items=(*p.items, new))
    if p.kind == "form" and len(p.items) < 3:
        new = rng.choice(("Phone", "City", "Company"))
        return f"Add a field '{new}' after the last one.", replace(p, items=(*p.items, new))
    return None


def _edit_button(rng: random.Random, p: Page) -> tuple[str, Page] | None:
    if not p.button:
        return None
    new = rng.choice(("Get started", "Try it", "Continue", "Sign up", "Go"))
    return f"Change the button label to '{new}'.", replace(p, button=new)


EDITS = {
    "recolor": _edit_recolor,
    "heading": _edit_heading,
    "columns": _edit_columns,
    "align": _edit_align,
    "add_item": _edit_add_item,
    "button": _edit_button,
}

#: (page kind, edit) per task, cycled: every edit on the pages it fits
EDIT_PLAN = (
    ("nav", "recolor"),
    ("cards", "columns"),
    ("landing", "button"),
    ("form", "add_item"),
    ("table", "recolor"),
    ("nav", "align"),
    ("cards", "recolor"),
    ("landing", "align"),
    ("form", "recolor"),
    ("landing", "heading"),
    ("nav", "add_item"),
    ("cards", "heading"),
    ("landing", "recolor"),
    ("form", "button"),
    ("table", "heading"),
)


def edit_task(i: int, draw: int = 0) -> Task:
    rng = _rng("edit", i, draw)
    kind, wanted = EDIT_PLAN[i % len(EDIT_PLAN)]
    base = make_page(rng, kind)
    names = list(EDITS)
    start = names.index(wanted)
    for name in names[start:] + names[:start]:
        done = EDITS[name](rng, base)
        if done:
            break
    else:  # pragma: no cover - heading fits every page
        raise AssertionError(f"no edit fits {base.kind}")
    instruction, target = done
    code = emit(base).code
    prompt = (
        f"Here is an HTML page:\n\n```html\n{code}```\n"
        f"{instruction} Keep everything else the same.\n{FORMAT}"
    )
    meta = {"kind": base.kind, "edit": name, "instruction": instruction, "base_code": code}
    return _task("edit", i, prompt, target, meta)


# ---------------------------------------------------------------------------------------------
# Tier: repair


def repair_task(i: int, draw: int = 0) -> Task:
    rng = _rng("repair", i, draw)
    names = list(DEFECTS)
    name = names[i % len(names)]
    kind = KINDS[(i // len(names)) % len(KINDS)]  # every defect on every kind of page
    fixed = make_page(rng, kind)
    broken = replace(fixed, defect=name)
    bprog = emit(broken)
    code = bprog.code
    prompt = f"Here is an HTML page:\n\n```html\n{code}```\n{REPAIR_ASK}\n{FORMAT}"
    planted_lines = list(bprog.roles[defect_role(name, kind)])
    if name == "over_heading":
        planted_lines += bprog.roles["cover"]
    meta = {
        "kind": kind,
        "planted": name,
        "planted_kinds": list(DEFECTS[name][0]),
        "planted_lines": sorted(planted_lines),
        "broken_code": code,
    }
    return _task("repair", i, prompt, fixed, meta)


# ---------------------------------------------------------------------------------------------
# The set


def _rng(tier: str, i: int, draw: int = 0) -> random.Random:
    # a str seed is hashed with SHA-512 (random.seed version 2): stable across runs and versions
    return random.Random(f"vsdpo/web/v{VERSION}/{tier}/{i}/{draw}")


def _task(tier: str, i: int, prompt: str, page: Page, meta: dict[str, Any]) -> Task:
    return Task(
        id=f"web/{tier}/{i:04d}",
        domain=DOMAIN,
        tier=tier,
        prompt=prompt,
        reference_code=emit(page).code,
        required_texts=required_texts(page),
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
    """The built-in web tasks (all splits), in a fixed order: tier by tier, by index; a task that
    repeats an earlier one's prompt is redrawn."""
    return draw_suite(DOMAIN, BUILDERS, COUNTS if counts is None else counts, fits_budget)
