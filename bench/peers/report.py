"""``bench/peers/results.md`` from ``results.json``: one table per (store, N).

Columns: ours, django-qsessions, django-user-sessions, and the best peer ÷ ours (the
better of the two peers on that row: the faster, smaller, fewer writes, or the higher
req/s ratio), with who is ahead spelled out, so no row needs its direction guessed.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

STORES = {"sqlite": "SQLite", "postgresql": "PostgreSQL + Redis"}
SYSTEMS = ("ours", "qsessions", "user_sessions")
LABELS = {"ours": "ours", "qsessions": "django-qsessions", "user_sessions": "django-user-sessions"}
HOST = (
    "SecurityMiddleware → ContentSecurityPolicyMiddleware (Django's) → WhiteNoiseMiddleware → "
    "*the system's SessionMiddleware* → CommonMiddleware → CsrfViewMiddleware → "
    "AuthenticationMiddleware → (ours: SessionsPanelMiddleware) → MessageMiddleware → "
    "XFrameOptionsMiddleware → HtmxMiddleware"
)

#: (scenario, label); every one a median of the rounds in milliseconds, lower is better.
TIMED = (
    ("page1", "Page 1, full changelist page (50 rows)"),
    ("deep", "Deep page: rows 951–1,000"),
    ("search_user", "Search: username, ~2 % of users (`{search_user}`)"),
    ("search_user_rare", "Search: username, 1–3 users (`{search_user_rare}`)"),
    ("search_none", "Search: no match (`zqxjv`)"),
    ("search_ip", "Search: IP prefix, ~0.1 % of sessions (`203.0.113.`)"),
    ("search_ip_wide", "Search: wide IP prefix, ~6 % of sessions (`2a01:cb00:`)"),
    ("kill_one", "Kill one + what the admin sees after"),
)


def ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.1f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def size(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1e6:
        return f"{value / 1e6:,.1f} MB"
    return f"{value / 1e3:,.1f} KB"


def versus(values: dict[str, float | None], higher_is_better: bool = False) -> str:
    """Best peer ÷ ours, and who is ahead."""
    ours = values.get("ours")
    peers = [v for k, v in values.items() if k != "ours" and v is not None]
    if ours is None or not peers:
        return "—"
    best = max(peers) if higher_is_better else min(peers)
    if ours == 0:
        return "— (both 0)" if best == 0 else "— (ours 0)"
    ratio = best / ours
    if abs(ratio - 1) < 0.02:
        return f"{ratio:.2f} (even)"
    ours_ahead = ratio < 1 if higher_is_better else ratio > 1
    return f"{ratio:,.2f} ({'ours' if ours_ahead else 'peer'} ahead)"


def row(label: str, cells: dict[str, str], ratio: str) -> str:
    return f"| {label} | " + " | ".join(cells[s] for s in SYSTEMS) + f" | {ratio} |"


def table(store: str, n: int, entry: dict[str, Any]) -> list[str]:
    facts = entry["facts"]
    shares = facts.get("ours", {}).get("data", {})
    terms = {"search_user": "olivia", "search_user_rare": shares.get("rare_term", "…")}
    lines = [
        f"### {STORES[store]}, N = {n:,}",
        "",
        "| Scenario | ours | django-qsessions | django-user-sessions | best peer ÷ ours |",
        "|---|---|---|---|---|",
    ]
    for scenario, label in TIMED:
        values = {
            s: median(entry["times"][scenario][s]) if entry["times"][scenario][s] else None
            for s in SYSTEMS
        }
        text = label.format(**terms)
        lines.append(row(text, {s: ms(values[s]) for s in SYSTEMS}, versus(values)))
    kill_all = entry.get("kill_all", {})
    if kill_all:
        values = {s: kill_all.get(s, {}).get("ms") for s in SYSTEMS}
        cells = {s: ms(values[s]) for s in SYSTEMS}
        ratio = versus(values)
        after = {s: kill_all.get(s, {}).get("after_ms") or 0.0 for s in SYSTEMS}
        if any(v >= 1 for v in after.values()):
            for s in SYSTEMS:
                if after[s] >= 1:
                    cells[s] += f" (+ {after[s] / 1000:,.1f} s of clean-up after the answer)"
            totals = {s: None if values[s] is None else values[s] + after[s] for s in SYSTEMS}
            ratio += f"; {versus(totals)} with the clean-up"
        lines.append(row("Kill All, until the answer (one run)", cells, ratio))
    for kind, label in (
        ("stable", "req/s with it ÷ plain Django, trivial view, stable IP"),
        ("moving", "req/s with it ÷ plain Django, IP changing every request"),
    ):
        rounds = entry["mw"][kind]
        values = {s: median(r["ratio"] for r in rounds[s]) if rounds[s] else None for s in SYSTEMS}
        cells = {}
        for s in SYSTEMS:
            if values[s] is None:
                cells[s] = "n/a"
                continue
            rps = median(r["tracked_rps"] for r in rounds[s])
            cells[s] = f"{values[s]:.3f} ({rps:,.0f} req/s)"
        lines.append(row(label, cells, versus(values, higher_is_better=True)))
    for kind, label in (
        ("writes_stable", "SQL writes per request (of queries), stable IP"),
        ("writes_moving", "SQL writes per request (of queries), IP changing"),
    ):
        values = {s: facts[s][kind]["tracked"]["writes"] if s in facts else None for s in SYSTEMS}
        cells = {
            s: (
                f"{facts[s][kind]['tracked']['writes']:.2f} of "
                f"{facts[s][kind]['tracked']['queries']:.2f}"
                if s in facts
                else "n/a"
            )
            for s in SYSTEMS
        }
        lines.append(row(label, cells, versus(values)))
    values = {s: facts[s]["page_bytes"] if s in facts else None for s in SYSTEMS}
    lines.append(
        row("HTML bytes, page of 50 rows", {s: size(values[s]) for s in SYSTEMS}, versus(values))
    )
    values = {s: facts[s]["row_bytes"] if s in facts else None for s in SYSTEMS}
    lines.append(
        row(
            "  per row (page − no-match page) ÷ rows",
            {s: f"{values[s]:,.0f} B" if values[s] else "n/a" for s in SYSTEMS},
            versus(values),
        )
    )
    values = {s: facts[s]["disk"]["total"] if s in facts else None for s in SYSTEMS}
    lines.append(
        row("Disk for the sessions", {s: size(values[s]) for s in SYSTEMS}, versus(values))
    )
    lines += ["", *notes(store, n, entry)]
    return lines


def notes(store: str, n: int, entry: dict[str, Any]) -> list[str]:
    meta = entry["meta"]
    facts = entry["facts"]
    seed = entry["seed"]
    date = datetime.fromisoformat(entry["date"]).strftime("%Y-%m-%d %H:%M UTC")
    ours = meta.get("ours", {})
    out = [
        f"- Run {date}: {entry['rounds']} interleaved rounds after a warm-up, each cell "
        "the median of the rounds (a round's value: the median of 3–15 calls; Kill One 1–3 "
        f"calls; Kill All once); load average {entry['load'][0]:.1f} at the start, "
        f"{entry['load'][-1]:.1f} at the end; {entry.get('seconds', 0):,.0f} s in all.",
        f"- Host middleware, the same for all: {HOST}. DEBUG off, direct WSGI calls "
        "(no network), CSRF enforced.",
        f"- Ours: {entry.get('ours_code', '?')}. Python {ours.get('python', '?')}, Django {ours.get('django', '?')}, "
        f"{ours.get('database', '?')}; "
        + "; ".join(
            f"{LABELS[s]}: {meta[s]['package']}, `{meta[s]['engine']}` (Django {meta[s]['django']})"
            for s in SYSTEMS
            if s in meta
        )
        + ".",
    ]
    data = facts.get("ours", {}).get("data", {})
    if data:
        out.append(
            f"- Data (the same in all three): {data['sessions']:,} sessions, "
            f"{data['authenticated'] / data['sessions']:.0%} authenticated over "
            f"{data['users']:,} users; `olivia` matches {data['search_user']:,} users "
            f"({data['search_user'] / data['users']:.1%}), `{data['rare_term']}` "
            f"{data['search_user_rare']}, `203.0.113.` {data['search_ip']:,} sessions "
            f"({data['search_ip'] / data['sessions']:.2%}), `2a01:cb00:` "
            f"{data['search_ip_wide']:,} ({data['search_ip_wide'] / data['sessions']:.1%})."
        )
    if seed:
        out.append(
            "- Seeding: "
            + ", ".join(
                f"{LABELS[s]} {seed[s]['seed_seconds']:,.1f} s"
                + (" (bench/seed.py)" if s == "ours" else " (copy of ours')")
                for s in SYSTEMS
                if s in seed
            )
            + "."
        )
    out.append(
        "- Ours is measured through the Sessions page's own URLs: page 1 and the searches "
        "as full pages (GET `?q=`; the search box itself asks for the rows alone over "
        "htmx, which is faster), the badge's count uncached on every page-1 call; the deep "
        "page is the 20th “Load more” (htmx, keyset); Kill one is the row's htmx POST to "
        "`kill/`, whose answer is everything the admin then sees (nothing else is "
        "fetched). The peers are measured through their "
        "`ModelAdmin` (50 rows a page here, as ours): `?q=`, `?p=20`, and Kill one is the "
        "delete confirmation's POST plus a GET of the changelist (django-user-sessions' "
        "redirect lands there; django-qsessions' lands on the admin index, the list one "
        "more click away). The confirmation page's own GET, before the POST, is not "
        "counted. Writes are SQL statements; cache writes (Redis) are not counted."
    )
    for s in SYSTEMS:
        if s in entry.get("kill_all", {}):
            done = entry["kill_all"][s]
            peak = done.get("peak_rss_mb")
            rss = f" (worker's peak RSS {peak:,.0f} MB)" if peak else ""
            out.append(f"- Kill All, {done['note']}{rss}.")
    for s in SYSTEMS:
        if s not in facts:
            continue
        f = facts[s]
        tables = ", ".join(
            f"{name} {size(value)}" for name, value in sorted(f["disk"]["tables"].items()) if value
        )
        refused, killed = f["kills_refused"]
        plain = f["writes_moving"]["plain"]
        found = ", ".join(f"{k.removeprefix('search_')} {v}" for k, v in f["search_rows"].items())
        out.append(
            f"- {LABELS[s]}: page 1 runs {f['page_queries']} SQL queries; {f['page_rows']} rows "
            f"on it; rows on the search pages: {found}; plain Django does {plain['writes']:.2f} writes of {plain['queries']:.2f} "
            f"queries a request; {refused}/{killed} sessions ended by Kill one are gone; "
            f"disk: {tables}."
        )
    return out


def render(data: dict[str, Any]) -> str:
    lines = [
        "# Peer benchmark: ours next to django-qsessions and django-user-sessions",
        "",
        "Same data, same host, same run: `bench/peers/run.py` (see its docstring). "
        "Server time of direct WSGI calls; lower is better except the req/s ratios. "
        "“best peer ÷ ours” divides the better peer's figure by ours and says who is ahead.",
        "",
        "Reproduce: `.venv/bin/python bench/peers/run.py --setup` once, then "
        "`.venv/bin/python bench/peers/run.py --sizes 100000,1000000 --stores all`.",
        "",
        "What is held equal, and what is not:",
        "",
        "- The data: ours is seeded by `bench/seed.py`, the peers copy that database row "
        "for row (users, keys, owners, addresses, user agents, times, session data).",
        "- The host: one settings base (`bench/peers/settings_base.py`), the demo host's "
        "middleware, DEBUG off; each system's own session middleware and engine in "
        "Django's slot. The peers list 50 rows a page here, as ours does (their default "
        "is 100). No GeoIP database: the peers' location column stays empty.",
        "- The machine is shared (2 cores): each table gives the load average; the "
        "systems are interleaved, so a busy moment slows all three, but absolute "
        "figures are higher than on an idle machine.",
        "- Ours' Kill All is measured with the re-authentication window open (as right "
        "after the admin's login), so it does not hash a password; the peers ask none.",
    ]
    for store in STORES:
        for n in sorted(data.get("runs", {}).get(store, {}), key=int):
            lines += ["", *table(store, int(n), data["runs"][store][n])]
    return "\n".join(lines)
