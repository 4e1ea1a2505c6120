"""Turning what went wrong in a sandboxed job into an :class:`~vsdpo.artifact.ExecError`.

Two sources of failure:

* the user program raised (inside the job process): :func:`describe_exception` turns the
  exception into a plain dict (picklable, no live frames) with a traceback trimmed to the frames
  from the first user-code frame on, and the user line it points at;
* the job process ended without a result (a signal, ``os._exit``, a timeout, too much output):
  :func:`describe_termination` names what happened from the wait status and the reason the
  worker killed it.

The traceback text is produced inside the sandbox, so it is untrusted *text*; it is never
evaluated.
"""

from __future__ import annotations

import os
import signal
import traceback
from typing import Any

from vsdpo.artifact import ExecError

#: the filename user code is compiled under; frames with it are the program's own lines
USER_FILENAME = "<completion>"

# Keep tracebacks short enough for a teacher prompt: the head shows where the program was, the
# tail shows where it failed (a RecursionError has ~1000 identical frames).
_MAX_FRAMES_HEAD = 5
_MAX_FRAMES_TAIL = 15
_MAX_MESSAGE_CHARS = 2000
_MAX_TRACEBACK_CHARS = 8000

_SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

_SIGNAL_MEANING = {
    signal.SIGSEGV: "segmentation fault: invalid memory access",
    signal.SIGBUS: "bus error: invalid memory access",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGABRT: "aborted",
    signal.SIGKILL: "killed (possibly by the kernel's out-of-memory killer)",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGTERM: "terminated",
    signal.SIGPIPE: "broken pipe",
}


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


def status_for_exception(exc: BaseException) -> str:
    """The SandboxResult status for an exception raised by user code."""
    return "memory" if isinstance(exc, MemoryError) else "error"


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """A picklable description of ``exc``: ExecError fields plus the sandbox status.

    The traceback keeps only frames from the first one in :data:`USER_FILENAME` on (the runner
    and the sandbox are noise for the model), and ``line`` is the innermost user-code frame, or
    ``SyntaxError.lineno`` when the program did not compile.
    """
    te = traceback.TracebackException.from_exception(exc, limit=None, lookup_lines=True)
    # The sandbox's own frames (the job wrapper, the audit hook) are noise for the model.
    frames = [f for f in te.stack if not f.filename.startswith(_SANDBOX_DIR)]
    user_idx = [i for i, f in enumerate(frames) if f.filename == USER_FILENAME]
    line: int | None = frames[user_idx[-1]].lineno if user_idx else None
    if isinstance(exc, SyntaxError) and exc.filename == USER_FILENAME and exc.lineno:
        line = exc.lineno
    kept = frames[user_idx[0] :] if user_idx else frames[-2:]
    if isinstance(exc, SyntaxError) and not user_idx:
        kept = []  # a compile error has no user frame; the runner's frames say nothing useful
    cut = 0
    if len(kept) > _MAX_FRAMES_HEAD + _MAX_FRAMES_TAIL:
        cut = len(kept) - _MAX_FRAMES_HEAD - _MAX_FRAMES_TAIL
        kept = kept[:_MAX_FRAMES_HEAD] + kept[-_MAX_FRAMES_TAIL:]
    lines = ["Traceback (most recent call last):\n"] if kept else []
    formatted = traceback.StackSummary.from_list(kept).format()
    if cut:
        formatted.insert(_MAX_FRAMES_HEAD, f"  ... [{cut} more frames] ...\n")
    lines += formatted
    lines += list(te.format_exception_only())
    message = str(exc)
    if isinstance(exc, SystemExit):
        message = f"the program called sys.exit({exc.code!r})"
    elif isinstance(exc, KeyboardInterrupt) and not message:
        message = "the program raised KeyboardInterrupt"
    elif isinstance(exc, MemoryError):
        message = message or "out of memory (the sandbox's memory limit was reached)"
    elif isinstance(exc, SyntaxError):
        message = exc.msg or message
    return {
        "status": status_for_exception(exc),
        "type": type(exc).__name__,
        "message": _clip(message, _MAX_MESSAGE_CHARS),
        "traceback": _clip("".join(lines), _MAX_TRACEBACK_CHARS),
        "line": line,
    }


def error_from_description(d: dict[str, Any]) -> ExecError:
    """Rebuild an ExecError from :func:`describe_exception`'s dict (checking the field types)."""
    line = d.get("line")
    return ExecError(
        type=str(d.get("type", "Error")),
        message=str(d.get("message", "")),
        traceback=str(d.get("traceback", "")),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
    )


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_termination(
    wait_status: int | None, kill_reason: str | None, limits: Any
) -> tuple[str, ExecError]:
    """(status, ExecError) for a job that produced no result.

    ``kill_reason`` is set when the worker killed the job itself ("timeout", "output_limit",
    "result_limit"); otherwise ``wait_status`` is the job process's status from ``waitpid``
    (None when even that is unknown, i.e. the sandbox's own set-up died).
    """
    if kill_reason == "timeout":
        return "timeout", ExecError(
            "Timeout",
            f"the program ran longer than {limits.timeout_s:g} s (wall clock) and was killed",
        )
    if kill_reason == "output_limit":
        return "output_limit", ExecError(
            "OutputLimit",
            f"the program printed more than {limits.max_output_bytes} bytes and was killed",
        )
    if kill_reason == "result_limit":
        return "output_limit", ExecError(
            "OutputLimit", "the runner's result was larger than the sandbox allows"
        )
    if wait_status is None:
        return "crash", ExecError("SandboxError", "the sandbox process died before reporting")
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        meaning = _SIGNAL_MEANING.get(sig, "killed by a signal")
        if sig == signal.SIGXCPU:
            return "timeout", ExecError(
                "CPUTimeLimit",
                f"the program used more than {limits.cpu_s:g} s of CPU time and was killed "
                f"({signal_name(sig)})",
            )
        return "crash", ExecError("Crash", f"the program crashed: {signal_name(sig)} ({meaning})")
    code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else -1
    return "exit", ExecError(
        "Exit",
        f"the program exited with code {code} before finishing "
        "(os._exit or an exit from C code; no result was produced)",
    )
