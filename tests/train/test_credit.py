"""Credit mapping end to end: completion text -> sampled tokens -> render -> defect -> the exact
tokens of the blamed line, with the real tokenizer and the real chart renderer."""

from __future__ import annotations

import numpy as np
import pytest

from vsdpo.artifact import Defect, RenderResult
from vsdpo.code import extract_code
from vsdpo.credit import completion_token_offsets, defect_spans, token_credit

# prose with multi-byte characters, a fenced block, CRLF line breaks, and a planted defect on
# code line 4: text placed off the right edge of the canvas
COMPLETION = (
    "Voilà — here is the chart (données: 売上, 🚀):\r\n"
    "\r\n"
    "```python\r\n"
    "import matplotlib.pyplot as plt\r\n"
    "fig, ax = plt.subplots(figsize=(4, 3))\r\n"
    "ax.bar(['é', 'ü', '中'], [3, 1, 2])\r\n"
    "fig.text(1.2, 0.5, 'Ünïcödé label far off the canvas 🚀')\r\n"
    "ax.set_title('Sales')\r\n"
    "```\r\n"
    "Done — enjoy!"
)
BLAMED_LINE = 4
BLAMED_TEXT = "fig.text(1.2, 0.5, 'Ünïcödé label far off the canvas 🚀')"


@pytest.fixture(scope="module")
def tokenizer(default_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir)


def test_offsets_of_sampled_tokens_rebuild_the_completion(tokenizer) -> None:
    ids = tokenizer(COMPLETION, add_special_tokens=False)["input_ids"]
    ids = [*ids, tokenizer.eos_token_id]  # a sampled completion ends with end-of-turn
    text, offsets = completion_token_offsets(tokenizer, ids)
    assert text == COMPLETION
    assert offsets.shape == (len(ids), 2)
    assert offsets[-1].tolist() == [len(text), len(text)]  # the special token covers nothing
    assert (np.diff(offsets[:, 0]) >= 0).all() and (np.diff(offsets[:, 1]) >= 0).all()
    assert offsets[0, 0] == 0 and offsets[-2, 1] == len(text)
    # where the tokenizer's own offsets are whole characters, ours agree with them
    enc = tokenizer(COMPLETION, add_special_tokens=False, return_offsets_mapping=True)
    agree = [tuple(o) == tuple(m) for o, m in zip(offsets[:-1].tolist(), enc["offset_mapping"])]
    assert np.mean(agree) > 0.9
    # every token that covers characters decodes into exactly those characters, except the
    # byte-level pieces of one multi-byte character, which all cover that character
    for k, (s, e) in enumerate(offsets[:-1].tolist()):
        piece = tokenizer.decode([ids[k]], clean_up_tokenization_spaces=False)
        if "\ufffd" not in piece:
            assert COMPLETION[s:e] == piece


def test_the_weighted_tokens_are_exactly_the_tokens_of_the_blamed_line(tokenizer) -> None:
    from vsdpo.defects import detect_defects
    from vsdpo.render.chart import ChartRenderer

    with ChartRenderer(workers=1, start_heavy=False) as renderer:
        result = renderer.render(COMPLETION)
    assert result.ok, result.error
    assert result.code_offset == COMPLETION.index("import matplotlib")
    defects = detect_defects([result])[0]
    off_canvas = [d for d in defects if BLAMED_LINE in d.lines]
    assert off_canvas, [d.message for d in defects]
    assert all(d.lines == [BLAMED_LINE] for d in defects), [(d.kind, d.lines) for d in defects]

    ids = tokenizer(COMPLETION, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    text, offsets = completion_token_offsets(tokenizer, ids)
    [weights] = token_credit([offsets], [result], [defects], lam=2.0)
    start = COMPLETION.index(BLAMED_TEXT)
    end = start + len(BLAMED_TEXT)
    touches = (offsets[:, 0] < end) & (offsets[:, 1] > start)
    weighted = weights > 1.0
    assert weighted.any()
    assert np.array_equal(weighted, touches)
    severity = sum(d.severity for d in defects)
    assert weights[weighted] == pytest.approx(1.0 + 2.0 * severity, rel=1e-5)
    assert (weights[~weighted] == 1.0).all()
    # the weighted tokens spell the line (plus at most the edges of the neighbouring tokens)
    spelled = tokenizer.decode([ids[k] for k in np.flatnonzero(weighted)])
    assert BLAMED_TEXT in spelled
    assert "\r\n" not in spelled.strip("\r\n")


def test_lambda_zero_gives_uniform_credit_and_bad_lines_are_ignored() -> None:
    code = extract_code(COMPLETION)
    result = RenderResult(ok=True, domain="chart", code=code.code, code_offset=code.offset)
    offsets = np.array([[i, i + 1] for i in range(len(COMPLETION))], dtype=np.int64)
    defects = [Defect("overlap", 0.5, "m", lines=[2]), Defect("exec_error", 1.0, "m", lines=[99])]
    [w] = token_credit([offsets], [result], [defects], lam=0.0)
    assert (w == 1.0).all()
    spans, sw = defect_spans(result, defects, 1.0)
    assert spans.tolist() == [[code.line_spans()[1][0], code.line_spans()[1][1]]]  # line 99 dropped
    assert sw.tolist() == [0.5]
    with pytest.raises(ValueError, match="one entry per rollout"):
        token_credit([offsets], [result, result], [defects], lam=1.0)
