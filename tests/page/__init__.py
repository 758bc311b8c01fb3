"""Tests of sessions_panel/page/."""
