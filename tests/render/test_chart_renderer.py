"""The host side: completions in, RenderResults out, through the sandbox pool."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from vsdpo.code import extract_code
from vsdpo.render.chart import from_runner_output
from vsdpo.render.chart_runner import run

COMPLETION = """Here is the chart:

```python
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b", "c"], [3, 1, 2])
ax.set_title("Scores")
plt.savefig("scores.png")
```
It draws three bars."""


def test_from_runner_output_builds_elements_and_timings() -> None:
    code = extract_code(COMPLETION).code
    value = run(code, {})
    r = from_runner_output(value, code, 17, timings={"total": 1.0})
    assert r.ok and r.domain == "chart" and r.code_offset == 17 and r.canvas == (640, 480)
    assert isinstance(r.image, np.ndarray) and r.image.shape == (480, 640, 3)
    assert {"exec", "draw", "extract", "total"} <= set(r.timings)
    title = next(e for e in r.elements if e.kind == "title")
    assert title.text == "Scores" and title.source == [(4, 4)] and r.traced_fraction == 1.0


def _renderer(workers: int = 1):
    pytest.importorskip("vsdpo.sandbox")
    from vsdpo.render.chart import ChartRenderer

    return ChartRenderer(workers=workers)


def test_render_completion_in_the_sandbox_keeps_the_offset() -> None:
    with _renderer() as renderer:
        r = renderer.render(COMPLETION)
        bad = renderer.render(
            "import matplotlib.pyplot as plt\nplt.plot([1])\nplt.title(undefined)\n", extract=False
        )
    ex = extract_code(COMPLETION)
    assert r.ok, r.error
    assert r.code == ex.code and r.code_offset == ex.offset == COMPLETION.index("import matplotlib")
    title = next(e for e in r.elements if e.kind == "title")
    ((line, _),) = title.source
    start, end = ex.line_spans()[line - 1]
    assert COMPLETION[start:end] == 'ax.set_title("Scores")'
    assert not bad.ok and bad.error is not None
    assert bad.error.type == "NameError" and bad.error.line == 3
    assert r.timings["total"] > 0 and r.timings["draw"] > 0


@pytest.mark.slow
def test_every_chartmimic_dev_script_renders_and_its_texts_are_traced(
    chartmimic_dev_scripts: list[Path],
) -> None:
    codes = [p.read_text() for p in chartmimic_dev_scripts]
    with _renderer(workers=2) as renderer:
        t0 = time.perf_counter()
        results = renderer.render_many(codes, extract=False)
        wall = time.perf_counter() - t0
    ok = [r for r in results if r.ok]
    texts = [e for r in ok for e in r.elements if e.is_text]
    traced = sum(e.traced for e in texts) / max(1, len(texts))
    per_chart = statistics.median(r.timings["total"] for r in ok)
    print(
        f"\nChartMimic dev: {len(ok)}/{len(results)} rendered, {len(texts)} texts, "
        f"{traced:.1%} traced, median {per_chart:.3f} s per chart, {wall:.1f} s wall on 2 workers"
    )
    for path, r in zip(chartmimic_dev_scripts, results):
        if not r.ok:
            print("  failed:", path, r.error.summary() if r.error else "")
    assert len(ok) >= 0.95 * len(results)
    assert traced >= 0.90


def test_programs_importing_heavy_packages_go_to_the_heavy_workers() -> None:
    from vsdpo.render.chart import needs_heavy_worker

    assert not needs_heavy_worker("import matplotlib.pyplot as plt\nimport numpy as np\n")
    assert not needs_heavy_worker("import squarify\nfrom matplotlib import ticker\n")
    assert needs_heavy_worker("from scipy.stats import norm\n")
    assert needs_heavy_worker("def f():\n    import pandas as pd\n")
    assert needs_heavy_worker("import os, networkx\n")
    assert not needs_heavy_worker("def f(:\n  import pandas")  # unparsable: light, fails fast
    assert not needs_heavy_worker("from . import scipy\n")  # relative import, not the package


def test_light_and_heavy_programs_render_in_one_batch() -> None:
    heavy = (
        "import matplotlib.pyplot as plt\nfrom scipy.stats import norm\nplt.plot([norm.cdf(0)])\n"
    )
    light = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('light')\n"
    with _renderer(workers=2) as renderer:
        results = renderer.render_many([light, heavy, light], extract=False)
        assert renderer.heavy_pool.n_workers == renderer.pool.n_workers == 2
    assert [r.ok for r in results] == [True, True, True], [r.error for r in results]
    assert any(e.kind == "title" and e.text == "light" for e in results[0].elements)


@pytest.mark.parametrize("facecolor", ["white", (1, 1, 1, 0), (0.2, 0.4, 0.6, 0.5)])
def test_rgb_buffer_fast_path_matches_numpy(facecolor) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vsdpo.render.chart_runner import _rgb_buffer

    fig, ax = plt.subplots(figsize=(2, 1.5), facecolor=facecolor)
    ax.plot([0, 1], [1, 0], color="C1")
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    expected = (rgba[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a)).round().astype(np.uint8)
    got = _rgb_buffer(fig)
    plt.close(fig)
    assert got.shape == expected.shape and got.flags.c_contiguous and got.flags.writeable
    assert np.array_equal(got, expected)
