"""The built-in chart task set: short matplotlib tasks in four tiers, generated deterministically.

Every task is generated from a small declarative :class:`Chart` (kind, data, labels, colours and
layout choices) that :func:`emit` turns into a short program (8-25 lines, ``import
matplotlib.pyplot as plt`` and sometimes numpy). The tiers, from hardest to easiest for a weak
coder (the default SmolLM2-135M-Instruct runs about 1 in 24 programs it writes from scratch):

* ``scratch``: the data table in words ("Draw a bar chart of fruit sales. Data: Apples 12, ...
  Title '...'") — the model writes the whole program;
* ``skeleton``: the reference program with one or two lines replaced by ``# TODO: ...`` comments
  that say what the line must do — the model returns the completed program;
* ``edit``: a working program plus one instruction (a new colour, title or axis label, bars as
  a line, a horizontal layout, a legend, sorted bars, a bigger figure);
* ``repair``: a working program whose render has a layout defect the detector finds (long
  category labels colliding on the x axis, a legend over the data, a title pushed off the top,
  a note placed off the canvas, a tiny figure with many ticks, a crowded grid of subplots
  without ``tight_layout``, margins so small the labels fall off, huge tick labels). The broken
  program is kept in ``meta["broken_code"]``, with the planted defect's name, the defect kinds
  that count as finding it and the planted line(s); the reference is the fixed program.

Generation is a pure function of :data:`VERSION` (each task draws from its own
``random.Random`` seeded with a string, which Python hashes with SHA-512, never with the salted
``hash``), so two runs, two machines or two Python versions give the same tasks. Change
:data:`VERSION` whenever a change alters any task; the split is by task id
(:func:`vsdpo.tasks.task.split_of`). v2 grew the set from 88 to 326 tasks and kept v1's 88 as
they were (same seeds, :data:`SEED_VERSION`); a draw that misses the token budget or does not
make its task (huge tick labels that would still fit) is redrawn from a derived seed
(:func:`build`), which no v1 task needed.

Size: the default model samples at most 256 new tokens, and its tokenizer spends one token per
digit, so every reference program stays under ~215 tokens and every prompt under ~300 (tested with
the real tokenizer): few categories, two-digit values, ``list(range(...))`` for years, at most two
line series, default colours where a colour is not the point.

The renderer captures the figure itself (``plt.savefig``/``plt.show`` only mark it), so the
prompts ask for one fenced block and no ``plt.show()``.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from vsdpo.tasks.task import Task, approx_tokens

#: bump whenever a change alters any generated task (v2: 88 -> 326 tasks; the first 88 are v1's)
VERSION = "2"
#: the version in every task's seed. v2 only added tasks, so it keeps v1's seeds and v1's tasks
#: keep their content (all but ``meta["version"]``); a change that alters old tasks moves both
SEED_VERSION = "1"
DOMAIN = "chart"

#: how many tasks of each tier the built-in set holds
COUNTS = {"scratch": 70, "skeleton": 80, "edit": 80, "repair": 96}

FORMAT = "Return the whole program in one ```python block; do not call plt.show()."
REPAIR_ASK = "The chart has layout problems; fix them and return the whole program."

#: light wedge colours for pies (ColorBrewer Set3): black percentages stay readable on them,
#: where matplotlib's default tab colours give the black autopct text a contrast below 4.5
PASTELS = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69")

COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "steelblue",
    "seagreen",
    "darkorange",
    "slateblue",
    "indianred",
    "teal",
    "goldenrod",
)

# ---------------------------------------------------------------------------------------------
# Topics: the data pools


@dataclass(frozen=True)
class Topic:
    """A family of data: what it is, its variable names, axis labels and value range."""

    what: str  # "fruit sales"
    cat_var: str  # variable holding the categories (or x values)
    val_var: str  # variable holding the values
    cat_label: str  # axis label of the categories
    val_label: str  # axis label of the values
    cats: tuple[str, ...]
    lo: int
    hi: int
    titles: tuple[str, ...]
    series: tuple[str, ...] = ()  # names of several series (line charts, grouped bars)


CATEGORY_TOPICS = (
    Topic(
        "fruit sales",
        "fruits",
        "sales",
        "Fruit",
        "Sales (kg)",
        ("Apples", "Bananas", "Cherries", "Grapes", "Mangoes", "Pears", "Plums"),
        5,
        40,
        ("Fruit sales in May", "Market stall fruit sales", "Weekly fruit sales"),
        ("2023", "2024"),
    ),
    Topic(
        "developers per programming language",
        "languages",
        "developers",
        "Language",
        "Developers (thousands)",
        ("Python", "Java", "Rust", "Go", "Kotlin", "Swift", "Ruby"),
        10,
        90,
        ("Developer survey 2024", "Most used languages", "Languages at our company"),
        ("Backend", "Frontend"),
    ),
    Topic(
        "pets per household type",
        "pets",
        "households",
        "Pet",
        "Households",
        ("Dogs", "Cats", "Fish", "Birds", "Rabbits", "Hamsters"),
        10,
        95,
        ("Pets in our town", "Household pets survey", "Pet ownership"),
        ("City", "Village"),
    ),
    Topic(
        "club members per sport",
        "sports",
        "members",
        "Sport",
        "Members",
        ("Football", "Tennis", "Swimming", "Cycling", "Rowing", "Judo", "Chess"),
        15,
        95,
        ("Club members by sport", "Sports club membership", "Members per section"),
        ("Juniors", "Seniors"),
    ),
    Topic(
        "visitors per city",
        "cities",
        "visitors",
        "City",
        "Visitors (millions)",
        ("Paris", "Rome", "Lisbon", "Vienna", "Prague", "Oslo", "Dublin"),
        2,
        20,
        ("City visitors in 2023", "Tourist arrivals", "Where tourists went"),
        ("Summer", "Winter"),
    ),
    Topic(
        "cafe orders per drink",
        "drinks",
        "cups",
        "Drink",
        "Cups sold",
        ("Espresso", "Latte", "Mocha", "Cappuccino", "Americano", "Tea"),
        20,
        95,
        ("Cafe orders on Monday", "Drinks sold this week", "Coffee shop orders"),
        ("Morning", "Afternoon"),
    ),
    Topic(
        "daily trips per transport mode",
        "modes",
        "trips",
        "Transport mode",
        "Trips per day (thousands)",
        ("Bus", "Tram", "Metro", "Bike", "Car", "Walk"),
        10,
        80,
        ("How people commute", "Daily trips by mode", "City transport use"),
        ("Weekdays", "Weekends"),
    ),
)

LONG_TOPICS = (
    Topic(
        "revenue per region",
        "regions",
        "revenue",
        "Region",
        "Revenue (million USD)",
        (
            "North American Operations",
            "European Distribution",
            "Asia Pacific Retail",
            "Latin American Sales",
            "Middle East Partners",
            "African Growth Markets",
        ),
        10,
        60,
        ("Revenue by region", "Regional revenue in 2024"),
    ),
    Topic(
        "headcount per department",
        "departments",
        "headcount",
        "Department",
        "Employees",
        (
            "Research and Development",
            "Customer Support Services",
            "Marketing and Communications",
            "Human Resources Team",
            "Finance and Accounting",
            "Legal and Compliance",
        ),
        8,
        95,
        ("Headcount by department", "Staff per department"),
    ),
    Topic(
        "units sold per product",
        "products",
        "units",
        "Product",
        "Units sold (thousands)",
        (
            "Wireless Headphones Pro",
            "Smart Home Speaker",
            "Portable Solar Charger",
            "Ergonomic Office Chair",
            "Mechanical Keyboard Set",
            "Ultrawide Curved Monitor",
        ),
        10,
        95,
        ("Best-selling products", "Units sold last quarter"),
    ),
    Topic(
        "students per course",
        "courses",
        "students",
        "Course",
        "Students enrolled",
        (
            "Introduction to Statistics",
            "Organic Chemistry Laboratory",
            "Modern European History",
            "Linear Algebra Fundamentals",
            "Creative Writing Workshop",
            "Principles of Economics",
        ),
        15,
        95,
        ("Course enrolment", "Students per course this term"),
    ),
    Topic(
        "delayed flights per cause",
        "causes",
        "flights",
        "Cause of delay",
        "Delayed flights",
        (
            "Weather Conditions",
            "Air Traffic Control",
            "Crew Scheduling Issues",
            "Aircraft Maintenance",
            "Late Inbound Aircraft",
            "Security Screening Queues",
        ),
        20,
        95,
        ("Flight delays by cause", "Why flights were late"),
    ),
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

#: line-chart topics: x values (``cats``), several named series
TIME_TOPICS = (
    Topic(
        "monthly rainfall",
        "months",
        "rain",
        "Month",
        "Rainfall (mm)",
        MONTHS,
        20,
        120,
        ("Monthly rainfall", "Rain over the year"),
        ("Bergen", "Madrid", "Vienna"),
    ),
    Topic(
        "website visitors per month",
        "months",
        "visitors",
        "Month",
        "Visitors (thousands)",
        MONTHS,
        20,
        90,
        ("Website visitors", "Monthly traffic"),
        ("Mobile", "Desktop", "Tablet"),
    ),
    Topic(
        "installed energy capacity per year",
        "years",
        "capacity",
        "Year",
        "Capacity (GW)",
        tuple(range(2017, 2025)),
        5,
        60,
        ("Installed capacity", "Renewable capacity growth"),
        ("Solar", "Wind", "Hydro"),
    ),
    Topic(
        "app downloads per week",
        "weeks",
        "downloads",
        "Week",
        "Downloads (thousands)",
        ("W1", "W2", "W3", "W4", "W5", "W6", "W7"),
        10,
        80,
        ("App downloads", "Downloads per week"),
        ("Android", "iOS", "Web"),
    ),
    Topic(
        "members per year",
        "years",
        "members",
        "Year",
        "Members (hundreds)",
        tuple(range(2018, 2025)),
        10,
        60,
        ("Library members", "Membership over time"),
        ("Adults", "Children", "Students"),
    ),
)

#: 2x2 grids of small line charts, one per series (the panel titles)
GRID_TOPICS = (
    Topic(
        "quarterly sales per region",
        "quarters",
        "sales",
        "Quarter",
        "Sales (k)",
        ("Q1", "Q2", "Q3", "Q4"),
        20,
        90,
        ("Quarterly sales by region",),
        ("North", "South", "East", "West"),
    ),
    Topic(
        "daily temperature per city",
        "days",
        "temps",
        "Day",
        "Temperature (C)",
        ("Mon", "Tue", "Wed", "Thu"),
        8,
        30,
        ("Temperatures this week",),
        ("Oslo", "Rome", "Cairo", "Lima"),
    ),
    Topic(
        "tickets per team",
        "weeks",
        "tickets",
        "Week",
        "Tickets closed",
        ("W1", "W2", "W3", "W4"),
        5,
        40,
        ("Support tickets per team",),
        ("Billing", "Hardware", "Network", "Accounts"),
    ),
)

SHARE_TOPICS = (
    Topic(
        "browser market share",
        "browsers",
        "shares",
        "",
        "",
        ("Chrome", "Safari", "Edge", "Firefox", "Other"),
        8,
        40,
        ("Browser market share", "Browsers used by our visitors"),
    ),
    Topic(
        "a monthly household budget",
        "items",
        "amounts",
        "",
        "",
        ("Rent", "Food", "Transport", "Savings", "Leisure"),
        10,
        45,
        ("Monthly budget", "Where the money goes"),
    ),
    Topic(
        "electricity generation by source",
        "sources",
        "shares",
        "",
        "",
        ("Gas", "Coal", "Nuclear", "Wind", "Solar", "Hydro"),
        8,
        30,
        ("Electricity mix", "Power generation by source"),
    ),
    Topic(
        "how a student spends a day",
        "activities",
        "hours",
        "",
        "",
        ("Sleep", "Classes", "Study", "Leisure", "Meals"),
        2,
        9,
        ("A student's day", "Hours per activity"),
    ),
)


@dataclass(frozen=True)
class PairTopic:
    """Scatter data: y = a + b x + noise."""

    what: str
    x_var: str
    y_var: str
    x_label: str
    y_label: str
    x_range: tuple[float, float]
    a: float
    b: float
    noise: float
    titles: tuple[str, ...]


SCATTER_TOPICS = (
    PairTopic(
        "exam score against hours studied",
        "hours",
        "scores",
        "Hours studied",
        "Exam score",
        (1, 12),
        48,
        4,
        6,
        ("Study time and exam results", "Does studying pay off?"),
    ),
    PairTopic(
        "sales against advertising spend",
        "spend",
        "sales",
        "Ad spend (thousand USD)",
        "Units sold",
        (5, 50),
        120,
        6,
        40,
        ("Advertising and sales", "Ad spend versus sales"),
    ),
    PairTopic(
        "weight against height",
        "heights",
        "weights",
        "Height (cm)",
        "Weight (kg)",
        (150, 195),
        -60,
        0.75,
        6,
        ("Height and weight", "Body measurements"),
    ),
    PairTopic(
        "ice creams sold against temperature",
        "temps",
        "sold",
        "Temperature (C)",
        "Ice creams sold",
        (12, 34),
        -40,
        9,
        25,
        ("Ice cream sales and temperature", "Hot days, more ice cream"),
    ),
)


@dataclass(frozen=True)
class HistTopic:
    what: str
    var: str
    x_label: str
    y_label: str
    mu: int
    sd: int
    n: int
    titles: tuple[str, ...]


HIST_TOPICS = (
    HistTopic(
        "exam scores", "scores", "Score", "Students", 70, 10, 300, ("Distribution of exam scores",)
    ),
    HistTopic(
        "delivery times",
        "minutes",
        "Delivery time (min)",
        "Orders",
        35,
        8,
        400,
        ("Delivery times", "How long deliveries take"),
    ),
    HistTopic(
        "adult heights", "heights", "Height (cm)", "People", 170, 9, 500, ("Heights of adults",)
    ),
    HistTopic(
        "server response times",
        "latency",
        "Response time (ms)",
        "Requests",
        220,
        40,
        300,
        ("Server response times", "Latency distribution"),
    ),
)

# ---------------------------------------------------------------------------------------------
# The chart description and the program writer


@dataclass(frozen=True)
class Series:
    var: str  # variable name in the program
    values: tuple[Any, ...]
    label: str = ""  # legend label / panel title ("" = none)
    color: str = ""


@dataclass(frozen=True)
class Chart:
    """Everything a generated program draws, and how it lays it out.

    ``kind``: bar, barh, line, scatter, pie, hist, grouped (bars side by side, one group per
    category), subplots (``panels`` side by side) or grid (2x2 line charts, one per series)."""

    kind: str
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    cat_var: str = "labels"
    cats: tuple[Any, ...] = ()
    series: tuple[Series, ...] = ()
    style: str = "ax"  # "ax": fig, ax = plt.subplots(); "plt": pyplot calls only
    figsize: tuple[float, float] | None = None
    legend: str | None = None  # a legend loc, "outside" (right of the axes), or None
    rotate: int = 0  # x tick label rotation (right-aligned)
    title_y: float | None = None
    suptitle: str = ""
    note: str = ""
    note_at: tuple[float, float, str] = (0.99, 0.01, "right")  # fig.text x, y, ha
    ticksize: int | None = None
    grid: bool = False
    adjust: tuple[float, float] | None = None  # subplots_adjust(left, bottom)
    tight: bool = True
    hist: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # seed, mu, sd, n, bins
    palette: tuple[str, ...] = ()  # pie: wedge colours (light, so the black percentages read)
    panels: tuple[Chart, ...] = ()
    dict_var: str = "data"  # grid: the dict of series, and its loop variable
    key_var: str = "name"

    @property
    def p(self) -> str:
        return "plt" if self.style == "plt" else "ax"


@dataclass
class Program:
    """A generated program and the 1-based lines of each role (title, legend, plot, ...)."""

    lines: list[str] = field(default_factory=list)
    roles: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, text: str, role: str | None = None) -> None:
        self.lines.append(text)
        if role:
            self.roles[role].append(len(self.lines))

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


def lit(value: Any) -> str:
    """A Python literal with double-quoted strings (ASCII data only)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(v) for v in value) + "]"
    return json.dumps(value)


