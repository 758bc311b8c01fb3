"""The Sessions page under the stock admin and under third-party admin themes.

``scripts/theme-tests`` runs ``test_themes.py`` once per theme (the stock admin
included), each in a virtualenv of its own with the theme installed and
``--ds tests.themes.settings_<theme>``; ``pytest tests/themes`` runs it on the stock
admin. Inside the whole suite it skips: see ``conftest.py``.
"""
