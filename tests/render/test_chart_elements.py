"""Elements of a drawn figure: geometry (y down, canvas pixels), colours, parents, figure capture."""

from __future__ import annotations

import numpy as np
import pytest

from vsdpo.render.chart_runner import run

from . import of_kind, only, render_code

LABELLED = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots()  # default 6.4 x 4.8 in
ax.plot([0, 1, 2], [2, 0, 1], label="series")
ax.set_title("Title")
ax.set_xlabel("x label")
fig.suptitle("Suptitle")
ax.legend(loc="upper right")
plt.show()
"""


def test_canvas_image_and_figure_box_at_fixed_dpi() -> None:
    r = render_code(LABELLED)
    assert r.ok and r.canvas == (640, 480)
    assert r.image is not None and r.image.shape == (480, 640, 3) and r.image.dtype == np.uint8
    assert only(r, "figure").bbox == (0.0, 0.0, 640.0, 480.0)
    # a figure made at dpi=300 is still drawn at the fixed dpi
    hi = render_code(
        "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=300)\nplt.plot([1, 2])\n"
    )
    assert hi.canvas == (400, 300) and hi.image.shape == (300, 400, 3)
    assert render_code(LABELLED, dpi=50).canvas == (320, 240)


def test_boxes_are_y_down_and_where_matplotlib_puts_them() -> None:
    r = render_code(LABELLED)
    axes = only(r, "axes")
    # default subplot params: left .125, right .9, bottom .11, top .88 of a 640x480 canvas
    assert axes.bbox == pytest.approx((80.0, 57.6, 576.0, 427.2), abs=0.01)
    suptitle = only(r, "suptitle")
    assert 0 <= suptitle.bbox[1] < 20 and abs((suptitle.bbox[0] + suptitle.bbox[2]) / 2 - 320) < 2
    title = only(r, "title")
    assert suptitle.bbox[3] <= title.bbox[1] and title.bbox[3] <= axes.bbox[1] + 1
    xlabel = only(r, "axis_label", "x label")
    assert xlabel.bbox[1] > axes.bbox[3]  # below the axes
    for tick in of_kind(r, "tick_label", axis="x"):
        assert axes.bbox[3] < tick.bbox[1] < xlabel.bbox[1]
    for tick in of_kind(r, "tick_label", axis="y"):
        assert tick.bbox[2] < axes.bbox[0]
    legend = only(r, "legend")
    assert legend.bbox[2] <= axes.bbox[2] and legend.bbox[1] >= axes.bbox[1]  # upper right, inside
    assert legend.bbox[0] > (axes.bbox[0] + axes.bbox[2]) / 2


def test_parents_kinds_and_fonts() -> None:
    r = render_code(LABELLED)
    figure, axes, legend = only(r, "figure"), only(r, "axes"), only(r, "legend")
    assert only(r, "suptitle").parent == figure.id and axes.parent == figure.id
    assert only(r, "title").parent == axes.id and legend.parent == axes.id
    assert only(r, "legend_text", "series").parent == legend.id
    assert all(e.parent == axes.id for e in of_kind(r, "tick_label"))
    assert only(r, "line").parent == axes.id
    assert only(r, "title").font_size == pytest.approx(
        12 * 100 / 72, abs=0.01
    )  # axes.titlesize large
    assert all(e.text and e.font_size for e in r.elements if e.is_text)
    tick = of_kind(r, "tick_label", axis="x")[0]
    assert (
        tick.meta["axis"] == "x" and tick.meta["rotation"] == 0.0 and tick.meta["clip_on"] is False
    )


def test_colours_and_backgrounds() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(facecolor="#202020")
        ax.set_facecolor("black")
        ax.plot([0, 1], [0, 1], color="#1f77b4")
        ax.text(0.5, 0.5, "inside", color="white")
        ax.text(0.1, 0.9, "boxed", color="white", bbox={"facecolor": "red"})
        ax.set_title("outside", color="yellow")
        """
    )
    inside, boxed, title = only(r, "text", "inside"), only(r, "text", "boxed"), only(r, "title")
    assert inside.color == (255, 255, 255) and inside.background == (0, 0, 0)
    assert boxed.background == (255, 0, 0)
    assert title.color == (255, 255, 0) and title.background == (32, 32, 32)
    assert only(r, "line").color == (31, 119, 180)
    # the image agrees with the declared colours
    x0, y0, _, y1 = (int(v) for v in only(r, "axes").bbox)
    assert tuple(r.image[(y0 + y1) // 2 + 60, x0 + 10]) == (0, 0, 0)


def test_white_text_on_white_is_reported_as_such() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        plt.bar(["a", "b"], [1, 2])
        plt.text(0, 1.5, "ghost", color="white")
        """
    )
    ghost = only(r, "text", "ghost")
    assert ghost.color == ghost.background == (255, 255, 255)
    assert ghost.lines() == [3]


def test_off_canvas_title_stays_off_canvas() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        ax.set_title("Lost", y=1.3)
        plt.savefig("x.pdf", bbox_inches="tight")
        """
    )
    title = only(r, "title")
    assert title.bbox[1] < 0  # above the canvas: no tight bbox rescued it
    assert title.lines() == [4]


def test_clipped_text_meta_and_annotation_text_box() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ax.text(0.95, 0.5, "clipped long text", clip_on=True)
        ax.annotate("arrow", xy=(0.2, 0.2), xytext=(0.6, 0.2), arrowprops={"arrowstyle": "->"})
        """
    )
    clipped = only(r, "text", "clipped long text")
    axes = only(r, "axes")
    assert clipped.meta["clip_on"] is True
    assert clipped.meta["clip_box"] == pytest.approx(list(axes.bbox), abs=1)
    assert clipped.bbox[2] > axes.bbox[2]
    ann = only(r, "text", "arrow")
    arrow = next(e for e in r.elements if e.meta.get("annotation") == ann.id)
    assert arrow.bbox[0] < ann.bbox[0]  # the text box excludes the arrow, which is its own element
    assert arrow.lines() == ann.lines() == [5]


def test_many_points_are_one_collection_and_elements_are_capped() -> None:
    r = render_code(
        """
        import numpy as np
        import matplotlib.pyplot as plt
        rng = np.random.default_rng(0)
        plt.scatter(rng.random(10_000), rng.random(10_000), s=2)
        plt.bar(range(100), range(100))
        """,
        max_elements=60,
    )
    (scatter,) = of_kind(r, "collection")
    axes = only(r, "axes")
    # the points lie in [0, 1]^2 on axes the bars stretch to 100: a small box at the bottom left
    width = axes.bbox[2] - axes.bbox[0]
    assert axes.bbox[0] < scatter.bbox[0] < scatter.bbox[2] < axes.bbox[0] + 0.1 * width
    height = axes.bbox[3] - axes.bbox[1]
    assert axes.bbox[3] - 0.1 * height < scatter.bbox[1] < scatter.bbox[3] <= axes.bbox[3]
    kept_data = len(of_kind(r, "collection")) + len(of_kind(r, "patch"))
    dropped = only(r, "figure").meta["dropped"]
    assert len(r.elements) == 60 and dropped > 0 and kept_data + dropped == 1 + 100
    # texts and structure come first, so the cap never drops a tick label
    first_data = min(i for i, e in enumerate(r.elements) if e.kind in ("patch", "collection"))
    assert all(not e.is_text for e in r.elements[first_data:])


def test_figures_are_captured_without_savefig_and_after_close() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        a = plt.figure(figsize=(3, 2))
        plt.plot([1, 2])
        plt.savefig("first.png")
        plt.close(a)
        b = plt.figure(figsize=(4, 3))
        plt.bar([1, 2], [3, 4])
        c = plt.figure()  # an empty leftover never becomes the main figure
        """
    )
    assert [p.shape for p in r.pages] == [(200, 300, 3), (300, 400, 3), (480, 640, 3)]
    assert r.canvas == (400, 300) and r.image is r.pages[1]
    assert {e.page for e in r.elements} == {0, 1, 2}
    assert len({e.id for e in r.elements}) == len(r.elements)
    assert not list((__import__("pathlib").Path.cwd()).glob("first.png"))