def _seq(values: tuple[Any, ...]) -> str:
    """A list literal, or ``list(range(a, b))`` for consecutive integers (fewer tokens)."""
    ints = all(isinstance(v, int) for v in values)
    if ints and len(values) >= 4 and list(values) == list(range(values[0], values[-1] + 1)):
        return f"list(range({values[0]}, {values[-1] + 1}))"
    return lit(values)


_PLT_NAMES = {
    "set_title": "title",
    "set_xlabel": "xlabel",
    "set_ylabel": "ylabel",
    "set_xticks": "xticks",
}


def _call(p: str, method: str, args: str) -> str:
    if p == "plt":
        method = _PLT_NAMES.get(method, method)
    return f"{p}.{method}({args})"


def _kw(**kwargs: Any) -> str:
    return "".join(f", {k}={v}" for k, v in kwargs.items() if v is not None)


def emit(c: Chart) -> Program:
    """Write the program that draws ``c``."""
    prog = Program()
    prog.add("import matplotlib.pyplot as plt")
    needs_np = c.kind in ("hist", "grouped") or any(p.kind in ("hist", "grouped") for p in c.panels)
    if needs_np:
        prog.add("import numpy as np")
    prog.add("")
    for chart in c.panels or (c,):
        _data(prog, chart)
    prog.add("")
    size = f"figsize={c.figsize}" if c.figsize else ""
    if c.kind == "subplots":
        names = ", ".join(f"ax{i + 1}" for i in range(len(c.panels)))
        prog.add(f"fig, ({names}) = plt.subplots(1, {len(c.panels)}, {size})", "figure")
        for i, panel in enumerate(c.panels):
            _body(prog, panel, f"ax{i + 1}", f"p{i + 1}.")
    elif c.kind == "grid":
        prog.add(f"fig, axes = plt.subplots(2, 2, {size})", "figure")
        prog.add(f"for ax, ({c.key_var}, values) in zip(axes.flat, {c.dict_var}.items()):", "loop")
        colour = f', color="{c.series[0].color}"' if c.series[0].color else ""
        prog.add(f'    ax.plot({c.cat_var}, values, marker="o"{colour})', "plot")
        prog.add(f"    ax.set_title({c.key_var})", "title")
        prog.add(f"    ax.set_xlabel({lit(c.xlabel)})", "xlabel")
        if c.ylabel:
            prog.add(f"    ax.set_ylabel({lit(c.ylabel)})", "ylabel")
    else:
        if c.style == "plt":
            if c.figsize:
                prog.add(f"plt.figure({size})", "figure")
        else:
            prog.add(f"fig, ax = plt.subplots({size})", "figure")
        _body(prog, c, c.p, "")
    fig = "plt" if c.style == "plt" else "fig"
    if c.suptitle:
        prog.add(f"{fig}.suptitle({lit(c.suptitle)})", "suptitle")
    if c.note:
        x, y, ha = c.note_at
        text = "plt.figtext" if c.style == "plt" else "fig.text"
        prog.add(f'{text}({x}, {y}, {lit(c.note)}, ha="{ha}", fontsize=8)', "note")
    if c.adjust:
        left, bottom = c.adjust
        prog.add(f"{fig}.subplots_adjust(left={left}, bottom={bottom})", "adjust")
    if c.tight:
        prog.add(f"{fig}.tight_layout()", "tight")
    return prog


