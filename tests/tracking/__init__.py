"""Tests of sessions_panel/tracking/."""
