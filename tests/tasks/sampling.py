"""Which generated tasks the default test run renders: a fixed sample spread over every group
(tier and kind, planted defect, ...); ``VSDPO_FULL_SUITE=1`` renders them all."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence

from vsdpo.tasks import Task

FULL_SUITE = os.environ.get("VSDPO_FULL_SUITE", "") == "1"


def render_sample(tasks: Sequence[Task], n: int, group: Callable[[Task], Hashable]) -> list[Task]:
    """All tasks under ``VSDPO_FULL_SUITE=1``; else ``n`` of them, taken round-robin over the
    groups (first task of every group, then the second, ...), in the tasks' own order."""
    if FULL_SUITE or n >= len(tasks):
        return list(tasks)
    groups: dict[Hashable, list[Task]] = {}
    for t in tasks:
        groups.setdefault(group(t), []).append(t)
    picked: list[Task] = []
    depth = 0
    while len(picked) < n:
        for members in groups.values():
            if depth < len(members) and len(picked) < n:
                picked.append(members[depth])
        depth += 1
    chosen = {t.id for t in picked}
    return [t for t in tasks if t.id in chosen]


def kind_group(t: Task) -> tuple[str, str]:
    """(tier, the planted defect for repairs / the edit for edits / the kind otherwise)."""
    key = t.meta.get("planted") or t.meta.get("edit") or t.meta.get("kind") or ""
    return t.tier, str(key)
