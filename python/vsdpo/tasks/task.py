"""The :class:`Task` type, the fixed train/test split, and loading/saving task sets.

A task is one training prompt: the user message the model sees, plus what a correct answer looks
like (a reference program that renders clean, and the texts a faithful answer must draw). Task
sets come from a *spec*:

* ``"builtin:chart"``, ``"builtin:web"``, ``"builtin:slides"``: the generated sets of
  :mod:`vsdpo.tasks.charts`, :mod:`vsdpo.tasks.web` and :mod:`vsdpo.tasks.slides`;
* a path to a JSONL file with one :meth:`Task.to_dict` per line (:func:`save_tasks` writes one,
  with its reference images copied beside it; relative image paths resolve against the file);
* a benchmark directory, told apart by its layout (:mod:`vsdpo.tasks.benchmarks`): matplotlib
  scripts (``*.py`` + ``*.png``, ChartMimic) or pages (``*.html`` + ``*.png``, Design2Code).

:func:`to_dataset` turns tasks into a Hugging Face ``datasets.Dataset``; the JSONL that
:func:`save_tasks` writes also loads with ``datasets.load_dataset("json", ...)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: the tiers, from hardest to easiest for a weak coder
TIERS = ("scratch", "skeleton", "edit", "repair")
SPLITS = ("train", "test", "all")
#: percent of task ids that the id hash puts in the test split
TEST_PERCENT = 20


@dataclass(frozen=True)
class Task:
    """One training prompt and what a correct answer looks like."""

    id: str  # stable, e.g. "chart/repair/0007"
    domain: str  # "chart" (later "web", "slides")
    tier: str  # "scratch" | "skeleton" | "edit" | "repair"
    prompt: str  # the user message the model sees (asks for ONE fenced ```python block)
    reference_code: str = ""  # a program that renders a correct answer
    required_texts: tuple[str, ...] = ()  # strings a faithful answer must draw
    reference_image: str | None = None  # path to a PNG, when one exists
    #: JSON-ready extras (lists, not tuples, so a JSONL round trip compares equal); not hashed.
    #: Repair tasks keep the broken program in ``meta["broken_code"]`` and the planted defect in
    #: ``meta["planted"]`` / ``meta["planted_kinds"]`` / ``meta["planted_lines"]``.
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"Task {self.id!r}: tier must be one of {TIERS}, got {self.tier!r}")
        if not isinstance(self.required_texts, tuple):  # a list from JSON, or any iterable
            object.__setattr__(self, "required_texts", tuple(self.required_texts))

    @property
    def split(self) -> str:
        """``meta["split"]`` when the task carries one, else the fixed hash split of its id."""
        return str(self.meta.get("split") or split_of(self.id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "tier": self.tier,
            "prompt": self.prompt,
            "reference_code": self.reference_code,
            "required_texts": list(self.required_texts),
            "reference_image": self.reference_image,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        known = {"id", "domain", "tier", "prompt", "reference_code", "required_texts"}
        known |= {"reference_image", "meta"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown Task fields: {sorted(unknown)}")
        return cls(
            id=str(d["id"]),
            domain=str(d["domain"]),
            tier=str(d["tier"]),
            prompt=str(d["prompt"]),
            reference_code=str(d.get("reference_code") or ""),
            required_texts=tuple(str(t) for t in d.get("required_texts") or ()),
            reference_image=d.get("reference_image"),
            meta=dict(d.get("meta") or {}),
        )


_TOKEN_LIKE = re.compile(r"[A-Za-z]+|\d|[^\sA-Za-z\d]")


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate of the token count of ``text``: one per word, per digit and per
    other non-space character.

    Calibrated on the built-in chart prompts and programs against SmolLM2's tokenizer (which
    splits numbers into single digits): the real count is 0.97-1.16 times this estimate (up to
    1.2 on a short prompt). The
    common "characters / 3.5" rule undercounts such code by ~1.5x (it runs at ~2.4 characters
    per token)."""
    return len(_TOKEN_LIKE.findall(text))


