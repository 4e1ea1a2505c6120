"""``vsdpo bench slides``: deck rendering throughput, the persistent LibreOffice vs the naive way.

The decks are the generated ones of :mod:`vsdpo.evaluate.slide_decks` (``--n``). Their .pptx
bytes are made once, untimed, by the sandboxed runner; then, one deck at a time:

* **naive**: ``soffice --headless --convert-to pdf`` per deck (a fresh LibreOffice process each
  time, with a profile made in an untimed warm-up), then the PDF rasterised with pdfium;
* **persistent**: the same conversion in one running LibreOffice driven over UNO
  (:class:`vsdpo.render.office.OfficeService`), then the same rasterisation;
* **renderer** (``--modes`` includes it): everything a trainer needs, from the program text:
  :meth:`vsdpo.render.slides.SlidesRenderer.render_many` (sandboxed run with tracing,
  LibreOffice, rasterisation, elements, ``--workers`` programs at once) plus
  :func:`vsdpo.defects.detect_defects` per deck.

Prints a markdown table (decks, ok, seconds, decks/s, ratio vs naive), the machine and command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from vsdpo.bench.timing import ModeRun, command_line, machine_description, throughput_table

MODES = ("naive", "persistent", "renderer")


def _rasterise(pdf: bytes) -> int:
    from vsdpo.render.slides_elements import render_pdf

    images, _ = render_pdf(pdf)
    return len(images)


def bench_naive(decks: Sequence[bytes], soffice: str) -> ModeRun:
    with tempfile.TemporaryDirectory(prefix="vsdpo-naive-") as tmp:
        root = Path(tmp)
        profile = (root / "profile").as_uri()
        base = [
            soffice,
            "--headless",
            "--norestore",
            "--nologo",
            f"-env:UserInstallation={profile}",
        ]
        warm = root / "warm.pptx"
        warm.write_bytes(decks[0])
        t0 = time.perf_counter()
        subprocess.run(
            [*base, "--convert-to", "pdf", "--outdir", str(root), str(warm)],
            capture_output=True,
            timeout=180,
            check=False,
        )
        startup = time.perf_counter() - t0
        ok = 0
        start = time.perf_counter()
        for n, data in enumerate(decks):
            src = root / f"deck{n}.pptx"
            src.write_bytes(data)
            subprocess.run(
                [*base, "--convert-to", "pdf", "--outdir", str(root), str(src)],
                capture_output=True,
                timeout=180,
                check=False,
            )
            pdf = src.with_suffix(".pdf")
            if pdf.is_file() and _rasterise(pdf.read_bytes()):
                ok += 1
        seconds = time.perf_counter() - start
    return ModeRun(
        "naive", "`soffice --convert-to pdf` per deck + pdfium", len(decks), ok, seconds, startup
    )


def bench_persistent(decks: Sequence[bytes]) -> ModeRun:
    from vsdpo.render.office import OfficeService

    t0 = time.perf_counter()
    with OfficeService() as office:
        office.convert(decks[0])  # warm-up, untimed
        startup = time.perf_counter() - t0
        ok = 0
        start = time.perf_counter()
        for data in decks:
            try:
                ok += bool(_rasterise(office.convert(data)))
            except Exception:  # noqa: BLE001 - counted as not ok
                pass
        seconds = time.perf_counter() - start
    return ModeRun(
        "persistent", "one LibreOffice over UNO + pdfium", len(decks), ok, seconds, startup
    )


def bench_renderer(codes: Sequence[str], workers: int) -> ModeRun:
    from vsdpo.defects import detect_defects
    from vsdpo.render.slides import SlidesRenderer

    t0 = time.perf_counter()
    with SlidesRenderer(workers=workers) as renderer:
        renderer.render_many(list(codes[:workers]), extract=False)  # warm-up, untimed
        startup = time.perf_counter() - t0
        start = time.perf_counter()
        results = renderer.render_many(list(codes), extract=False)
        for r in results:
            detect_defects([r])
        seconds = time.perf_counter() - start
    return ModeRun(
        "renderer",
        f"SlidesRenderer ({workers} sandbox workers, tracing, elements) + detect_defects",
        len(codes),
        sum(r.ok for r in results),
        seconds,
        startup,
    )


def make_pptx(codes: Sequence[str]) -> list[bytes]:
    """The decks' .pptx bytes, made by the sandboxed runner."""
    from vsdpo.render.slides import PRELOAD, RUNNER
    from vsdpo.sandbox import SandboxPool

    with SandboxPool(RUNNER, workers=2, preload=PRELOAD) as pool:
        results = pool.map(list(codes), [{"trace": False}] * len(codes))
    return [r.value["pptx"] for r in results if r.ok]


def main(argv: Sequence[str] | None = None, prog: str = "vsdpo bench slides") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=12, help="generated decks (default: 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="renderer sandbox workers")
    parser.add_argument("--modes", default=",".join(MODES), help=f"from {','.join(MODES)}")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    from vsdpo.evaluate.slide_decks import generate_decks
    from vsdpo.render.office import find_soffice

    soffice = find_soffice()
    if soffice is None:
        print(f"{prog}: no LibreOffice found", file=sys.stderr)
        return 2
    codes = [d.code for d in generate_decks(args.n, args.seed)]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        print(f"{prog}: unknown modes {unknown}", file=sys.stderr)
        return 2
    decks = make_pptx(codes) if {"naive", "persistent"} & set(modes) else []
    runs = []
    for mode in modes:
        if mode == "naive":
            runs.append(bench_naive(decks, soffice))
        elif mode == "persistent":
            runs.append(bench_persistent(decks))
        else:
            runs.append(bench_renderer(codes, args.workers))
    slides = sum(len(d) for d in decks)
    print(
        "\n".join(
            [
                f"### Slide rendering throughput ({args.n} generated decks)",
                "",
                f"- command: `{command_line(prog, list(argv or sys.argv[1:]))}`",
                f"- machine: {machine_description(['python-pptx', 'pypdfium2', 'vsdpo'])}",
                f"- decks: {len(decks) or args.n}, pptx bytes in all: {slides}",
                "",
                throughput_table(runs, "decks"),
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
