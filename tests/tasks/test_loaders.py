"""Loading task sets: the built-in specs, benchmark directories laid out like ChartMimic and
Design2Code (small fixtures made here), JSONL with images beside it, and ``datasets``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from vsdpo.tasks import Task, from_dataset, load_tasks, save_tasks, split_of, to_dataset
from vsdpo.tasks.benchmarks import (
    CHARTMIMIC_INSTRUCTION,
    DESIGN2CODE_INSTRUCTION,
    chart_texts,
    detect_layout,
)

BAR = """import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8.0, 5.5))
ax.bar(["A", "B"], [3, 5], color="#4472c4")
ax.set_title("Sales by region")
ax.set_xlabel("Region")
ax.set_ylabel("$\\\\mu$ units")
plt.tight_layout()
plt.savefig("bar_1.pdf", bbox_inches="tight")
"""
LINE = """import matplotlib.pyplot as plt

plt.plot([1, 2, 3], [2, 4, 3])
plt.title("Growth")
plt.savefig("line_2.pdf")
"""
PAGE = """<html><head><style>h1 { color: #224; }</style></head>
<body><h1>Welcome</h1><img src="rick.jpg" width="40"></body></html>
"""


def _png(path: Path, colour=(200, 30, 30)) -> Path:
    Image.new("RGB", (16, 12), colour).save(path)
    return path


@pytest.fixture
def chartmimic_dir(tmp_path: Path) -> Path:
    """ChartMimic's layout: ori_500/NAME.py + NAME.png (direct mimic), edit_500/ with an
    instruction NAME.txt (customised mimic); one script has no image."""
    root = tmp_path / "chartmimic"
    (root / "ori_500").mkdir(parents=True)
    (root / "edit_500").mkdir()
    (root / "ori_500" / "bar_1.py").write_text(BAR)
    _png(root / "ori_500" / "bar_1.png")
    (root / "ori_500" / "line_2.py").write_text(LINE)
    (root / "edit_500" / "bar_1.py").write_text(BAR.replace("Sales by region", "Sales, 2024"))
    _png(root / "edit_500" / "bar_1.png")
    (root / "edit_500" / "bar_1.txt").write_text("Redraw the chart with the 2024 data.\n")
    return root


@pytest.fixture
def design2code_dir(tmp_path: Path) -> Path:
    """Design2Code's layout: NAME.html + NAME.png pairs, with rick.jpg beside them."""
    root = tmp_path / "design2code"
    root.mkdir()
    for name in ("1009", "2045"):
        (root / f"{name}.html").write_text(PAGE.replace("Welcome", f"Page {name}"))
        _png(root / f"{name}.png")
    Image.new("RGB", (8, 8)).save(root / "rick.jpg")
    return root


# --- built-in specs -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chart", "web", "slides"])
def test_builtin_specs(name: str) -> None:
    everything = load_tasks(f"builtin:{name}", "all")
    assert len(everything) >= 200 and {t.domain for t in everything} == {name}
    train, test = load_tasks(f"builtin:{name}"), load_tasks(f"builtin:{name}", "test")
    assert len(train) + len(test) == len(everything)


def test_unknown_specs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="builtin:web"):  # the message lists what exists
        load_tasks("builtin:audio")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("nothing to load")
    with pytest.raises(ValueError, match="neither a ChartMimic"):
        load_tasks(empty, "all")


# --- benchmark directories ------------------------------------------------------------------


def test_chartmimic_layout(chartmimic_dir: Path) -> None:
    assert detect_layout(chartmimic_dir) == "chartmimic"
    tasks = load_tasks(chartmimic_dir, "all")
    by_id = {t.id: t for t in tasks}
    assert sorted(by_id) == [
        "chartmimic/edit_500/bar_1",
        "chartmimic/ori_500/bar_1",
        "chartmimic/ori_500/line_2",
    ]
    direct = by_id["chartmimic/ori_500/bar_1"]
    assert direct.domain == "chart" and direct.tier == "scratch"
    assert direct.reference_code == BAR
    assert direct.reference_image == str(chartmimic_dir / "ori_500" / "bar_1.png")
    assert direct.prompt.startswith(CHARTMIMIC_INSTRUCTION)
    assert "figsize=(8.0, 5.5)" in direct.prompt and "```python" in direct.prompt
    # literal titles and labels; mathtext is left out (it is drawn differently from its source)
    assert direct.required_texts == ("Sales by region", "Region")
    assert direct.meta == {"source": "chartmimic", "path": "ori_500/bar_1", "mode": "direct"}
    custom = by_id["chartmimic/edit_500/bar_1"]
    assert custom.prompt.startswith("Redraw the chart with the 2024 data.")
    assert custom.meta["mode"] == "customized"
    assert by_id["chartmimic/ori_500/line_2"].reference_image is None  # no PNG beside it
    assert by_id["chartmimic/ori_500/line_2"].required_texts == ("Growth",)
    # the fixed id-hash split applies
    test = load_tasks(chartmimic_dir, "test")
    assert [t.id for t in test] == [t.id for t in tasks if split_of(t.id) == "test"]


