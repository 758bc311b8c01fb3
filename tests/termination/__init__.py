"""Tests of sessions_panel/termination/."""
