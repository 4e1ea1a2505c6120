"""Task sets to train and evaluate on: the :class:`Task` type, the fixed split, loaders.

>>> from vsdpo.tasks import load_tasks
>>> tasks = load_tasks("builtin:chart", split="train")
>>> sorted({t.tier for t in tasks})
['edit', 'repair', 'scratch', 'skeleton']

Specs: ``builtin:chart`` / ``builtin:web`` / ``builtin:slides``, a ``.jsonl`` file, or a
ChartMimic- / Design2Code-layout directory.
"""

from vsdpo.tasks.task import (
    TIERS,
    Task,
    approx_tokens,
    estimate_tokens,
    from_dataset,
    load_tasks,
    save_tasks,
    split_of,
    to_dataset,
)

__all__ = [
    "TIERS",
    "Task",
    "approx_tokens",
    "estimate_tokens",
    "from_dataset",
    "load_tasks",
    "save_tasks",
    "split_of",
    "to_dataset",
]