def test_design2code_layout(design2code_dir: Path) -> None:
    assert detect_layout(design2code_dir) == "design2code"
    tasks = load_tasks(str(design2code_dir), "all")
    assert [t.id for t in tasks] == ["design2code/1009", "design2code/2045"]
    page = tasks[0]
    assert page.domain == "web" and page.tier == "scratch"
    assert page.reference_code == PAGE.replace("Welcome", "Page 1009")
    assert page.reference_image == str(design2code_dir / "1009.png")
    assert page.prompt.startswith(DESIGN2CODE_INSTRUCTION) and "```html" in page.prompt
    assert page.meta["base_dir"] == str(design2code_dir)  # where rick.jpg is served from


def test_chart_texts_ignores_what_it_cannot_read() -> None:
    assert chart_texts("ax.set_title(name)\nplt.xlabel('')\n") == ()
    assert chart_texts("def broken(:\n") == ()


@pytest.mark.chromium
def test_design2code_reference_renders_with_its_image(
    design2code_dir: Path, chromium_executable, tmp_path: Path
) -> None:
    """Tasks without a PNG get one rendered; rick.jpg is served from the page's folder."""
    from vsdpo.tasks.references import render_reference_images

    (design2code_dir / "2045.png").unlink()
    tasks = load_tasks(design2code_dir, "all")
    assert tasks[1].reference_image is None
    done = render_reference_images(tasks, tmp_path / "refs")
    assert done[0] == tasks[0]  # had an image: kept
    assert Image.open(done[1].reference_image).size[0] == 1280


# --- JSONL and datasets ---------------------------------------------------------------------


def _mixed(chartmimic_dir: Path) -> list[Task]:
    return (
        load_tasks("builtin:chart", "all")[:5]
        + load_tasks("builtin:web", "all")[-5:]
        + load_tasks("builtin:slides", "all")[:5]
        + load_tasks(chartmimic_dir, "all")
    )


def test_save_copies_images_beside_the_jsonl(chartmimic_dir: Path, tmp_path: Path) -> None:
    tasks = _mixed(chartmimic_dir)
    path = save_tasks(tasks, tmp_path / "out" / "tasks.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    images = [r["reference_image"] for r in rows if r["reference_image"]]
    assert images == [
        "tasks_images/chartmimic__edit_500__bar_1.png",
        "tasks_images/chartmimic__ori_500__bar_1.png",
    ]
    # the folder moves as a whole: images resolve against the file, wherever it is
    moved = tmp_path / "moved"
    shutil.copytree(path.parent, moved)
    shutil.rmtree(path.parent)
    loaded = load_tasks(moved / "tasks.jsonl", "all")
    assert [t.id for t in loaded] == [t.id for t in tasks]
    for before, after in zip(tasks, loaded):
        if before.reference_image is None:
            assert after == before
            continue
        assert after.reference_image == str(
            moved / "tasks_images" / Path(after.reference_image).name
        )
        assert Path(after.reference_image).read_bytes() == Path(before.reference_image).read_bytes()
        assert after.prompt == before.prompt and after.meta == before.meta


def test_save_refuses_a_missing_image(tmp_path: Path) -> None:
    task = Task("x/scratch/1", "chart", "scratch", "p", reference_image=str(tmp_path / "no.png"))
    with pytest.raises(FileNotFoundError, match="no reference image"):
        save_tasks([task], tmp_path / "t.jsonl")


def test_to_dataset_and_back(chartmimic_dir: Path) -> None:
    tasks = _mixed(chartmimic_dir)
    ds = to_dataset(tasks)
    assert ds.num_rows == len(tasks)
    assert ds.column_names == [
        "id", "domain", "tier", "split", "prompt", "reference_code", "required_texts",
        "reference_image", "meta",
    ]  # fmt: skip
    assert ds["split"] == [t.split for t in tasks]
    assert from_dataset(ds) == tasks
    with_images = to_dataset(tasks, images=True)
    row = with_images[len(tasks) - 3]  # chartmimic/edit_500/bar_1
    assert row["id"] == "chartmimic/edit_500/bar_1" and row["reference_image"].size == (16, 12)
    assert with_images[0]["reference_image"] is None


def test_saved_jsonl_loads_with_datasets(chartmimic_dir: Path, tmp_path: Path) -> None:
    import datasets

    tasks = _mixed(chartmimic_dir)
    path = save_tasks(tasks, tmp_path / "tasks.jsonl")
    ds = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert ds.num_rows == len(tasks)
    assert ds["id"] == [t.id for t in tasks]
    assert ds["required_texts"] == [list(t.required_texts) for t in tasks]
