"""Smoke run of the web throughput benchmark in real Chromium: every mode runs and reports
(no timing asserts: speed is measured by `vsdpo bench web`, not by tests)."""

from __future__ import annotations

import pytest

from vsdpo.bench import web_throughput

pytestmark = pytest.mark.chromium

PAGE = "<html><body><h1>Page {n}</h1><p style='width: 40px'>Supercalifragilistic</p></body></html>"
SCRIPTED = "<html><body><p id='x'>scripted</p><script>x.textContent = 'ran'</script></body></html>"


@pytest.mark.slow
def test_every_mode_renders_every_page(tmp_path, capsys, chromium_executable):
    for n in range(3):
        (tmp_path / f"p{n}.html").write_text(PAGE.format(n=n))
    (tmp_path / "s.html").write_text(SCRIPTED)
    modes = "naive,warm,renderer,jpeg,navigate"
    assert web_throughput.main([str(tmp_path), "--modes", modes], prog="bench web") == 0
    text = capsys.readouterr().out
    assert "| mode" in text and "pages/s" in text and "Target: renderer >= 5x naive." in text
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and "pages/s" not in line
    ]
    assert len(rows) == 5, text
    assert all(row[1:3] == ["4", "4"] for row in rows), text  # 4 pages, 4 rendered, each mode
    assert "a navigation per page" in text


def test_bad_arguments_exit_with_status_2(tmp_path, capsys, chromium_executable):
    assert web_throughput.main([str(tmp_path)], prog="bench web") == 2  # no pages
    (tmp_path / "a.html").write_text("<p>x</p>")
    assert web_throughput.main([str(tmp_path), "--modes", "naive,turbo"], prog="bench web") == 2
    assert "turbo" in capsys.readouterr().err
