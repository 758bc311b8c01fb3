"""Tests of sessions_panel/backends/."""
