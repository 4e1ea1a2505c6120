"""Task sets to train and evaluate on: the :class:`Task` type, the fixed split, loaders.

>>> from vsdpo.tasks import load_tasks
>>> tasks = load_tasks("builtin:chart", split="train")
>>> sorted({t.tier for t in tasks})
['edit', 'repair', 'scratch', 'skeleton']
"""

from vsdpo.tasks.task import TIERS, Task, approx_tokens, load_tasks, save_tasks, split_of

__all__ = ["TIERS", "Task", "approx_tokens", "load_tasks", "save_tasks", "split_of"]
