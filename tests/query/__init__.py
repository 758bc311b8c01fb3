"""Tests of sessions_panel/query/."""
