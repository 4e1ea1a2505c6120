"""The defect planters: where they plant, what the planted line says, and what it does when run."""

from __future__ import annotations

import ast

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vsdpo.artifact import DefectKind  # noqa: E402
from vsdpo.evaluate.planting import PLANTERS, PlantedScript, hide_legends, plant  # noqa: E402

PLT_STYLE = """\
import matplotlib.pyplot as plt
import numpy as np

x = np.arange(10)
plt.figure(figsize=(6, 4))
plt.plot(x, x ** 2, label="squares")
plt.plot(x, x * 3, label="triples")
plt.title("Growth")
plt.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))
plt.tight_layout()
plt.savefig("out.pdf", bbox_inches="tight")
"""

AX_STYLE_IN_MAIN = """\
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].bar(["a", "b", "c"], [1, 2, 3], label="sales")
axes[1].plot([1, 2, 3], [3, 1, 2])
fig.suptitle("Two panels")

if __name__ == "__main__":
    plt.tight_layout()
    plt.savefig(
        "out.pdf",
        bbox_inches="tight",
    )
"""

NO_LABELS = """\
import matplotlib.pyplot as plt
import numpy as np

plt.imshow(np.arange(12).reshape(3, 4))
plt.colorbar()
plt.savefig("heat.pdf")
"""


def run_script(source: str, tmp_path, monkeypatch) -> Figure:
    """Execute a script like the ChartMimic harness does (Agg, temp cwd); return its figure."""
    monkeypatch.chdir(tmp_path)
    plt.close("all")
    exec(compile(source, "<planted>", "exec"), {"__name__": "__main__"})
    return plt.gcf()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def line_of(planted: PlantedScript, n: int) -> str:
    return planted.source.splitlines()[n - 1]


# --- where the new lines go -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tick_font", "title_offcanvas", "white_on_white"])
def test_single_line_planters_insert_one_line_just_before_savefig(name):
    planted = plant(name, PLT_STYLE)
    assert planted is not None
    original = PLT_STYLE.splitlines()
    new = planted.source.splitlines()
    assert len(new) == len(original) + 1
    assert planted.lines == (11,) and planted.inserted_at == 11 and planted.n_inserted == 1
    assert new[:10] == original[:10]  # untouched up to tight_layout
    assert new[11].startswith("plt.savefig(")
    assert planted.expected_kinds == PLANTERS[name].expected_kinds
    ast.parse(planted.source)


def test_insertion_follows_the_indentation_of_a_multiline_savefig_statement():
    planted = plant("annotation_pair", AX_STYLE_IN_MAIN)
    assert planted is not None
    assert planted.lines == (10, 11)  # the savefig statement started on line 10
    for n in planted.lines:
        text = line_of(planted, n)
        assert text.startswith("    plt.gca().annotate(")
    assert line_of(planted, 12) == "    plt.savefig("
    ast.parse(planted.source)


def test_script_without_savefig_gets_the_line_appended():
    source = "import matplotlib.pyplot as plt\nplt.plot([1, 2], [2, 1])"  # no final newline
    planted = plant("tick_font", source)
    assert planted is not None
    lines = planted.source.splitlines()
    assert lines[0:2] == source.splitlines()
    assert planted.lines == (3,) and lines[2].startswith("for _l in plt.gca()")


def test_crlf_scripts_keep_crlf_and_line_numbers_stay_exact():
    source = PLT_STYLE.replace("\n", "\r\n")
    planted = plant("white_on_white", source)
    assert planted is not None
    assert "\n" not in planted.source.replace("\r\n", "")
    assert planted.source.splitlines()[planted.line - 1].startswith("plt.gcf().text(")


def test_other_pyplot_alias_is_used_and_missing_import_is_supplied():
    aliased = PLT_STYLE.replace(
        "import matplotlib.pyplot as plt", "from matplotlib import pyplot as mp"
    )
    aliased = aliased.replace("plt.", "mp.")
    planted = plant("title_offcanvas", aliased)
    assert planted is not None and line_of(planted, planted.line).startswith("mp.gcf().suptitle(")

    bare = "import matplotlib\nfig = matplotlib.figure.Figure()\nfig.savefig('a.png')\n"
    planted = plant("title_offcanvas", bare)
    assert planted is not None
    assert line_of(planted, planted.line).startswith("import matplotlib.pyplot as plt; plt.gcf()")
    ast.parse(planted.source)


def test_original_line_mapping_skips_inserted_lines():
    planted = plant("annotation_pair", PLT_STYLE)
    assert planted is not None and planted.lines == (11, 12)
    assert planted.original_line(10) == 10
    assert planted.original_line(11) is None and planted.original_line(12) is None
    assert planted.original_line(13) == 11  # the savefig line
    edited = plant("legend_center", PLT_STYLE)
    assert edited is not None and edited.original_line(9) == 9  # in-place edit: identity


def test_unparsable_script_and_unknown_planter():
    assert plant("tick_font", "def broken(:\n") is None
    with pytest.raises(ValueError, match="unknown planter"):
        plant("font_x9", PLT_STYLE)


# --- the legend planter's three cases ---------------------------------------------------------


def test_existing_legend_call_is_edited_in_place(tmp_path, monkeypatch):
    planted = plant("legend_center", PLT_STYLE)
    assert planted is not None
    assert planted.inserted_at is None and planted.n_inserted == 0 and planted.lines == (9,)
    assert line_of(planted, 9) == "plt.legend(loc='center', bbox_to_anchor=None)"
    assert len(planted.source.splitlines()) == len(PLT_STYLE.splitlines())

    fig = run_script(planted.source, tmp_path, monkeypatch)
    legend = fig.axes[0].get_legend()
    assert legend._loc == 10  # matplotlib's code for 'center'
    assert legend.get_bbox_to_anchor().bounds == fig.axes[0].bbox.bounds


