"""Project scripts; a package so tests can import the Python ones (scripts.check_dist)."""

from __future__ import annotations