def test_outside_a_run_savefig_and_show_are_matplotlibs_own(tmp_path) -> None:
    import matplotlib.pyplot as plt

    render_code("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('in_run.png')\n")
    # the runner's capture hooks stay installed in this process, and must not swallow this
    fig = plt.figure(figsize=(2, 2))
    plt.plot([1, 2])
    plt.savefig(tmp_path / "pyplot.png")
    fig.savefig(str(tmp_path / "figure.png"))
    plt.close(fig)
    assert (tmp_path / "pyplot.png").stat().st_size > 0
    assert (tmp_path / "figure.png").stat().st_size > 0
    # and a run after that still records instead of writing
    again = render_code("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig('x.png')\n")
    assert again.ok and again.image is not None


def test_png_output_and_no_figure() -> None:
    value = run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n", {"image": "png"})
    assert value["images"][0][:8] == b"\x89PNG\r\n\x1a\n"
    empty = render_code("x = 1\n")
    assert empty.ok and empty.image is None and empty.elements == [] and empty.canvas == (0, 0)


def test_errors_propagate_and_state_does_not_leak() -> None:
    with pytest.raises(ZeroDivisionError):
        render_code(
            "import matplotlib.pyplot as plt\nplt.rcParams['font.size'] = 40\nplt.plot([1])\n1 / 0\n"
        )
    with pytest.raises(SyntaxError):
        render_code("plt.plot(\n")
    r = render_code("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('t')\n")
    assert only(r, "title").font_size == pytest.approx(12 * 100 / 72, abs=0.01)  # rcParams restored
    assert len(of_kind(r, "axes")) == 1  # the failed program's figure was closed


def test_table_cells_and_inset_axes() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        ax.table(cellText=[["a", "b"], ["c", "d"]], loc="bottom", bbox=[0, -0.4, 1, 0.25])
        inset = ax.inset_axes([0.6, 0.6, 0.3, 0.3])
        inset.set_title("zoom")
        """
    )
    cells = of_kind(r, "table_cell")
    table = only(r, "container")
    assert sorted(e.text for e in cells) == ["a", "b", "c", "d"]
    assert all(e.parent == table.id and e.lines() == [4] for e in cells)
    zoom = only(r, "title", "zoom")
    inset = r.element(zoom.parent)
    main = next(e for e in of_kind(r, "axes") if e.id != inset.id)
    assert inset.kind == "axes" and inset.parent == main.id
    assert main.bbox[0] < inset.bbox[0] < inset.bbox[2] < main.bbox[2]
