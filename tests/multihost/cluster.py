"""The machinery behind the multi-host tests: a database, a Redis and three servers.

Everything is this run's own, so concurrent test runs on the machine never meet: a
PostgreSQL database named after this process, a ``redis-server`` on a free port (which
the tests may flush and stop), and gunicorn servers on free ports of 127.0.0.1. Each
server's wall clock is shifted with libfaketime (``LD_PRELOAD``), and the shift is
measured through the server before any test relies on it.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, LiteralString, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.multihost.web import Host, fetch

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.multihost.settings"
PASSWORD = "multihost-password-1"
ADMIN = "mhadmin"
#: Host name -> clock offset in seconds. ``MULTIHOST_CLOCK_OFFSETS="A=3,B=-3,C=0"``
#: overrides it; a fast and a slow clock are what the tests are about.
DEFAULT_OFFSETS = {"A": 3.0, "B": -3.0, "C": 0.0}
#: How far a measured offset may be from the configured one (request latency).
OFFSET_TOLERANCE = 0.5
STARTUP_TIMEOUT = 60.0
#: Environment a server must not inherit from the test run.
NOT_FOR_SERVERS = (
    "DJANGO_SETTINGS_MODULE",
    "SESSION_ENGINE",
    "SQLITE_PATH",
    "CACHE_KEY_PREFIX",
    "PYTEST_ADDOPTS",
    "PYTEST_CURRENT_TEST",
    "LD_PRELOAD",
    "FAKETIME",
)
FAKETIME_LIBRARIES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/*/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)


def cannot_run(message: str) -> NoReturn:
    """Skips on a machine without the tools; in CI the multi-host tests must run."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clock_offsets() -> dict[str, float]:
    raw = os.environ.get("MULTIHOST_CLOCK_OFFSETS", "")
    if not raw.strip():
        return dict(DEFAULT_OFFSETS)
    offsets = {}
    for item in raw.split(","):
        name, _, value = item.partition("=")
        offsets[name.strip()] = float(value)
    return offsets


def faketime_library() -> str:
    """libfaketime's thread-safe variant (gunicorn's workers run threads)."""
    configured = os.environ.get("FAKETIME_LIB", "")
    if configured:
        if not os.path.exists(configured):
            cannot_run(f"FAKETIME_LIB={configured} does not exist")
        return configured
    for pattern in FAKETIME_LIBRARIES:
        for path in sorted(glob.glob(pattern)):
            if os.path.exists(path):
                return path
    cannot_run(
        "libfaketime is not installed (Debian: apt-get install faketime); the "
        "multi-host tests need it to give each server its own clock"
    )


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Ends a process this module started (its own process group), politely first."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait(timeout=10)


# -- PostgreSQL ------------------------------------------------------------------------


@dataclass
class Database:
    """This run's own database on the server ``DATABASE_URL`` points at."""

    base_url: str
    name: str = field(default_factory=lambda: f"sp_multihost_{os.getpid()}")

    @property
    def url(self) -> str:
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(path=f"/{self.name}"))

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        parts = urlsplit(self.base_url)
        return psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    def create(self) -> None:
        self.drop()  # a leftover of a run that died with this process id
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        with self._admin() as connection:
            connection.execute(statement.format(sql.Identifier(self.name)))

    def execute(
        self, statement: LiteralString | sql.Composed, params: Sequence[object] = ()
    ) -> int:
        """Runs one statement in this run's database; returns the rows it touched."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as connection:
            return int(connection.execute(statement, params).rowcount)


# -- Redis -----------------------------------------------------------------------------


@dataclass
class Redis:
    """A ``redis-server`` of this run's own, which a test may flush, stop and restart.

    No automatic snapshots and no append-only file; an explicit ``SAVE`` writes a
    snapshot into ``directory`` that the next start loads, as a restarted Redis would.
    """

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            cannot_run("redis-server is not installed (Debian: apt-get install redis-server)")
        if self.log is None:
            self.log = open(self.directory / "redis.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.directory),
                "--dbfilename",
                "dump.rdb",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if self.command("PING") == "+PONG":
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 20 s")

    def command(self, *words: str) -> str:
        """One command in Redis's inline protocol; returns the first line of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall((" ".join(words) + "\r\n").encode())
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        return answer.decode().strip()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        if self.log is not None:
            self.log.close()
            self.log = None


# -- the app servers -------------------------------------------------------------------


@dataclass
class Server:
    host: Host
    process: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]
    #: Bytes of the log already shown, so each test shows only its own lines.
    shown: int = 0

    def new_log(self) -> str:
        self.log.flush()
        data = self.log_path.read_bytes()
        text = data[self.shown :].decode(errors="replace")
        self.shown = len(data)
        return text


