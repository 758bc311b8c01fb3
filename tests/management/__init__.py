"""Tests of sessions_panel/management/."""
