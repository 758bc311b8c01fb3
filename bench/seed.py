"""Seeding N sessions consistent with a real store and the panel's index, fast.

What a live site would hold after a while:

- ``django_session`` rows whose ``session_data`` is the real engine's ``encode()``
  output: one encoding per user (so the user id and auth hash in the data match
  the index row), a few hundred guest templates reused;
- one ``SessionRecord`` per session with the same key (``short_id_for(key)``, a random
  handle), 70 % authenticated over N/5 users (most with one to three sessions, a heavy
  1 % with dozens), guests, several applications, IPv4 and IPv6, a few hundred real user
  agents, "last seen" mostly recent, expiry spread over the next two weeks;
- the users' IP history (``SeenAddress``) when the model has it;
- for the ``cached_db`` engine, the cache entries (decoded data with the session's TTL).

Rows go in with raw ``executemany`` inside one transaction (SQLite) or ``COPY``
(PostgreSQL); nothing is dropped from the schema, every index is maintained as rows
arrive. Fields the seeder does not know (a model that grew since) get their default,
and the seeder says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import itertools
import pickle
import random
import string
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.auth.hashers import make_password
from django.core.cache import caches
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils.crypto import salted_hmac

from sessions_panel.models import SessionRecord, short_id_for

VALID_KEY_CHARS = string.ascii_lowercase + string.digits
BATCH = 50_000
GUEST_TEMPLATES = 300


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "olivia emma amelia ava sophia isabella mia charlotte lucas liam noah oliver elijah "
    "james william benjamin henry theodore jack leo luca mateo ezra hugo louis jules "
    "camille chloe ines lea manon sarah alice zoe nina jana lena maria anna sofia giulia "
    "hannah yuki haruto sakura wei jing priya arjun aditi omar fatima youssef"
)
LAST_NAMES = _words(
    "martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent "
    "lefebvre michel garcia muller schmidt schneider fischer weber meyer wagner becker "
    "rossi russo ferrari esposito bianchi romano smith johnson williams brown jones "
    "miller davis wilson taylor anderson nguyen tran kim lee park chen wang zhang singh "
    "kumar sato suzuki okafor kowalski nowak"
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "corp.example")

#: (application, weight); "" is a request whose application could not be resolved.
APPLICATIONS = (
    ("Shop", 35),
    ("Blog", 18),
    ("API", 15),
    ("Accounts", 12),
    ("Support desk", 8),
    ("Administration", 5),
    ("Newsletter", 3),
    ("", 4),
)

#: The IP prefix the search measurement uses; about 0.1 % of sessions come from it.
RARE_NETWORK = "203.0.113."
#: A guest swarm (a scraper or a brute force) from one address, about 1.5 %.
SWARM_IP = "198.51.100.66"
COMMON_FIRST_OCTETS = (
    24, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92,
    93, 94, 95, 100, 104, 107, 108, 109, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213,
    217,
)  # fmt: skip
IPV6_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("2a01:cb00::/32", "2a02:8440::/32", "2600:1700::/32", "2003:e0::/32")
)


def _user_agents() -> list[str]:
    agents: list[str] = []
    platforms = {
        "windows": "Windows NT 10.0; Win64; x64",
        "mac": "Macintosh; Intel Mac OS X 10_15_7",
        "linux": "X11; Linux x86_64",
    }
    for major in range(118, 132):
        for platform in platforms.values():
            agents.append(
                f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{major}.0.0.0 Safari/537.36"
            )
        agents.append(
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
            f"Gecko) Chrome/{major}.0.0.0 Safari/537.36 Edg/{major}.0.0.0"
        )
        for device in ("Pixel 8", "SM-S918B", "Pixel 7a", "M2101K6G"):
            agents.append(
                f"Mozilla/5.0 (Linux; Android 14; {device}) AppleWebKit/537.36 (KHTML, like "
                f"Gecko) Chrome/{major}.0.0.0 Mobile Safari/537.36"
            )
    for major in range(120, 134):
        for platform in (
            "Windows NT 10.0; Win64; x64",
            "X11; Linux x86_64",
            "X11; Ubuntu; Linux x86_64",
        ):
            agents.append(
                f"Mozilla/5.0 ({platform}; rv:{major}.0) Gecko/20100101 Firefox/{major}.0"
            )
        agents.append(
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{major}.0) Gecko/20100101 "
            f"Firefox/{major}.0"
        )
    for ios in ("17_5", "17_6", "18_0", "18_1", "18_2"):
        version = ios.replace("_", ".")
        for device in ("iPhone; CPU iPhone OS", "iPad; CPU OS"):
            agents.append(
                f"Mozilla/5.0 ({device} {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
                f"like Gecko) Version/{version} Mobile/15E148 Safari/604.1"
            )
        agents.append(
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
            f"like Gecko) Version/{version} Safari/605.1.15"
        )
    agents += [
        "python-requests/2.32.3",
        "curl/8.5.0",
        "okhttp/4.12.0",
        "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)",
        "",
    ]
    return agents


USER_AGENTS = _user_agents()


def _fast_short_id() -> Callable[[str], str]:
    """``short_id_for`` without re-deriving the HMAC key on every call (same output)."""
    from sessions_panel.models import SHORT_ID_LENGTH

    salt = "sessions_panel.short_id"
    key = hashlib.sha256((salt + settings.SECRET_KEY).encode()).digest()

    def short_id(session_key: str) -> str:
        digest = hmac.new(key, session_key.encode(), hashlib.sha256).hexdigest()
        return digest[:SHORT_ID_LENGTH]

    probe = "abcdefghijklmnopqrstuvwxyz012345"
    if short_id(probe) != short_id_for(probe):  # the model changed its scheme
        return short_id_for
    assert salted_hmac(salt, probe, algorithm="sha256").hexdigest()[:SHORT_ID_LENGTH] == short_id(
        probe
    )
    return short_id


class Writer:
    """Bulk rows into a table: ``executemany`` on SQLite, ``COPY`` on PostgreSQL."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.table = model._meta.db_table
        self.columns = list(columns)
        self.vendor = connection.vendor
        names = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        if self.vendor == "postgresql":
            self.sql = f"COPY {connection.ops.quote_name(self.table)} ({names}) FROM STDIN"
        else:
            marks = ", ".join("?" for _ in self.columns)
            self.sql = (
                f"INSERT INTO {connection.ops.quote_name(self.table)} ({names}) VALUES ({marks})"
            )

    def when(self, value: datetime) -> Any:
        """A UTC datetime the way Django would store it in this database."""
        if self.vendor == "sqlite":
            return str(value.replace(tzinfo=None))
        return value

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        raw = connection.connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if self.vendor == "postgresql":
                with cursor.copy(self.sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, rows)
        finally:
            cursor.close()


