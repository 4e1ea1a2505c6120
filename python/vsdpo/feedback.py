"""Privileged feedback: what the teacher is told about one rollout's render.

The teacher is the same network as the student, conditioned on the original prompt plus this
feedback: the defects in plain words with their code lines, or the execution error with a
trimmed traceback, or "no defects" for a clean render; optionally a successful sibling from the
same group as a demonstration; for vision-language models also the rendered image. Templates are
plain ``str.format`` strings so users can reword them from the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vsdpo.artifact import Defect, DefectKind, RenderResult


@dataclass(frozen=True)
class FeedbackTemplates:
    defects: str = (
        "Your previous program ran, but its render has these visual problems:\n{defects}\nFix them."
    )
    error: str = "Your previous program failed to run:\n{error}\nFix it so that it runs."
    clean: str = "Your previous program ran and its render has no visual defects."
    demonstration: str = (
        "\nHere is a program that worked for the same task:\n```{language}\n{code}\n```"
    )
    teacher: str = "{prompt}\n\n### Feedback on an earlier attempt\n{feedback}{demonstration}"
    max_defects: int = 8  # the most severe ones; the rest are counted
    traceback_lines: int = 6  # the last lines of the traceback, where the cause is
    max_chars: int = 1200  # the whole feedback (before the demonstration)


DOMAIN_LANGUAGE = {"chart": "python", "slides": "python", "web": "html"}


def _trim_traceback(tb: str, n_lines: int) -> str:
    lines = [ln for ln in tb.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n_lines:])


def describe(result: RenderResult, defects: Sequence[Defect], t: FeedbackTemplates) -> str:
    """The feedback paragraph for one rollout (without any demonstration)."""
    failure = next((d for d in defects if d.kind == DefectKind.EXEC_ERROR), None)
    if not result.ok or failure is not None:
        err = result.error
        text = err.summary() if err else (failure.message if failure else "unknown error")
        tb = _trim_traceback(err.traceback, t.traceback_lines) if err and err.traceback else ""
        if tb and tb.splitlines()[-1].strip() != text.strip():
            text = f"{text}\n{tb}"
        body = t.error.format(error=text)
    elif not defects:
        body = t.clean
    else:
        shown = [f"- {d.message}" for d in defects[: t.max_defects]]
        if len(defects) > t.max_defects:
            shown.append(f"- ... and {len(defects) - t.max_defects} smaller problems")
        body = t.defects.format(defects="\n".join(shown))
    if len(body) > t.max_chars:
        body = body[: t.max_chars - 3] + "..."
    return body


def pick_demonstration(rewards: Sequence[float], index: int, min_reward: float) -> int | None:
    """The best sibling (not ``index`` itself) scoring at least ``min_reward``, if any."""
    best: int | None = None
    for j, r in enumerate(rewards):
        if j != index and r >= min_reward and (best is None or r > rewards[best]):
            best = j
    return best


def teacher_message(
    prompt: str,
    feedback: str,
    t: FeedbackTemplates,
    *,
    demonstration_code: str | None = None,
    domain: str = "chart",
) -> str:
    """The teacher's user message: the original prompt plus the feedback (and a demonstration)."""
    demo = ""
    if demonstration_code:
        demo = t.demonstration.format(
            language=DOMAIN_LANGUAGE.get(domain, ""), code=demonstration_code.strip("\n")
        )
    return t.teacher.format(prompt=prompt, feedback=feedback, demonstration=demo)
