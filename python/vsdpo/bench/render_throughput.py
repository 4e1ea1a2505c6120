"""``vsdpo bench render``: chart rendering throughput, warm traced workers vs the naive way.

Three ways to turn the same matplotlib scripts into images, each with ``--workers`` processes
busy at once (both cores of the reference machine):

* **naive**: one fresh ``python script.py`` per chart (``MPLBACKEND=Agg``, empty temp cwd), what
  a trainer without warm workers pays: interpreter start-up and imports every time;
* **warm + tracing + defects**: :class:`vsdpo.render.chart.ChartRenderer` (warm sandbox workers,
  matplotlib preloaded, every element traced to code lines) via ``render_many``, then
  :func:`vsdpo.defects.detect_defects` on each chart, i.e. everything the trainer needs;
* **exec loop** (reference, ``--modes`` includes ``exec``): warm processes that import matplotlib
  once and ``exec`` each script in a fresh namespace, with no sandbox, tracing or detection.

It prints a markdown table (mode, charts, succeeded, seconds, charts/s, ratio vs naive), the
machine and the command. The issue's target: warm + tracing + defects >= 10x naive on 2 cores.
Worker start-up is timed separately (it is paid once per training run, not per chart).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vsdpo.bench.timing import ModeRun, command_line, machine_description, throughput_table

__all__ = ["ModeResult", "bench_exec_loop", "bench_naive", "bench_warm", "main"]

MODES = ("naive", "warm", "exec")
TARGET_RATIO = 10.0
#: ``../shared/data/chartmimic_dev`` next to a source checkout (the issue's dev scripts)
DEFAULT_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "chartmimic_dev"


@dataclass
class ModeResult:
    """One mode's run over the scripts."""

    mode: str
    label: str
    charts: int
    succeeded: int
    seconds: float  # wall time of the timed part
    startup_s: float = 0.0  # untimed set-up (worker pool start), shown for information

    @property
    def charts_per_s(self) -> float:
        return self.charts / self.seconds if self.seconds > 0 else float("inf")


# ---------------------------------------------------------------------------------------------
# (a) naive: a fresh interpreter per chart


def _run_fresh(path: Path, timeout_s: float) -> bool:
    from vsdpo.evaluate.detector import run_plain

    ok, _, _ = run_plain(path, timeout_s)
    return ok


def bench_naive(scripts: Sequence[Path], workers: int, timeout_s: float = 60.0) -> ModeResult:
    """``python script.py`` per chart, ``workers`` at a time."""
    start = time.perf_counter()
    with cf.ThreadPoolExecutor(max_workers=workers) as pool:
        ok = list(pool.map(lambda p: _run_fresh(p, timeout_s), scripts))
    seconds = time.perf_counter() - start
    return ModeResult("naive", "fresh `python script.py` per chart", len(scripts), sum(ok), seconds)


# ---------------------------------------------------------------------------------------------
# (b) warm traced workers + defect detection


def bench_warm(sources: Sequence[str], workers: int) -> ModeResult:
    """``ChartRenderer.render_many`` with ``workers`` warm workers, then ``detect_defects``."""
    from vsdpo.defects import detect_defects
    from vsdpo.render.chart import ChartRenderer

    t0 = time.perf_counter()
    with ChartRenderer(workers=workers) as renderer:
        # Warm every worker once (the pool may start lazily) so start-up is not charged per chart.
        warmup = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\n"
        renderer.render_many([warmup] * workers, extract=False)
        renderer.heavy_pool  # noqa: B018 - the scipy/pandas workers start in the background: wait
        startup = time.perf_counter() - t0

        start = time.perf_counter()
        results = renderer.render_many(list(sources), extract=False)
        succeeded = 0
        for result in results:
            detect_defects([result])
            succeeded += result.ok
        seconds = time.perf_counter() - start
    return ModeResult(
        "warm",
        f"ChartRenderer.render_many ({workers} warm workers, tracing) + detect_defects",
        len(sources),
        succeeded,
        seconds,
        startup,
    )


# ---------------------------------------------------------------------------------------------
# (c) reference: import once, exec each script, no tracing


def _preload() -> None:
    os.environ["MPLBACKEND"] = "Agg"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401


