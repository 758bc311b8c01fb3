"""Kills across three app servers whose clocks disagree, on one database and one Redis.

A kill is made on one host; the killed cookie is then presented to every host. Host A's
clock runs ahead, B's behind, C's is exact (see ``cluster.DEFAULT_OFFSETS``): a
deployment's machines drift like that, and a kill that compares times read on
different machines ends the wrong sessions or spares the right ones. Every scenario
asserts what must hold, and each failure lists every host and cookie that disagreed.

Each test makes its own people (fresh users, logged in over HTTP on the hosts) and
probes them with ``/probe/whoami/``, which loads the session exactly as any page does.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Model
from psycopg import sql

from sessions_panel.models import SessionRecord
from tests.multihost.cluster import ADMIN, OFFSET_TOLERANCE, PASSWORD, Cluster, measure_offset
from tests.multihost.conftest import People
from tests.multihost.web import KILL, KILL_ALL, KILL_USER, Action, Browser, Host, who

pytestmark = pytest.mark.multihost

#: Who a cookie must belong to: a browser and the expected username ("" = nobody).
Expectation = tuple[Browser, str]


# -- helpers -----------------------------------------------------------------------------


def logged_in(cluster: Cluster, username: str, host: Host, note: str = "") -> Browser:
    """A browser of ``username``, logged in on ``host`` (the admin through the admin's form)."""
    browser = Browser(f"{username}@{host.name}{'-' + note if note else ''}", cluster.short_id)
    if username == ADMIN:
        browser.admin_log_in(host, username, PASSWORD)
    else:
        browser.log_in(host, username, PASSWORD)
    return browser


def log_in_later(
    cluster: Cluster, username: str, host: Host, note: str, problems: list[str]
) -> list[Expectation]:
    """A login the test makes after the action under test: refused, it is a finding
    (added to ``problems``), not a broken setup; returns what to expect of it."""
    try:
        return [(logged_in(cluster, username, host, note), username)]
    except AssertionError as error:
        problems.append(f"login ({note}): {error}")
        return []


def survey(cluster: Cluster, expected: Iterable[Expectation], when: str) -> list[str]:
    """Asks every host who each cookie belongs to; one line per disagreement."""
    problems = []
    for browser, username in expected:
        for host in cluster.hosts:
            got = browser.who(host)
            if got != username:
                wanted = repr(username) if username else "anonymous"
                problems.append(
                    f"{when}: {browser.label} on host {host}: {got or 'anonymous'!r}, "
                    f"expected {wanted}"
                )
    return problems


def require(cluster: Cluster, expected: Iterable[Expectation]) -> None:
    """The test's starting point holds on every host (and every host has loaded, so
    cached, each session), or the test is about something else."""
    problems = survey(cluster, expected, "before the kill")
    assert not problems, "setup did not hold:\n" + "\n".join(problems)


def succeeded(action: Action, text: str) -> list[str]:
    """The page's PRG round trip worked and says ``text`` as a success."""
    if action.reply.status != 302 or action.page is None or action.page.status != 200:
        return [f"the kill did not complete: {action.describe()}"]
    if not any(level == "success" and text in message for level, message in action.messages):
        return [f"the page did not report {text!r}: {action.describe()}"]
    return []


def listed(cluster: Cluster, admin: Browser, browsers: Sequence[Browser], when: str) -> list[str]:
    """Which of ``browsers`` the Sessions page still lists, on any host."""
    problems = []
    for host in cluster.hosts:
        rows = admin.rows(host)
        problems += [
            f"{when}: the page on host {host} still lists {b.label}"
            for b in browsers
            if any(b.owns(row) for row in rows)
        ]
    return problems


def kill_all(cluster: Cluster, admin: Browser, host: Host) -> Action:
    """Kill All from the page on ``host``, password confirmed as the dialog asks."""
    action = admin.act(host, KILL_ALL, {"password": PASSWORD, "reason": "multihost test"})
    cluster.last_kill_all = time.monotonic()
    return action


def user_id(cluster: Cluster, browser: Browser) -> str:
    return str(who(cluster.hosts[0], browser.session_key).json()["id"])


def report(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def column(model: type[Model], name: str) -> sql.Identifier:
    return sql.Identifier(str(model._meta.get_field(name).column))  # type: ignore[union-attr]


def drop_index_rows(cluster: Cluster, usernames: Sequence[str]) -> int:
    """Deletes the index rows of these users' sessions behind the panel's back, as a lost
    index write would leave them: only the revocation state can then end them."""
    user_model = get_user_model()
    assert user_model._meta.pk is not None
    statement = sql.SQL("DELETE FROM {} WHERE {} IN (SELECT {} FROM {} WHERE {} = ANY(%s))").format(
        sql.Identifier(SessionRecord._meta.db_table),
        column(SessionRecord, "user"),
        column(user_model, user_model._meta.pk.name),
        sql.Identifier(user_model._meta.db_table),
        column(user_model, user_model.USERNAME_FIELD),
    )
    return cluster.database.execute(statement, [list(usernames)])


# -- the clocks ----------------------------------------------------------------------------


def test_every_host_runs_on_its_own_clock(cluster: Cluster) -> None:
    """Without this, the other tests would prove nothing about clock skew."""
    for host in cluster.hosts:
        measured = measure_offset(host)
        assert abs(measured - host.offset) <= OFFSET_TOLERANCE, (
            f"host {host} runs {measured:+.3f} s off, not {host.offset:+g} s: "
            "libfaketime is not in effect"
        )
    assert cluster.spread >= 2.0, "the fast and the slow host must be seconds apart"
    fast, slow = measure_offset(cluster.fast), measure_offset(cluster.slow)
    assert fast - slow >= cluster.spread - 2 * OFFSET_TOLERANCE


# -- 1. one session ------------------------------------------------------------------------


def test_kill_one_session_on_a_ends_it_on_every_host(cluster: Cluster, people: People) -> None:
    """A kill by name: the cookie is anonymous at once on every host, and nothing else
    ends, not even the same user's other session."""
    a, b, c = (cluster.host(n) for n in "ABC")
    victim_name, bystander_name = people.take(2)
    admin = logged_in(cluster, ADMIN, a)
    victim = logged_in(cluster, victim_name, c, "killed")
    second = logged_in(cluster, victim_name, b, "kept")  # the same user's other session
    bystander = logged_in(cluster, bystander_name, b)
    require(
        cluster,
        [(victim, victim_name), (second, victim_name), (bystander, bystander_name), (admin, ADMIN)],
    )

    action = admin.act(a, KILL, {"handle": admin.handle_of(a, victim_name, victim)})

    problems = succeeded(action, "was ended")
    problems += survey(
        cluster,
        [(victim, ""), (second, victim_name), (bystander, bystander_name), (admin, ADMIN)],
        "right after the kill",
    )
    problems += listed(cluster, admin, [victim], "after the kill")
    report(problems)


# -- 2. one user ---------------------------------------------------------------------------


def test_kill_a_user_on_b_ends_their_sessions_on_every_host(
    cluster: Cluster, people: People
) -> None:
    """B's clock is behind: the user's session logged in on A (ahead) is the test."""
    a, b, c = (cluster.host(n) for n in "ABC")
    target, other = people.take(2)
    admin = logged_in(cluster, ADMIN, b)
    targets = [logged_in(cluster, target, host) for host in (c, b, a)]
    others = [logged_in(cluster, other, host) for host in (a, c)]
    require(cluster, [(t, target) for t in targets] + [(o, other) for o in others])

    action = admin.act(b, KILL_USER, {"user": user_id(cluster, targets[0])})

    problems = succeeded(action, f"Ended 3 sessions of {target}.")
    problems += survey(
        cluster,
        [(t, "") for t in targets] + [(o, other) for o in others] + [(admin, ADMIN)],
        "right after the kill",
    )
    problems += listed(cluster, admin, targets, "after the kill")
    report(problems)


# -- 3. Kill All from a slow and from a fast clock ----------------------------------------


@pytest.mark.parametrize("kill_from", ["slow", "fast"])
def test_kill_all_ends_every_other_session_and_spares_later_logins(
    cluster: Cluster, people: People, kill_from: str
) -> None:
    """Kill All from the host whose clock is behind (``slow``) or ahead (``fast``).

    Ended: every session that existed before it, including one logged in on the fast
    host a second before. Spared: the admin's own session (on every host) and logins
    made a second after the answer, on the slow host and on the fast one.
    """
    killer = cluster.slow if kill_from == "slow" else cluster.fast
    names = people.take(9)
    admin = logged_in(cluster, ADMIN, killer)
    hosts = itertools.cycle(cluster.hosts)
    old = [logged_in(cluster, name, next(hosts)) for name in names[:6]]
    require(cluster, [*zip(old, names[:6], strict=True), (admin, ADMIN)])
    late = logged_in(cluster, names[6], cluster.fast, "1s-before")
    late_at = time.monotonic()
    require(cluster, [(late, names[6])])
    time.sleep(max(0.0, late_at + 1.0 - time.monotonic()))

    action = kill_all(cluster, admin, killer)
    time.sleep(max(0.0, action.reply.done + 1.0 - time.monotonic()))
    problems: list[str] = []
    later = log_in_later(cluster, names[7], cluster.slow, "1s-after", problems)
    later += log_in_later(cluster, names[8], cluster.fast, "1s-after", problems)

    problems += succeeded(action, "Your own session was kept.")
    killed = [*old, late]
    survivors = [(admin, ADMIN), *later]
    problems += survey(cluster, [(b, "") for b in killed] + survivors, "after Kill All")
    time.sleep(1.0)
    problems += survey(cluster, survivors, "a second later")
    problems += listed(cluster, admin, killed, "after Kill All")
    for host in cluster.hosts:
        if admin.page(host).status != 200:
            problems.append(f"the admin cannot open the Sessions page on host {host}")
    report(problems)


# -- 4. epochs only move forward -------------------------------------------------------------


def test_a_later_kill_all_from_a_slow_clock_revives_nothing(
    cluster: Cluster, people: People
) -> None:
    """Kill All from the fast host, then a second later from the slow host.

    Kill All ends sessions through its "not before" epoch; its purge of the stored data
    only reaches the sessions the index knows. Half of the people here lose their index
    rows (as a lost index write would leave them), so their stored data outlives the
    purge and only the revocation state keeps them ended. A second Kill All, made from a
    clock seconds behind, must neither fail nor move the epoch back and revive them.
    (An engine that refuses every session without an index row ends them regardless;
    the indexed half and the second Kill All's answer are then what this checks.)
    """
    hosts = [cluster.fast, cluster.host("C"), cluster.slow]
    names = people.take(6)
    admin = logged_in(cluster, ADMIN, cluster.host("C"))
    indexed = [logged_in(cluster, n, h, "indexed") for n, h in zip(names[:3], hosts, strict=True)]
    unindexed = [
        logged_in(cluster, n, h, "unindexed") for n, h in zip(names[3:], hosts, strict=True)
    ]
    victims = [*indexed, *unindexed]
    require(cluster, [*zip(victims, names, strict=True), (admin, ADMIN)])
    assert drop_index_rows(cluster, names[3:]) == 3
    time.sleep(0.5)

    first = kill_all(cluster, admin, cluster.fast)
    problems = succeeded(first, "Your own session was kept.")
    problems += survey(cluster, [(b, "") for b in victims], "after the first Kill All (fast host)")
    time.sleep(max(0.0, first.reply.done + 1.0 - time.monotonic()))
    second = kill_all(cluster, admin, cluster.slow)

    problems += succeeded(second, "Your own session was kept.")
    problems += survey(
        cluster,
        [(b, "") for b in victims] + [(admin, ADMIN)],
        "after the second Kill All (slow host)",
    )
    report(problems)


# -- 5. Kill All under load ----------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One request of the load: whose cookie, where, when, and what the host said."""

    label: str
    host: str
    write: bool
    sent: float
    done: float
    status: int
    user: str


LOAD_THREADS = 6
LOAD_BEFORE = 1.5
LOAD_AFTER = 2.5
LOAD_MAX_REQUESTS = 600  # per thread


def load(
    cluster: Cluster, browsers: Sequence[Browser], stop: threading.Event, seed: int
) -> list[Hit]:
    """Reads and writes with random cookies on random hosts until told to stop."""
    rng = random.Random(seed)
    hits: list[Hit] = []
    deadline = time.monotonic() + LOAD_BEFORE + LOAD_AFTER + 30
    while not stop.is_set() and len(hits) < LOAD_MAX_REQUESTS and time.monotonic() < deadline:
        browser, host = rng.choice(browsers), rng.choice(cluster.hosts)
        write = rng.random() < 0.3
        sent = time.monotonic()
        try:
            reply = who(host, browser.session_key, write=write, agent=browser.agent)
        except OSError as error:
            hits.append(
                Hit(browser.label, host.name, write, sent, time.monotonic(), -1, str(error))
            )
            continue
        user = str(reply.json()["user"]) if reply.status == 200 else ""
        hits.append(
            Hit(browser.label, host.name, write, reply.sent, reply.done, reply.status, user)
        )
    return hits


def load_fault(hit: Hit, answered: float) -> str:
    """What is wrong with one request of the load, if anything.

    Sent after Kill All answered: HTTP 200 and nobody. Before: still logged in is fine
    (the kill had not happened), and a write may be refused (400: the session was
    killed between its load and its save); an error is never fine.
    """
    after = hit.sent >= answered
    where = (
        f"{hit.label} on host {hit.host} ({'write' if hit.write else 'read'} sent "
        f"{hit.sent - answered:+.3f} s from Kill All's answer)"
    )
    if hit.status == -1 or hit.status >= 500:
        return f"{where}: HTTP {hit.status} {hit.user}"
    allowed = {200} if after or not hit.write else {200, 400}
    if hit.status not in allowed:
        return f"{where}: HTTP {hit.status}"
    if after and hit.user:
        return f"{where}: still logged in as {hit.user!r}"
    return ""


def test_kill_all_under_load_holds_from_its_answer_on(cluster: Cluster, people: People) -> None:
    """Threads keep reading and writing sessions on all hosts while Kill All runs.

    Killed from the fast host, so that clock skew alone (test 3) cannot explain a
    failure here: this is about requests racing the kill. A request sent after Kill All
    answered must find nobody; one in flight may finish with its old authority, and a
    write that loaded before the kill may be refused (400), never saved.
    """
    names = people.take(8)
    admin = logged_in(cluster, ADMIN, cluster.host("C"))
    people_in = [(logged_in(cluster, n, h), n) for n in names for h in cluster.hosts]
    browsers = [browser for browser, _ in people_in]
    require(cluster, [*people_in, (admin, ADMIN)])

    stop = threading.Event()
    results: list[list[Hit]] = [[] for _ in range(LOAD_THREADS)]

    def run(index: int) -> None:
        results[index] = load(cluster, browsers, stop, seed=index)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(LOAD_BEFORE)
        action = kill_all(cluster, admin, cluster.fast)
        answered = action.reply.done
        time.sleep(LOAD_AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a load thread did not stop"
    hits = [hit for result in results for hit in result]

    problems = succeeded(action, "Your own session was kept.")
    before = [h for h in hits if h.sent < answered]
    after = [h for h in hits if h.sent >= answered]
    statuses = Counter((h.sent >= answered, h.write, h.status, bool(h.user)) for h in hits)
    print("load (after the answer?, write?, status, logged in?): count", dict(statuses))
    problems += [fault for hit in hits if (fault := load_fault(hit, answered))]
    if sum(1 for h in before if h.user) < 20 or len(after) < 30:
        problems.append(
            f"too little load to mean anything: {len(before)} requests before "
            f"({sum(1 for h in before if h.user)} authenticated), {len(after)} after"
        )
    problems += survey(
        cluster, [(b, "") for b in browsers] + [(admin, ADMIN)], "once the load stopped"
    )
    report(problems)


# -- 6. Redis flushed ----------------------------------------------------------------------


def test_a_flushed_redis_revives_no_kill_and_ends_no_live_session(
    cluster: Cluster, people: People
) -> None:
    """With ``cached_db`` the database is the truth: after FLUSHALL the killed sessions
    stay killed, the live ones stay logged in, and kills go on working.

    The user kill is made from the fast host so that clock skew (test 2) does not
    decide this test.
    """
    a, b, c = (cluster.host(n) for n in "ABC")
    names = people.take(5)
    admin = logged_in(cluster, ADMIN, c)
    live = [logged_in(cluster, n, h) for n, h in zip(names[:3], (a, b, c), strict=True)]
    killed_one = logged_in(cluster, names[3], a)
    killed_user = [logged_in(cluster, names[4], h) for h in (b, c)]
    alive = [*zip(live, names[:3], strict=True), (admin, ADMIN)]
    require(cluster, [*alive, (killed_one, names[3])] + [(x, names[4]) for x in killed_user])
    problems = succeeded(
        admin.act(a, KILL, {"handle": admin.handle_of(a, names[3], killed_one)}), "was ended"
    )
    problems += succeeded(
        admin.act(cluster.fast, KILL_USER, {"user": user_id(cluster, killed_user[0])}),
        f"Ended 2 sessions of {names[4]}.",
    )
    dead = [killed_one, *killed_user]
    problems += survey(cluster, [(x, "") for x in dead], "after the kills")

    assert cluster.redis.command("FLUSHALL") == "+OK"

    problems += survey(cluster, [(x, "") for x in dead] + alive, "after FLUSHALL")
    problems += listed(cluster, admin, dead, "after FLUSHALL")
    action = admin.act(b, KILL, {"handle": admin.handle_of(b, names[0], live[0])})
    problems += succeeded(action, "was ended")
    problems += survey(cluster, [(live[0], "")] + alive[1:], "after a kill following FLUSHALL")
    report(problems)


# -- 7. Redis stopped ------------------------------------------------------------------------


@dataclass
class Kill:
    """A kill made during the outage: what to post, whom it ends, what the page said."""

    path: str
    form: dict[str, str]
    victims: list[Browser]
    action: Action | None = None

    @property
    def failed(self) -> bool:
        """The page said the kill did not (fully) happen: an error message."""
        return self.action is not None and any(
            level == "error" for level, _ in self.action.messages
        )


def completed(action: Action) -> bool:
    """The POST redirected to the page, the page rendered, and it says something."""
    return (
        action.reply.status == 302
        and action.page is not None
        and action.page.status == 200
        and bool(action.messages)
    )


def test_a_redis_outage_serves_requests_and_never_reports_a_kill_that_did_not_hold(
    cluster: Cluster, people: People
) -> None:
    """Redis is snapshotted and stopped; kills are made during the outage; Redis comes
    back from its snapshot, holding what the kills could not evict.

    During the outage every request is served (from the database): no 500, logins too.
    A kill either says it failed (an error message) or its sessions are anonymous at
    once on every host: whatever else the page says ("ended", "ended, clean-up
    pending"), it must be true. Once Redis is back, a kill that failed or left its rows
    listed is made again and is clean; every killed cookie is anonymous on every host
    and no killed session is listed.
    """
    a, b, c = (cluster.host(n) for n in "ABC")
    names = people.take(6)
    admin = logged_in(cluster, ADMIN, c)
    live = [logged_in(cluster, n, h) for n, h in zip(names[:3], (a, b, c), strict=True)]
    one = logged_in(cluster, names[3], a)
    user_sessions = [logged_in(cluster, names[4], h) for h in (b, c)]
    alive = [*zip(live, names[:3], strict=True), (admin, ADMIN)]
    require(cluster, [*alive, (one, names[3])] + [(x, names[4]) for x in user_sessions])
    target_user = user_id(cluster, user_sessions[0])
    handle = admin.handle_of(a, names[3], one)
    kills = [
        Kill(KILL, {"handle": handle}, [one]),
        Kill(KILL_USER, {"user": target_user}, user_sessions),
    ]
    assert cluster.redis.command("SAVE") == "+OK"
    cluster.redis.stop()
    problems: list[str] = []
    try:
        problems += survey(cluster, alive, "during the outage")
        for host in cluster.hosts:
            page = admin.page(host)
            if page.status != 200:
                problems.append(f"during the outage the page on host {host}: {page.excerpt()}")
        newcomer = log_in_later(cluster, names[5], b, "during-outage", problems)
        problems += survey(cluster, newcomer, "a login during the outage")
        for kill in kills:
            kill.action = admin.act(cluster.fast, kill.path, kill.form)
            print(f"during the outage, {kill.path}: {kill.action.messages}")
            if not completed(kill.action):
                problems.append(f"a kill during the outage: {kill.action.describe()}")
            elif not kill.failed:  # whatever it said, it did not say it failed
                problems += survey(
                    cluster,
                    [(v, "") for v in kill.victims],
                    f"said {kill.action.messages} during the outage",
                )
    finally:
        cluster.redis.start()

    for kill in kills:
        if kill.path == KILL:
            rows = [r for r in admin.rows(a, names[3]) if one.owns(r)]
            if not rows:
                continue
            kill.form = {"handle": rows[0].handle}
        elif not kill.failed and not listed(cluster, admin, kill.victims, ""):
            continue
        again = admin.act(cluster.fast, kill.path, kill.form)
        print(f"after the outage, {kill.path} again: {again.messages}")
        levels = {level for level, _ in again.messages}
        if not completed(again) or levels & {"error", "warning"}:
            problems.append(f"the kill made again once Redis was back: {again.describe()}")
    dead = [one, *user_sessions]
    problems += survey(cluster, [(x, "") for x in dead] + alive, "after Redis came back")
    problems += listed(cluster, admin, dead, "after Redis came back")
    report(problems)
