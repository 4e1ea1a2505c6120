"""The `vsdpo` command line.

    vsdpo train [--config YAML] [--FLAGS]  train (see `vsdpo train --help`)
    vsdpo eval --model M --tasks SUITE     evaluate a model: table + report with side-by-side images
    vsdpo experiment ablation              zero-shot vs grpo vs sdpo vs vsdpo on one budget
    vsdpo report RUN_DIR                   (re)write a training run's report
    vsdpo render FILE [-o DIR]          render a program: PNG + JSON (elements, defects, timings)
    vsdpo inspect FILE [-o PNG]         the render with every defect outlined, numbered and explained
    vsdpo eval-detector charts|web DIR  detector quality on real programs/pages, with planted defects
    vsdpo eval-detector slides          the same on generated decks (no public slide set here)
    vsdpo bench kernels|render|web|slides|train ...  benchmarks (ratios against baselines in the same run)

Each subcommand imports its machinery only when it runs, so `vsdpo --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DOMAINS = ("chart", "web", "slides")
_WEB_SUFFIXES = (".html", ".htm")


def _imports_pptx(path: Path) -> bool:
    from vsdpo.render.chart import imported_roots

    try:
        return "pptx" in imported_roots(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return False


def _guess_domain(path: Path, domain: str | None) -> str:
    if domain:
        return domain
    if path.suffix.lower() in _WEB_SUFFIXES:
        return "web"
    return "slides" if _imports_pptx(path) else "chart"


def _render_file(path: Path, domain: str, dpi: int):
    """Render one program file (charts in the sandbox, pages in Chromium) and detect defects."""
    from vsdpo.defects import detect_defects

    if not path.is_file():
        raise SystemExit(f"vsdpo: no such file: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    if domain == "web":
        from vsdpo.render.web import WebRenderer

        # files beside the page (images it links by relative URL) may load; nothing else does
        with WebRenderer(concurrency=1) as renderer:
            result = renderer.render(
                text, extract=path.suffix.lower() not in _WEB_SUFFIXES, base_dir=path.parent
            )
    elif domain == "slides":
        from vsdpo.render.slides import SlidesRenderer

        with SlidesRenderer(workers=1) as renderer:
            result = renderer.render(text, extract=path.suffix.lower() not in (".py",))
    else:
        from vsdpo.render.chart import ChartRenderer

        with ChartRenderer(workers=1, dpi=dpi) as renderer:
            result = renderer.render(text, extract=path.suffix.lower() not in (".py",))
    defects = detect_defects([result])[0]
    return result, defects


def cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    path = Path(args.file)
    domain = _guess_domain(path, args.domain)
    result, defects = _render_file(path, domain, args.dpi)
    out = Path(args.output or path.with_suffix("")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = result.to_dict()
    report["defects"] = [d.to_dict() for d in defects]
    report["file"] = str(path)
    if result.image is not None:
        Image.fromarray(result.image).save(out / "render.png")
        report["image"] = "render.png"
    if domain == "slides" and result.pages:  # one PNG per slide
        report["pages"] = []
        for n, page in enumerate(result.pages, 1):
            Image.fromarray(page).save(out / f"slide-{n:02d}.png")
            report["pages"].append(f"slide-{n:02d}.png")
    (out / "render.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    status = "ok" if result.ok else f"failed: {result.error.summary() if result.error else '?'}"
    print(f"{path}: {status}; {len(result.elements)} elements, {len(defects)} defects -> {out}")
    for d in defects:
        print(f"  [{d.kind}] {d.message}")
    return 0 if result.ok else 1


def cmd_inspect(args: argparse.Namespace) -> int:
    from vsdpo.inspect_image import save_annotated

    path = Path(args.file)
    domain = _guess_domain(path, args.domain)
    result, defects = _render_file(path, domain, args.dpi)
    out = Path(args.output or path.with_name(path.stem + ".inspect.png"))
    save_annotated(result, defects, out)
    print(f"{path}: {len(defects)} defects -> {out}")
    for i, d in enumerate(defects, 1):
        print(f"  {i}. [{d.kind}] {d.message}")
    return 0


def cmd_eval_detector(args: argparse.Namespace) -> int:
    if args.domain in ("web", "pages"):
        from vsdpo.evaluate import web_detector

        return web_detector.main([args.directory, *args.rest])
    from vsdpo.evaluate import detector

    return detector.main([args.directory, *args.rest])


def cmd_bench(args: argparse.Namespace) -> int:
    if args.which == "slides":
        from vsdpo.bench import slides_throughput

        return slides_throughput.main(args.rest)
    if args.which == "kernels":
        from vsdpo.bench import kernels

        return kernels.main(args.rest)
    if args.which == "web":
        from vsdpo.bench import web_throughput

        return web_throughput.main(args.rest)
    if args.which == "train":
        from vsdpo.bench import train_step

        return train_step.main(args.rest)
    from vsdpo.bench import render_throughput

    return render_throughput.main(args.rest)


def cmd_train(args: argparse.Namespace) -> int:
    from vsdpo.train.config import from_args

    try:
        config = from_args(args)
    except ValueError as exc:
        raise SystemExit(f"vsdpo train: {exc}") from None
    from vsdpo.train.trainer import RunExistsError, train

    try:
        summary = train(config)
    except RunExistsError as exc:
        raise SystemExit(f"vsdpo train: {exc}") from None
    except KeyboardInterrupt:
        print("vsdpo train: aborted; the last checkpoint is intact (continue with --resume)")
        return 130
    state = "finished" if summary["finished"] else "stopped early (continue with --resume)"
    print(
        f"vsdpo train: {state} after {summary['steps']} steps in {summary['wall_time_s']:.0f}s "
        f"-> {summary['output_dir']}"
    )
    return 0 if summary["finished"] else 1


def cmd_report(args: argparse.Namespace) -> int:
    from vsdpo.train.report import write_report

    try:
        paths = write_report(Path(args.run_dir), formats=args.format)
    except FileNotFoundError as exc:
        raise SystemExit(f"vsdpo: {exc}") from None
    for p in paths:
        print(p)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from vsdpo.evaluate.policy import EvalConfig, evaluate, summary_markdown

    config = EvalConfig(
        model=args.model,
        tasks=args.tasks,
        split=args.split,
        limit=args.limit,
        per_tier=args.per_tier,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        greedy=not args.sample,
        temperature=args.temperature,
        render_workers=args.render_workers,
        seed=args.seed,
    )
    try:
        summary = evaluate(config)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"vsdpo eval: {exc}") from None
    print(summary_markdown(summary))
    print(f"-> {config.output_dir}/summary.md, {config.output_dir}/report.html")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from vsdpo import experiment

    return experiment.main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    from vsdpo import __version__

    parser = argparse.ArgumentParser(
        prog="vsdpo",
        description="Visual-SDPO: render programs, find visual defects, train on them.",
    )
    parser.add_argument("--version", action="version", version=f"vsdpo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from vsdpo.train.config import add_arguments

    p = sub.add_parser(
        "train",
        help="train a model with Visual-SDPO (default: the embedded model on built-in chart tasks)",
        description="Sample programs, render them, detect visual defects, and train with "
        "credit-weighted self-distillation plus GRPO. Every option can also be set in a YAML "
        "file (--config); flags win over the file, the file over the preset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        help="evaluate a model on a task suite: exec rate, defect-free rate, benchmark scores",
        description="Generate (greedy by default), render, detect defects and score every task; "
        "write summary.md, summary.json and report.html (reference | candidate). Resumable: "
        "tasks already in OUTPUT_DIR/results.jsonl are not redone.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model", help="HF id (local cache), path, or a run's final/ (default: smollm2)"
    )
    p.add_argument("--tasks", default="builtin:chart", help="task suite or directory")
    p.add_argument("--split", default="test", choices=("train", "test", "all"))
    p.add_argument("--limit", type=int, help="evaluate only the first N tasks")
    p.add_argument("--per-tier", type=int, help="evaluate only the first N tasks of each tier")
    p.add_argument("--output-dir", default="runs/eval")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=0.8, help="with --sample")
    p.add_argument("--render-workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "experiment",
        help="experiments: `ablation` (zero-shot vs grpo vs sdpo vs vsdpo, same budget)",
        description="Run an experiment; options after its name are passed on "
        "(see `vsdpo experiment ablation --help`).",
    )
    p.add_argument("which", choices=("ablation",))
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_experiment)

    for name, func, help_text in (
        ("render", cmd_render, "render a program to PNG + JSON (elements, defects, timings)"),
        ("inspect", cmd_inspect, "render a program and outline every defect on the image"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "file",
            help="a program (.py for charts or, importing pptx, slides; .html for pages) or a "
            "completion (.md/.txt)",
        )
        p.add_argument("-o", "--output", help="output directory (render) or PNG path (inspect)")
        p.add_argument("--domain", choices=DOMAINS, help="artifact type (default: from the file)")
        p.add_argument("--dpi", type=int, default=100, help="chart rendering resolution")
        p.set_defaults(func=func)

    p = sub.add_parser(
        "eval-detector",
        help="measure the renderer and defect detector on a directory of real programs",
        description="Render every program, report success / traced / flagged rates, then plant "
        "defects in copies and report recall and blame accuracy. Options after DIR are passed "
        "on (see `vsdpo eval-detector charts DIR --help`).",
    )
    p.add_argument("domain", choices=("chart", "charts", "web", "pages"), help="artifact type")
    p.add_argument("directory")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_eval_detector)

    p = sub.add_parser(
        "bench",
        help="benchmarks: kernels vs numpy/shapely, rendering throughput vs naive",
        description="Run a benchmark; options after its name are passed on "
        "(e.g. `vsdpo bench kernels --quick`, `vsdpo bench kernels --help`).",
    )
    p.add_argument("which", choices=("kernels", "render", "web", "slides", "train"))
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "report",
        help="(re)write the report of a training run: report.md/.html and plots/",
        description="Write report.md and/or report.html (with plots/*.png) in RUN_DIR from the "
        "metrics, rollouts, probes and config a `vsdpo train` run left there.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="the run's output directory")
    p.add_argument("--format", choices=("md", "html", "both"), default="both", help="default: both")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["eval-detector", "slides"]:  # generated decks: no DIR to give
        from vsdpo.evaluate import slide_detector

        return slide_detector.main(argv[2:])
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