def _exec_script(source: str) -> bool:
    import warnings

    import matplotlib
    import matplotlib.pyplot as plt

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="vsdpo-exec-") as tmp:
        os.chdir(tmp)
        try:
            with warnings.catch_warnings(), matplotlib.rc_context():
                warnings.simplefilter("ignore")
                exec(compile(source, "<script>", "exec"), {"__name__": "__main__"})
            return True
        except BaseException:  # noqa: BLE001 - a script's failure is a data point, not ours
            return False
        finally:
            plt.close("all")
            os.chdir(cwd)


def bench_exec_loop(sources: Sequence[str], workers: int) -> ModeResult:
    """``workers`` processes that import matplotlib once and ``exec`` each script."""
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    with ctx.Pool(workers, initializer=_preload) as pool:
        warm = "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.savefig('w.png')\n"
        pool.map(_exec_script, [warm] * workers, chunksize=1)
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        ok = pool.map(_exec_script, list(sources), chunksize=1)
        seconds = time.perf_counter() - start
    return ModeResult(
        "exec",
        f"import once + exec loop ({workers} processes, no sandbox/tracing/detection)",
        len(sources),
        sum(ok),
        seconds,
        startup,
    )


# ---------------------------------------------------------------------------------------------


def report(results: Sequence[ModeResult], command: str, n_scripts: int, directory: Path) -> str:
    """The run as markdown: command, machine, then the table of modes."""
    table = throughput_table(
        [ModeRun(r.mode, r.label, r.charts, r.succeeded, r.seconds, r.startup_s) for r in results],
        "charts",
    )
    lines = [
        f"### Chart rendering throughput ({n_scripts} scripts from `{directory}`)",
        "",
        f"- command: `{command}`",
        f"- machine: {machine_description(['matplotlib', 'vsdpo'])}",
        "",
        table,
    ]
    naive = next((r for r in results if r.mode == "naive"), None)
    warm = next((r for r in results if r.mode == "warm"), None)
    if naive and warm and naive.seconds:
        ratio = warm.charts_per_s / naive.charts_per_s
        verdict = "met" if ratio >= TARGET_RATIO else "missed"
        lines += [
            "",
            f"Target: warm + tracing + defects >= {TARGET_RATIO:.0f}x naive: "
            f"{ratio:.1f}x ({verdict}).",
        ]
    return "\n".join(lines) + "\n"


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=None,
        help=f"folder of matplotlib scripts, searched recursively (default: {DEFAULT_DIR})",
    )
    parser.add_argument("--limit", type=int, help="a seeded random sample of N scripts")
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit")
    parser.add_argument("--workers", type=int, default=2, help="processes at once (default: 2)")
    parser.add_argument(
        "--modes",
        default="naive,warm,exec",
        help="comma-separated, from naive, warm, exec (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: at most 6 scripts")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "vsdpo bench render") -> int:
    """Run the benchmark; print the markdown report. Exit status 2 for bad arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(argv)
    directory = args.directory or DEFAULT_DIR
    if not directory.is_dir():
        print(f"{prog}: not a directory: {directory}", file=sys.stderr)
        return 2
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        print(f"{prog}: unknown modes {bad}; choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    scripts = sorted(p for p in directory.rglob("*.py") if p.is_file())
    limit = min(args.limit or len(scripts), 6 if args.quick else len(scripts))
    if limit < len(scripts):
        scripts = sorted(random.Random(args.seed).sample(scripts, limit))
    if not scripts:
        print(f"{prog}: no *.py under {directory}", file=sys.stderr)
        return 2
    sources = [p.read_text(encoding="utf-8", errors="replace") for p in scripts]

    results: list[ModeResult] = []
    for mode in modes:  # one mode at a time, so each has the cores to itself
        if mode == "naive":
            results.append(bench_naive(scripts, args.workers))
        elif mode == "warm":
            results.append(bench_warm(sources, args.workers))
        else:
            results.append(bench_exec_loop(sources, args.workers))
        r = results[-1]
        print(f"  {r.mode}: {r.succeeded}/{r.charts} ok in {r.seconds:.1f} s", file=sys.stderr)

    text = report(results, command_line(prog, argv), len(scripts), directory)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "command": command_line(prog, argv),
            "machine": machine_description(["matplotlib", "vsdpo"]),
            "directory": str(directory),
            "scripts": [str(p.relative_to(directory)) for p in scripts],
            "modes": [{**asdict(r), "charts_per_s": round(r.charts_per_s, 4)} for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
