"""The custom-user-model suite (``tests/custom_user``), run from the main suite.

Those tests need ``AUTH_USER_MODEL`` set to an email-login, UUID-keyed model, which is
fixed for a whole process, so they run in a child pytest on their own settings. Running
them from here puts them in every ``make test`` and CI job (SQLite, PostgreSQL, Django
5.2 and 6.1) without a step anyone could forget, and a child run that collects nothing
or skips anything fails here: the suite cannot go quietly missing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [
    sys.executable,
    "-m",
    "pytest",
    "-p",
    "no:cacheprovider",
    "-q",
    "tests/custom_user",
    "--ds=tests.custom_user.settings",
]


def test_the_custom_user_model_suite_passes_on_its_own_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        COMMAND, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    tail = "\n".join(output.splitlines()[-60:])
    assert done.returncode == 0, f"{' '.join(COMMAND[2:])} failed:\n{tail}"
    summary = output.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 30, f"too few tests ran:\n{tail}"
    assert not re.search(r"skipped|xfailed|deselected|error", summary), summary