def _defaults_for(
    model: type[models.Model], known: Sequence[str], log: Callable[[str], None]
) -> dict[str, Any]:
    """Database values for the concrete fields the seeder does not fill itself."""
    extra: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.attname in known or field.primary_key:
            continue
        if field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        elif isinstance(field, models.CharField | models.TextField) and field.blank:
            value = ""
        else:
            raise RuntimeError(
                f"bench/seed.py does not know {model.__name__}.{field.name} (no default): "
                "teach the seeder this field."
            )
        extra[field.column] = field.get_db_prep_save(value, connection)
        log(f"  note: {model.__name__}.{field.name} seeded with its default {value!r}")
    return extra


def _ip(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        network = rng.choice(IPV6_NETWORKS)
        host = rng.getrandbits(128 - network.prefixlen)
        return ipaddress.IPv6Address(int(network.network_address) + host).compressed
    if roll < 0.251:
        return f"{RARE_NETWORK}{rng.randrange(1, 255)}"
    if roll < 0.266:
        return SWARM_IP
    return (
        f"{rng.choice(COMMON_FIRST_OCTETS)}.{rng.randrange(256)}."
        f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
    )


def _owners(n: int, n_users: int, rng: random.Random) -> list[int | None]:
    """Who owns each session: every user once, the rest of 70 % skewed, 30 % guests."""
    authenticated = max(n_users, round(n * 0.7))
    owners: list[int | None] = list(range(1, n_users + 1))
    heavy = max(1, n_users // 100)
    for _ in range(authenticated - n_users):
        if rng.random() < 0.1:
            owners.append(rng.randrange(1, heavy + 1))  # a 1 % of users with dozens each
        else:
            owners.append(rng.randrange(1, n_users + 1))
    owners += [None] * (n - len(owners))
    rng.shuffle(owners)
    return owners[:n]


def seed(n: int, *, seed: int = 20261127, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fill an empty, migrated database with ``n`` sessions; returns what was seeded."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now = datetime.now(UTC)
    User = get_user_model()
    n_users = max(1, n // 5)
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    store = store_class()
    session_model = store_class.get_model_class()
    cached = hasattr(store_class, "cache_key_prefix")

    password = make_password("bench-user-password")  # once: hashing is the slow part
    auth_hash = User(password=password).get_session_auth_hash()

    with transaction.atomic():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -1000000")  # this connection only

        # -- users -------------------------------------------------------------------
        t = time.perf_counter()
        user_columns = [
            "id", "password", "last_login", "is_superuser", "username", "first_name",
            "last_name", "email", "is_staff", "is_active", "date_joined",
        ]  # fmt: skip
        users = Writer(User, user_columns)
        user_rows = []
        for uid in range(1, n_users + 1):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            username = f"{first}.{last}{uid}"
            joined = now - timedelta(days=rng.uniform(1, 2000))
            user_rows.append(
                (
                    uid, password, None, False, username, first.capitalize(),
                    last.capitalize(), f"{username}@{rng.choice(EMAIL_DOMAINS)}", False, True,
                    users.when(joined),
                )
            )  # fmt: skip
        users.write(user_rows)
        del user_rows
        log(f"  {n_users:,} users in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        # Bulk writes send no signals: the user search's own table is filled as
        # ``manage.py reindexusers`` would after such an import.
        from sessions_panel.query import usertext

        usertext.rebuild()
        log(f"  user search index in {time.perf_counter() - t:.1f} s")

        # -- sessions and the index ----------------------------------------------------
        t = time.perf_counter()
        short_id = _fast_short_id()
        guest_payloads = []
        for i in range(GUEST_TEMPLATES):
            payload: dict[str, Any] = {}
            if i % 3 == 0:
                payload["cart"] = [rng.randrange(1, 5000) for _ in range(rng.randrange(1, 6))]
            if i % 4 == 1:
                payload["django_language"] = rng.choice(["en", "fr", "de", "it", "es"])
            if i % 5 == 2:
                payload["recently_viewed"] = [rng.randrange(1, 90000) for _ in range(8)]
            guest_payloads.append((payload, store.encode(payload)))
        user_payloads: dict[int, tuple[dict[str, Any], str]] = {}

        def user_payload(uid: int) -> tuple[dict[str, Any], str]:
            found = user_payloads.get(uid)
            if found is None:
                payload = {
                    SESSION_KEY: str(uid),
                    BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: auth_hash,
                }
                if uid % 3 == 0:
                    payload["cart"] = [uid % 4999 + 1]
                if uid % 7 == 0:
                    payload["django_timezone"] = "Europe/Paris"
                found = user_payloads[uid] = (payload, store.encode(payload))
            return found

        known = [
            "id", "session_key", "handle", "short_id", "user_id", "ip", "user_agent",
            "application", "created", "last_seen", "expiry", "initial_ip",
            "initial_user_agent", "issued",
        ]  # fmt: skip
        model_fields = {f.attname for f in SessionRecord._meta.concrete_fields}
        record_known = [name for name in known if name in model_fields]
        extra = _defaults_for(SessionRecord, record_known, log)
        record_columns = [SessionRecord._meta.get_field(a).column for a in record_known]
        records = Writer(SessionRecord, record_columns + list(extra))
        extra_values = tuple(extra.values())
        sessions = Writer(session_model, ["session_key", "session_data", "expire_date"])

        seen_model = _seen_address_model()
        seen: dict[tuple[int, str], list[datetime]] = {}
        cache_entries: list[tuple[str, bytes, int]] = []
        serialize = _cache_serializer() if cached else None
        pickled_guests = [serialize(p) for p, _ in guest_payloads] if serialize else []
        pickled_users: dict[int, bytes] = {}

        owners = _owners(n, n_users, rng)
        apps_names = [a for a, _ in APPLICATIONS]
        apps_weights = [w for _, w in APPLICATIONS]
        ua_weights = [1.0] * len(USER_AGENTS)
        ua_weights[-5:] = [30.0, 10.0, 20.0, 10.0, 5.0]  # tools and apps are frequent
        ua_cumulative = list(itertools.accumulate(ua_weights))
        apps_cumulative = list(itertools.accumulate(apps_weights))
        six_hours = 6 * 3600.0
        for start in range(0, n, BATCH):
            session_rows = []
            record_rows = []
            for i in range(start, min(n, start + BATCH)):
                uid = owners[i]
                key = "".join(rng.choices(VALID_KEY_CHARS, k=32))
                if uid is None:
                    index = rng.randrange(GUEST_TEMPLATES)
                    data = guest_payloads[index][1]
                    pickled = pickled_guests[index] if serialize else b""
                else:
                    data = user_payload(uid)[1]
                    if serialize:
                        pickled = pickled_users.get(uid) or pickled_users.setdefault(
                            uid, serialize(user_payloads[uid][0])
                        )
                ip = _ip(rng)
                user_agent = rng.choices(USER_AGENTS, cum_weights=ua_cumulative)[0]
                application = rng.choices(apps_names, cum_weights=apps_cumulative)[0]
                last_seen = now - timedelta(seconds=min(13 * 86400, rng.expovariate(1 / six_hours)))
                created = last_seen - timedelta(seconds=rng.uniform(0, 2 * 86400))
                expiry = now + timedelta(seconds=rng.uniform(six_hours, 14 * 86400))
                if rng.random() < 0.05:  # the client changed since login
                    initial_ip, initial_ua = _ip(rng), rng.choice(USER_AGENTS)
                else:
                    initial_ip, initial_ua = ip, user_agent
                handle = base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode()
                values = {
                    "id": i + 1,
                    "session_key": key,
                    "handle": handle,
                    "short_id": short_id(key),
                    "user_id": uid,
                    "ip": ip,
                    "user_agent": user_agent,
                    "application": application,
                    "created": records.when(created),
                    "last_seen": records.when(last_seen),
                    "expiry": records.when(expiry),
                    "initial_ip": initial_ip,
                    # NULL while it repeats the current one, as the panel writes it
                    # (sessions_panel/tracking/first_user_agent.py).
                    "initial_user_agent": None if initial_ua == user_agent else initial_ua,
                    "issued": created.timestamp(),
                }
                record_rows.append(tuple(values[a] for a in record_known) + extra_values)
                session_rows.append((key, data, sessions.when(expiry)))
                if seen_model is not None and uid is not None:
                    span = seen.get((uid, ip))
                    if span is None:
                        seen[(uid, ip)] = [created, last_seen]
                    else:
                        span[0] = min(span[0], created)
                        span[1] = max(span[1], last_seen)
                if serialize:
                    cache_entries.append((key, pickled, int((expiry - now).total_seconds())))
            sessions.write(session_rows)
            records.write(record_rows)
            done = min(n, start + BATCH)
            elapsed = time.perf_counter() - t
            log(f"  {done:,}/{n:,} sessions ({done / elapsed:,.0f}/s)")

        if seen_model is not None:
            t = time.perf_counter()
            writer = Writer(seen_model, ["user_id", "ip", "first_seen", "last_seen"])
            writer.write(
                (uid, ip, writer.when(a), writer.when(b)) for (uid, ip), (a, b) in seen.items()
            )
            log(f"  {len(seen):,} IP-history rows in {time.perf_counter() - t:.1f} s")

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [User, SessionRecord, *([seen_model] if seen_model else [])]
            ):
                cursor.execute(sql)

    if cache_entries:
        t = time.perf_counter()
        _seed_cache(store_class.cache_key_prefix, cache_entries)
        log(f"  {len(cache_entries):,} cache entries in {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    _analyze()
    log(f"  analyze in {time.perf_counter() - t:.1f} s")
    seconds = time.perf_counter() - started
    return {
        "sessions": n,
        "users": n_users,
        "authenticated": sum(1 for o in owners if o is not None),
        "seed_seconds": seconds,
        "seeded_at": now.isoformat(),
    }


def _seen_address_model() -> type[models.Model] | None:
    try:
        model = apps.get_model("sessions_panel", "SeenAddress")
    except LookupError:
        return None
    names = {f.attname for f in model._meta.concrete_fields}
    return model if {"user_id", "ip", "first_seen", "last_seen"} <= names else None


def _cache_serializer() -> Callable[[Any], bytes]:
    cache = caches[settings.SESSION_CACHE_ALIAS]
    client = getattr(cache, "_cache", None)
    serializer = getattr(client, "_serializer", None)
    if serializer is not None:
        return serializer.dumps  # type: ignore[no-any-return]
    return lambda value: pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _seed_cache(prefix: str, entries: list[tuple[str, bytes, int]]) -> None:
    """The cached_db engine's cache entries, through one Redis pipeline per 10,000."""
    cache: Any = caches[settings.SESSION_CACHE_ALIAS]
    if not hasattr(cache, "_cache") or not hasattr(cache._cache, "get_client"):
        for key, value, ttl in entries:  # any other cache backend: slow but correct
            cache.set(prefix + key, pickle.loads(value), ttl)
        return
    client = cache._cache.get_client(None, write=True)
    for start in range(0, len(entries), 10_000):
        pipe = client.pipeline(transaction=False)
        for key, value, ttl in entries[start : start + 10_000]:
            pipe.set(cache.make_and_validate_key(prefix + key), value, ex=ttl)
        pipe.execute()


def clear_cache_prefix() -> int:
    """Delete the bench's own keys (never FLUSHDB: the database may be shared)."""
    cache: Any = caches[settings.SESSION_CACHE_ALIAS]
    if not hasattr(cache, "_cache") or not hasattr(cache._cache, "get_client"):
        return 0
    client = cache._cache.get_client(None, write=True)
    prefix = settings.CACHES[settings.SESSION_CACHE_ALIAS].get("KEY_PREFIX", "")
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            removed += client.unlink(*batch)
            batch = []
    if batch:
        removed += client.unlink(*batch)
    return removed


def _analyze() -> None:
    """Planner statistics, as autovacuum keeps them on PostgreSQL; SQLite: see run.py."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
