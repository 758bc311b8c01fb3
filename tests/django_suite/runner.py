"""Django's ``DiscoverRunner``, plus what the harness needs around Django's test run.

Two additions, both outside the tests:

* sessions_panel's checks of the host project's settings are silenced. Django's
  ``runtests.py`` sets ``MIDDLEWARE`` itself, and ``SESSION_ENGINE`` stays Django's
  default so that the baseline classes test Django's engines; the checks would
  rightly report both and abort the run before any test.
* A summary after Django's own output: counts per class, what was not run with a
  tracked engine and why, and a last line ``N passed, M failed``. A test counts as
  passed only if it started and failed nowhere (a failing subtest fails its test).
"""

from __future__ import annotations

import re
import sys
import unittest
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

import django
from django.conf import settings
from django.test.runner import DiscoverRunner
from django.test.utils import override_settings

if TYPE_CHECKING:
    TextResult = unittest.TextTestResult[Any]
else:
    TextResult = unittest.TextTestResult

#: sessions_panel's checks of the host project: tracked engine, its middleware, htmx.
HOST_CHECKS = (
    "sessions_panel.E001",
    "sessions_panel.E003",
    "sessions_panel.E004",
    "sessions_panel.E005",
)
TRACKED_MODULE = "tests.django_suite.tracked"
DJANGO_MODULE = "sessions_tests.tests"
#: How unittest describes a class or module fixture that failed: "setUpClass (a.B)".
FIXTURE = re.compile(r"^\w+ \((?P<where>[\w.]+)\)$")


class StartedTests(TextResult):
    """Remembers the tests that started: one that never ran has not passed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: set[str] = set()

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self.started.add(test.id())


def _cases(suite: Iterable[Any]) -> Iterator[unittest.TestCase]:
    for test in suite:
        if isinstance(test, unittest.TestCase):
            yield test
        else:
            yield from _cases(test)


def _case(test: Any) -> Any:
    """The test a subtest belongs to (a test is its own)."""
    return getattr(test, "test_case", test)


def _class_label(case: unittest.TestCase) -> str:
    return f"{type(case).__module__}.{type(case).__qualname__}"


class Tally:
    """Counts per class of one run, from its tests (id -> class) and its result."""

    def __init__(self, owner: dict[str, str], result: Any) -> None:
        self.classes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for label in owner.values():
            self.classes[label]["tests"] += 1
        failed: set[str] = set()
        for test, _ in [*result.failures, *result.errors]:
            case = _case(test)
            if isinstance(case, unittest.TestCase):
                failed.add(case.id())
            else:  # a fixture (setUpClass, setUpModule) failed: no test to blame
                match = FIXTURE.match(str(case))
                self.classes[match["where"] if match else str(case)]["failed"] += 1
        failed.update(_case(test).id() for test in result.unexpectedSuccesses)
        skipped = {test.id(): reason for test, reason in result.skipped}
        started: set[str] = getattr(result, "started", set(owner))
        for test_id, label in owner.items():
            counts = self.classes[label]
            if test_id in failed:
                counts["failed"] += 1
            elif test_id not in started:
                counts["not run"] += 1
            elif test_id in skipped:
                kind = "n/a" if skipped[test_id].startswith("not applicable:") else "skipped"
                counts[kind] += 1
            else:
                counts["passed"] += 1

    def total(self, what: str, module: str | None = None) -> int:
        return sum(
            counts[what]
            for label, counts in self.classes.items()
            if module is None or label.startswith(module + ".")
        )

    def lines(self) -> list[str]:
        width = max((len(label.rsplit(".", 1)[-1]) for label in self.classes), default=0)
        out = []
        for module, title in ((DJANGO_MODULE, "baseline"), (TRACKED_MODULE, "tracked ")):
            for label, counts in self.classes.items():
                if label.startswith(module + "."):
                    out.append(f"  {title} {label.rsplit('.', 1)[-1]:<{width}}  {_counts(counts)}")
        others = [label for label in self.classes if not label.startswith(_KNOWN)]
        out.extend(f"  other    {label}  {_counts(self.classes[label])}" for label in others)
        return out


_KNOWN = (DJANGO_MODULE + ".", TRACKED_MODULE + ".")


def _counts(counts: dict[str, int]) -> str:
    text = f"{counts['passed']} passed, {counts['failed']} failed"
    extra = [f"{counts[kind]} {kind}" for kind in ("skipped", "n/a", "not run") if counts[kind]]
    return ", ".join([text, *extra])


class SuiteRunner(DiscoverRunner):
    #: Test id -> class label, taken before the run: unittest's suites drop their
    #: tests as they run them.
    owner: dict[str, str]

    def get_resultclass(self) -> type[TextResult]:
        base = super().get_resultclass()  # Django's, for --debug-sql or --pdb
        if base is None:
            return StartedTests
        return cast("type[TextResult]", type(f"Started{base.__name__}", (StartedTests, base), {}))

    def run_checks(self, databases: Any) -> None:
        silenced = [*settings.SILENCED_SYSTEM_CHECKS, *HOST_CHECKS]
        with override_settings(SILENCED_SYSTEM_CHECKS=silenced):
            super().run_checks(databases)

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        self.owner = {case.id(): _class_label(case) for case in _cases(suite)}
        return super().run_suite(suite, **kwargs)

    def suite_result(self, suite: Any, result: Any, **kwargs: Any) -> int:
        failures: int = super().suite_result(suite, result, **kwargs)
        tally = Tally(self.owner, result)
        tracked = sys.modules.get(TRACKED_MODULE)
        sys.stderr.flush()
        print()
        print(f"Django {django.get_version()} sessions_tests, per class:")
        print("\n".join(tally.lines()))
        if tracked is not None:
            print("Not run with a tracked engine:")
            for what, why in tracked.NOT_APPLICABLE:
                print(f"  {what}: {why}")
            if tracked.MODIFIED:
                print("Changed beyond the backend swap:")
                for what, why in tracked.MODIFIED:
                    print(f"  {what}: {why}")
        for module, title in ((DJANGO_MODULE, "baseline"), (TRACKED_MODULE, "tracked")):
            kinds = ("passed", "failed", "skipped", "n/a", "not run")
            print(f"{title}: {_counts({kind: tally.total(kind, module) for kind in kinds})}")
        print(f"{tally.total('passed')} passed, {tally.total('failed')} failed", flush=True)
        return failures
