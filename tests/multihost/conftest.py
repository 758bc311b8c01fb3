"""Fixtures of the multi-host tests: the cluster (once for this package) and fresh people
for each test.

The tests run only against PostgreSQL and Redis (``DATABASE_URL`` and ``REDIS_URL``, as
in the suite's PostgreSQL job); on SQLite they are skipped. Missing tools (libfaketime,
redis-server, gunicorn) skip them on a developer's machine and fail them in CI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.multihost.cluster import Cluster, running_cluster

#: Normal (not staff) users created up front; each test takes fresh ones.
USERS = 120
POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(POSTGRES_SCHEMES):
        pytest.skip("multi-host tests need DATABASE_URL pointing at PostgreSQL")
    if not os.environ.get("REDIS_URL"):
        pytest.skip("multi-host tests need REDIS_URL (they run the cached_db engine)")
    with running_cluster(url, tmp_path_factory.mktemp("multihost"), USERS) as running:
        yield running


class People:
    """Hands out users no other test has used, so no test inherits another's kills
    (a user kill's epoch stays with the user)."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> list[str]:
        if self.next + count > USERS:
            raise RuntimeError(f"more than {USERS} users needed: raise USERS in conftest.py")
        names = [f"mh{i:03d}" for i in range(self.next, self.next + count)]
        self.next += count
        return names


@pytest.fixture(scope="package")
def _people() -> People:
    return People()


@pytest.fixture
def people(cluster: Cluster, _people: People) -> People:
    return _people


@pytest.fixture(autouse=True)
def _settled(cluster: Cluster) -> Iterator[None]:
    """Waits, before a test, until the last Kill All is older than the clocks' spread,
    and shows the servers' log lines of the test if it fails.

    A Kill All stamped by a fast clock would otherwise refuse the next test's first
    logins on a slow host, and that test would fail for the previous test's reason.
    """
    wait = cluster.last_kill_all + cluster.spread + 1.0 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    cluster.new_logs()  # what earlier tests logged is theirs
    yield
    logs = cluster.new_logs()
    if logs:
        print(f"server logs during this test:\n{logs}")