def estimate_tokens(text: str) -> int:
    """A closer tokenizer-free estimate for code with long identifiers (python-pptx's
    ``slide_layouts``, ``placeholders``; HTML): :func:`approx_tokens`, but a word of n letters
    counts ceil(n / 5) tokens.

    Calibrated against SmolLM2's tokenizer on the built-in web and slide tasks: the real count is
    0.8-1.12 times this estimate, where :func:`approx_tokens` undercounts python-pptx code by up
    to 1.34x (``slide`` alone is two tokens)."""
    return sum(-(-len(m) // 5) if m[0].isalpha() else 1 for m in _TOKEN_LIKE.findall(text))


def split_of(task_id: str, test_percent: int = TEST_PERCENT) -> str:
    """``"test"`` for about ``test_percent`` % of ids, ``"train"`` for the rest.

    A pure function of the id (SHA-256, not Python's salted ``hash``), so the split never
    changes across runs, machines or task-set sizes: adding tasks never moves an old one."""
    h = int.from_bytes(hashlib.sha256(task_id.encode("utf-8")).digest()[:8], "big")
    return "test" if h % 100 < test_percent else "train"


#: the built-in sets: name -> module with a ``generate()``
BUILTIN = {"chart": "vsdpo.tasks.charts", "web": "vsdpo.tasks.web", "slides": "vsdpo.tasks.slides"}


def load_tasks(spec: str | os.PathLike[str] = "builtin:chart", split: str = "train") -> list[Task]:
    """The tasks of ``spec`` in ``split`` ("train", "test" or "all").

    ``spec``: ``"builtin:chart"`` / ``"builtin:web"`` / ``"builtin:slides"`` for a generated
    set, a path to a ``.jsonl`` file of :meth:`Task.to_dict` lines (blank lines ignored), or a
    ChartMimic- or Design2Code-layout directory (see :mod:`vsdpo.tasks.benchmarks`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    tasks = _load_all(spec)
    if split == "all":
        return tasks
    return [t for t in tasks if t.split == split]


def _load_all(spec: str | os.PathLike[str]) -> list[Task]:
    text = os.fspath(spec)
    if text.startswith("builtin:"):
        name = text.removeprefix("builtin:")
        if name not in BUILTIN:
            available = ", ".join(f"'builtin:{n}'" for n in BUILTIN)
            raise ValueError(f"unknown built-in task set {text!r} (available: {available})")
        import importlib

        return importlib.import_module(BUILTIN[name]).generate()
    path = Path(text)
    if path.is_dir():
        from vsdpo.tasks.benchmarks import load_benchmark_dir

        return load_benchmark_dir(path)
    if not path.is_file():
        raise FileNotFoundError(f"no task file {path} (and {text!r} is not 'builtin:<name>')")
    tasks = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                task = Task.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a task: {exc}") from exc
            image = task.reference_image
            if image and not os.path.isabs(image):  # saved beside the file by save_tasks
                task = replace(task, reference_image=str(path.parent / image))
            tasks.append(task)
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{path}: duplicate task ids {dup[:5]}")
    return tasks


def save_tasks(tasks: Iterable[Task], path: str | os.PathLike[str]) -> Path:
    """Write ``tasks`` as JSONL (one :meth:`Task.to_dict` per line); returns the path.

    Reference images are copied into ``<stem>_images/`` beside the file and written as paths
    relative to it, so the folder moves as a whole (:func:`load_tasks` resolves them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = path.parent / f"{path.stem}_images"
    with path.open("w", encoding="utf-8") as f:
        for t in tasks:
            d = t.to_dict()
            if t.reference_image:
                source = Path(t.reference_image)
                if not source.is_file():
                    raise FileNotFoundError(f"task {t.id}: no reference image {source}")
                images.mkdir(exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "__", t.id) + (source.suffix or ".png")
                target = images / name
                if source.resolve() != target.resolve():
                    shutil.copyfile(source, target)
                d["reference_image"] = f"{images.name}/{name}"
            f.write(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def to_dataset(tasks: Iterable[Task], *, images: bool = False) -> Any:
    """The tasks as a Hugging Face ``datasets.Dataset``: one row per task, with its ``split``
    as a column and ``meta`` as a JSON string (its keys differ between tiers and sets).

    ``images=True`` makes ``reference_image`` an ``Image`` feature (decoded on access)."""
    import datasets

    rows = [
        {**t.to_dict(), "split": t.split, "meta": json.dumps(t.meta, sort_keys=True)} for t in tasks
    ]
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "domain": datasets.Value("string"),
            "tier": datasets.Value("string"),
            "split": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "reference_code": datasets.Value("string"),
            "required_texts": datasets.List(datasets.Value("string")),
            "reference_image": datasets.Image() if images else datasets.Value("string"),
            "meta": datasets.Value("string"),
        }
    )
    columns = {name: [r[name] for r in rows] for name in features}
    return datasets.Dataset.from_dict(columns, features=features)


def from_dataset(dataset: Any) -> list[Task]:
    """Tasks back from :func:`to_dataset`'s rows (``images=False``)."""
    out = []
    for row in dataset:
        d = {k: row[k] for k in row if k != "split"}
        d["meta"] = json.loads(d.get("meta") or "{}")
        out.append(Task.from_dict(d))
    return out
