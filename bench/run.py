"""The benchmark: seed N sessions, measure the page, search, kills and the middleware.

Usage (from the repository root)::

    .venv/bin/python bench/run.py --quick                      # 10k, smoke test (~1 min)
    .venv/bin/python bench/run.py --sizes 10000,100000,1000000 # the README table
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/run.py --sizes 100000           # SQLite, then PostgreSQL + Redis

Every (store, N) runs in its own process on a fresh database (``bench/bench.sqlite3``,
or the PostgreSQL database ``bench`` and Redis database 1 under the prefix
``sp-bench``), seeded, measured, and Kill All last. Results accumulate in
``bench/results.json`` (latest figures per store and N) and are rendered to
``bench/results.md``; ``--fresh`` starts both anew.

Options: ``--runs`` (medians of at least this many runs, default 5), ``--stores``
(``auto``: SQLite, plus PostgreSQL + Redis when ``DATABASE_URL`` and ``REDIS_URL`` are
set), ``--reuse-seed`` (SQLite: copy a seed made in the last 3 hours instead of
seeding again), ``--sqlite-analyze`` (give SQLite's planner statistics; off by default,
as Django never runs ``ANALYZE``), ``--naive-budget`` (seconds for the naive baseline),
``--skip-kill-all``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SEED_MAX_AGE = 3 * 3600

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(message, flush=True)


# -- the parent: one process per (store, N) ---------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="numbers of sessions, comma-separated"
    )
    parser.add_argument("--runs", type=int, default=5, help="at least this many timed runs")
    parser.add_argument("--quick", action="store_true", help="10k sessions only")
    parser.add_argument("--stores", default="auto", help="auto, sqlite, postgresql or all")
    parser.add_argument(
        "--reuse-seed", action="store_true", help="SQLite: reuse a seed made in the last 3 hours"
    )
    parser.add_argument(
        "--sqlite-analyze", action="store_true", help="give SQLite's planner statistics"
    )
    parser.add_argument(
        "--naive-budget", type=float, default=90.0, help="seconds for the naive baseline"
    )
    parser.add_argument("--skip-kill-all", action="store_true", help="leave the data in place")
    parser.add_argument(
        "--purge-budget", type=float, default=600.0, help="seconds before the purge is cut"
    )
    parser.add_argument(
        "--only",
        default="",
        help=(
            "comma-separated phases to run "
            "(page,plans,indexes,memory,naive,middleware,kills,killall)"
        ),
    )
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--results", default=str(BENCH_DIR / "results.md"), help="Markdown output (+ .json)"
    )
    # Internal: the child processes.
    parser.add_argument("--worker", nargs=2, metavar=("STORE", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--memprobe", choices=["page", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--session-key", help=argparse.SUPPRESS)
    parser.add_argument("--stop-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def store_env(store: str) -> dict[str, str]:
    env = os.environ.copy()
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SESSION_ENGINE", None)
    if store == "sqlite":
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.setdefault("BENCH_SQLITE_PATH", str(BENCH_DIR / "bench.sqlite3"))
    return env


def command_line(data: dict[str, Any]) -> str:
    sizes = sorted({int(n) for by_size in data["stores"].values() for n in by_size})
    listed = ",".join(str(n) for n in sizes) or "10000,100000,1000000"
    return f".venv/bin/python bench/run.py --sizes {listed}"


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.worker or args.memprobe or args.probe:
        return child(args)
    sizes = [10_000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",")]
    has_pg = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    if args.stores == "auto":
        stores = ["sqlite", "postgresql"] if has_pg else ["sqlite"]
    elif args.stores == "all":
        stores = ["sqlite", "postgresql"]
    else:
        stores = args.stores.split(",")
    if "postgresql" in stores and not has_pg:
        log("PostgreSQL + Redis needs DATABASE_URL and REDIS_URL.")
        return 2

    from bench import report

    results_md = Path(args.results)
    results_json = results_md.with_suffix(".json")
    data = {"stores": {}} if args.fresh else report.load(results_json)
    status = 0
    for store in stores:
        for n in sizes:
            log(f"\n=== {report.STORES[store]}, N = {n:,} ===")
            out = BENCH_DIR / f".worker-{store}-{n}.json"
            out.unlink(missing_ok=True)
            forward = [
                "--runs", str(args.runs), "--naive-budget", str(args.naive_budget),
                "--purge-budget", str(args.purge_budget),
                "--out", str(out),
            ]  # fmt: skip
            for flag in ("reuse_seed", "sqlite_analyze", "skip_kill_all"):
                if getattr(args, flag):
                    forward.append("--" + flag.replace("_", "-"))
            if args.only:
                forward += ["--only", args.only]
            started = time.perf_counter()
            code = subprocess.call(
                [sys.executable, __file__, "--worker", store, str(n), *forward],
                env=store_env(store),
                cwd=ROOT,
            )
            if code != 0 or not out.exists():
                log(f"worker failed (exit {code})")
                status = 1
                continue
            entry = json.loads(out.read_text())
            out.unlink()
            by_size = data["stores"].setdefault(store, {})
            previous = by_size.get(str(n))
            if args.only and previous is not None:  # a partial re-run updates its figures
                previous["results"].update(entry["results"])
                for part in ("plans", "details", "indexes"):
                    if entry[part]:
                        previous[part] = entry[part]
                previous["meta"]["note"] += f"; re-run {entry['meta']['date'][:16]}: {args.only}"
                entry = previous
            by_size[str(n)] = entry
            report.save(results_json, data)
            log(f"--- done in {time.perf_counter() - started:,.0f} s")
            log("\n".join(report.store_table(store, {str(n): entry})))
    results_md.write_text(report.render(data, command_line(data)) + "\n")
    log(f"\n{report.render(data, command_line(data))}")
    log(f"\nWritten to {results_md} (raw figures: {results_json}).")
    return status


# -- the children ---------------------------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if args.worker:
        return worker(args)
    import django

    django.setup()
    from bench import scenarios

    result: Any
    if args.memprobe == "page":
        result = scenarios.memprobe_page(args.session_key)
    elif args.memprobe == "naive":
        result = scenarios.memprobe_naive()
    else:
        result = scenarios.stall_probe(args.session_key, args.stop_file)
    Path(args.out).write_text(json.dumps(result))
    return 0


def fresh_postgres_database() -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    name = os.environ.get("BENCH_PG_DB", "bench")
    with psycopg.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed_cache(n: int) -> Path | None:
    from bench import SEED_VERSION

    newest = None
    for path in BENCH_DIR.glob(f"seed-v{SEED_VERSION}-{n}-*.sqlite3"):
        made = int(path.stem.split("-")[3])
        if time.time() - made < SEED_MAX_AGE and (newest is None or made > newest[0]):
            newest = (made, path)
    return newest[1] if newest else None


def worker(args: argparse.Namespace) -> int:
    store, n = args.worker[0], int(args.worker[1])
    db_path = Path(os.environ.get("BENCH_SQLITE_PATH", BENCH_DIR / "bench.sqlite3"))
    reused = None
    if store == "sqlite":
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        reused = seed_cache(n) if args.reuse_seed else None
        if reused is not None:
            shutil.copyfile(reused, db_path)
            os.sync()
    else:
        fresh_postgres_database()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bench import SEED_VERSION, seed
    from bench.scenarios import Bench

    call_command("migrate", verbosity=0, interactive=False)
    if store == "postgresql":
        removed = seed.clear_cache_prefix()
        log(f"cleared {removed:,} old bench cache keys")
    log(f"seeding {n:,} sessions ({settings.SESSION_ENGINE}, {connection.vendor})")
    if reused is not None:
        seconds = reused.stem.split("-")[4:]  # seed-vV-N-TIMESTAMP-SECONDS
        info = {
            "sessions": n,
            "seed_seconds": float(seconds[0]) if seconds else None,
            "reused": reused.name,
        }
        log(f"  reused {reused.name}")
    else:
        info = seed.seed(n, log=log)
        if store == "sqlite" and args.reuse_seed:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
            for old in BENCH_DIR.glob(f"seed-v{SEED_VERSION}-{n}-*.sqlite3"):
                old.unlink()
            name = f"seed-v{SEED_VERSION}-{n}-{int(time.time())}-{info['seed_seconds']:.0f}"
            shutil.copyfile(db_path, BENCH_DIR / f"{name}.sqlite3")
            os.sync()  # the copy's writeback must not disturb the first measurements
    if store == "sqlite" and args.sqlite_analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    load_before = os.getloadavg()[0]
    bench = Bench(n, args.runs, log=log)
    if info.get("seed_seconds") is not None:
        seconds = info["seed_seconds"]
        note = f"{n / seconds:,.0f} sessions/s"
        if reused is not None:
            note += " (when the reused seed was made)"
        bench.put("seed", seconds, f"{seconds:,.0f} s", note=note)
    only = set(filter(None, args.only.split(",")))

    def wanted(phase: str) -> bool:
        return not only or phase in only

    if wanted("page") or wanted("plans") or wanted("indexes"):
        bench.measure_page()
        bench.measure_refresh()
    if wanted("plans"):
        bench.measure_plans()
    if wanted("indexes"):
        bench.measure_index_costs()
    if wanted("memory"):
        bench.measure_memory()
    if wanted("naive"):
        bench.measure_naive(args.naive_budget)
    if wanted("middleware"):
        bench.measure_middleware()
    if wanted("kills"):
        bench.measure_kill_one()
        bench.measure_kill_user()
    if wanted("killall") and not args.skip_kill_all:
        bench.measure_kill_all(args.purge_budget)
    for line in bench.details:
        log(line)

    Path(args.out).write_text(
        json.dumps(
            {
                "results": bench.results,
                "plans": bench.plans,
                "indexes": bench.indexes,
                "details": bench.details,
                "meta": meta(
                    store, n, args, info, bench.page_missing, (load_before, os.getloadavg()[0])
                ),
            },
            default=str,
        )
    )
    if store == "sqlite" and "kill_all_effect" in bench.results:
        connection.close()  # what Kill All left is of no use, and large
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return 0


def meta(
    store: str,
    n: int,
    args: argparse.Namespace,
    info: dict[str, Any],
    page_missing: bool,
    load: tuple[float, float],
) -> dict[str, Any]:
    import django
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]}"
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            stats = "with ANALYZE statistics" if args.sqlite_analyze else "no ANALYZE"
            extra = f"journal_mode={mode}, {stats}"
        else:
            cursor.execute("show server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
            extra = "VACUUM ANALYZE after seeding"
    if store == "postgresql":
        from django.core.cache import caches

        try:
            client: Any = caches["default"]._cache.get_client(None)  # type: ignore[attr-defined]
            database += f" + Redis {client.info('server')['redis_version']}"
        except Exception:
            database += " + Redis"
    python = ".".join(map(str, sys.version_info[:3]))
    note = f"{settings.SESSION_ENGINE}, {database}, {extra}; runs ≥ {args.runs}"
    if info.get("reused"):
        note += f"; seed reused ({info['reused']})"
    if page_missing:
        note += "; the Sessions page did not exist yet"
    note += f"; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end"
    return {
        "date": datetime.now(UTC).isoformat(),
        "versions": f"Python {python}, Django {django.get_version()}, {database}",
        "note": note,
        "sessions": n,
        "seed": info,
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
