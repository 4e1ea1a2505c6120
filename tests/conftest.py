"""Shared pytest configuration: hypothesis profiles.

``ci`` (selected when the environment has ``CI=true``) is derandomised, so a CI failure
reproduces exactly, and prints the blob to replay a failing example; ``dev`` explores fresh
random inputs on each run. Neither has a deadline: kernel timings vary with machine load.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
