"""ChartMimic low-level scores: hand-computed values on built renders, and real renders."""

from __future__ import annotations

import copy

import pytest

from vsdpo.artifact import Element, RenderResult
from vsdpo.metrics.chartmimic import (
    GRAPH_CELL,
    chartmimic_program,
    chartmimic_report,
    chartmimic_scores,
    color_prf,
    filter_colors,
    layout_cells,
    text_strings,
)

CELL = {"nrows": 1, "ncols": 2, "row_start": 0, "row_end": 0, "col_start": 0, "col_end": 0}
CELL2 = {**CELL, "col_start": 1, "col_end": 1}


def built(texts=None, colors=None, types=None, specs=None) -> RenderResult:
    """A chart render with the records the scores read (no rendering)."""
    colors = ["bar--#FF595E", "line--#1F77B4"] if colors is None else colors
    calls = {
        "types": {"bar": 1, "plot": 1} if types is None else types,
        "colors": colors,
        "types_fixed": {"bar": 1, "plot": 1} if types is None else types,
        "colors_fixed": colors,
    }
    elements = [
        Element(
            0,
            "figure",
            (0, 0, 640, 480),
            meta={"subplotspecs": [CELL, CELL2] if specs is None else specs, "chartmimic": calls},
        )
    ]
    for kind, text, meta in texts if texts is not None else default_texts():
        elements.append(Element(len(elements), kind, (10, 10, 50, 20), text=text, meta=meta))
    return RenderResult(ok=True, domain="chart", canvas=(640, 480), elements=elements)


def default_texts():
    return [
        ("title", "Two\nlines", {}),
        ("axis_label", "Year", {"axis": "x"}),
        ("tick_label", "2019", {"axis": "x"}),
        ("tick_label", "0.5", {"axis": "y"}),
        ("tick_label", "1.25", {"axis": "z"}),  # 3D z tick labels survive tick removal
        ("text", "1e6", {"axis": "y"}),  # an offset text: removed with the ticks
        ("legend_text", "$\\alpha^2$", {}),
    ]


def test_text_strings_apply_tick_removal_and_split_lines() -> None:
    assert text_strings(built()) == ["Two", "lines", "Year", "1.25", "$\\alpha^2$"]


def test_identical_renders_score_the_maximum() -> None:
    s = chartmimic_scores(built(), built())
    assert (s.text.f1, s.layout.f1, s.chart_type.f1, s.color.f1) == (1.0, 1.0, 1.0, 1.0)
    assert s.average == 1.0
    assert s.overall(80) == pytest.approx(90.0)


def test_one_changed_colour_lowers_only_the_colour_score() -> None:
    cand = built(colors=["bar--#2CA02C", "line--#1F77B4"])
    s = chartmimic_scores(cand, built())
    sim = 0.273316  # metrics.md 0.2: #FF595E vs #2CA02C
    assert s.color.precision == pytest.approx((1 + sim) / 2, abs=1e-6)
    assert s.color.f1 == pytest.approx((1 + sim) / 2, abs=1e-6)
    assert (s.text.f1, s.layout.f1, s.chart_type.f1) == (1.0, 1.0, 1.0)


def test_the_spec_colour_example() -> None:
    # CB_1 (metrics.md 1.7): five entries each, four identical, one #FF595E -> #2CA02C
    ref = ["hist--#FF595E", "hist--#1F77B4", "line--#000000", "axvline--#FF0000", "fill--#00FF00"]
    cand = ["hist--#2CA02C", *ref[1:]]
    got = color_prf(cand, ref)
    assert got.precision == got.recall == pytest.approx((4 + 0.273316) / 5, abs=1e-6)
    assert got.f1 == pytest.approx(0.8547, abs=1e-4)


