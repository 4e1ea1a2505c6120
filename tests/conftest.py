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