def test_multiline_legend_call_gets_loc_added_and_all_its_lines_count():
    source = PLT_STYLE.replace(
        'plt.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))',
        "plt.legend(\n    ncol=2,\n    frameon=False,\n)",
    )
    planted = plant("legend_center", source)
    assert planted is not None
    assert planted.lines == (9, 10, 11, 12)
    assert "frameon=False, loc='center'" in planted.source
    ast.parse(planted.source)


def test_empty_legend_call_gets_loc():
    old = 'plt.legend(loc="upper left", bbox_to_anchor=(0.0, 1.0))'
    source = PLT_STYLE.replace(old, "plt.legend()")
    planted = plant("legend_center", source)
    assert planted is not None and line_of(planted, 9) == "plt.legend(loc='center')"


def test_labelled_artists_without_legend_get_a_new_centre_legend(tmp_path, monkeypatch):
    planted = plant("legend_center", AX_STYLE_IN_MAIN)
    assert planted is not None
    assert line_of(planted, planted.line) == "    axes[0].legend(loc='center')"
    fig = run_script(planted.source, tmp_path, monkeypatch)
    legend = fig.axes[0].get_legend()
    assert legend is not None and legend._loc == 10
    assert [t.get_text() for t in legend.get_texts()] == ["sales"]


def test_legend_planter_does_not_apply_without_labels_or_with_function_local_axes():
    assert plant("legend_center", NO_LABELS) is None
    local = (
        "import matplotlib.pyplot as plt\n"
        "def draw():\n"
        "    fig, ax = plt.subplots()\n"
        "    ax.plot([1, 2], label='a')\n"
        "draw()\n"
        "plt.savefig('a.pdf')\n"
    )
    assert plant("legend_center", local) is None
    module_call = (
        "import matplotlib.pyplot as plt\n"
        "import squarify\n"
        "squarify.plot(sizes=[1, 2], label=['a', 'b'])\n"
        "plt.savefig('a.pdf')\n"
    )
    assert plant("legend_center", module_call) is None  # a module, not an axes


# --- what the planted code does when run ------------------------------------------------------


def test_tick_font_quadruples_each_label_size(tmp_path, monkeypatch):
    clean = run_script(PLT_STYLE, tmp_path, monkeypatch)
    before = [t.get_fontsize() for t in clean.axes[0].get_yticklabels()]
    planted = plant("tick_font", PLT_STYLE)
    assert planted is not None
    fig = run_script(planted.source, tmp_path, monkeypatch)
    after = [t.get_fontsize() for t in fig.axes[0].get_yticklabels()]
    assert after and after == [4 * s for s in before]


def test_title_offcanvas_keeps_the_existing_suptitle_text_and_lifts_it(tmp_path, monkeypatch):
    planted = plant("title_offcanvas", AX_STYLE_IN_MAIN)
    assert planted is not None
    fig = run_script(planted.source, tmp_path, monkeypatch)
    assert fig.get_suptitle() == "Two panels"
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent()
    assert box.y0 > fig.bbox.height  # entirely above the canvas (display y grows upward)


def test_white_on_white_text_is_white_on_a_white_box(tmp_path, monkeypatch):
    planted = plant("white_on_white", NO_LABELS)
    assert planted is not None
    fig = run_script(planted.source, tmp_path, monkeypatch)
    (note,) = [t for t in fig.texts if t.get_text() == "Note: preliminary data"]
    assert matplotlib.colors.to_hex(note.get_color()) == "#ffffff"
    assert matplotlib.colors.to_hex(note.get_bbox_patch().get_facecolor()) == "#ffffff"


def test_annotation_pair_overlaps_at_one_point(tmp_path, monkeypatch):
    planted = plant("annotation_pair", AX_STYLE_IN_MAIN)
    assert planted is not None
    fig = run_script(planted.source, tmp_path, monkeypatch)
    fig.canvas.draw()
    annotations = [t for t in fig.axes[-1].texts if isinstance(t, matplotlib.text.Annotation)]
    assert len(annotations) == 2
    a, b = (t.get_window_extent() for t in annotations)
    assert a.overlaps(b)


def test_every_planter_names_defect_kinds_the_engine_knows():
    for planter in PLANTERS.values():
        assert planter.expected_kinds
        assert set(planter.expected_kinds) <= set(DefectKind.ALL)
    off_canvas = (DefectKind.OVERFLOW, DefectKind.CLIPPED_TEXT)
    assert PLANTERS["title_offcanvas"].expected_kinds == off_canvas


def test_hide_legends_probe_hides_axes_and_figure_legends(tmp_path, monkeypatch):
    source = AX_STYLE_IN_MAIN.replace(
        'fig.suptitle("Two panels")',
        'fig.suptitle("Two panels")\naxes[0].legend()\nfig.legend(["x"], loc="lower center")',
    )
    probe = hide_legends(source)
    assert probe is not None
    assert len(probe.splitlines()) == len(source.splitlines()) + 1
    fig = run_script(probe, tmp_path, monkeypatch)
    assert fig.axes[0].get_legend() is not None and not fig.axes[0].get_legend().get_visible()
    assert fig.legends and not fig.legends[0].get_visible()