def measure_offset(host: Host, attempts: int = 5) -> float:
    """The host's clock minus ours, from the fastest of a few round trips."""
    best: tuple[float, float] | None = None
    for _ in range(attempts):
        before = time.time()
        reply = fetch(host, "GET", "/probe/clock/", timeout=10)
        after = time.time()
        if reply.status != 200:
            raise AssertionError(f"the clock probe of {host} answered {reply.excerpt()}")
        offset = float(reply.json()["time"]) - (before + after) / 2
        if best is None or after - before < best[0]:
            best = (after - before, offset)
    assert best is not None
    return best[1]


@dataclass
class Cluster:
    """The running servers, their database and their Redis."""

    hosts: list[Host]
    servers: list[Server]
    database: Database
    redis: Redis
    secret_key: str
    measured: dict[str, float] = field(default_factory=dict)
    #: ``time.monotonic()`` of the last Kill All any test made (see ``settle``).
    last_kill_all: float = 0.0

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def short_id(self, session_key: str) -> str:
        """The session ID the servers show for ``session_key`` (keyed by their secret)."""
        from django.test import override_settings

        from sessions_panel.models import short_id_for

        with override_settings(SECRET_KEY=self.secret_key):
            return short_id_for(session_key)

    @property
    def fast(self) -> Host:
        """The host whose clock is furthest ahead."""
        return max(self.hosts, key=lambda h: h.offset)

    @property
    def slow(self) -> Host:
        """The host whose clock is furthest behind."""
        return min(self.hosts, key=lambda h: h.offset)

    @property
    def spread(self) -> float:
        return self.fast.offset - self.slow.offset

    def new_logs(self) -> str:
        parts = []
        for server in self.servers:
            text = server.new_log().strip()
            if text:
                parts.append(f"--- {server.host} ---\n{text[-6000:]}")
        return "\n".join(parts)


def _manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


USERS_SCRIPT = """
import sys
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
User = get_user_model()
password, admin, count = sys.stdin.read().split()
User.objects.create_superuser(admin, f"{admin}@example.com", password)
hashed = make_password(password)
User.objects.bulk_create(
    User(username=f"mh{i:03d}", email=f"mh{i:03d}@example.com", password=hashed)
    for i in range(int(count))
)
"""


def server_env(database: Database, redis: Redis, secret_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_SERVERS}
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS,
        DATABASE_URL=database.url,
        REDIS_URL=redis.url,
        CACHE_KEY_PREFIX="sp-multihost",
        SECRET_KEY=secret_key,
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_server(name: str, offset: float, env: dict[str, str], library: str, logs: Path) -> Server:
    port = free_port()
    host = Host(name=name, port=port, offset=offset)
    log_path = logs / f"gunicorn-{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 (closed by the cluster's teardown)
    clocked = dict(env, LD_PRELOAD=library, FAKETIME=f"{offset:+g}")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "6",
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--graceful-timeout",
            "3",
            "--chdir",
            str(ROOT),
            "--error-logfile",
            "-",
            "sessionadmin.wsgi:application",
        ],
        cwd=ROOT,
        env=clocked,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(host=host, process=process, log_path=log_path, log=log)


def wait_until_served(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn {server.host} exited with {server.process.returncode}:\n"
                f"{server.new_log()[-4000:]}"
            )
        try:
            if fetch(server.host, "GET", "/probe/clock/", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn {server.host} did not answer within {STARTUP_TIMEOUT:g} s")


@contextmanager
def running_cluster(base_url: str, workdir: Path, users: int) -> Iterator[Cluster]:
    """Creates and migrates the database, starts Redis and the servers; undoes it all."""
    if importlib.util.find_spec("gunicorn") is None:
        cannot_run("gunicorn is not installed in this environment (it is a dev dependency)")
    library = faketime_library()
    secret_key = f"multihost-{os.getpid()}-{time.time_ns()}"
    with ExitStack() as stack:
        database = Database(base_url)
        database.create()
        stack.callback(database.drop)
        redis = Redis(directory=workdir)
        stack.callback(redis.close)
        redis.start()
        env = server_env(database, redis, secret_key)
        _manage(env, "migrate", "--noinput")
        _manage(env, "shell", "-c", USERS_SCRIPT, stdin=f"{PASSWORD} {ADMIN} {users}")
        servers: list[Server] = []
        for name, offset in clock_offsets().items():
            server = start_server(name, offset, env, library, workdir)
            servers.append(server)
            stack.callback(server.log.close)
            stack.callback(stop_process, server.process)
        for server in servers:
            wait_until_served(server)
        cluster = Cluster(
            hosts=[s.host for s in servers],
            servers=servers,
            database=database,
            redis=redis,
            secret_key=secret_key,
        )
        cluster.measured = {h.name: measure_offset(h) for h in cluster.hosts}
        wrong = {
            str(h): f"{cluster.measured[h.name]:+.3f} s"
            for h in cluster.hosts
            if abs(cluster.measured[h.name] - h.offset) > OFFSET_TOLERANCE
        }
        if wrong:  # every test would pass without proving anything about clock skew
            raise RuntimeError(f"libfaketime is not in effect; the servers' clocks: {wrong}")
        yield cluster
