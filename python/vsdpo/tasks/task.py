"""The :class:`Task` type, the fixed train/test split, and loading/saving task sets.

A task is one training prompt: the user message the model sees, plus what a correct answer looks
like (a reference program that renders clean, and the texts a faithful answer must draw). Task
sets come from a *spec*: ``"builtin:chart"`` (the generated set of :mod:`vsdpo.tasks.charts`) or
a path to a JSONL file with one :meth:`Task.to_dict` per line (:func:`save_tasks` writes one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    splits numbers into single digits): the real count is 0.97-1.15 times this estimate. The
    common "characters / 3.5" rule undercounts such code by ~1.5x (it runs at ~2.4 characters
    per token)."""
    return len(_TOKEN_LIKE.findall(text))


def split_of(task_id: str, test_percent: int = TEST_PERCENT) -> str:
    """``"test"`` for about ``test_percent`` % of ids, ``"train"`` for the rest.

    A pure function of the id (SHA-256, not Python's salted ``hash``), so the split never
    changes across runs, machines or task-set sizes: adding tasks never moves an old one."""
    h = int.from_bytes(hashlib.sha256(task_id.encode("utf-8")).digest()[:8], "big")
    return "test" if h % 100 < test_percent else "train"


def load_tasks(spec: str | os.PathLike[str] = "builtin:chart", split: str = "train") -> list[Task]:
    """The tasks of ``spec`` in ``split`` ("train", "test" or "all").

    ``spec``: ``"builtin:chart"`` for the generated chart set, or a path to a ``.jsonl`` file of
    :meth:`Task.to_dict` lines (blank lines ignored)."""
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
        if name == "chart":
            from vsdpo.tasks.charts import generate

            return generate()
        raise ValueError(f"unknown built-in task set {text!r} (available: 'builtin:chart')")
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"no task file {path} (and {text!r} is not 'builtin:<name>')")
    tasks = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                tasks.append(Task.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a task: {exc}") from exc
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{path}: duplicate task ids {dup[:5]}")
    return tasks


def save_tasks(tasks: Iterable[Task], path: str | os.PathLike[str]) -> Path:
    """Write ``tasks`` as JSONL (one :meth:`Task.to_dict` per line); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for t in tasks:
            f.write(json.dumps(t.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    return path
