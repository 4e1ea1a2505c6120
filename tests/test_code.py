"""vsdpo.code: finding the program in a completion and mapping its lines to completion characters.

An off-by-one here silently breaks credit weighting, so besides the examples there are two
properties: the extracted code always sits at its offset in the completion, and a line number
from a Python traceback names the line that ``line_spans`` gives for it (CRLF and lone CR too).
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vsdpo.code import ExtractedCode, extract_code, line_spans


def assert_offset_invariant(completion: str, ex: ExtractedCode) -> None:
    assert completion[ex.offset : ex.offset + len(ex.code)] == ex.code


# ------------------------------------------------------------------------------ line_spans


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("", [(0, 0)]),
        ("a", [(0, 1)]),
        ("a\n", [(0, 1)]),
        ("a\nb", [(0, 1), (2, 3)]),
        ("a\r\nbé\nc", [(0, 1), (3, 5), (6, 7)]),  # the docstring example
        ("a\rb\rc", [(0, 1), (2, 3), (4, 5)]),  # lone CR
        ("a\r\n\r\nb", [(0, 1), (3, 3), (5, 6)]),  # an empty CRLF line
        ("a\n\rb", [(0, 1), (2, 2), (3, 4)]),  # LF then CR is two breaks, not one
        ("\n", [(0, 0)]),
        ("\n\n", [(0, 0), (1, 1)]),
        ("x = '😀€'\ny", [(0, 8), (9, 10)]),  # code points, not bytes
    ],
)
def test_line_spans_examples(text: str, spans: list[tuple[int, int]]) -> None:
    assert line_spans(text) == spans


LINE_BREAKS = st.sampled_from(["\n", "\r\n", "\r"])
LINE_TEXT = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12
)


@given(
    lines=st.lists(st.tuples(LINE_TEXT, LINE_BREAKS), min_size=1, max_size=12),
    final_break=st.booleans(),
)
def test_line_spans_cut_exactly_at_line_breaks(
    lines: list[tuple[str, str]], final_break: bool
) -> None:
    # "\r" + "" + "\n" would read as one CRLF break, not two: not the text meant here
    assume(
        not any(
            b0 == "\r" and not line and b1.startswith("\n")
            for (_, b0), (line, b1) in itertools.pairwise(lines)
        )
    )
    text = "".join(line + brk for line, brk in lines)
    expected = [line for line, _ in lines]
    if not final_break:
        text = text[: -len(lines[-1][1])]
        if expected[-1] == "" and len(expected) > 1:
            expected.pop()  # "a\n" + "" is just "a\n": no empty last line to report
    spans = line_spans(text)
    assert [text[s:e] for s, e in spans] == expected
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert text[end:start] in ("\n", "\r\n", "\r")


@given(
    statements=st.lists(
        st.sampled_from(["a = 1", "b = 'é😀'", "pass", "", "# note €"]), max_size=8
    ),
    breaks=st.lists(LINE_BREAKS, min_size=10, max_size=10),
)
def test_traceback_line_numbers_name_line_spans(statements: list[str], breaks: list[str]) -> None:
    # the mapping exists to turn a traceback's line number into characters: check it against
    # Python's own numbering, with mixed CRLF / LF / lone CR line breaks
    lines = statements + ["raise ValueError('here')", "c = 2"]
    code = "".join(line + brk for line, brk in zip(lines, breaks))
    try:
        exec(compile(code, "<completion>", "exec"), {})  # noqa: S102 - code generated above
    except ValueError:
        lineno = sys.exc_info()[2].tb_next.tb_lineno
    else:
        pytest.fail("the code did not raise")
    start, end = line_spans(code)[lineno - 1]
    assert code[start:end] == "raise ValueError('here')"


# ------------------------------------------------------------------------------ extract_code


def test_docstring_example() -> None:
    ex = extract_code("Here:\n```python\nimport matplotlib\n```\nDone.")
    assert (ex.code, ex.offset, ex.fenced, ex.language, ex.n_blocks) == (
        "import matplotlib\n",
        16,
        True,
        "python",
        1,
    )


def test_fence_without_language() -> None:
    completion = "Sure.\n```\nx = 1\ny = 2\n```\n"
    ex = extract_code(completion)
    assert (ex.code, ex.fenced, ex.language) == ("x = 1\ny = 2\n", True, "")
    assert_offset_invariant(completion, ex)


def test_tilde_fence_and_upper_case_language() -> None:
    completion = "~~~Python\nplot()\n~~~\n"
    ex = extract_code(completion)
    assert (ex.code, ex.language) == ("plot()\n", "python")


def test_multibyte_characters_before_the_code() -> None:
    completion = "Voilà 📊 — le graphique:\n```python\nplt.title('Température °C 😀')\n```\nFin."
    ex = extract_code(completion)
    assert ex.offset == completion.index("plt.title")  # a str index (code points), not bytes
    assert ex.code == "plt.title('Température °C 😀')\n"
    assert_offset_invariant(completion, ex)
    ((start, end),) = ex.line_spans()
    assert completion[start:end] == "plt.title('Température °C 😀')"


def test_crlf_completion() -> None:
    completion = "Here:\r\n```python\r\nimport numpy as np\r\nprint(1)\r\n```\r\nDone.\r\n"
    ex = extract_code(completion)
    assert ex.code == "import numpy as np\r\nprint(1)\r\n"
    assert ex.offset == completion.index("import")
    assert [completion[s:e] for s, e in ex.line_spans()] == ["import numpy as np", "print(1)"]


def test_lone_cr_completion() -> None:
    # lone CR is a line break for Python's tokenizer, and so for this module
    completion = "Here:\r```python\rx = 1\rprint(x)\r```\rDone."
    ex = extract_code(completion)
    assert (ex.code, ex.fenced) == ("x = 1\rprint(x)\r", True)
    assert [completion[s:e] for s, e in ex.line_spans()] == ["x = 1", "print(x)"]


def test_lone_cr_inside_the_code() -> None:
    completion = "```python\nx = 1\ry = 2\n```\n"
    ex = extract_code(completion)
    assert ex.code == "x = 1\ry = 2\n"
    assert [completion[s:e] for s, e in ex.line_spans()] == ["x = 1", "y = 2"]


def test_two_blocks_longest_suitable_wins() -> None:
    completion = "```python\nshort()\n```\nand a usage example:\n```py\nlonger()\nprogram()\n```\n"
    ex = extract_code(completion)
    assert (ex.code, ex.language, ex.n_blocks) == ("longer()\nprogram()\n", "py", 2)
    assert_offset_invariant(completion, ex)

    completion = "```python\nthe_program()\nis_longer()\n```\nUsage:\n```python\nrun()\n```\n"
    ex = extract_code(completion)
    assert ex.code == "the_program()\nis_longer()\n" and ex.offset == 10


def test_blocks_in_another_language_are_skipped() -> None:
    completion = (
        "```bash\npip install matplotlib seaborn pandas numpy\n```\n```python\nplot()\n```\n"
    )
    ex = extract_code(completion, "chart")
    assert (ex.code, ex.n_blocks) == ("plot()\n", 2)
    html = "```html\n<p>hi</p>\n```\n"
    assert extract_code(html, "web").code == "<p>hi</p>\n"
    assert not extract_code(html, "chart").fenced  # no python block: falls back to the text


def test_unclosed_fence_runs_to_the_end() -> None:
    completion = "Here is the code:\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2"
    ex = extract_code(completion)
    assert ex.code == "import matplotlib.pyplot as plt\nplt.plot([1, 2"
    assert ex.fenced and ex.n_blocks == 1
    assert_offset_invariant(completion, ex)


def test_prose_without_fence_is_the_whole_text_trimmed() -> None:
    completion = "\n\n  \nimport matplotlib\nplot()\n\n\n"
    ex = extract_code(completion)
    assert (ex.code, ex.fenced, ex.language, ex.n_blocks) == (
        "import matplotlib\nplot()",
        False,
        "",
        0,
    )
    assert ex.offset == completion.index("import")
    assert_offset_invariant(completion, ex)


def test_empty_and_blank_completions() -> None:
    for completion in ("", "\n\n", "   "):
        ex = extract_code(completion)
        assert ex.code == "" and not ex.fenced
        assert_offset_invariant(completion, ex)


def test_unknown_domain_is_rejected() -> None:
    with pytest.raises(ValueError, match="domain"):
        extract_code("x", domain="video")


def test_spans_for_lines() -> None:
    completion = "Intro\n```python\na = 1\nb = 2\nc = 3\n```\n"
    ex = extract_code(completion)
    spans = ex.spans_for_lines([3, 1, 99, 0, -1])  # lines outside the code are ignored
    assert spans.dtype == np.int64 and spans.shape == (2, 2)
    assert [completion[s:e] for s, e in spans.tolist()] == ["c = 3", "a = 1"]
    assert ex.spans_for_lines([]).shape == (0, 2)


# ------------------------------------------------------------------------------ property

PIECES = st.sampled_from(
    [
        "```",
        "```python",
        "```py",
        "```html",
        "~~~",
        "  ```",
        "``` python extra",
        "\n",
        "\r\n",
        "\r",
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 2])",
        "x = 'é€😀'",
        "Here is the code:",
        "Ça marche 📊.",
        " ",
        "\t",
        "`",
        "``",
    ]
)
COMPLETIONS = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=30).map("".join)


@given(completion=COMPLETIONS, domain=st.sampled_from(["chart", "slides", "web"]))
def test_code_always_sits_at_its_offset(completion: str, domain: str) -> None:
    ex = extract_code(completion, domain)
    assert completion[ex.offset : ex.offset + len(ex.code)] == ex.code
    assert 0 <= ex.offset <= len(completion)
    for (s, e), (cs, ce) in zip(ex.line_spans(), line_spans(ex.code)):
        assert completion[s:e] == ex.code[cs:ce]
