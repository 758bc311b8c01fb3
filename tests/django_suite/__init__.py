"""Django's own ``sessions_tests`` run against the tracked engines (see README.md here).

Nothing here is collected by pytest: Django's test runner runs it, through
``scripts/django-suite``.
"""
