"""A host with a custom user model: email login, UUID primary key, no names.

Run on its own settings (the user model is fixed for a whole process)::

    .venv/bin/python -m pytest -p no:cacheprovider tests/custom_user --ds=tests.custom_user.settings

Under the main settings these modules are not collected (see ``conftest.py``); the main
run starts the command above in a subprocess instead (``tests/test_custom_user_run.py``),
so ``make test`` covers them without a separate CI step.
"""
