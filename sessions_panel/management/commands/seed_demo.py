"""Seed a demo: users and live sessions made through the real session engine.

Every session is created the way a request would create it (the configured tracked
engine saves it, which indexes it), so the demo exercises the same code as production.
Running it again replaces the previous demo sessions instead of piling up more.

The command ships with the app, so it may be run on any site: it refuses to when
``DEBUG`` is off unless ``--force`` is given (it makes a superuser, and on a real site
a stray run would add accounts and an admin login). Users are made through the user
model's own manager (``create_user``/``create_superuser``, as ``createsuperuser`` does),
by its ``USERNAME_FIELD`` and ``REQUIRED_FIELDS``: an email login gets
``alice@example.com``, a model without names gets none. A required field it cannot fill
stops it before anything is written, with the field's name.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.models import SeenAddress, SessionRecord
from sessions_panel.tracking.client import ClientInfo
from sessions_panel.tracking.keys import index_key

# Documentation ranges only (RFC 5737, RFC 3849): a re-run clears exactly these guests.
DEMO_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
DEMO_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.", "2001:db8:")

PEOPLE = [
    ("alice", "Alice", "Martin"),
    ("bob", "Bob", "Nguyen"),
    ("carol", "Carol", "Okafor"),
    ("dave", "Dave", "Schmidt"),
    ("erin", "Erin", "Kowalski"),
    ("frank", "Frank", "Rossi"),
    ("grace", "Grace", "Hopper"),
    ("heidi", "Heidi", "Larsen"),
    ("ivan", "Ivan", "Petrov"),
    ("judy", "Judy", "Tanaka"),
]

APPLICATIONS = ["Administration", "Shop", "Blog", "Support desk", "API"]

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
]


def _demo_ip(rng: random.Random, v6: bool) -> str:
    if v6:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    network = ipaddress.ip_network(rng.choice(DEMO_NETWORKS[:3]))
    return str(network[rng.randrange(1, 255)])


def _field(model: Any, name: str) -> models.Field[Any, Any] | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) else None


def _is_email(model: Any, name: str) -> bool:
    return isinstance(_field(model, name), models.EmailField) or name == "email"


class DemoAccounts:
    """How demo accounts are made on the installed user model, whatever it is.

    Values are given by field name; a field the model lacks (``first_name`` on an
    email-only model) is left out. Each ``REQUIRED_FIELDS`` entry must be fillable: an
    email, a name, or another text field (it gets the person's full name).
    """

    def __init__(self) -> None:
        self.model = get_user_model()
        self.manager = self.model._default_manager
        self.login_field = self.model.USERNAME_FIELD
        self.email_field = self.model.get_email_field_name()
        self.login_is_email = _is_email(self.model, self.login_field)
        for method in ("create_user", "create_superuser"):
            if not callable(getattr(self.manager, method, None)):
                raise CommandError(
                    gettext(
                        "The user model's default manager has no %(method)s(), which "
                        "seed_demo makes accounts with; nothing was changed."
                    )
                    % {"method": method}
                )
        unfillable = [
            name
            for name in self.model.REQUIRED_FIELDS
            if name not in (self.email_field, "first_name", "last_name")
            and not isinstance(_field(self.model, name), models.CharField | models.TextField)
        ]
        if unfillable:
            raise CommandError(
                gettext(
                    "The user model requires %(fields)s, which seed_demo cannot make up; "
                    "nothing was changed. Create demo users yourself."
                )
                % {"fields": ", ".join(unfillable)}
            )

    def login(self, name: str) -> str:
        """The value a demo person logs in with: ``alice``, or ``alice@example.com``."""
        return f"{name}@example.com" if self.login_is_email and "@" not in name else name

    def values(self, name: str, first: str, last: str) -> dict[str, Any]:
        """Every field the model has among login, email, names and required fields."""
        wanted: dict[str, Any] = {
            self.email_field: f"{name.partition('@')[0]}@example.com",
            "first_name": first,
            "last_name": last,
        }
        values = {key: value for key, value in wanted.items() if _field(self.model, key)}
        for required in self.model.REQUIRED_FIELDS:
            if required not in values:
                field = _field(self.model, required)
                limit = getattr(field, "max_length", None) or 150
                values[required] = f"{first} {last}".strip()[:limit] or name
        values[self.login_field] = self.login(name)
        return values

    def get(self, name: str) -> Any:
        return self.manager.filter(**{self.login_field: self.login(name)}).first()

    def create(self, name: str, first: str, last: str, password: str | None) -> Any:
        """A person through ``create_user``; with no password, one nobody can use."""
        user = self.manager.create_user(**self.values(name, first, last), password=password)
        if password is None:
            user.set_unusable_password()
            user.save()
        return user

    def create_superuser(self, name: str, password: str) -> Any:
        return self.manager.create_superuser(**self.values(name, "", ""), password=password)


class Command(BaseCommand):
    help = (
        "Create demo users and live sessions (through the real engine) plus an admin login. "
        "Runs only with DEBUG on, unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--username",
            default="admin",
            help="The demo admin's login (with an email login: admin@example.com).",
        )
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.BASE_DIR) / ".demo-credentials")
            if hasattr(settings, "BASE_DIR")
            else ".demo-credentials",
            help="Where the generated admin password is kept between runs.",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run although DEBUG is off (it creates a superuser and demo accounts).",
        )

    def handle(
        self,
        *args: Any,
        username: str,
        credentials_file: str,
        seed: int,
        force: bool = False,
        **options: Any,
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                gettext(
                    "seed_demo runs only with DEBUG on: it creates a superuser with a "
                    "printed password, demo users and sessions. Nothing was changed. "
                    "To seed this site anyway, run it with --force."
                )
            )
        store = import_module(settings.SESSION_ENGINE).SessionStore
        if not issubclass(store, TrackedSessionMixin):
            raise CommandError(
                "SESSION_ENGINE must be a tracked engine (sessions_panel.backends.*)."
            )
        accounts = DemoAccounts()
        rng = random.Random(seed)
        login = accounts.login(username)
        with transaction.atomic():
            password = self._admin(accounts, username, Path(credentials_file))
            users = self._users(accounts)
        self._clear_previous(store, users)
        count = self._sessions(store, users, rng)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {count} demo sessions for {len(users)} users.")
        )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("  Admin login:  " + login + " / " + password))
        self.stdout.write("")

    def _admin(self, accounts: DemoAccounts, username: str, credentials: Path) -> str:
        password = credentials.read_text().strip() if credentials.exists() else ""
        admin = accounts.get(username)
        if admin is None or not password or not admin.check_password(password):
            password = password or secrets.token_urlsafe(9)
            if admin is None:
                admin = accounts.create_superuser(username, password)
            else:
                admin.set_password(password)
                for flag in ("is_staff", "is_superuser", "is_active"):
                    if _field(accounts.model, flag) is not None:
                        setattr(admin, flag, True)
                admin.save()
            credentials.write_text(password + "\n")
            credentials.chmod(0o600)
        return password

    def _users(self, accounts: DemoAccounts) -> list[Any]:
        users = []
        for name, first, last in PEOPLE:
            user = accounts.get(name)
            if user is None:
                user = accounts.create(name, first, last, password=None)
            users.append(user)
        return users

    def _clear_previous(self, store: Any, users: list[Any]) -> None:
        guest_demo = Q()
        for prefix in DEMO_PREFIXES:
            guest_demo |= Q(ip__startswith=prefix)
        keys = list(
            SessionRecord.objects.filter(
                Q(user__in=users) | (Q(user__isnull=True) & guest_demo)
            ).values_list("session_key", flat=True)
        )
        if keys:
            store.purge_keys(keys)

    def _session(self, store: Any, user: Any, client: ClientInfo, expiry: int | None) -> None:
        session = store()
        session.client = client
        if user is not None:
            session[SESSION_KEY] = user._meta.pk.value_to_string(user)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        else:
            session["cart"] = []
        if expiry is not None:
            session.set_expiry(expiry)
        session.create()
        seen = timezone.now() - timedelta(minutes=self._rng.randrange(0, 90))
        SessionRecord.objects.filter(session_key=index_key(session)).update(
            last_seen=seen,
            created=seen - timedelta(minutes=self._rng.randrange(1, 240)),
        )

    def _risks(self, users: list[Any]) -> None:
        """Something for each risk flag: alice's newest device is on an address she never
        used before (her others are a month old), and bob's browser changed mid-session."""
        alice, bob = users[0], users[1]
        newest = SessionRecord.objects.filter(user=alice).order_by("-created", "-pk").first()
        month_ago = timezone.now() - timedelta(days=30)
        if newest is not None:
            SeenAddress.objects.filter(user=alice).exclude(ip=newest.ip).update(
                first_seen=month_ago
            )
        SessionRecord.objects.filter(user=bob).update(
            user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        )

    def _sessions(self, store: Any, users: list[Any], rng: random.Random) -> int:
        self._rng = rng
        count = 0
        for index, user in enumerate(users):
            # alice is on four devices at once; a couple of users are about to expire.
            per_user = 4 if index == 0 else 1 + (index % 3 == 0)
            for _ in range(per_user):
                client = ClientInfo(
                    ip=_demo_ip(rng, v6=rng.random() < 0.3),
                    user_agent=rng.choice(USER_AGENTS),
                    application=rng.choice(APPLICATIONS),
                )
                expiry = rng.randrange(120, 900) if index in (4, 7) else None
                self._session(store, user, client, expiry)
                count += 1
        self._risks(users)
        # Guests: a few shoppers, and a swarm from one address (a scraper or a brute force).
        for _ in range(4):
            client = ClientInfo(
                ip=_demo_ip(rng, v6=rng.random() < 0.5),
                user_agent=rng.choice(USER_AGENTS),
                application=rng.choice(["Shop", "Blog"]),
            )
            self._session(store, None, client, None)
            count += 1
        for _ in range(7):  # more than GUEST_SWARM_THRESHOLD (5): a "Guest swarm"
            client = ClientInfo(
                ip="198.51.100.66",
                user_agent="python-requests/2.32.3",
                application="Administration",
            )
            self._session(store, None, client, None)
            count += 1
        return count
