"""One system under test, in its own process and interpreter, driven over stdin/stdout.

The driver starts it as ``python -m bench.peers.worker`` with ``DJANGO_SETTINGS_MODULE``
naming the system's host settings (ours with the project's virtualenv, the peers with
``.venv-peers``), then sends one JSON command a line and reads one JSON answer a line.
A long-lived process per system is what lets the driver interleave the systems round by
round while each keeps its warm connections, caches and compiled templates, as a real
server process would. Logs go to stderr; stdout carries the answers only.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import traceback
from importlib import metadata
from typing import Any, TextIO

import django


def log(message: str) -> None:
    print(f"    [{os.environ.get('PEERS_SYSTEM', '?')}] {message}", file=sys.stderr, flush=True)


def fresh() -> dict[str, Any]:
    """An empty database and cache of this system's own (never another's)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        for suffix in ("", "-journal", "-wal", "-shm"):
            path = f"{db['NAME']}{suffix}"
            if os.path.exists(path):
                os.unlink(path)
        os.makedirs(os.path.dirname(db["NAME"]), exist_ok=True)
    else:
        import psycopg

        name = db["NAME"]
        assert name.startswith("peers_"), name  # only the bench's own databases
        with psycopg.connect(
            dbname="postgres",
            user=db["USER"],
            password=db["PASSWORD"] or None,
            host=db["HOST"],
            port=db["PORT"],
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    from django.core.cache import caches

    caches["default"].clear()  # Redis: FLUSHDB of this system's own database (11–13)
    return {"ok": True}


def meta() -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]}"
        else:
            cursor.execute("show server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        from django.core.cache import caches

        client: Any = caches["default"]._cache.get_client(None)  # type: ignore[attr-defined]
        database += f" + Redis {client.info('server')['redis_version']}"
    package = {
        "ours": "django-sessions-panel",
        "qsessions": "django-qsessions",
        "user_sessions": "django-user-sessions",
    }[settings.SYSTEM]
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "django": django.get_version(),
        "package": f"{package} {metadata.version(package)}",
        "engine": settings.SESSION_ENGINE,
        "session_middleware": next(m for m in settings.MIDDLEWARE if "Session" in m),
        "database": database,
        "middleware": list(settings.MIDDLEWARE),
    }


def make_system(n: int) -> Any:
    from django.conf import settings

    if settings.SYSTEM == "ours":
        from bench.peers.ours import Ours

        return Ours(n, log)
    from bench.peers.peers import QSessions, UserSessions

    return {"qsessions": QSessions, "user_sessions": UserSessions}[settings.SYSTEM](n, log)


def serve(n: int, answers: TextIO) -> None:
    system = None
    for line in sys.stdin:
        command = json.loads(line)
        name = command["cmd"]
        try:
            if name == "quit":
                break
            if name == "fresh":
                result: Any = fresh()
            elif name == "migrate":
                from django.core.management import call_command

                call_command("migrate", verbosity=0, interactive=False)
                result = {"ok": True}
            elif name == "meta":
                result = meta()
            else:
                if system is None:
                    system = make_system(n)
                if name == "seed":
                    result = system.seed()
                elif name == "setup":
                    system.setup()
                    result = {"ok": True}
                elif name == "time":
                    result = system.time(command["scenario"])
                elif name == "mw":
                    result = system.middleware_round(command["kind"])
                elif name == "facts":
                    result = system.facts()
                elif name == "kill_all":
                    result = system.kill_all(command.get("mode", "admin"))
                    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
                    result["peak_rss_mb"] = peak / 1024
                else:
                    raise ValueError(f"unknown command {name!r}")
        except Exception as error:
            log(traceback.format_exc())
            result = {"error": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(result, default=str) + "\n")
        answers.flush()


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # a stray print must not break the protocol
    django.setup()
    serve(int(os.environ["PEERS_N"]), answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
