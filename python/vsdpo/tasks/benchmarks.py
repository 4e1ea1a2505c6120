"""Tasks from benchmark directories on disk, told apart by their layout. Nothing is downloaded:
point ``--tasks`` at your own copy.

* **ChartMimic** (``dataset/`` of github.com/ChartMimic/ChartMimic, or any folder laid out like
  it): matplotlib scripts ``NAME.py``, each with its rendered chart ``NAME.png`` beside it
  (``ori_500/`` holds the "direct mimic" set, ``edit_500/`` the customised one). A script with a
  ``NAME.txt`` beside it takes that text as its instruction (customised mimic); the others get
  the direct-mimic instruction: reproduce the chart in the image, at the script's ``figsize``.
* **Design2Code** (``testset_final/`` of github.com/NoviScl/Design2Code): pages ``NAME.html``
  with their screenshots ``NAME.png`` (and the ``rick.jpg`` placeholder image beside them,
  which ``meta["base_dir"]`` lets the web renderer serve).

Each file becomes a ``scratch`` task whose reference is the script or page and, where the PNG
exists, its image; ids are ``chartmimic/<path>`` / ``design2code/<path>`` (the path relative to
the directory, without the suffix), so the fixed id-hash split applies as to every other set.
A missing PNG leaves ``reference_image`` empty (:mod:`vsdpo.tasks.references` can render one).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vsdpo.tasks import charts, web
from vsdpo.tasks.task import Task

CHARTMIMIC_INSTRUCTION = (
    "You write matplotlib code from pictures. Write a Python program that reproduces the chart "
    "in the reference image as closely as you can: its type, data, colours, labels and layout."
)
DESIGN2CODE_INSTRUCTION = (
    "You write web pages from screenshots. Write one HTML page (CSS in a <style> tag) that "
    "reproduces the page in the reference screenshot as closely as you can: its layout, texts, "
    'colours and fonts. Use "rick.jpg" for every image.'
)

#: calls whose first string argument a faithful chart draws
_TEXT_CALLS = {"title", "set_title", "suptitle", "xlabel", "ylabel", "set_xlabel", "set_ylabel"}
_FIGSIZE = re.compile(r"figsize\s*=\s*\(\s*([\d.]+)\s*,\s*([\d.]+)\s*\)")


def detect_layout(root: str | Path) -> str | None:
    """``"chartmimic"``, ``"design2code"`` or ``None``: pages (``*.html``) make a Design2Code
    directory, else scripts (``*.py``) a ChartMimic one."""
    root = Path(root)
    if any(_files(root, ".html")):
        return "design2code"
    if any(_files(root, ".py")):
        return "chartmimic"
    return None


def load_benchmark_dir(root: str | Path) -> list[Task]:
    """The tasks of a ChartMimic- or Design2Code-layout directory (see the module docstring)."""
    root = Path(root)
    layout = detect_layout(root)
    if layout == "chartmimic":
        return load_chartmimic(root)
    if layout == "design2code":
        return load_design2code(root)
    raise ValueError(
        f"{root}: neither a ChartMimic directory (NAME.py + NAME.png) nor a Design2Code one "
        "(NAME.html + NAME.png)"
    )


def load_chartmimic(root: str | Path) -> list[Task]:
    root = Path(root)
    tasks = []
    for script in _files(root, ".py"):
        rel = script.relative_to(root).with_suffix("").as_posix()
        code = script.read_text(encoding="utf-8", errors="replace")
        instruction_file = script.with_suffix(".txt")
        if instruction_file.is_file():
            instruction = instruction_file.read_text(encoding="utf-8").strip()
            mode = "customized"
        else:
            size = _FIGSIZE.search(code)
            instruction = CHARTMIMIC_INSTRUCTION
            if size:
                instruction += f" Use figsize=({size.group(1)}, {size.group(2)})."
            mode = "direct"
        image = script.with_suffix(".png")
        tasks.append(
            Task(
                id=f"chartmimic/{rel}",
                domain="chart",
                tier="scratch",
                prompt=f"{instruction}\n{charts.FORMAT}",
                reference_code=code,
                required_texts=chart_texts(code),
                reference_image=str(image) if image.is_file() else None,
                meta={"source": "chartmimic", "path": rel, "mode": mode},
            )
        )
    return tasks


def load_design2code(root: str | Path) -> list[Task]:
    root = Path(root)
    tasks = []
    for page in _files(root, ".html"):
        rel = page.relative_to(root).with_suffix("").as_posix()
        image = page.with_suffix(".png")
        tasks.append(
            Task(
                id=f"design2code/{rel}",
                domain="web",
                tier="scratch",
                prompt=f"{DESIGN2CODE_INSTRUCTION}\n{web.FORMAT}",
                reference_code=page.read_text(encoding="utf-8", errors="replace"),
                reference_image=str(image) if image.is_file() else None,
                meta={"source": "design2code", "path": rel, "base_dir": str(page.parent)},
            )
        )
    return tasks


def chart_texts(code: str) -> tuple[str, ...]:
    """The literal titles and axis labels a script sets (``ax.set_title("...")``, ``plt.xlabel``
    ...): texts any faithful reproduction draws. Empty for a script that does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr in _TEXT_CALLS and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                if "$" not in arg.value and "\n" not in arg.value:  # mathtext/multi-line: as drawn
                    out.append(arg.value.strip())
    return tuple(dict.fromkeys(out))


def _files(root: Path, suffix: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"*{suffix}") if p.is_file() and not p.name.startswith("."))