def _data(prog: Program, c: Chart) -> None:
    if c.kind == "hist":
        seed, mu, sd, n, _ = c.hist
        prog.add(f"rng = np.random.default_rng({seed})")
        prog.add(f"{c.series[0].var} = rng.normal({mu}, {sd}, {n})", "data")
        return
    prog.add(f"{c.cat_var} = {_seq(c.cats)}", "cats")
    if c.palette:
        prog.add(f"colors = {lit(c.palette)}", "palette")
    if c.kind == "grid":
        prog.add(f"{c.dict_var} = {{", "data")
        for s in c.series:
            prog.add(f"    {lit(s.label)}: {lit(s.values)},", "data")
        prog.add("}", "data")
        return
    for s in c.series:
        prog.add(f"{s.var} = {lit(s.values)}", "data")


def _body(prog: Program, c: Chart, p: str, r: str) -> None:
    """The plotting and decoration calls of one axes (``p``: ax, ax1, ... or plt)."""
    legend = c.legend is not None
    if c.kind in ("bar", "barh"):
        s = c.series[0]
        label = lit(s.label) if legend and s.label else None
        prog.add(
            _call(p, c.kind, f'{c.cat_var}, {s.var}, color="{s.color}"{_kw(label=label)}'),
            r + "plot",
        )
    elif c.kind == "line":
        for s in c.series:
            label = lit(s.label) if legend and s.label else None
            args = f'{c.cat_var}, {s.var}, marker="o", color="{s.color}"{_kw(label=label)}'
            prog.add(_call(p, "plot", args), r + "plot")
    elif c.kind == "scatter":
        s = c.series[0]
        prog.add(_call(p, "scatter", f'{c.cat_var}, {s.var}, color="{s.color}"'), r + "plot")
    elif c.kind == "pie":
        s = c.series[0]
        colors = ", colors=colors" if c.palette else ""
        args = f'{s.var}, labels={c.cat_var}{colors}, autopct="%1.0f%%", startangle=90'
        prog.add(_call(p, "pie", args), r + "plot")
    elif c.kind == "hist":
        s = c.series[0]
        args = f'{s.var}, bins={c.hist[4]}, color="{s.color}", edgecolor="white"'
        prog.add(_call(p, "hist", args), r + "plot")
    elif c.kind == "grouped":
        k = len(c.series)
        width = round(0.8 / k, 2)
        prog.add(f"x = np.arange(len({c.cat_var}))", r + "plot")
        for i, s in enumerate(c.series):
            off = round((i - (k - 1) / 2) * width, 2)
            pos = "x" if off == 0 else f"x - {-off}" if off < 0 else f"x + {off}"
            colour = f', color="{s.color}"' if s.color else ""
            args = f"{pos}, {s.var}, {width}, label={lit(s.label)}{colour}"
            prog.add(_call(p, "bar", args), r + "plot")
        prog.add(_call(p, "set_xticks", f"x, {c.cat_var}"), r + "xticks")
    else:
        raise ValueError(f"no single-axes body for kind {c.kind!r}")
    if c.title:
        prog.add(_call(p, "set_title", lit(c.title) + _kw(y=c.title_y)), r + "title")
    if c.xlabel:
        prog.add(_call(p, "set_xlabel", lit(c.xlabel)), r + "xlabel")
    if c.ylabel:
        prog.add(_call(p, "set_ylabel", lit(c.ylabel)), r + "ylabel")
    if c.rotate:
        if p == "plt":
            prog.add(f'plt.xticks(rotation={c.rotate}, ha="right")', r + "rotate")
        else:
            prog.add(
                f'plt.setp({p}.get_xticklabels(), rotation={c.rotate}, ha="right")', r + "rotate"
            )
    if c.ticksize:
        prog.add(_call(p, "tick_params", f"labelsize={c.ticksize}"), r + "ticksize")
    if c.grid:
        axis = "x" if c.kind == "barh" else "y"
        prog.add(_call(p, "grid", f'axis="{axis}", alpha=0.3'), r + "grid")
    if legend:
        if c.legend == "outside":
            args = 'loc="upper left", bbox_to_anchor=(1.02, 1)'
        elif c.legend == "best":
            args = ""
        else:
            args = f'loc="{c.legend}"'
        prog.add(_call(p, "legend", args), r + "legend")


