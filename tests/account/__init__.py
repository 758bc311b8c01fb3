"""Tests of sessions_panel/account/."""