def test_colours_only_match_within_their_group_and_names_by_equality() -> None:
    assert color_prf(["bar--#FF595E"], ["pie--#FF595E"]).f1 == 0.0
    assert color_prf(["imshow--viridis"], ["imshow--viridis"]).f1 == 1.0
    assert color_prf(["imshow--viridis"], ["imshow--plasma"]).f1 == 0.0
    assert color_prf(["imshow--#440154"], ["imshow--viridis"]).f1 == 0.0
    # one-to-one: two candidate bars against one reference bar share S = 1
    got = color_prf(["bar--#FF0000", "bar--#FE0000"], ["bar--#FF0000"])
    assert (got.precision, got.recall) == pytest.approx((0.5, 1.0))
    assert color_prf(["bar--#FF0000"], []).f1 == 0.0  # the original crashes; vsdpo: R = 0


def test_near_duplicate_filter_keeps_the_first_of_similar_colours() -> None:
    entries = [f"bar--#{v:02X}0000" for v in range(200, 256, 5)]  # 12 close reds
    entries.append("line--#0000FF")
    kept = filter_colors(entries)
    assert kept == ["bar--#C80000", "line--#0000FF"]


def test_one_missing_text_lowers_only_the_text_score() -> None:
    texts = [t for t in default_texts() if t[1] != "Year"]
    s = chartmimic_scores(built(texts=texts), built())
    # reference texts: Two, lines, Year, 1.25, $\alpha^2$ (5); the candidate has 4 of them
    assert s.text.precision == 1.0
    assert s.text.recall == pytest.approx(4 / 5)
    assert s.text.f1 == pytest.approx(2 * 0.8 / 1.8)
    assert (s.layout.f1, s.chart_type.f1, s.color.f1) == (1.0, 1.0, 1.0)


def test_layout_and_type_hand_computed() -> None:
    cand = built(specs=[CELL, CELL2, CELL2, None], types={"bar": 2, "scatter": 1})
    s = chartmimic_scores(cand, built())
    assert s.layout.precision == pytest.approx(2 / 3)  # the add_axes axes (None) is skipped
    assert s.layout.recall == 1.0
    assert s.chart_type.precision == pytest.approx(1 / 3)
    assert s.chart_type.recall == pytest.approx(1 / 2)
    assert layout_cells(cand, graph=True) == [GRAPH_CELL] * 4


def test_empty_text_lists_follow_the_quirk_unless_fixed() -> None:
    empty = built(texts=[])
    assert chartmimic_scores(empty, empty).text.f1 == 0.0
    assert chartmimic_scores(empty, empty, faithful=False).text.f1 == 1.0


def test_a_candidate_that_did_not_run_scores_zero_and_the_report_counts_it() -> None:
    failed = RenderResult(ok=False, domain="chart")
    s = chartmimic_scores(failed, built())
    assert not s.executed and s.average == 0.0
    good = chartmimic_scores(built(), built())
    row = chartmimic_report([good, s], high_level=[60.0, 90.0])
    assert row["Text"] == 50.0 and row["Average"] == 50.0 and row["ExecRate"] == 50.0
    assert row["GPT4VScore"] == 30.0 and row["Overall"] == 40.0
    assert chartmimic_report([good], n_total=4)["Color"] == 25.0
    with pytest.raises(ValueError):
        chartmimic_scores(built(), failed)


def test_chartmimic_program_cuts_after_savefig_and_show() -> None:
    response = (
        "Here:\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1])\n"
        "plt.savefig('a.png')\nplt.title('lost')\n```\n"
    )
    code = chartmimic_program(response)
    assert "lost" not in code and "a.png" not in code
    assert code.rstrip().endswith('plt.savefig("output.pdf")')
    assert "plt.title" not in chartmimic_program("plt.plot([1])\nplt.show()\nplt.title('x')\n")
    wrapped = chartmimic_program('x = """a\nb"""\n', wrap_try=True)
    assert wrapped.startswith("try:\n    x = ") and '"""a\n    b"""' in wrapped


# ---------------------------------------------------------------------------- real renders

