"""A tiny runner for the sandbox tests: compile the program under USER_FILENAME and exec it.

It returns the program's ``result`` global (None when it sets none) and a marker proving the
runner reached its end, so tests can tell "ran to completion" from "returned early".
"""

from __future__ import annotations

from typing import Any

from vsdpo.sandbox import USER_FILENAME


def run(code: str, args: dict) -> dict[str, Any]:
    """Exec ``code`` in a fresh ``__main__``-like namespace with ``args`` available as ARGS."""
    namespace: dict[str, Any] = {"__name__": "__main__", "ARGS": args}
    exec(compile(code, USER_FILENAME, "exec"), namespace)
    return {"finished": True, "result": namespace.get("result")}
