"""Element-to-code tracing: small programs where the right lines are known."""

from __future__ import annotations

import pytest

from vsdpo.render import chart_tracing

from . import of_kind, only, render_code

BAR_WITH_ROTATED_LABELS = """
# a bar chart
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
cats = ["north", "south", "east", "west"]
ax.bar(cats, [3, 5, 2, 4])
ax.set_ylabel("units")
ax.set_xticklabels(cats, rotation=45)
plt.savefig("out.pdf", bbox_inches="tight")
"""


def test_set_xticklabels_line_is_in_every_x_tick_label_source() -> None:
    r = render_code(BAR_WITH_ROTATED_LABELS)
    xs = of_kind(r, "tick_label", axis="x")
    assert [e.text for e in xs] == ["north", "south", "east", "west"]
    for e in xs:
        assert 7 in e.lines(), e.source
        assert e.meta["rotation"] == pytest.approx(45.0)
    # the y tick labels were configured by nothing but the data call (line 5)
    ys = of_kind(r, "tick_label", axis="y")
    assert ys and all(e.lines() == [5] for e in ys)


def test_savefig_is_blamed_for_nothing_that_something_else_touched() -> None:
    r = render_code(BAR_WITH_ROTATED_LABELS)
    assert all(8 not in e.lines() for e in r.elements)


def test_title_traced_to_set_title_and_later_set_fontsize() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        ax.set_title("Revenue")
        x = 1
        y = 2
        t = ax.title
        t.set_fontsize(30)
        """
    )
    title = only(r, "title")
    assert title.lines() == [4, 8]
    assert title.font_size == pytest.approx(30 * 100 / 72, abs=0.01)


def test_legend_call_spread_over_lines_is_one_statement_range() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([1, 2], label="a")
        ax.plot([2, 1], label="b")
        ax.legend(
            loc="center",
        )
        """
    )
    legend = only(r, "legend")
    assert (5, 7) in legend.source
    for text in of_kind(r, "legend_text"):
        assert (5, 7) in text.source
        assert text.parent == legend.id


def test_pyplot_xticks_rotation_reaches_lazily_created_labels() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        plt.plot(range(100))
        plt.xticks(rotation=90)
        plt.ylim(0, 50)
        """
    )
    xs = of_kind(r, "tick_label", axis="x")
    assert len(xs) >= 3
    assert all(3 in e.lines() and e.meta["rotation"] == pytest.approx(90.0) for e in xs)
    ys = of_kind(r, "tick_label", axis="y")
    assert ys and all(4 in e.lines() and 3 not in e.lines() for e in ys)


def test_style_of_template_tick_follows_ticks_created_later() -> None:
    # matplotlib copies the first tick's look onto ticks it creates later; records must follow
    r = render_code(
        """
        import numpy as np
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        for label in ax.get_xticklabels():
            label.set_color("red")
        ax.set_xticks(np.linspace(0, 1, 11))
        """
    )
    xs = of_kind(r, "tick_label", axis="x")
    assert len(xs) == 11
    for e in xs:
        assert e.color == (255, 0, 0)
        assert {6, 7} <= set(e.lines()), e.source


def test_tick_params_blames_only_its_axis_and_grid_blames_no_tick_label() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([3, 1, 2])
        ax.tick_params(axis="x", labelsize=20)
        ax.grid(True, linestyle="--")
        """
    )
    for e in of_kind(r, "tick_label", axis="x"):
        assert 4 in e.lines() and 5 not in e.lines()
        assert e.font_size == pytest.approx(20 * 100 / 72, abs=0.01)
    for e in of_kind(r, "tick_label", axis="y"):
        assert e.lines() == [3]


def test_rcparams_assignment_traces_the_texts_it_styles() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        plt.rcParams["xtick.labelsize"] = 24
        fig, ax = plt.subplots()
        ax.plot([3, 1, 2])
        ax.set_xlabel("time")
        """
    )
    xs = of_kind(r, "tick_label", axis="x")
    assert xs and all(
        2 in e.lines() and e.font_size == pytest.approx(24 * 100 / 72, abs=0.01) for e in xs
    )
    assert 2 not in only(r, "axis_label", "time").lines()
    assert all(2 not in e.lines() for e in of_kind(r, "tick_label", axis="y"))


def test_innermost_user_frame_inside_a_helper_function() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt

        def note(ax, x, y, s):
            return ax.annotate(s, (x, y), color="white")

        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        note(ax, 0.5, 0.5, "here")
        note(ax, 0.5, 0.5, "there")
        """
    )
    for text in ("here", "there"):
        assert only(r, "text", text).lines() == [4]


def test_annotation_moved_later_is_traced_to_both_lines() -> None:
    r = render_code(
        """
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        a = ax.annotate("peak", (0.5, 0.5))
        b = ax.annotate("dip", (0.2, 0.2))
        b.set_position((0.5, 0.5))
        """
    )
    assert only(r, "text", "peak").lines() == [4]
    assert only(r, "text", "dip").lines() == [5, 6]


def test_suptitle_and_colorbar_are_traced() -> None:
    r = render_code(
        """
        import numpy as np
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        im = ax.imshow(np.arange(12).reshape(3, 4))
        cb = fig.colorbar(im, ax=ax)
        fig.suptitle("Heat", y=0.99)
        """
    )
    assert only(r, "suptitle").lines() == [6]
    colorbar = only(r, "colorbar")
    assert 5 in colorbar.lines()
    cb_ticks = [e for e in r.elements if e.kind == "tick_label" and e.parent == colorbar.id]
    assert cb_ticks and all(5 in e.lines() for e in cb_ticks)


def test_statement_ranges_cover_multiline_calls_and_compound_headers() -> None:
    code = "import x\nfor i in range(\n    3):\n    f(a,\n      b)\n    g()\n"
    ranges = chart_tracing.statement_ranges(code)
    assert ranges[1] == (1, 1)
    assert ranges[2] == ranges[3] == (2, 3)  # the for header, not the whole loop
    assert ranges[4] == ranges[5] == (4, 5)
    assert ranges[6] == (6, 6)
    assert chart_tracing.to_ranges([5, 4, 6, 1], ranges) == [(1, 1), (4, 5), (6, 6)]
    assert chart_tracing.statement_ranges("def broken(:\n") == {}


def test_without_tracing_nothing_is_traced_and_boxes_are_the_same() -> None:
    traced = render_code(BAR_WITH_ROTATED_LABELS)
    plain = render_code(BAR_WITH_ROTATED_LABELS, trace=False)
    assert [e.bbox for e in plain.elements] == [e.bbox for e in traced.elements]
    assert not any(e.source for e in plain.elements)


def test_uninstall_restores_matplotlib() -> None:
    from matplotlib.text import Text

    render_code(BAR_WITH_ROTATED_LABELS)
    assert hasattr(Text.set_fontsize, "__vsdpo_original__")
    chart_tracing.uninstall()
    try:
        assert not hasattr(Text.set_fontsize, "__vsdpo_original__")
        assert not hasattr(Text.__init__, "__vsdpo_original__")
    finally:
        chart_tracing.install()
    assert hasattr(Text.set_fontsize, "__vsdpo_original__")
