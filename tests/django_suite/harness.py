"""Runs Django's own ``sessions_tests`` against the tracked engines (README.md here).

Usage (through ``scripts/django-suite``, with the Python whose Django is tested)::

    python tests/django_suite/harness.py [--simple-testcases skip|as-is|with-db]
                                         [--cache-dir DIR] [runtests.py options]

1. Fetches the source release of the installed Django (``django.get_version()``) from
   PyPI with ``pip download``, once: the sdist and its extracted ``tests/`` stay in the
   cache directory (``.cache/django-suite/`` at the repository root by default).
2. Writes ``runtests_sessions_panel.py`` beside the release's ``runtests.py``: a copy
   with one line added, extending ``ALWAYS_INSTALLED_APPS`` (the runner replaces
   ``INSTALLED_APPS`` with that list plus the apps of the test labels) with the apps
   the tracked engines need. A copy, not a patched import, so that every option of
   the runner works as documented and its worker processes run the same code.
3. Runs it on Django's ``sessions_tests`` (the baseline, unchanged) and on
   ``tests.django_suite.tracked`` (the same classes, backend swapped), with
   ``tests.django_suite.settings``. Its exit status is the harness's.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = REPO / ".cache" / "django-suite"
RUNNER_NAME = "runtests_sessions_panel.py"
#: The apps of the tracked engines, appended to the runner's always-installed apps.
EXTRA_APPS = ("django_htmx", "sessions_panel")
#: ``ALWAYS_INSTALLED_APPS = [...]`` in runtests.py, up to its closing bracket.
APPS_LIST = re.compile(r"^ALWAYS_INSTALLED_APPS = \[\n.*?^\]\n", re.MULTILINE | re.DOTALL)
#: Ours first: the runner keeps label order within each kind of test case, and Django's
#: file store caches its directory on its class (``_storage_path``), where our
#: subclass would inherit it and ``FileSessionTests.setUp`` fail to delete it.
LABELS = ("tests.django_suite.tracked", "sessions_tests")


def fetch_sdist(version: str, cache: Path) -> Path:
    """The release's source distribution, downloaded from PyPI unless cached."""
    found = sorted(cache.glob(f"[dD]jango-{version}.tar.gz"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as download:
        print(f"Downloading the Django {version} source release from PyPI", flush=True)
        subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps"),
                *(f"django=={version}", "--dest", download),
            ],
            check=True,
        )
        (sdist,) = Path(download).glob("*.tar.gz")
        # A rename is atomic: a concurrent run sees the whole file or none.
        return sdist.replace(cache / sdist.name)


def extract_tests(sdist: Path, version: str, cache: Path) -> Path:
    """The release's ``tests/`` directory, extracted from the sdist unless cached."""
    tests = cache / version / "tests"
    if tests.is_dir():
        return tests
    with tempfile.TemporaryDirectory(dir=cache) as scratch, tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/", 1)[0]
        members = [m for m in archive.getmembers() if m.name.startswith(f"{top}/tests/")]
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: refuse odd members
            archive.extractall(scratch, members=members, filter="data")
        else:  # pragma: no cover
            archive.extractall(scratch, members=members)
        tests.parent.mkdir(exist_ok=True)
        try:
            Path(scratch, top, "tests").rename(tests)
        except OSError:
            if not tests.is_dir():  # not a concurrent run that got there first
                raise
    return tests


def write_runner(tests: Path) -> Path:
    """``runtests.py`` with ``EXTRA_APPS`` added to ``ALWAYS_INSTALLED_APPS``."""
    source = (tests / "runtests.py").read_text()
    matches = list(APPS_LIST.finditer(source))
    if len(matches) != 1:
        sys.exit(f"{tests / 'runtests.py'}: no single ALWAYS_INSTALLED_APPS list to extend")
    end = matches[0].end()
    added = (
        "# Added by sessions_panel's tests/django_suite/harness.py: the tracked engines' apps.\n"
        f"ALWAYS_INSTALLED_APPS += {list(EXTRA_APPS)!r}\n"
    )
    runner = tests / RUNNER_NAME
    with tempfile.NamedTemporaryFile("w", dir=tests, suffix=".tmp", delete=False) as out:
        out.write(source[:end] + added + source[end:])
    Path(out.name).replace(runner)  # atomic, for concurrent runs
    return runner


def forget_cache_keys(run_id: str) -> None:
    """Deletes this run's Redis keys: sessions live for weeks, runs come daily."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"django-suite-{run_id}:*", count=1000))
    if keys:
        client.delete(*keys)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        epilog="Other options go to Django's runtests.py (e.g. -v 2, -k test_cycle).",
    )
    parser.add_argument(
        "--simple-testcases",
        choices=("skip", "as-is", "with-db"),
        default="skip",
        help="SimpleTestCase classes with a tracked backend: list them as not applicable "
        "(default), run them with only the backend swapped, or also declare "
        'databases = {"default"}',
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(os.environ.get("DJANGO_SUITE_CACHE", DEFAULT_CACHE)),
        help="where the Django source release is kept (default: %(default)s)",
    )
    options, runner_args = parser.parse_known_args(argv)
    version = django.get_version()
    cache = options.cache_dir.resolve()
    tests = extract_tests(fetch_sdist(version, cache), version, cache)
    runner = write_runner(tests)

    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    env = {
        **os.environ,
        # The repository: the harness's modules, and the work tree's sessions_panel.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "DJANGO_SUITE_RUN_ID": run_id,
        "DJANGO_SUITE_SIMPLE_TESTCASES": options.simple_testcases,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if not any(arg.startswith("--parallel") for arg in runner_args):
        # One process unless asked: the run takes seconds, and the parallel runner
        # cannot report a failure whose traceback does not pickle (without tblib).
        runner_args.insert(0, "--parallel=1")
    command = [
        sys.executable,
        str(runner),
        "--settings=tests.django_suite.settings",
        "--noinput",
        *LABELS,
        *runner_args,  # after the labels: an option may end with an optional value
    ]
    try:
        return subprocess.run(command, cwd=tests, env=env, check=False).returncode
    finally:
        forget_cache_keys(run_id)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
