"""Hypothesis profiles for the property tests.

``halb`` (the default, used by scripts/test): 25 examples per test, no deadline (a
render plus ``keepalived -t``/``nginx -t`` takes tens of milliseconds, more on a
busy machine), derandomized so that a run is reproducible. ``HYPOTHESIS_PROFILE=deep``
runs 500 examples with random seeds, for hunting.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# no "explain" phase: it re-runs the failing case hundreds of times (minutes here)
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]

settings.register_profile(
    "halb", max_examples=25, deadline=None, phases=PHASES, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep", max_examples=500, deadline=None, phases=PHASES, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "halb"))
