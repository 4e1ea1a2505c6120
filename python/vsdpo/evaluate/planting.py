"""Planting known visual defects into working matplotlib scripts.

Each planter takes a script's source text and returns a :class:`PlantedScript`: a modified copy
with exactly one defect planted, and the 1-based line(s) of the copy that carry it, so an
evaluation can check both that the defect engine *finds* the defect and that it *blames* the
planted line. A planter returns ``None`` when the script does not fit it (e.g. there is nothing a
legend could list); the evaluation counts that as "not applicable".

The planters are pure text transforms (the script is parsed with :mod:`ast` to find where to plant,
never run). New lines go just before the last ``savefig``/``show`` call, at that statement's
indentation, so they act on the finished figure (after ``tight_layout``, as a careless edit
would); the planted code computes what it needs (current font size, existing title) at run time,
so one planter works across ``plt.`` and ``ax.`` styles, subplots and 3-D axes.

The planters and their planted lines (``plt`` stands for the script's own pyplot alias):

* ``tick_font`` (expects ``overlap`` or ``overflow``): tick labels of the current axes at 4x
  their font size (they collide, or run off the canvas where there are few of them)::

      for _l in plt.gca().get_xticklabels() + plt.gca().get_yticklabels(): _l.set_fontsize(_l.get_fontsize() * 4)

* ``legend_center`` (expects ``overlap``): the legend moved over the data. When the script calls
  ``.legend(...)``, the last such call is edited in place (``loc='center'``, any
  ``bbox_to_anchor`` dropped to ``None``), so custom handles survive; otherwise, when some plotting
  call passes ``label=``, a new ``<that axes>.legend(loc='center')`` line is inserted. Scripts
  with neither get ``None``.
* ``title_offcanvas`` (expects ``overflow`` or ``clipped_text``): the figure title pushed above the
  canvas, the classic ``y=1.05``-style suptitle that only ``bbox_inches='tight'`` rescues::

      plt.gcf().suptitle(plt.gcf().get_suptitle() or 'Quarterly results overview', y=1.15)

* ``white_on_white`` (expects ``low_contrast``): a white note on a white box in the middle of the
  figure (figure coordinates, so it also works on 3-D and polar axes)::

      plt.gcf().text(0.5, 0.5, 'Note: preliminary data', color='white', fontsize=14, ha='center', va='center', bbox=dict(facecolor='white', edgecolor='none'))

* ``annotation_pair`` (expects ``overlap``): two long annotations at the same point (two planted
  lines; blaming either counts)::

      plt.gca().annotate('Peak demand recorded in this period', xy=(0.5, 0.5), xycoords='axes fraction', fontsize=12)
      plt.gca().annotate('Forecast revised after the review', xy=(0.5, 0.5), xycoords='axes fraction', fontsize=12)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from vsdpo.artifact import DefectKind
from vsdpo.code import line_spans

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class PlantedScript:
    """A copy of a script with one planted defect."""

    planter: str
    source: str
    lines: tuple[int, ...]  # 1-based lines of ``source`` that carry the defect
    expected_kinds: tuple[str, ...]  # defect kinds that count as finding it
    inserted_at: int | None  # first inserted line of ``source``; None for an in-place edit
    n_inserted: int  # how many lines were inserted (0 for an in-place edit)

    @property
    def line(self) -> int:
        """The (first) planted line."""
        return self.lines[0]

    def original_line(self, line: int) -> int | None:
        """The line of the original script that ``line`` of the copy corresponds to.

        None for an inserted line (it has no original)."""
        if self.inserted_at is None or line < self.inserted_at:
            return line
        if line < self.inserted_at + self.n_inserted:
            return None
        return line - self.n_inserted


@dataclass(frozen=True)
class Planter:
    """A named defect planter and the defect kinds that count as detecting it."""

    name: str
    expected_kinds: tuple[str, ...]
    plant: Callable[[str], PlantedScript | None]
    description: str


# ---------------------------------------------------------------------------------------------
# Where and how to insert


@dataclass(frozen=True)
class _Script:
    """A parsed script and the facts every planter needs."""

    source: str
    tree: ast.Module
    newline: str
    lines: list[str]  # without line breaks
    pyplot: str | None  # the name pyplot is imported as, if any

    @classmethod
    def parse(cls, source: str) -> _Script | None:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None
        m = _LINE_BREAK.search(source)
        newline = m.group(0) if m else "\n"
        lines = [source[s:e] for s, e in line_spans(source)]
        return cls(source, tree, newline, lines, _pyplot_alias(tree))

    def plt(self) -> tuple[str, str]:
        """(expression for pyplot, statement prefix that makes it available)."""
        if self.pyplot:
            return self.pyplot, ""
        return "plt", "import matplotlib.pyplot as plt; "

    def insertion_point(self) -> tuple[int, str]:
        """(1-based line to insert before, indentation) for code acting on the finished figure.

        That is the line of the statement holding the last ``savefig``/``show`` call, or the end
        of the script when there is none."""
        calls = [
            node
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("savefig", "show")
        ]
        if not calls:
            return len(self.lines) + 1, ""
        last = max(calls, key=lambda c: (c.lineno, c.col_offset))
        stmt = _enclosing_statement(self.tree, last)
        line = stmt.lineno
        text = self.lines[line - 1]
        return line, text[: len(text) - len(text.lstrip())]

    def insert(self, before: int, indent: str, new_lines: list[str]) -> str:
        """The source with ``new_lines`` inserted before 1-based line ``before``."""
        nl = self.newline
        body = "".join(indent + text + nl for text in new_lines)
        spans = line_spans(self.source)
        if before > len(spans):  # append, making sure the last line is terminated first
            src = self.source
            if src and not src.endswith(("\n", "\r")):
                src += nl
            return src + body
        at = spans[before - 1][0]
        return self.source[:at] + body + self.source[at:]


def _pyplot_alias(tree: ast.Module) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "matplotlib.pyplot":
                    return a.asname or "matplotlib.pyplot"
        elif isinstance(node, ast.ImportFrom) and node.module == "matplotlib":
            for a in node.names:
                if a.name == "pyplot":
                    return a.asname or "pyplot"
    return None


def _enclosing_statement(tree: ast.Module, target: ast.AST) -> ast.stmt:
    """The innermost statement whose subtree holds ``target``."""
    best: ast.stmt | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and any(n is target for n in ast.walk(node)):
            if best is None or (node.lineno, node.col_offset) >= (best.lineno, best.col_offset):
                best = node
    assert best is not None  # a call always sits in some statement
    return best


def _insert_planted(
    script: _Script, name: str, kinds: tuple[str, ...], new_lines: list[str]
) -> PlantedScript:
    before, indent = script.insertion_point()
    source = script.insert(before, indent, new_lines)
    lines = tuple(range(before, before + len(new_lines)))
    return PlantedScript(name, source, lines, kinds, before, len(new_lines))


# ---------------------------------------------------------------------------------------------
# The planters

_OVERLAP = (DefectKind.OVERLAP,)
_OFF_CANVAS = (DefectKind.OVERFLOW, DefectKind.CLIPPED_TEXT)
# 4x tick labels either collide or, on charts with few ticks, run off the canvas: both are the
# planted line's doing, and both are what a reader would see as broken.
_TICKS_TOO_BIG = (DefectKind.OVERLAP, DefectKind.OVERFLOW)
_CONTRAST = (DefectKind.LOW_CONTRAST,)


def plant_tick_font(source: str) -> PlantedScript | None:
    """Tick labels of the current axes at four times their own font size."""
    script = _Script.parse(source)
    if script is None:
        return None
    plt, prefix = script.plt()
    line = (
        f"{prefix}for _l in {plt}.gca().get_xticklabels() + {plt}.gca().get_yticklabels(): "
        "_l.set_fontsize(_l.get_fontsize() * 4)"
    )
    return _insert_planted(script, "tick_font", _TICKS_TOO_BIG, [line])


def plant_title_offcanvas(source: str) -> PlantedScript | None:
    """The figure title (the existing suptitle, or a new one) pushed above the canvas."""
    script = _Script.parse(source)
    if script is None:
        return None
    plt, prefix = script.plt()
    line = (
        f"{prefix}{plt}.gcf().suptitle({plt}.gcf().get_suptitle() or "
        "'Quarterly results overview', y=1.15)"
    )
    return _insert_planted(script, "title_offcanvas", _OFF_CANVAS, [line])


def plant_white_on_white(source: str) -> PlantedScript | None:
    """A white note on a white box in the middle of the figure."""
    script = _Script.parse(source)
    if script is None:
        return None
    plt, prefix = script.plt()
    line = (
        f"{prefix}{plt}.gcf().text(0.5, 0.5, 'Note: preliminary data', color='white', "
        "fontsize=14, ha='center', va='center', bbox=dict(facecolor='white', edgecolor='none'))"
    )
    return _insert_planted(script, "white_on_white", _CONTRAST, [line])


def plant_annotation_pair(source: str) -> PlantedScript | None:
    """Two long annotations written at the same point of the current axes."""
    script = _Script.parse(source)
    if script is None:
        return None
    plt, prefix = script.plt()
    texts = ("Peak demand recorded in this period", "Forecast revised after the review")
    lines = [
        f"{prefix if i == 0 else ''}{plt}.gca().annotate('{t}', xy=(0.5, 0.5), "
        "xycoords='axes fraction', fontsize=12)"
        for i, t in enumerate(texts)
    ]
    return _insert_planted(script, "annotation_pair", _OVERLAP, lines)


def plant_legend_center(source: str) -> PlantedScript | None:
    """The legend moved to the centre of the data area.

    Edits the last ``.legend(...)`` call in place when there is one; otherwise inserts
    ``<axes>.legend(loc='center')`` for the axes of the last plotting call that passed ``label=``;
    otherwise (nothing a legend could list) returns None."""
    script = _Script.parse(source)
    if script is None:
        return None
    legend_calls = [
        node
        for node in ast.walk(script.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "legend"
    ]
    if legend_calls:
        call = max(legend_calls, key=lambda c: (c.lineno, c.col_offset))
        return _edit_legend_call(script, call)

    # Calls on imported modules (``squarify.plot(label=...)``) draw on an axes we cannot name;
    # pyplot itself is fine (its legend goes on the current axes).
    modules = _imported_names(script.tree) - {script.pyplot}
    labelled = [
        node
        for node in ast.walk(script.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and any(k.arg == "label" for k in node.keywords)
        and _is_plain_receiver(node.func.value)
        and _root_name(node.func.value) not in modules
    ]
    if not labelled:
        return None
    call = max(labelled, key=lambda c: (c.lineno, c.col_offset))
    if _inside_function(script.tree, call):
        return None  # its axes variable is local to the function; no line at the end can reach it
    receiver = ast.get_source_segment(script.source, call.func.value) or ""
    plt, prefix = script.plt()
    target = f"{plt}.gca()" if receiver in ("plt", script.pyplot) else receiver
    return _insert_planted(
        script, "legend_center", _OVERLAP, [f"{prefix}{target}.legend(loc='center')"]
    )


def _is_plain_receiver(node: ast.expr) -> bool:
    """Names like ``ax``, ``plt``, ``axes[0]``, ``self.ax`` (not call results)."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and _is_plain_receiver(node.value)
    if isinstance(node, ast.Attribute):
        return _is_plain_receiver(node.value)
    return False


