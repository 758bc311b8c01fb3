"""The peer benchmark: ours next to django-qsessions and django-user-sessions, same data,
same host, same run.

Usage (from the repository root; the driver itself needs no Django)::

    .venv/bin/python bench/peers/run.py --setup              # build bench/peers/.venv-peers
    .venv/bin/python bench/peers/run.py --quick              # 10k on SQLite, a smoke test
    .venv/bin/python bench/peers/run.py --sizes 100000 --stores all
    .venv/bin/python bench/peers/run.py --sizes 1000000 --stores all

For every (store, N) it starts one worker process per system (``bench/peers/worker.py``:
ours with ``.venv/bin/python``, the peers with ``bench/peers/.venv-peers/bin/python``),
each on an empty database of its own (SQLite files under ``bench/peers/.work/``, or the
PostgreSQL databases ``peers_ours``, ``peers_qsessions``, ``peers_user_sessions`` with
Redis databases 11–13). Ours is seeded by ``bench/seed.py``; the peers copy that
database, so all three hold the same users and sessions. Then a warm-up round and
``--rounds`` measured rounds, each asking every system for every scenario in turn
(the order rotating each round), the facts (bytes, writes, disk), and Kill All last.
Each figure is the median of the rounds' values (each round's value the median of a
few calls). Results accumulate in ``bench/peers/results.json`` (latest per store and N)
and are rendered to ``bench/peers/results.md``.

Environment: ``PEERS_PG_URL`` (default ``postgres://postgres@127.0.0.1:5432/``) and
``PEERS_REDIS_URL`` (default ``redis://127.0.0.1:6379``) for ``--stores postgresql``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PEERS_DIR = Path(__file__).resolve().parent
ROOT = PEERS_DIR.parent.parent
OURS_PYTHON = ROOT / ".venv" / "bin" / "python"
PEERS_VENV = PEERS_DIR / ".venv-peers"
PEERS_PYTHON = PEERS_VENV / "bin" / "python"
SYSTEMS = ("ours", "qsessions", "user_sessions")
SCENARIOS = (
    "page1",
    "deep",
    "search_user",
    "search_user_rare",
    "search_none",
    "search_ip",
    "search_ip_wide",
    "kill_one",
)
MW_KINDS = ("stable", "moving")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.peers import report  # noqa: E402  (the path above makes it importable)


def log(message: str) -> None:
    print(message, flush=True)


class WorkerError(RuntimeError):
    pass


class Worker:
    """One system's process: one JSON command a line in, one JSON answer a line out."""

    def __init__(self, system: str, store: str, n: int, ours_tree: Path = ROOT) -> None:
        self.system = system
        python = OURS_PYTHON if system == "ours" else PEERS_PYTHON
        tree = ours_tree if system == "ours" else ROOT
        env = os.environ.copy()
        for name in ("DATABASE_URL", "REDIS_URL", "SESSION_ENGINE", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        env.update(
            DJANGO_SETTINGS_MODULE=f"bench.peers.settings_{system}",
            PEERS_SYSTEM=system,
            PEERS_STORE=store,
            PEERS_N=str(n),
            PYTHONPATH=str(tree),
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [str(python), "-m", "bench.peers.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=tree,
            text=True,
        )

    def ask(self, cmd: str, **fields: Any) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(f"{self.system}: the worker exited ({self.process.wait()})")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise WorkerError(f"{self.system}: {cmd}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(WorkerError, BrokenPipeError):
                self.ask("quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def measure(store: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One (store, N): seed, rounds, facts, Kill All; the raw figures."""
    entry: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(),
        "rounds": args.rounds,
        "load": [os.getloadavg()[0]],
        "seed": {},
        "meta": {},
        "times": {s: {name: [] for name in SYSTEMS} for s in SCENARIOS},
        "mw": {k: {name: [] for name in SYSTEMS} for k in MW_KINDS},
        "facts": {},
        "kill_all": {},
    }
    workers = {name: Worker(name, store, n, args.ours_tree) for name in SYSTEMS}
    try:
        for name, worker in workers.items():
            worker.ask("fresh")
            worker.ask("migrate")
            entry["meta"][name] = worker.ask("meta")
        for name, worker in workers.items():  # ours first: the peers copy its data
            log(f"seeding {name}")
            entry["seed"][name] = worker.ask("seed")
            log(f"  {name}: {entry['seed'][name]['seed_seconds']:,.1f} s")
        for worker in workers.values():
            worker.ask("setup")
        log("warm-up round")
        for scenario in SCENARIOS:
            for worker in workers.values():
                worker.ask("time", scenario=scenario)
        for kind in MW_KINDS:
            for worker in workers.values():
                worker.ask("mw", kind=kind)
        for r in range(args.rounds):
            order = SYSTEMS[r % 3 :] + SYSTEMS[: r % 3]
            log(f"round {r + 1}/{args.rounds} ({', '.join(order)})")
            for scenario in SCENARIOS:
                for name in order:
                    result = workers[name].ask("time", scenario=scenario)
                    entry["times"][scenario][name].append(result["ms"])
                line = "  ".join(
                    f"{name} {entry['times'][scenario][name][-1]:,.1f}" for name in SYSTEMS
                )
                log(f"  {scenario:<18} {line} ms")
            for kind in MW_KINDS:
                for name in order:
                    entry["mw"][kind][name].append(workers[name].ask("mw", kind=kind))
                line = "  ".join(
                    f"{name} {entry['mw'][kind][name][-1]['ratio']:.3f}" for name in SYSTEMS
                )
                log(f"  mw {kind:<15} {line}")
        for name, worker in workers.items():
            entry["facts"][name] = worker.ask("facts")
        if not args.skip_kill_all:
            for name, worker in workers.items():
                log(f"Kill All: {name}")
                entry["kill_all"][name] = worker.ask("kill_all", mode=args.peer_kill_all)
                log(f"  {entry['kill_all'][name]['ms'] / 1000:,.2f} s")
    finally:
        for worker in workers.values():
            worker.close()
        if store == "sqlite":  # what Kill All left is of no use, and large
            for path in (PEERS_DIR / ".work").glob("*.sqlite3*"):
                path.unlink()
    entry["load"].append(os.getloadavg()[0])
    return entry


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def ours_state() -> str:
    """Which code of ours the work tree holds: HEAD, and whether it has changes."""
    changed = git("status", "--porcelain", "--", "sessions_panel", "sessionadmin", "bench")
    changed = "\n".join(line for line in changed.splitlines() if "bench/peers/" not in line)
    head = git("rev-parse", "--short", "HEAD")
    return f"the work tree at {head}" + (" with uncommitted changes" if changed else "")


def export_tree(rev: str) -> Path:
    """Ours as committed at ``rev`` (``git archive``: the repository is only read), with
    this harness linked in: for measuring a known state while the work tree is mid-edit."""
    commit = git("rev-parse", "--short", rev)
    tree = PEERS_DIR / ".work" / f"ours-{commit}"
    if not tree.exists():
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True)
        archive.check_returncode()
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    link = tree / "bench" / "peers"
    if not link.exists():
        link.symlink_to(PEERS_DIR, target_is_directory=True)
    log(f"ours: measured as committed at {commit} ({tree})")
    return tree


def build_venv() -> int:
    """The peers' virtualenv: the same Python as the project's (its base interpreter)."""
    config = (ROOT / ".venv" / "pyvenv.cfg").read_text()
    home = next(line.split("=", 1)[1].strip() for line in config.splitlines() if "home" in line)
    base = Path(home) / "python3"
    log(f"building {PEERS_VENV} with {base}")
    subprocess.run([str(base), "-m", "venv", str(PEERS_VENV)], check=True)
    pip = [str(PEERS_PYTHON), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(PEERS_DIR / "requirements.txt")], check=True)
    subprocess.run(
        [
            str(PEERS_PYTHON),
            "-c",
            "import django, qsessions, user_sessions; print('Django', django.get_version())",
        ],
        check=True,
    )
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000", help="numbers of sessions, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10,000 sessions only")
    parser.add_argument("--stores", default="sqlite", help="sqlite, postgresql or all")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--skip-kill-all", action="store_true", help="leave the data in place")
    parser.add_argument(
        "--peer-kill-all",
        choices=("admin", "queryset"),
        default="admin",
        help="the peers' Kill All: their admin's delete-selected action, or a queryset delete",
    )
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite the Markdown from the JSON"
    )
    parser.add_argument("--setup", action="store_true", help="build .venv-peers and stop")
    parser.add_argument(
        "--ours-rev",
        default="",
        help="measure ours as committed at this git revision (default: the work tree)",
    )
    parser.add_argument(
        "--results", default=str(PEERS_DIR / "results.md"), help="Markdown output (+ .json)"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.setup:
        return build_venv()
    if args.render_only:
        results_md = Path(args.results)
        data = json.loads(results_md.with_suffix(".json").read_text())
        results_md.write_text(report.render(data) + "\n")
        log(f"Rendered {results_md}.")
        return 0
    if not PEERS_PYTHON.exists():
        log(f"No {PEERS_VENV}: run `{OURS_PYTHON} {__file__} --setup` first.")
        return 2
    args.ours_tree = export_tree(args.ours_rev) if args.ours_rev else ROOT
    args.ours_state = (
        f"commit {git('rev-parse', '--short', args.ours_rev)}" if args.ours_rev else ours_state()
    )
    sizes = [10_000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",")]
    stores = ["sqlite", "postgresql"] if args.stores == "all" else args.stores.split(",")
    results_md = Path(args.results)
    results_json = results_md.with_suffix(".json")
    data: dict[str, Any] = {"runs": {}}
    if results_json.exists() and not args.fresh:
        data = json.loads(results_json.read_text())
    status = 0
    for store in stores:
        for n in sizes:
            log(f"\n=== {report.STORES[store]}, N = {n:,} ===")
            started = time.perf_counter()
            try:
                entry = measure(store, n, args)
            except WorkerError as error:
                log(f"failed: {error}")
                status = 1
                continue
            entry["seconds"] = time.perf_counter() - started
            entry["ours_code"] = args.ours_state
            data["runs"].setdefault(store, {})[str(n)] = entry
            results_json.write_text(json.dumps(data, indent=1, default=str) + "\n")
            log(f"--- done in {entry['seconds']:,.0f} s")
            log("\n".join(report.table(store, n, entry)))
    if args.ours_rev:  # the export is only for this run (and links back to bench/peers)
        shutil.rmtree(args.ours_tree)
    results_md.write_text(report.render(data) + "\n")
    log(f"\nWritten to {results_md} (raw figures: {results_json}).")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