PROGRAM = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["a", "b"], [3, 4], color="{bar}", label="A")
ax.plot([0, 1], [1, 2], color="#1F77B4", label="B")
{title}
ax.set_xlabel("Year")
ax.set_ylabel("Units")
ax.legend()
plt.savefig("chart.pdf", bbox_inches="tight")
"""


def program(bar: str = "#FF595E", title: bool = True) -> str:
    return PROGRAM.format(bar=bar, title='ax.set_title("Sales")' if title else "")


@pytest.fixture(scope="module")
def renders():
    from vsdpo.render.chart import ChartRenderer

    variants = {
        "ref": program(),
        "colour": program(bar="#2CA02C"),
        "no_title": program(title=False),
        "kinds": "\n".join(
            [
                "import numpy as np, matplotlib.pyplot as plt",
                "fig = plt.figure()",
                "ax = fig.add_subplot(121)",
                "ax.hist(np.arange(10), bins=3, color='#6D8ABB')",  # hist -> bar: hist only
                "ax.barh(['x'], [1])",  # barh -> bar: barh only
                "ax.add_patch(plt.Circle((1, 1), 0.5, color='red'))",
                "p = fig.add_subplot(122, projection='polar')",
                "p.plot([0, 1], [1, 2], color='black')",
                "try:\n    ax.bar([1], [1], color='not-a-colour')\nexcept ValueError:\n    pass",
                "ax.scatter([1], [2], c='green')",  # after the failed call: faithful drops it
            ]
        ),
    }
    with ChartRenderer(workers=1, start_heavy=False) as r:
        out = dict(zip(variants, r.render_many(list(variants.values()), extract=False)))
    for name, res in out.items():
        assert res.ok, (name, res.error)
    return out


def test_real_renders_identical_program_scores_the_maximum(renders) -> None:
    ref = renders["ref"]
    again = copy.deepcopy(ref)
    s = chartmimic_scores(again, ref)
    assert (s.text.f1, s.layout.f1, s.chart_type.f1, s.color.f1) == (1.0, 1.0, 1.0, 1.0)
    assert sorted(text_strings(ref)) == sorted(["Sales", "Year", "Units", "A", "B"])


def test_real_renders_one_changed_colour(renders) -> None:
    s = chartmimic_scores(renders["colour"], renders["ref"])
    # entries: bar--#FF595E / bar--#2CA02C and line--#1F77B4 on both sides: S = 1 + 0.273316
    assert s.color.f1 == pytest.approx((1 + 0.273316) / 2, abs=1e-6)
    assert (s.text.f1, s.layout.f1, s.chart_type.f1) == (1.0, 1.0, 1.0)


def test_real_renders_one_missing_text(renders) -> None:
    s = chartmimic_scores(renders["no_title"], renders["ref"])
    assert s.text.f1 == pytest.approx(2 * (4 / 5) / (1 + 4 / 5))
    assert (s.layout.f1, s.chart_type.f1, s.color.f1) == (1.0, 1.0, 1.0)


def test_real_render_call_records(renders) -> None:
    from vsdpo.metrics.chartmimic import chart_type_counts, color_entries

    kinds = renders["kinds"]
    fixed = chart_type_counts(kinds, faithful=False)
    assert fixed == {
        "hist": 1,
        "barh": 1,
        "Ellipse/Circle": 1,
        "plot_polar": 1,
        "bar": 1,
        "scatter": 1,
    }
    faithful = chart_type_counts(kinds)  # the raising bar call leaves the flag set [quirk]
    assert faithful == {"hist": 1, "barh": 1, "Ellipse/Circle": 1, "plot_polar": 1, "bar": 1}
    colours = color_entries(kinds, faithful=False)
    assert "hist--#6D8ABB" in colours and "Ellipse/Circle--#FF0000" in colours
    assert "plot_polar--#000000" in colours and "scatter--#008000" in colours
    assert "scatter--#008000" not in color_entries(kinds)