def _root_name(node: ast.expr) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                names.add(a.asname or a.name.split(".")[0])
    return names


def _inside_function(tree: ast.Module, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if any(n is target for n in ast.walk(node)):
                return True
    return False


def _edit_legend_call(script: _Script, call: ast.Call) -> PlantedScript:
    """``loc='center'`` (added or replacing the old value), ``bbox_to_anchor=None``; lines kept."""
    edits: list[tuple[ast.AST, str]] = []  # (node whose text is replaced, new text)
    loc = next((k for k in call.keywords if k.arg == "loc"), None)
    if loc is not None:
        edits.append((loc.value, "'center'"))
    anchor = next((k for k in call.keywords if k.arg == "bbox_to_anchor"), None)
    if anchor is not None:
        edits.append((anchor.value, "None"))

    offsets = _LineOffsets(script.source)
    source = script.source
    # Apply edits from the end backwards so earlier offsets stay valid.
    replacements = [
        (offsets.at(n.lineno, n.col_offset), offsets.at(n.end_lineno, n.end_col_offset), text)
        for n, text in edits
    ]
    if loc is None:
        args: list[ast.AST] = [*call.args, *call.keywords]
        if args:
            last = max(args, key=lambda a: (a.end_lineno, a.end_col_offset))
            at = offsets.at(last.end_lineno, last.end_col_offset)
            replacements.append((at, at, ", loc='center'"))
        else:  # ``.legend()``: the closing parenthesis is the call's last character
            at = offsets.at(call.end_lineno, call.end_col_offset) - 1
            replacements.append((at, at, "loc='center'"))
    for start, end, text in sorted(replacements, reverse=True):
        source = source[:start] + text + source[end:]

    stmt = _enclosing_statement(script.tree, call)
    lines = tuple(range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1))
    return PlantedScript("legend_center", source, lines, _OVERLAP, None, 0)


