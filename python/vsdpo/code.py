"""Finding the program inside a completion, and mapping its lines back to completion characters.

A completion is usually prose around a fenced code block. The renderers run only the code, and
report defects by code line; credit assignment needs the *completion* characters of those lines
(then the tokens covering them). :class:`ExtractedCode` keeps the code's character offset inside
the completion so the mapping is exact.

Offsets are Python ``str`` indices (code points), which is what Hugging Face fast tokenizers
report in ``offset_mapping``, so multi-byte characters need no special handling. Line breaks are
the ones Python's own tokenizer counts (``\\r\\n``, ``\\r``, ``\\n``), so a line number from a
traceback or a frame is the line number here, CRLF included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# A fence is a whole line: ```lang (or ~~~lang) opens, a bare ``` (or ~~~) closes. Lines are
# matched one by one (not with re.MULTILINE, whose ^ and $ know only \n) so CRLF and lone CR
# completions work. A missing closing fence (a truncated completion) runs to the end.
_FENCE_OPEN = re.compile(r"[ \t]*(```|~~~)[ \t]*([\w+#.-]*).*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

#: languages accepted for each domain's code block; an unlabelled block is accepted by all
DOMAIN_LANGUAGES: dict[str, frozenset[str]] = {
    "chart": frozenset({"python", "py", "python3"}),
    "slides": frozenset({"python", "py", "python3"}),
    "web": frozenset({"html", "htm", "xhtml"}),
}


@dataclass(frozen=True)
class ExtractedCode:
    """The program found in a completion, and where it sits."""

    code: str
    offset: int  # completion[offset : offset + len(code)] == code
    fenced: bool  # True when the code came from a fenced block
    language: str = ""  # the fence's language tag, lower-case ("" if none)
    n_blocks: int = 0  # how many fenced blocks the completion had

    def line_spans(self) -> list[tuple[int, int]]:
        """Character spans ``[start, end)`` of each code line, in *completion* coordinates."""
        return [(s + self.offset, e + self.offset) for s, e in line_spans(self.code)]

    def spans_for_lines(self, lines: list[int] | np.ndarray) -> np.ndarray:
        """Completion character spans i64[S, 2] of the given 1-based code lines.

        Lines outside the code are ignored (a traceback can point into library code)."""
        spans = self.line_spans()
        out = [spans[n - 1] for n in lines if 1 <= n <= len(spans)]
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def line_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` character span of each line of ``text``, without its line break.

    >>> line_spans("a\\r\\nbé\\nc")
    [(0, 1), (3, 5), (6, 7)]
    """
    spans = []
    start = 0
    for m in _LINE_BREAK.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    if start < len(text) or not spans:
        spans.append((start, len(text)))
    return spans


def extract_code(completion: str, domain: str = "chart") -> ExtractedCode:
    """Find the program in a model completion.

    Rules, in order:
    1. Fenced blocks (```` ``` ```` or ``~~~``) whose language suits ``domain`` (or that have no
       language tag): the longest one wins, because models often add a short usage example
       after the real program. A block whose closing fence is missing (truncated generation)
       runs to the end of the completion.
    2. No suitable fenced block: the whole completion, minus leading and trailing blank lines.

    >>> ex = extract_code("Here:\\n```python\\nimport matplotlib\\n```\\nDone.")
    >>> ex.code, ex.offset
    ('import matplotlib\\n', 16)
    """
    accepted = DOMAIN_LANGUAGES.get(domain)
    if accepted is None:
        raise ValueError(f"domain must be one of {sorted(DOMAIN_LANGUAGES)}, got {domain!r}")

    blocks: list[tuple[int, int, str]] = []  # (start, end, language)
    lines = line_spans(completion)
    k = 0
    while k < len(lines):
        s, e = lines[k]
        opening = _FENCE_OPEN.fullmatch(completion, s, e)
        if opening is None:
            k += 1
            continue
        fence, language = opening.group(1), opening.group(2).lower()
        body_start = lines[k + 1][0] if k + 1 < len(lines) else len(completion)
        body_end, k = len(completion), k + 1
        while k < len(lines):
            cs, ce = lines[k]
            k += 1
            if completion[cs:ce].strip() == fence:
                body_end = cs
                break
        blocks.append((body_start, body_end, language))

    suitable = [b for b in blocks if b[2] in accepted or b[2] == ""]
    if suitable:
        start, end, language = max(suitable, key=lambda b: b[1] - b[0])
        return ExtractedCode(completion[start:end], start, True, language, len(blocks))

    # No fence: the whole text, trimmed of blank lines at both ends (keeping the offset exact).
    start = 0
    for s, e in line_spans(completion):
        if completion[s:e].strip():
            start = s
            break
    else:
        start = len(completion)
    end = len(completion.rstrip())
    return ExtractedCode(completion[start:end], start, False, "", len(blocks))
