"""ChartMimic-style low-level scores of a candidate chart against the reference (metrics.md 1).

ChartMimic instruments matplotlib and runs each script four more times. vsdpo runs each program
once, in the sandboxed chart renderer, and reads what the scores need from the
:class:`~vsdpo.artifact.RenderResult`:

* **Text** (1.4): the strings of the texts drawn on the main figure, one entry per line of each
  text (``"Two\\nlines"`` gives two), mathtext raw with its ``$``, after ChartMimic's tick removal
  (x/y tick labels and their offset texts dropped, 3D z tick labels kept). Multiset F1 with exact,
  case-sensitive equality;
* **Layout** (1.5): the figure element's ``meta["subplotspecs"]`` (per axes of ``fig.axes``: the
  owning GridSpec's geometry and the inclusive spans; axes without a SubplotSpec are skipped, or,
  for networkx charts (``graph=True``), every axes counts as the constant cell); multiset F1;
* **Type** (1.6): the counts of outermost instrumented plotting calls per category, recorded by
  :mod:`vsdpo.render.chart_calls` (``meta["chartmimic"]``); ``n = sum_k min``, then F1;
* **Color** (1.7): the distinct ``"<group>--<colour>"`` entries recorded the same way, reduced by
  the near-duplicate filter when there are more than 10 (in registration order: the original's
  set order changes with ``PYTHONHASHSEED`` [quirk]); per group the best one-to-one assignment
  (Hungarian) of CIEDE2000 similarities, summed; ``P = S/|gen|``, ``R = S/|ref|``, F1.

``faithful=True`` (default) reproduces the benchmark's quirks that change numbers: two empty
lists score 0 (0.1), and the chart-type / colour records keep the original's run-time behaviour
(:mod:`vsdpo.render.chart_calls`). ``faithful=False`` scores two empty lists as a match and uses
the fixed records. Where the original keeps a previous example's value (an empty Type or an empty
reference colour list), both modes return 0.

The benchmark's pre-processing of a model response (1.2) is :func:`chartmimic_program`. The
dataset figures (1.1) are :func:`chartmimic_report`. The GPT-4V judge score (1.9) cannot be
computed offline; pass one from a VLM judge to :meth:`ChartMimicScores.overall`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vsdpo.artifact import ElementKind, RenderResult
from vsdpo.metrics.common import PRF, ZERO, counts_prf, multiset_prf, similarity_matrix

#: the layout cell every axes of a networkx chart maps to (ChartMimic's special case)
GRAPH_CELL = {"nrows": 1, "ncols": 1, "row_start": 0, "row_end": 1, "col_start": 0, "col_end": 1}
#: more distinct colours than this trigger the near-duplicate filter
FILTER_ABOVE = 10
#: the filter keeps a colour only if its similarity to every colour kept so far is at most this
FILTER_MAX_SIMILARITY = 0.7


@dataclass
class ChartMimicScores:
    """The four low-level scores of one example (each a :class:`PRF`; ``f1`` is what is
    reported). ``executed`` is False when the candidate did not run: every score is then 0."""

    executed: bool
    text: PRF = ZERO
    layout: PRF = ZERO
    chart_type: PRF = ZERO
    color: PRF = ZERO
    notes: list[str] = field(default_factory=list)

    @property
    def average(self) -> float:
        """Mean of the four F1 scores, in [0, 1] (ChartMimic's low-level "Average")."""
        return (self.text.f1 + self.layout.f1 + self.chart_type.f1 + self.color.f1) / 4

    def overall(self, high_level: float) -> float:
        """``mean(100 * Average, high-level judge score)``, in 0..100 (1.1); the judge score is
        in 0..100."""
        return (100 * self.average + float(high_level)) / 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "executed": self.executed,
            "text": self.text.f1,
            "layout": self.layout.f1,
            "type": self.chart_type.f1,
            "color": self.color.f1,
            "average": self.average,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------- extraction


def main_page(result: RenderResult) -> int:
    """The page of the main figure: the last one with anything drawn (the runner's rule)."""
    pages = [e.page for e in result.elements if e.kind != ElementKind.FIGURE]
    return max(pages) if pages else 0


def figure_meta(result: RenderResult, page: int | None = None) -> dict[str, Any]:
    page = main_page(result) if page is None else page
    for e in result.elements:
        if e.kind == ElementKind.FIGURE and e.page == page:
            return e.meta
    return {}


def _removed_by_tick_removal(e: Any) -> bool:
    """``set_xticks([])`` / ``set_yticks([])`` on every axes: x/y tick labels and the x/y offset
    texts go, 3D z tick labels stay."""
    axis = e.meta.get("axis")
    if e.kind == ElementKind.TICK_LABEL:
        return axis in ("x", "y")
    return e.kind == ElementKind.TEXT and axis in ("x", "y")  # the "1e6" offset texts


def text_strings(result: RenderResult, *, remove_ticks: bool = True) -> list[str]:
    """What ChartMimic's PDF renderer hook records: one string per drawn line of every text of
    the main figure, after tick removal (metrics.md 1.4)."""
    page = main_page(result)
    out: list[str] = []
    for e in result.elements:
        if e.page != page or not e.is_text or e.text is None or e.text == "":
            continue
        if remove_ticks and _removed_by_tick_removal(e):
            continue
        out.extend(e.text.split("\n"))
    return out


def layout_cells(result: RenderResult, *, graph: bool = False) -> list[dict[str, int]]:
    """The SubplotSpec cells of the main figure's axes (metrics.md 1.5)."""
    specs = figure_meta(result).get("subplotspecs", [])
    if graph:
        return [dict(GRAPH_CELL) for _ in specs]
    return [dict(s) for s in specs if s is not None]


def _calls(result: RenderResult) -> dict[str, Any]:
    return figure_meta(result).get("chartmimic", {})


def chart_type_counts(result: RenderResult, *, faithful: bool = True) -> dict[str, int]:
    """Outermost instrumented plotting calls per category (metrics.md 1.6)."""
    return dict(_calls(result).get("types" if faithful else "types_fixed", {}))


def color_entries(result: RenderResult, *, faithful: bool = True) -> list[str]:
    """The distinct ``"<group>--<colour>"`` entries, filtered when there are more than 10
    (metrics.md 1.7)."""
    entries = list(_calls(result).get("colors" if faithful else "colors_fixed", []))
    return filter_colors(entries) if len(entries) > FILTER_ABOVE else entries


# ---------------------------------------------------------------------------- colours


def split_entry(entry: str) -> tuple[str, str]:
    group, _, colour = entry.rpartition("--")
    return group, colour


def _entry_similarity_matrix(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Similarity of colour values (groups ignored): CIEDE2000 similarity of two hex colours,
    1/0 for two colormap names (equal or not), 0 for a hex against a name."""
    sim = np.zeros((len(a), len(b)))
    ca, cb = [split_entry(x)[1] for x in a], [split_entry(x)[1] for x in b]
    ia = [i for i, c in enumerate(ca) if c.startswith("#")]
    ib = [j for j, c in enumerate(cb) if c.startswith("#")]
    if ia and ib:
        sim[np.ix_(ia, ib)] = similarity_matrix([ca[i] for i in ia], [cb[j] for j in ib])
    for i, c in enumerate(ca):
        if not c.startswith("#"):
            for j, d in enumerate(cb):
                if not d.startswith("#") and c == d:
                    sim[i, j] = 1.0
    return sim


def filter_colors(entries: Sequence[str]) -> list[str]:
    """Keep an entry only if its colour's similarity to every entry kept so far is at most 0.7
    (groups ignored), walking the list in order."""
    kept: list[str] = []
    if not entries:
        return kept
    sim = _entry_similarity_matrix(entries, entries)
    kept_idx: list[int] = []
    for i, entry in enumerate(entries):
        if not kept_idx or np.all(sim[i, kept_idx] <= FILTER_MAX_SIMILARITY):
            kept_idx.append(i)
            kept.append(entry)
    return kept


def color_prf(candidate: Sequence[str], reference: Sequence[str]) -> PRF:
    """ChartMimic's colour score (metrics.md 1.7): per group the maximum total similarity over
    one-to-one assignments, summed over groups, divided by each list's length."""
    from scipy.optimize import linear_sum_assignment

    groups: dict[str, tuple[list[str], list[str]]] = {}
    for side, entries in ((0, candidate), (1, reference)):
        for entry in entries:
            groups.setdefault(split_entry(entry)[0], ([], []))[side].append(entry)
    total = 0.0
    for cand, ref in groups.values():
        if not cand or not ref:
            continue
        sim = _entry_similarity_matrix(cand, ref)
        rows, cols = linear_sum_assignment(-sim)
        total += float(sim[rows, cols].sum())
    return PRF.from_hits(total, len(candidate), len(reference))


# ---------------------------------------------------------------------------- scores


def chartmimic_scores(
    candidate: RenderResult,
    reference: RenderResult,
    *,
    graph: bool = False,
    faithful: bool = True,
) -> ChartMimicScores:
    """The four ChartMimic low-level scores of ``candidate`` against ``reference``.

    ``graph``: the example is a networkx chart (ChartMimic keys this on ``/graph`` in the path).
    Raises ValueError if the reference did not render (the benchmark's references all do)."""
    if not reference.ok:
        raise ValueError(f"the reference did not render: {reference.error}")
    if not candidate.ok:
        return ChartMimicScores(executed=False, notes=["the candidate did not execute"])
    notes = []
    for name, res in (("candidate", candidate), ("reference", reference)):
        if not _calls(res):
            notes.append(f"no chart-call record for the {name} (rendered with chart_calls off?)")
    text = multiset_prf(text_strings(candidate), text_strings(reference), faithful=faithful)
    layout = multiset_prf(
        layout_cells(candidate, graph=graph),
        layout_cells(reference, graph=graph),
        faithful=faithful,
    )
    chart_type = counts_prf(
        chart_type_counts(candidate, faithful=faithful),
        chart_type_counts(reference, faithful=faithful),
    )
    color = color_prf(
        color_entries(candidate, faithful=faithful), color_entries(reference, faithful=faithful)
    )
    return ChartMimicScores(True, text, layout, chart_type, color, notes)


def chartmimic_report(
    scores: Sequence[ChartMimicScores],
    n_total: int | None = None,
    high_level: Sequence[float] | None = None,
) -> dict[str, float]:
    """The benchmark's table row (metrics.md 1.1), in 0..100: each low-level score is
    ``100 * sum over executed examples of F1 / N_total`` (an example that did not execute adds 0),
    ``Average`` their mean, ``ExecRate`` the executed share; with judge scores (0..100, one per
    example) also ``GPT4VScore`` and ``Overall = mean(Average, GPT4VScore)``."""
    n = int(n_total if n_total is not None else len(scores))
    if n <= 0:
        raise ValueError("no examples")
    ran = [s for s in scores if s.executed]
    row = {
        "Text": 100 * sum(s.text.f1 for s in ran) / n,
        "Layout": 100 * sum(s.layout.f1 for s in ran) / n,
        "Type": 100 * sum(s.chart_type.f1 for s in ran) / n,
        "Color": 100 * sum(s.color.f1 for s in ran) / n,
    }
    row["Average"] = sum(row.values()) / 4
    row["ExecRate"] = 100 * len(ran) / n
    if high_level is not None:
        if len(high_level) != len(scores):
            raise ValueError("high_level needs one judge score per example")
        judge = sum(float(h) for s, h in zip(scores, high_level) if s.executed) / n
        row["GPT4VScore"] = judge
        row["Overall"] = (row["Average"] + judge) / 2
    return row


# ---------------------------------------------------------------------------- pre-processing

_PYTHON_BLOCK = re.compile(r"```python(.*?)```", re.DOTALL)
_SAVEFIG_TAIL = re.compile(r"plt\.savefig\(.*\n*", re.DOTALL)
_SHOW_TAIL = re.compile(r"plt.show\(.*\n*", re.DOTALL)  # the unescaped dot is the original's


def chartmimic_program(response: str, *, output: str = "output.pdf", wrap_try: bool = False) -> str:
    """A model response turned into the script ChartMimic scores (metrics.md 1.2): the first
    ```` ```python ```` block (or the whole text when there is none), everything from the first
    ``plt.savefig(`` and then from the first ``plt.show(`` to the end removed [quirk], and
    ``plt.savefig("<output>")`` appended.

    ``wrap_try=True`` gives the *scored* copy (the body inside ``try: ... except Exception:
    pass``, indented by inserting 4 spaces after every newline, which also indents multi-line
    string literals [quirk]); the default is the *checker* copy, which decides execution."""
    found = _PYTHON_BLOCK.search(response)
    code = found.group(1) if found else response
    code = _SAVEFIG_TAIL.sub("", code)
    code = _SHOW_TAIL.sub("", code)
    save = f'plt.savefig("{output}")'
    if wrap_try:
        body = code.replace("\n", "\n    ")
        return f"try:\n    {body}\nexcept Exception:\n    pass\n{save}\n"
    return f"{code}\n{save}\n"
