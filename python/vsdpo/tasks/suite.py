"""Drawing a built-in suite: every (tier, index) gets the first draw that fits the token budgets
and does not repeat an earlier task's prompt, so a suite is deterministic and free of duplicates."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vsdpo.tasks.task import Task

MAX_DRAWS = 50


def draw_suite(
    domain: str,
    builders: Mapping[str, Callable[[int, int], Task]],
    counts: Mapping[str, int],
    fits: Callable[[Task], bool],
) -> list[Task]:
    """``counts[tier]`` tasks per tier, tier by tier, by index; ``builders[tier](index, draw)``."""
    out: list[Task] = []
    seen: set[str] = set()
    for tier, n in counts.items():
        for i in range(n):
            for draw in range(MAX_DRAWS):
                task = builders[tier](i, draw)
                if fits(task) and task.prompt not in seen:
                    break
            else:  # pragma: no cover - the builders vary enough that this never happens
                raise AssertionError(f"no fitting, new draw of {domain}/{tier}/{i}")
            seen.add(task.prompt)
            out.append(task)
    return out
