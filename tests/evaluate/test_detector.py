"""The detector evaluation: judging plants, the plain-python cache, the report, and a real run."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from vsdpo.artifact import Defect, DefectKind, Element, ElementKind, ExecError, RenderResult
from vsdpo.evaluate import detector
from vsdpo.evaluate.detector import (
    DetectorReport,
    PlanterSummary,
    PlantOutcome,
    ScriptRow,
    evaluate_charts,
    format_markdown,
    judge_plant,
    legend_over_content,
    new_planted_defects,
    plain_python_status,
    write_report,
)
from vsdpo.evaluate.planting import plant

SCRIPT = textwrap.dedent(
    """\
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([1, 2, 3, 4], [3, 1, 4, 1], label="north")
    ax.plot([1, 2, 3, 4], [2, 2, 3, 5], label="south")
    ax.set_xticks([1, 2, 3, 4])
    ax.set_xticklabels(["Q1 2023", "Q2 2023", "Q3 2023", "Q4 2023"])
    ax.set_title("Sales by region")
    ax.set_xlabel("quarter")
    ax.set_ylabel("units")
    ax.legend(loc="upper left")
    plt.tight_layout()
    plt.savefig("sales.pdf", bbox_inches="tight")
    """
)


def overlap(lines: list[int], kind: str = DefectKind.OVERLAP) -> Defect:
    return Defect(kind=kind, severity=0.5, message="x", lines=lines)


# --- judging one planted copy -----------------------------------------------------------------


def test_inserted_line_makes_a_defect_new_and_blamed():
    planted = plant("annotation_pair", SCRIPT)
    assert planted is not None and planted.lines == (13, 14)
    clean = [overlap([7])]
    copy = [overlap([7]), overlap([14, 13])]  # the old tick overlap, and the planted pair
    new = new_planted_defects(clean, copy, planted)
    assert [d.lines for d in new] == [[14, 13]]
    ok = RenderResult(ok=True, domain="chart")
    outcome = judge_plant(planted, clean, ok, copy)
    assert outcome.status == "detected" and outcome.detected and outcome.blamed
    assert outcome.kinds_in_copy == {DefectKind.OVERLAP: 2}


def test_lines_after_the_insertion_are_mapped_back_before_comparing():
    planted = plant("tick_font", SCRIPT)
    assert planted is not None and planted.lines == (13,)
    # The clean render blamed savefig (line 13); in the copy savefig is line 14: same defect.
    ok = RenderResult(ok=True, domain="chart")
    outcome = judge_plant(planted, [overlap([13])], ok, [overlap([14])])
    assert outcome.status == "missed" and not outcome.blamed


def test_more_defects_with_the_same_lines_count_as_new_but_not_blamed():
    planted = plant("tick_font", SCRIPT)
    assert planted is not None
    clean = [overlap([6, 7])]
    copy = [overlap([6, 7]), overlap([6, 7]), overlap([6, 7])]
    new = new_planted_defects(clean, copy, planted)
    assert len(new) == 2
    outcome = judge_plant(planted, clean, RenderResult(ok=True, domain="chart"), copy)
    assert outcome.detected and not outcome.blamed


def test_only_expected_kinds_count():
    planted = plant("title_offcanvas", SCRIPT)
    assert planted is not None
    wrong_kind = [overlap([13])]  # an overlap on the planted line is not an off-canvas title
    outcome = judge_plant(planted, [], RenderResult(ok=True, domain="chart"), wrong_kind)
    assert outcome.status == "missed"
    right_kind = [overlap([13], DefectKind.OVERFLOW)]
    outcome = judge_plant(planted, [], RenderResult(ok=True, domain="chart"), right_kind)
    assert outcome.detected and outcome.blamed


def test_in_place_legend_edit_is_compared_on_the_same_line_numbers():
    planted = plant("legend_center", SCRIPT)
    assert planted is not None and planted.lines == (11,) and planted.n_inserted == 0
    clean = [overlap([11])]  # the clean legend already overlapped something
    assert new_planted_defects(clean, [overlap([11])], planted) == []
    assert len(new_planted_defects(clean, [overlap([11]), overlap([4, 11])], planted)) == 1


def test_a_miss_seen_as_another_kind_on_the_planted_line_is_recorded():
    planted = plant("tick_font", SCRIPT)
    assert planted is not None
    copy = [overlap([13], DefectKind.LOW_CONTRAST), overlap([2], DefectKind.MISALIGNMENT)]
    outcome = judge_plant(planted, [], RenderResult(ok=True, domain="chart"), copy)
    assert outcome.status == "missed"
    assert outcome.other_kinds_blamed == [DefectKind.LOW_CONTRAST]  # misalignment: not line 13


def test_tick_labels_run_off_the_canvas_count_as_found():
    planted = plant("tick_font", SCRIPT)
    assert planted is not None
    copy = [overlap([13], DefectKind.OVERFLOW)]
    outcome = judge_plant(planted, [], RenderResult(ok=True, domain="chart"), copy)
    assert outcome.status == "detected"


def test_legend_oracle_reads_the_pixels_under_the_planted_legend():
    planted = plant("legend_center", SCRIPT)
    assert planted is not None
    image = np.full((100, 200, 3), 255, np.uint8)
    image[10:90, 120:140] = (31, 119, 180)  # a bar on the right half
    probe = RenderResult(ok=True, domain="chart", image=image)  # the copy with legends hidden

    def copy_with_legend(bbox, line=11):
        legend = Element(1, ElementKind.LEGEND, bbox, source=[(line, line)])
        return RenderResult(ok=True, domain="chart", elements=[legend])

    assert legend_over_content(probe, copy_with_legend((100.0, 30.0, 160.0, 60.0)), planted) is True
    # over blank pixels, with a light grey grid line crossing it
    image[45, :] = (200, 200, 200)
    assert legend_over_content(probe, copy_with_legend((20.0, 30.0, 80.0, 60.0)), planted) is False
    # a thin dark data line crossing the same box is data
    image[20:80, 50] = (20, 20, 120)
    assert legend_over_content(probe, copy_with_legend((20.0, 30.0, 80.0, 60.0)), planted) is True
    # a legend not traced to the planted line cannot be judged
    untraced = copy_with_legend((20.0, 30.0, 80.0, 60.0), line=4)
    assert legend_over_content(probe, untraced, planted) is None


def test_tick_oracle_needs_labels_that_really_grew():
    def with_ticks(*sizes):
        elements = [
            Element(k, ElementKind.TICK_LABEL, (0.0, 0.0, 10.0, 10.0), font_size=s)
            for k, s in enumerate(sizes)
        ]
        return RenderResult(ok=True, domain="chart", elements=elements)

    clean = with_ticks(13.9, 13.9, 16.0)
    assert detector.tick_labels_grew(clean, with_ticks(55.6, 55.6, 16.0))
    assert not detector.tick_labels_grew(clean, with_ticks(55.6, 13.9, 16.0))  # only one grew
    assert not detector.tick_labels_grew(with_ticks(), with_ticks())  # a pie: no tick labels


def test_failed_copy_is_an_error_outcome():
    planted = plant("white_on_white", SCRIPT)
    assert planted is not None
    failed = RenderResult(ok=False, domain="chart", error=ExecError("NameError", "plt", line=13))
    error_defect = Defect(DefectKind.EXEC_ERROR, 1.0, "boom", lines=[13])
    outcome = judge_plant(planted, [], failed, [error_defect])
    assert outcome.status == "error" and not outcome.detected
    assert outcome.error == "line 13: NameError: plt"


# --- plain python and its cache ---------------------------------------------------------------


def test_plain_python_status_runs_each_script_once_then_uses_the_cache(tmp_path, monkeypatch):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    good = scripts / "good.py"
    good.write_text("open('out.txt', 'w').write('written in the temp cwd')\n")
    bad = scripts / "bad.py"
    bad.write_text("raise RuntimeError('broken on purpose')\n")
    cache = tmp_path / "out" / "plain_python.json"

    status = plain_python_status([bad, good], cache, workers=2, progress=False)
    assert status[good] == (True, "")
    assert status[bad][0] is False and "broken on purpose" in status[bad][1]
    assert not (scripts / "out.txt").exists()  # ran in a temp directory
    assert len(json.loads(cache.read_text())) == 2

    def must_not_run(*args, **kwargs):
        raise AssertionError("cached scripts were run again")

    monkeypatch.setattr(detector, "run_plain", must_not_run)
    assert plain_python_status([bad, good], cache, workers=2, progress=False) == status


def test_find_scripts_recurses_and_sorts(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/z.py", "a.py", "b/notes.txt"):
        (tmp_path / name).write_text("x = 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in detector.find_scripts(tmp_path)] == [
        "a.py",
        "b/z.py",
    ]
    with pytest.raises(FileNotFoundError):
        detector.find_scripts(tmp_path / "missing")


# --- the report -------------------------------------------------------------------------------


def synthetic_report() -> DetectorReport:
    rows = [
        ScriptRow(
            "a.py",
            True,
            render_ok=True,
            n_text=10,
            n_traced=9,
            defects_by_kind={DefectKind.OVERLAP: 2},
            plants={"tick_font": PlantOutcome("tick_font", "detected", [5], blamed=True)},
        ),
        ScriptRow(
            "b.py",
            True,
            render_ok=True,
            n_text=10,
            n_traced=10,
            plants={"tick_font": PlantOutcome("tick_font", "missed", [7])},
        ),
        ScriptRow("c.py", True, render_ok=False, render_error="line 3: NameError: x"),
        ScriptRow("d.py", False, plain_error="ModuleNotFoundError: No module named 'foo'"),
    ]
    tick = PlanterSummary(
        "tick_font",
        (DefectKind.OVERLAP,),
        "tick labels font x4",
        applicable=2,
        detected=1,
        blamed=1,
    )
    return DetectorReport("charts", "vsdpo eval-detector charts charts", rows, [tick])


def test_figures_use_only_scripts_that_run_under_plain_python():
    report = synthetic_report()
    figures = report.figures()
    assert figures["render_success"] == (2, 3)  # d.py does not run under python: not counted
    assert figures["traced_fraction"] == (19, 20)
    assert figures["flagged_fraction"] == (1, 2)
    assert figures["recall"] == (1, 2) and figures["blame_rate"] == (1, 1)
    checks = report.target_checks()
    assert checks == {
        "render_success": False,
        "traced_fraction": True,
        "flagged_fraction": False,
        "recall": False,
        "blame_rate": True,
    }


def test_markdown_names_figures_targets_and_failures():
    text = format_markdown(synthetic_report())
    assert (
        "| render success (of the scripts that run under plain python) | 2/3 = 66.7 % "
        "| ≥ 95 % | **missed** |"
    ) in text
    assert "| text elements traced to a code line | 19/20 = 95.0 % | ≥ 90 % | met |" in text
    assert "`c.py` (line 3: NameError: x)" in text
    assert "tick_font missed (1): `b.py`" in text
    assert "Command: `vsdpo eval-detector charts charts`" in text


def test_write_report_writes_markdown_and_json_rows(tmp_path):
    md, js = write_report(synthetic_report(), tmp_path / "out")
    data = json.loads(js.read_text())
    assert [r["path"] for r in data["rows"]] == ["a.py", "b.py", "c.py", "d.py"]
    assert data["rows"][0]["plants"]["tick_font"]["status"] == "detected"
    assert data["figures"]["recall"] == {"num": 1, "den": 2, "value": 0.5}
    assert data["planters"][0]["recall"] == 0.5
    assert md.read_text().startswith("## Detector evaluation")


def test_main_rejects_a_missing_directory_and_unknown_planters(tmp_path, capsys):
    assert detector.main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "s.py").write_text("x = 1\n")
    assert detector.main([str(tmp_path), "--planters", "tick_font,bogus", "--no-progress"]) == 2
    assert "bogus" in capsys.readouterr().err


# --- a real run: sandboxed renderer and defect engine -----------------------------------------


@pytest.mark.slow
def test_evaluate_charts_end_to_end(tmp_path):
    charts = tmp_path / "charts"
    (charts / "sub").mkdir(parents=True)
    (charts / "sales.py").write_text(SCRIPT)
    broken_script = "import matplotlib.pyplot as plt\nplt.plot(undefined)\n"
    (charts / "sub" / "broken.py").write_text(broken_script)
    out = tmp_path / "out"

    report = evaluate_charts(charts, out=out, workers=2, progress=False, examples=1)
    rows = {r.path: r for r in report.rows}
    assert set(rows) == {"sales.py", "sub/broken.py"}
    sales, broken = rows["sales.py"], rows["sub/broken.py"]
    assert sales.runs_plain is True and sales.render_ok and sales.n_text >= 10
    assert broken.runs_plain is False and not broken.render_ok
    assert report.figures()["render_success"] == (1, 1)

    assert set(sales.plants) == set(detector.PLANTERS)
    for outcome in sales.plants.values():
        assert outcome.status in ("detected", "missed", "error")
        assert outcome.lines  # every planter fits this script
    assert all(o.status in ("n/a", "no_baseline") for o in broken.plants.values())
    assert sum(p.applicable for p in report.planters) == len(detector.PLANTERS)

    md, js = write_report(report, out)
    assert json.loads(js.read_text())["rows"][0]["path"] == "sales.py"
    assert (out / "plain_python.json").is_file()
    for path in report.settings["examples"]:
        assert path.endswith(".png")
