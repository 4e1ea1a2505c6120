"""Smoke run of the chart throughput benchmark: every mode runs and reports (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from vsdpo.bench import render_throughput

CHART = """\
import matplotlib.pyplot as plt
plt.figure(figsize=(4, 3))
plt.bar(["a", "b", "c"], [{a}, 2, 3], label="demo")
plt.title("chart {a}")
plt.legend()
plt.savefig("chart.pdf", bbox_inches="tight")
"""


@pytest.mark.slow
def test_quick_run_reports_every_mode(tmp_path, capsys):
    charts = tmp_path / "charts"
    charts.mkdir()
    for i in range(3):
        (charts / f"c{i}.py").write_text(CHART.format(a=i + 1))
    (charts / "broken.py").write_text("import matplotlib.pyplot as plt\nplt.plot(nope)\n")
    out_json = tmp_path / "bench.json"

    status = render_throughput.main(
        [str(charts), "--quick", "--workers", "2", "--json", str(out_json)], prog="bench"
    )
    assert status == 0
    text = capsys.readouterr().out
    assert "| mode" in text and "charts/s" in text and "vs naive" in text
    assert "fresh `python script.py` per chart" in text
    assert "Target: warm + tracing + defects >= 10x naive" in text

    data = json.loads(out_json.read_text())
    modes = {m["mode"]: m for m in data["modes"]}
    assert set(modes) == {"naive", "warm", "exec"}
    for m in modes.values():
        assert m["charts"] == 4
        assert m["succeeded"] == 3  # the broken script fails the same way in every mode
        assert m["seconds"] > 0 and m["charts_per_s"] > 0
    assert sorted(data["scripts"]) == ["broken.py", "c0.py", "c1.py", "c2.py"]


def test_bad_arguments_exit_with_status_2(tmp_path, capsys):
    assert render_throughput.main([str(tmp_path / "missing")], prog="bench") == 2
    (tmp_path / "a.py").write_text("x = 1\n")
    assert render_throughput.main([str(tmp_path), "--modes", "naive,turbo"], prog="bench") == 2
    assert "turbo" in capsys.readouterr().err
