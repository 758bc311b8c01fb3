"""Benchmarks for django-sessions-panel (not part of the test run); see ``bench/run.py``."""

from __future__ import annotations

#: Bump when the seeded data changes shape, so stale seed caches are not reused.
SEED_VERSION = 5