def required_texts(c: Chart) -> tuple[str, ...]:
    """The strings a faithful render of ``c`` draws: titles, axis labels, categories, legend
    entries, notes."""
    out: list[str] = []
    for t in (c.suptitle,):
        if t:
            out.append(t)
    for chart in c.panels or (c,):
        out += [t for t in (chart.title, chart.xlabel, chart.ylabel) if t]
        if chart.kind in ("bar", "barh", "grouped", "pie", "line", "grid"):
            out += [v for v in chart.cats if isinstance(v, str)]  # numbers: the ticks decide
        if chart.kind == "grid" or (chart.legend is not None and chart.kind != "pie"):
            out += [s.label for s in chart.series if s.label]
    if c.note:
        out.append(c.note)
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------
# Chart makers


def _values(rng: random.Random, n: int, lo: int, hi: int) -> tuple[int, ...]:
    return tuple(rng.randint(lo, hi) for _ in range(n))


def _trend(rng: random.Random, n: int, lo: int, hi: int, rising: bool = True) -> tuple[int, ...]:
    """A noisy monotone-ish series from about lo to about hi (or back)."""
    start, end = (lo, hi) if rising else (hi, lo)
    step = (end - start) / max(1, n - 1)
    jitter = max(1, (hi - lo) // 12)
    vals = [round(start + step * i + rng.randint(-jitter, jitter)) for i in range(n)]
    top = 99 if hi < 100 else hi + jitter  # two-digit data stay two-digit (tokens)
    return tuple(min(top, max(1, v)) for v in vals)


def _colors(rng: random.Random, k: int) -> list[str]:
    return rng.sample(COLORS, k)


def _style(rng: random.Random) -> str:
    return "plt" if rng.random() < 0.35 else "ax"


def make_bar(rng: random.Random, *, long: bool = False, n: int | None = None) -> Chart:
    topic = rng.choice(LONG_TOPICS if long else CATEGORY_TOPICS)
    n = min(n or rng.randint(4, 5 if long else len(topic.cats)), len(topic.cats))
    cats = tuple(rng.sample(topic.cats, n))
    color = rng.choice(COLORS)
    chart = Chart(
        "bar",
        title=rng.choice(topic.titles),
        xlabel=topic.cat_label,
        ylabel=topic.val_label,
        cat_var=topic.cat_var,
        cats=cats,
        series=(Series(topic.val_var, _values(rng, n, topic.lo, topic.hi), color=color),),
        style=_style(rng),
        figsize=rng.choice((None, (7, 4), (6, 4), (8, 5))),
    )
    if long:  # long labels need room: rotated, in a wide enough figure
        chart = replace(chart, rotate=rng.choice((30, 45)), figsize=rng.choice(((8, 5), (9, 5))))
    return chart


def make_barh(rng: random.Random, *, long: bool | None = None) -> Chart:
    long = rng.random() < 0.5 if long is None else long
    bar = make_bar(rng, long=long)
    size = (9, 4.5) if long else bar.figsize
    return replace(bar, kind="barh", xlabel=bar.ylabel, ylabel=bar.xlabel, rotate=0, figsize=size)


def make_line(
    rng: random.Random, *, n_series: int | None = None, n_points: int | None = None
) -> Chart:
    topic = rng.choice(TIME_TOPICS)
    k = n_series or rng.choice((1, 1, 2))
    n = min(len(topic.cats), n_points or rng.choice((6, 8)))
    cats = topic.cats[:n]
    colors = _colors(rng, k)
    labels = rng.sample(topic.series, k)
    series = []
    for i in range(k):
        lo = topic.lo + rng.randint(0, (topic.hi - topic.lo) // 3)
        series.append(
            Series(
                labels[i].lower().replace(" ", "_") if k > 1 else topic.val_var,
                _trend(rng, n, lo, topic.hi - rng.randint(0, (topic.hi - topic.lo) // 4)),
                label=labels[i],
                color=colors[i],
            )
        )
    return Chart(
        "line",
        title=rng.choice(topic.titles),
        xlabel=topic.cat_label,
        ylabel=topic.val_label,
        cat_var=topic.cat_var,
        cats=cats,
        series=tuple(series),
        style=_style(rng),
        figsize=rng.choice((None, (7, 4), (8, 4.5))),
        legend="upper left" if k > 1 else None,
    )


def make_scatter(rng: random.Random) -> Chart:
    topic = rng.choice(SCATTER_TOPICS)
    n = rng.randint(7, 9)
    x0, x1 = topic.x_range
    xs = sorted(rng.randint(int(x0), int(x1)) for _ in range(n))
    ys = [round(topic.a + topic.b * x + rng.uniform(-topic.noise, topic.noise)) for x in xs]
    return Chart(
        "scatter",
        title=rng.choice(topic.titles),
        xlabel=topic.x_label,
        ylabel=topic.y_label,
        cat_var=topic.x_var,
        cats=tuple(xs),
        series=(Series(topic.y_var, tuple(ys), color=rng.choice(COLORS)),),
        style=_style(rng),
        figsize=rng.choice((None, (6, 4), (7, 5))),
    )


def make_hist(rng: random.Random) -> Chart:
    topic = rng.choice(HIST_TOPICS)
    return Chart(
        "hist",
        title=rng.choice(topic.titles),
        xlabel=topic.x_label,
        ylabel=topic.y_label,
        series=(Series(topic.var, (), color=rng.choice(COLORS)),),
        style=_style(rng),
        figsize=rng.choice((None, (7, 4), (6, 4))),
        hist=(rng.randint(1, 99), topic.mu, topic.sd, topic.n, rng.choice((15, 20, 25, 30))),
    )


def make_pie(rng: random.Random) -> Chart:
    topic = rng.choice(SHARE_TOPICS)
    n = rng.randint(4, len(topic.cats))
    cats = topic.cats[:n]
    return Chart(
        "pie",
        title=rng.choice(topic.titles),
        cat_var=topic.cat_var,
        cats=cats,
        series=(Series(topic.val_var, _values(rng, n, topic.lo, topic.hi)),),
        style=_style(rng),
        figsize=rng.choice((None, (6, 6), (5, 5))),
        palette=tuple(rng.sample(PASTELS, n)),
    )


def make_grouped(rng: random.Random) -> Chart:
    topic = rng.choice(CATEGORY_TOPICS)
    n = rng.randint(3, 4)
    cats = tuple(rng.sample(topic.cats, n))
    series = tuple(  # matplotlib's default colours: fewer tokens to write
        Series(
            "v" + label.lower() if label[0].isdigit() else label.lower(),
            _values(rng, n, topic.lo, topic.hi),
            label=label,
        )
        for label in topic.series
    )
    return Chart(
        "grouped",
        title=rng.choice(topic.titles),
        xlabel=topic.cat_label,
        ylabel=topic.val_label,
        cat_var=topic.cat_var,
        cats=cats,
        series=series,
        style=_style(rng),
        figsize=rng.choice(((8, 4.5), (7, 4.5), (9, 5))),
        legend="outside",
    )


def make_subplots(rng: random.Random) -> Chart:
    bar = replace(make_bar(rng, n=rng.randint(3, 5)), xlabel="", ylabel="")
    line = make_line(rng, n_series=1)
    line = replace(line, xlabel="", ylabel="", cats=line.cats[:6])
    s = line.series[0]
    var = "trend" if s.var == bar.series[0].var else s.var
    line = replace(line, series=(replace(s, var=var, values=s.values[:6]),))
    if line.cat_var == bar.cat_var:
        line = replace(line, cat_var="x")
    rotate = 0
    return Chart(
        "subplots",
        suptitle=rng.choice(("Overview", "Dashboard", "Two views", "Summary")),
        figsize=(10, 4),
        panels=(
            replace(bar, style="ax", figsize=None),
            replace(line, style="ax", figsize=None, rotate=rotate),
        ),
    )


def make_grid(rng: random.Random) -> Chart:
    topic = rng.choice(GRID_TOPICS)
    series = tuple(
        Series(name.lower(), _values(rng, len(topic.cats), topic.lo, topic.hi), label=name)
        for name in topic.series
    )
    key = {"sales": "region", "temps": "city", "tickets": "team"}[topic.val_var]
    return Chart(
        "grid",
        xlabel=topic.cat_label,
        cat_var=topic.cat_var,
        cats=topic.cats,
        series=series,
        suptitle=topic.titles[0],
        figsize=(8, 6),
        dict_var=topic.val_var,
        key_var=key,
    )


MAKERS = {
    "bar": make_bar,
    "barh": make_barh,
    "line": make_line,
    "scatter": make_scatter,
    "hist": make_hist,
    "pie": make_pie,
    "grouped": make_grouped,
    "subplots": make_subplots,
    "grid": make_grid,
}

# ---------------------------------------------------------------------------------------------
# Tier: scratch


def _pairs(cats: tuple[Any, ...], values: tuple[Any, ...]) -> str:
    return ", ".join(f"{c} {v}" for c, v in zip(cats, values))


def _words(values: tuple[Any, ...]) -> str:
    if all(isinstance(v, int) for v in values) and len(values) >= 4:
        if list(values) == list(range(values[0], values[-1] + 1)):
            return f"{values[0]} to {values[-1]}"
    return ", ".join(map(str, values))


def describe(c: Chart) -> str:
    """The chart in words, for a scratch prompt."""
    s = c.series[0] if c.series else None
    if c.kind == "bar":
        head = f"a bar chart of {c.cat_var} and their {s.var}. Data: {_pairs(c.cats, s.values)}."
    elif c.kind == "barh":
        head = f"a horizontal bar chart of {c.cat_var} and their {s.var}. Data: {_pairs(c.cats, s.values)}."
    elif c.kind == "line":
        head = f"a line chart with circle markers. x values ({c.cat_var}): {_words(c.cats)}."
        for t in c.series:
            head += f" Series '{t.label}': {', '.join(map(str, t.values))}."
        if len(c.series) > 1:
            head += f" Add a legend in the {c.legend}."
    elif c.kind == "pie":
        head = f"a pie chart with percentage labels. Data: {_pairs(c.cats, s.values)}."
    elif c.kind == "scatter":
        head = (
            f"a scatter plot. x ({c.cat_var}): {', '.join(map(str, c.cats))}."
            f" y ({s.var}): {', '.join(map(str, s.values))}."
        )
    elif c.kind == "hist":
        seed, mu, sd, n, bins = c.hist
        head = (
            f"a histogram with {bins} bins of {n} values from "
            f"np.random.default_rng({seed}).normal({mu}, {sd}, {n})."
        )
    elif c.kind == "grouped":
        head = f"a grouped bar chart with one group of {len(c.series)} bars per item."
        head += f" Items: {', '.join(c.cats)}."
        for t in c.series:
            head += f" '{t.label}': {', '.join(map(str, t.values))}."
        head += " Add a legend."
    else:
        raise ValueError(f"cannot describe kind {c.kind!r}")
    parts = [f"Title '{c.title}'"]
    if c.xlabel:
        parts.append(f"x axis label '{c.xlabel}'")
    if c.ylabel:
        parts.append(f"y axis label '{c.ylabel}'")
    text = head + " " + ", ".join(parts) + "."
    colours = [t.color for t in c.series if t.color]
    if c.kind in ("bar", "barh", "scatter", "hist") and colours:
        text += f" Colour: {colours[0]}."
    if c.rotate:
        text += f" Rotate the x tick labels {c.rotate} degrees."
    return text


SCRATCH_KINDS = ("bar", "line", "pie", "barh", "bar", "scatter", "line", "hist", "grouped", "bar")


def scratch_task(i: int, draw: int = 0) -> Task:
    rng = _rng("scratch", i, draw)
    kind = SCRATCH_KINDS[i % len(SCRATCH_KINDS)]
    chart = make_line(rng, n_series=rng.choice((1, 2))) if kind == "line" else MAKERS[kind](rng)
    prompt = f"Write a Python program that uses matplotlib to draw {describe(chart)}\n{FORMAT}"
    return _task("scratch", i, prompt, chart, {"kind": chart.kind})


# ---------------------------------------------------------------------------------------------
# Tier: skeleton


def _todo_text(c: Chart, role: str) -> str | None:
    panel = ""
    chart = c
    if role[:1] == "p" and role[1:2].isdigit():  # "p1.title": the panel's own role
        n = int(role[1]) - 1
        chart, role = c.panels[n], role.split(".", 1)[1]
        panel = f" of the {'left' if n == 0 else 'right'} plot"
    s = chart.series[0] if chart.series else None
    if role == "title":
        if chart.kind == "grid":
            return f"set each subplot's title to {chart.key_var}"
        return f"set the title{panel} to '{chart.title}'"
    if role == "suptitle":
        return f"set the figure title to '{c.suptitle}'"
    if role == "xlabel":
        return f"label the x axis{panel} '{chart.xlabel}'"
    if role == "ylabel":
        return f"label the y axis{panel} '{chart.ylabel}'"
    if role == "rotate":
        return f"rotate the x tick labels{panel} {chart.rotate} degrees, right-aligned"
    if role == "legend":
        where = (
            "to the right of the plot" if chart.legend == "outside" else f"in the {chart.legend}"
        )
        return f"add a legend {where}"
    if role == "xticks":
        return f"put the {chart.cat_var} names under the bar groups"
    if role == "tight":
        return "make the layout tight so nothing is cut off"
    if role == "plot" and len(chart.series) == 1 and chart.kind != "grid":
        what = {
            "bar": f"draw {s.var} per {chart.cat_var[:-1]} as {s.color} bars",
            "barh": f"draw {s.var} per {chart.cat_var[:-1]} as {s.color} horizontal bars",
            "line": f"plot {s.var} against {chart.cat_var} as a {s.color} line with circle markers",
            "scatter": f"draw a {s.color} scatter plot of {s.var} against {chart.cat_var}",
            "pie": f"draw a pie of {s.var} labelled with {chart.cat_var}, with percentages",
            "hist": f"draw a histogram of {s.var} with {chart.hist[4]} {s.color} bins",
        }.get(chart.kind)
        return what + panel if what else None
    return None


SKELETON_KINDS = (
    "bar",
    "line",
    "barh",
    "pie",
    "scatter",
    "hist",
    "grouped",
    "subplots",
    "bar_long",
    "line",
    "grid",
)


def skeleton_task(i: int, draw: int = 0) -> Task:
    rng = _rng("skeleton", i, draw)
    kind = SKELETON_KINDS[i % len(SKELETON_KINDS)]
    chart = make_bar(rng, long=True) if kind == "bar_long" else MAKERS[kind](rng)
    prog = emit(chart)
    roles = [r for r in prog.roles if _todo_text(chart, r)]
    # the plotting line is the hardest to write; every other role is a one-liner to recall
    picked = rng.sample(roles, min(len(roles), rng.choice((1, 2, 2))))
    picked.sort(key=lambda r: prog.roles[r][0])
    todos = {r: _todo_text(chart, r) for r in picked}
    code = prog.with_todos(todos)
    prompt = (
        "Complete this matplotlib program: replace each # TODO comment with the code it "
        f"describes.\n\n```python\n{code}```\n{FORMAT}"
    )
    meta = {
        "kind": chart.kind,
        "skeleton_code": code,
        "todo_roles": picked,
        "todo_lines": [prog.roles[r][0] for r in picked],
    }
    return _task("skeleton", i, prompt, chart, meta)


# ---------------------------------------------------------------------------------------------
# Tier: edit


def _edit_recolor(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind not in ("bar", "barh", "line", "scatter", "hist") or len(c.series) != 1:
        return None
    s = c.series[0]
    new = rng.choice([x for x in COLORS if x != s.color])
    thing = {"bar": "bars", "barh": "bars", "line": "line", "scatter": "points", "hist": "bars"}
    return f"Make the {thing[c.kind]} {new} instead of {s.color}.", replace(
        c, series=(replace(s, color=new),)
    )


def _edit_retitle(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if not c.title:
        return None
    year = rng.choice((2019, 2021, 2022, 2025))
    new = rng.choice((f"{c.title} ({year})", f"{c.title}: final figures", f"Survey {year}"))
    return f"Change the title to '{new}'.", replace(c, title=new)


def _edit_ylabel(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if not c.ylabel or c.kind in ("pie", "grid", "subplots"):
        return None
    base = c.ylabel.split(" (")[0]
    new = rng.choice((f"{base} (total)", f"Number of {base.lower()}", f"{base}, all sites"))
    if new == c.ylabel:
        return None
    return f"Change the y axis label to '{new}'.", replace(c, ylabel=new)


def _edit_bar_to_line(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind != "bar" or c.rotate:
        return None
    return "Show the data as a line with circle markers instead of bars.", replace(c, kind="line")


def _edit_line_to_bar(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind != "line" or len(c.series) != 1:
        return None
    return "Show the data as bars instead of a line.", replace(c, kind="bar")


def _edit_horizontal(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind != "bar":
        return None
    new = replace(c, kind="barh", xlabel=c.ylabel, ylabel=c.xlabel, rotate=0)
    return (
        "Make it a horizontal bar chart with the categories on the y axis "
        f"(x label '{c.ylabel}', y label '{c.xlabel}').",
        new,
    )


def _edit_legend(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind not in ("bar", "line") or len(c.series) != 1 or c.legend:
        return None
    label = rng.choice(("2024", "This year", "Measured", "Actual"))
    s = replace(c.series[0], label=label)
    return (
        f"Label the data '{label}' and add a legend to the right of the plot.",
        replace(c, series=(s,), legend="outside"),
    )


def _edit_sort(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind not in ("bar", "barh") or len(set(c.series[0].values)) < len(c.cats):
        return None
    s = c.series[0]
    order = sorted(range(len(c.cats)), key=lambda k: -s.values[k])
    if order == list(range(len(c.cats))):
        return None
    new = replace(
        c,
        cats=tuple(c.cats[k] for k in order),
        series=(replace(s, values=tuple(s.values[k] for k in order)),),
    )
    return "Sort the bars from the largest value to the smallest.", new


def _edit_size(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    size = rng.choice(((10, 5), (9, 6), (10, 4)))
    if c.figsize == size:
        return None
    return f"Make the figure {size[0]} by {size[1]} inches.", replace(c, figsize=size)


def _edit_grid(rng: random.Random, c: Chart) -> tuple[str, Chart] | None:
    if c.kind not in ("bar", "barh", "line", "hist") or c.grid:
        return None
    axis = "vertical" if c.kind == "barh" else "horizontal"
    return f"Add light {axis} grid lines (alpha 0.3).", replace(c, grid=True)


def _edit_size_other(c: Chart) -> tuple[str, Chart]:
    """The first size of ``_edit_size`` that differs from the figure's (no draw: it runs only
    where every edit declined, which left v1's tasks as they were)."""
    size = next(s for s in ((10, 5), (9, 6), (10, 4)) if s != c.figsize)
    return f"Make the figure {size[0]} by {size[1]} inches.", replace(c, figsize=size)


EDITS = {
    "recolor": _edit_recolor,
    "retitle": _edit_retitle,
    "ylabel": _edit_ylabel,
    "bar_to_line": _edit_bar_to_line,
    "line_to_bar": _edit_line_to_bar,
    "horizontal": _edit_horizontal,
    "legend": _edit_legend,
    "sort": _edit_sort,
    "size": _edit_size,
    "grid": _edit_grid,
}

#: (chart kind, edit) per task, cycled: every edit on the charts it fits
EDIT_PLAN = (
    ("bar", "recolor"),
    ("line", "retitle"),
    ("bar", "bar_to_line"),
    ("line", "line_to_bar"),
    ("bar", "horizontal"),
    ("line", "legend"),
    ("barh", "sort"),
    ("scatter", "ylabel"),
    ("hist", "grid"),
    ("pie", "retitle"),
    ("grouped", "size"),
    ("scatter", "recolor"),
    ("hist", "recolor"),
    ("bar", "legend"),
    ("grouped", "ylabel"),
    ("line", "grid"),
    ("barh", "recolor"),
    ("bar", "sort"),
    ("pie", "size"),
    ("subplots", "size"),
    ("line", "ylabel"),
    ("bar", "retitle"),
)


def edit_task(i: int, draw: int = 0) -> Task:
    rng = _rng("edit", i, draw)
    kind, wanted = EDIT_PLAN[i % len(EDIT_PLAN)]
    base = make_line(rng, n_series=1) if kind == "line" else MAKERS[kind](rng)
    # the planned edit, or (when this chart's data does not fit it) the next one that fits
    names = list(EDITS)
    start = names.index(wanted)
    for name in names[start:] + names[:start]:
        done = EDITS[name](rng, base)
        if done:
            break
    else:  # a subplots figure whose drawn size is already the figure's: resize it anyway
        name = "size"
        done = _edit_size_other(base)
    instruction, target = done
    code = emit(base).code
    prompt = (
        f"Here is a matplotlib program:\n\n```python\n{code}```\n"
        f"{instruction} Keep everything else the same.\n{FORMAT}"
    )
    meta = {"kind": base.kind, "edit": name, "instruction": instruction, "base_code": code}
    return _task("edit", i, prompt, target, meta)


# ---------------------------------------------------------------------------------------------
# Tier: repair

_OVERLAP = ["overlap"]
_OFF = ["overflow", "clipped_text"]


def _repair_long_labels(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = make_bar(rng, long=True, n=5)
    broken = replace(fixed, rotate=0, figsize=rng.choice((None, (6, 4), (7, 4))))
    if rng.random() < 0.5:
        fixed = replace(fixed, kind="barh", xlabel=fixed.ylabel, ylabel=fixed.xlabel, rotate=0)
        fixed = replace(fixed, figsize=(9, 4.5))
    return broken, fixed, "plot", _OVERLAP


def _repair_legend(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = make_line(rng, n_series=2, n_points=6)
    broken = replace(fixed, legend="center")
    return broken, fixed, "legend", _OVERLAP


def _repair_title(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = rng.choice((make_bar, make_line, make_scatter, make_hist))(rng)
    # no tight_layout in the broken program: it would make room for the raised title
    broken = replace(fixed, title_y=rng.choice((1.15, 1.2, 1.3)), tight=False)
    return broken, fixed, "title", _OFF


def _repair_note(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    base = rng.choice((make_bar, make_line, make_scatter))(rng)
    note = rng.choice(
        ("Source: annual survey", "Data: city statistics office", "Source: internal records")
    )
    fixed = replace(base, note=note, note_at=(0.99, 0.01, "right"))
    at = rng.choice(((1.05, 0.5, "left"), (1.02, 0.9, "left"), (0.5, -0.08, "center")))
    broken = replace(fixed, note_at=at)
    return broken, fixed, "note", _OFF


def _repair_tiny(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    if rng.random() < 0.5:
        line = make_line(rng, n_series=1)
        topic = next(t for t in TIME_TOPICS if t.cat_var == "months")
        n = 8
        vals = _trend(rng, n, topic.lo, topic.hi)
        fixed = replace(
            line,
            title=rng.choice(topic.titles),
            xlabel=topic.cat_label,
            ylabel=topic.val_label,
            cat_var="months",
            cats=MONTH_NAMES[:n],
            series=(replace(line.series[0], var=topic.val_var, values=vals),),
        )
    else:
        fixed = make_bar(rng, n=rng.randint(6, 7))
    fixed = replace(fixed, figsize=(9, 4.5), rotate=45)
    broken = replace(fixed, figsize=rng.choice(((3, 2), (3.2, 2.4), (3, 2.5))), rotate=0)
    return broken, fixed, "figure", _OVERLAP


def _repair_grid(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = make_grid(rng)
    broken = replace(fixed, figsize=rng.choice(((5, 4), (4.5, 3.5), (6, 4))), tight=False)
    return broken, fixed, "figure", _OVERLAP


def _repair_margins(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = rng.choice((make_bar, make_line, make_scatter))(rng)
    broken = replace(
        fixed, adjust=rng.choice(((0.02, 0.02), (0.01, 0.03), (0.03, 0.0))), tight=False
    )
    return broken, fixed, "adjust", ["overflow"]


def _repair_big_ticks(rng: random.Random) -> tuple[Chart, Chart, str, list[str]]:
    fixed = replace(make_bar(rng, n=7), figsize=rng.choice((None, (6, 4))))
    broken = replace(fixed, ticksize=rng.choice((24, 28)))
    return broken, fixed, "ticksize", ["overlap", "overflow"]


REPAIRS = {
    "long_labels": _repair_long_labels,
    "legend_over_data": _repair_legend,
    "title_off_canvas": _repair_title,
    "note_off_canvas": _repair_note,
    "tiny_figure": _repair_tiny,
    "crowded_grid": _repair_grid,
    "no_margins": _repair_margins,
    "huge_ticks": _repair_big_ticks,
}


class Redraw(Exception):
    """This draw of a task's seed does not make the task it should: try the next draw."""


def _ticks_crowd(c: Chart) -> bool:
    """Do the x tick labels need more room than the axes have? (~0.55 em per character; the
    axes span about 3/4 of a normal figure's width, 2/3 of a tiny one's, whose axis labels take
    the rest): a few short labels fit even at 24 pt or in a 3-inch figure."""
    width = (c.figsize or (6.4, 4.8))[0]
    need = sum(len(str(x)) for x in c.cats) * (c.ticksize or 10) * 0.55 / 72
    return need >= (0.65 if width < 4 else 0.775) * width


def repair_task(i: int, draw: int = 0) -> Task:
    rng = _rng("repair", i, draw)
    names = list(REPAIRS)
    name = names[i % len(names)]
    broken, fixed, role, kinds = REPAIRS[name](rng)
    if name in ("huge_ticks", "tiny_figure") and not _ticks_crowd(broken):
        raise Redraw(f"chart/repair/{i}: its x tick labels fit without overlapping")
    bprog = emit(broken)
    code = bprog.code
    prompt = f"Here is a matplotlib program:\n\n```python\n{code}```\n{REPAIR_ASK}\n{FORMAT}"
    meta = {
        "kind": fixed.kind,
        "planted": name,
        "planted_kinds": list(kinds),
        "planted_lines": list(bprog.roles.get(role, [])),
        "broken_code": code,
    }
    return _task("repair", i, prompt, fixed, meta)


# ---------------------------------------------------------------------------------------------
# The set


def _rng(tier: str, i: int, draw: int = 0) -> random.Random:
    # a str seed is hashed with SHA-512 (random.seed version 2): stable across runs and versions
    redraw = f"/redraw{draw}" if draw else ""  # draw 0 keeps v1's seed string
    return random.Random(f"vsdpo/chart/v{SEED_VERSION}/{tier}/{i}{redraw}")


def _task(tier: str, i: int, prompt: str, chart: Chart, meta: dict[str, Any]) -> Task:
    return Task(
        id=f"chart/{tier}/{i:04d}",
        domain=DOMAIN,
        tier=tier,
        prompt=prompt,
        reference_code=emit(chart).code,
        required_texts=required_texts(chart),
        meta={"version": VERSION, **meta},
    )


BUILDERS = {
    "scratch": scratch_task,
    "skeleton": skeleton_task,
    "edit": edit_task,
    "repair": repair_task,
}


#: token budgets (:func:`~vsdpo.tasks.task.approx_tokens` x 1.15, the real tokenizer's worst
#: ratio): the default model samples 256 new tokens; the fenced answer must fit with room to spare
MAX_PROMPT_TOKENS = 350
MAX_ANSWER_TOKENS = 232


def fits_budget(task: Task) -> bool:
    return (
        approx_tokens(task.prompt) * 1.15 <= MAX_PROMPT_TOKENS
        and approx_tokens(task.reference_code) * 1.15 <= MAX_ANSWER_TOKENS
    )


def build(tier: str, i: int) -> Task:
    """Task ``i`` of ``tier``: the first draw of its seed that fits the token budgets (v1's tasks
    all fit at draw 0, so the redraws only ever touched tasks added later)."""
    for draw in range(50):
        try:
            task = BUILDERS[tier](i, draw)
        except Redraw:
            continue
        if fits_budget(task):
            return task
    raise AssertionError(f"no draw of chart/{tier}/{i} fits the token budget")  # pragma: no cover


def generate(counts: dict[str, int] | None = None) -> list[Task]:
    """The built-in chart tasks (all splits), in a fixed order: tier by tier, by index."""
    counts = COUNTS if counts is None else counts
    return [build(tier, i) for tier, n in counts.items() for i in range(n)]