class _LineOffsets:
    """Turns ast (line, UTF-8 byte column) positions into ``str`` indices."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.spans = line_spans(source)

    def at(self, lineno: int | None, col: int | None) -> int:
        assert lineno is not None and col is not None
        start, end = self.spans[lineno - 1]
        line = self.source[start:end]
        return start + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def hide_legends(source: str) -> str | None:
    """A probe, not a planter: the script with every legend hidden just before it saves.

    Rendered next to a ``legend_center`` copy, it shows what the centred legend covers (the
    layout is the same: the legends disappear only after ``tight_layout``); the evaluation uses
    it to tell a legend over data from one that landed on empty space."""
    script = _Script.parse(source)
    if script is None:
        return None
    plt, prefix = script.plt()
    line = (
        f"{prefix}for _lg in [_a.get_legend() for _a in {plt}.gcf().axes] + {plt}.gcf().legends: "
        "_lg is not None and _lg.set_visible(False)"
    )
    before, indent = script.insertion_point()
    return script.insert(before, indent, [line])


# ---------------------------------------------------------------------------------------------

PLANTERS: dict[str, Planter] = {
    p.name: p
    for p in (
        Planter("tick_font", _TICKS_TOO_BIG, plant_tick_font, "tick labels font x4"),
        Planter("legend_center", _OVERLAP, plant_legend_center, "legend moved over the data"),
        Planter("title_offcanvas", _OFF_CANVAS, plant_title_offcanvas, "title pushed off-canvas"),
        Planter("white_on_white", _CONTRAST, plant_white_on_white, "white text on white"),
        Planter("annotation_pair", _OVERLAP, plant_annotation_pair, "two annotations, one point"),
    )
}


def plant(name: str, source: str) -> PlantedScript | None:
    """Apply the planter called ``name`` (a key of :data:`PLANTERS`) to ``source``."""
    try:
        planter = PLANTERS[name]
    except KeyError:
        raise ValueError(f"unknown planter {name!r}; choose from {sorted(PLANTERS)}") from None
    return planter.plant(source)
