"""The kernel benchmark runs end to end and reports every kernel (no timing assertions)."""

from __future__ import annotations

import numpy as np
import pytest

from vsdpo.bench import kernels as bench

KERNELS = (
    "overlap_pairs",
    "outside_fraction",
    "near_misaligned",
    "token_weights_batch",
    "contrast",
)


def _first_table(text: str) -> list[list[str]]:
    """Cells of the first markdown table in ``text``, header first, rule line left out."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        if not line.startswith(("|:", "|-")):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_quick_run_prints_a_row_for_every_kernel(capsys, tmp_path):
    out_file = tmp_path / "bench.md"
    assert bench.main(["--quick", "--repeat", "1", "--markdown", str(out_file)]) == 0
    printed = capsys.readouterr().out
    assert "vsdpo bench kernels --quick" in printed  # the exact command is on top
    header, *body = _first_table(printed)
    assert header == bench.HEADERS
    for kernel in KERNELS:
        kernel_rows = [r for r in body if r[0] == f"`{kernel}`"]
        assert kernel_rows, f"no row for {kernel}"
        for r in kernel_rows:
            assert float(r[2].replace(",", "")) > 0 and float(r[4].replace(",", "")) > 0
            assert r[5].endswith("x")
    # overlaps are compared against numpy and shapely, and the target is judged on the best one
    overlap_500 = [r for r in body if r[0] == "`overlap_pairs`" and r[1].endswith("500 boxes")]
    assert {r[3].removesuffix(" (best)") for r in overlap_500} == {
        "numpy all-pairs per group",
        "shapely STRtree per group",
    }
    assert sum(r[6] == ">= 20x" for r in overlap_500) == 1
    assert "np.copyto GB/s (same bytes)" in printed
    assert out_file.read_text(encoding="utf-8").strip() == printed.strip()


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--bogus"]])
def test_bad_options_exit_with_a_usage_error(argv):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2


def test_a_baseline_that_disagrees_aborts_the_run(monkeypatch, capsys):
    def wrong(boxes, containers):
        return np.zeros(len(boxes), np.float32)

    monkeypatch.setattr(bench, "outside_fraction_numpy", wrong)
    assert bench.main(["--quick", "--repeat", "1"]) == 1
    captured = capsys.readouterr()
    assert "outside_fraction" in captured.err and "disagree" in captured.err
    assert "| kernel" not in captured.out  # no timings are printed for a broken comparison


def test_baselines_agree_with_brute_force_on_a_small_layout():
    layout = bench.layout_boxes(3, 60, seed=1)
    b, g = layout.boxes.astype(np.float64), layout.groups
    expected = [
        (i, j)
        for i in range(len(b))
        for j in range(i + 1, len(b))
        if g[i] == g[j]
        and min(b[i, 2], b[j, 2]) > max(b[i, 0], b[j, 0])
        and min(b[i, 3], b[j, 3]) > max(b[i, 1], b[j, 1])
    ]
    assert expected, "the layout should contain overlaps"
    for baseline in (bench.overlap_pairs_numpy, bench.overlap_pairs_strtree):
        assert [tuple(p) for p in baseline(layout.boxes, g)[0].tolist()] == expected

    batch = bench.token_batch(3, 64, 5, seed=1)
    per_rollout = bench.token_weights_numpy_per_rollout(batch)
    np.testing.assert_allclose(bench.token_weights_numpy_batched(batch), per_rollout, rtol=1e-6)
    offsets, spans, weights = batch.token_offsets[:64], batch.spans[:5], batch.span_weights[:5]
    brute = [
        1.0 + sum(w for (s0, s1), w in zip(spans, weights) if s0 < t1 and s1 > t0)
        if t1 > t0
        else 1.0
        for t0, t1 in offsets
    ]
    np.testing.assert_allclose(per_rollout[:64], brute, rtol=1e-6)


def test_contrast_baseline_reads_a_known_colour():
    image = np.full((30, 60, 3), 255, np.uint8)
    image[8:22, 6:54:2] = (0x77, 0x77, 0x77)  # vertical stripes of #777777 on white
    ratio, fg, bg = bench.contrast_per_box_numpy(
        image, np.array([[4, 4, 56, 26], [100, 0, 120, 10]], np.float32)
    )
    assert fg[0].tolist() == [0x77] * 3 and bg[0].tolist() == [255] * 3
    assert ratio[0] == pytest.approx(4.4781, abs=1e-4)
    assert np.isnan(ratio[1])  # a box outside the image
