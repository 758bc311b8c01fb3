"""The session index: one row per live server-side session.

The session store stays the truth for kills; this table exists so that listing,
search and counting are indexed queries that never decode session data.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.db import models, router
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

SHORT_ID_LENGTH = 8
T = TypeVar("T")


def new_handle() -> str:
    """A random public handle: unrelated to the session key, so it reveals nothing."""
    return secrets.token_urlsafe(16)


def short_id_for(session_key: str) -> str:
    """A short, non-reversible ID for display and search (not a prefix of the key)."""
    return salted_hmac("sessions_panel.short_id", session_key, algorithm="sha256").hexdigest()[
        :SHORT_ID_LENGTH
    ]


class SessionRecordQuerySet(models.QuerySet["SessionRecord"]):
    def live(self, now: datetime | None = None) -> SessionRecordQuerySet:
        """Rows of sessions that can still be used: not expired, and not ended by a
        Kill All whose clean-up is still under way (:class:`Sweep`)."""
        rows = self.filter(expiry__gt=now or timezone.now())
        epoch = sweep_epoch(self.db)
        if epoch is None:
            return rows
        # The rows issued since the Kill All, found through the ``issued`` index: the
        # planner, left to the page's order, would walk every ended row still there.
        survivors = SessionRecord.objects.using(self.db).filter(issued__gte=epoch).values("pk")
        return rows.filter(pk__in=survivors)


#: Within a request (the middleware opens it), what :func:`sweep_epoch` read: asked once.
_sweep_seen: ContextVar[dict[str, float | None] | None] = ContextVar(
    "sessions_panel_sweep_seen", default=None
)


def sweep_epoch(using: str | None = None) -> float | None:
    """The epoch of the Kill All whose clean-up is under way, if one is (one small
    read, once per request)."""
    alias = using or router.db_for_write(Sweep)
    seen = _sweep_seen.get()
    if seen is not None and alias in seen:
        return seen[alias]
    epoch = Sweep.objects.using(alias).order_by("-epoch").values_list("epoch", flat=True).first()
    if seen is not None:
        seen[alias] = epoch
    return epoch


def note_sweep(using: str, epoch: float | None) -> None:
    """What this request now knows of the clean-up (it began, or it is over)."""
    seen = _sweep_seen.get()
    if seen is not None:
        seen[using] = epoch


def remember_sweep_within(scope: Callable[[], T]) -> T:
    """Run ``scope`` (a request) reading the clean-up state at most once per database."""
    token = _sweep_seen.set({})
    try:
        return scope()
    finally:
        _sweep_seen.reset(token)


class SessionRecord(models.Model):
    # The raw key never leaves the server: it is needed to delete from the real store.
    session_key = models.CharField(max_length=40, unique=True, editable=False)
    handle = models.CharField(max_length=32, unique=True, default=new_handle, editable=False)
    short_id = models.CharField(_("session ID"), max_length=SHORT_ID_LENGTH, db_index=True)
    # No database constraint: a session may name a user that was deleted meanwhile, and
    # indexing it must never fail the request that saves it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="sessions_panel_records",
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True, unpack_ipv4=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    application = models.CharField(_("application"), max_length=100, blank=True)
    created = models.DateTimeField(_("created"))
    # When a tracked engine issued the key, by the database's clock (seconds since the
    # Unix epoch): what Kill All and kill-a-user epochs compare with. ``None`` when the
    # session was indexed late (made before the panel, or outside a tracked engine), which
    # every epoch refuses. Kept out of the session data so the application never sees it.
    issued = models.FloatField(null=True, blank=True, editable=False)
    last_seen = models.DateTimeField(_("last seen"))
    # "Last seen" again, by the database's clock (seconds since the Unix epoch), written
    # with it: what IDLE_TIMEOUT compares with (see :mod:`sessions_panel.tracking.policies`).
    # ``None`` on rows from before it was kept, until their next "last seen" write.
    seen = models.FloatField(null=True, blank=True, editable=False)
    # When the session's user logged in (``login()``), by the database's clock: what
    # ABSOLUTE_LIFETIME counts from. A re-key (``cycle_key``: a password change) keeps
    # it; ``None`` for a guest, or a session logged in before it was kept (the issue
    # time stands in then).
    logged_in = models.FloatField(null=True, blank=True, editable=False)
    expiry = models.DateTimeField(_("expires"))
    # When the session's user last proved their password (login or the panel's
    # re-authentication), by the app host's clock: Kill All asks again after a while.
    verified = models.FloatField(null=True, blank=True, editable=False)
    # What the session started with (written once): a change means a possible hijack.
    initial_ip = models.GenericIPAddressField(null=True, blank=True, unpack_ipv4=True)
    # NULL while it would repeat ``user_agent``: filled in by the statement that first
    # changes that (see :mod:`sessions_panel.tracking.first_user_agent`). NULL and ""
    # differ here: "" is a session that started with no user agent at all.
    initial_user_agent = models.CharField(max_length=512, blank=True, null=True)  # noqa: DJ001

    objects = SessionRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        default_permissions = ("view", "delete")
        permissions = [("reveal_ip", _("Can reveal IP addresses"))]
        indexes = [
            models.Index(fields=["expiry"], name="sessions_pa_expiry_idx"),
            models.Index(fields=["user", "last_seen"], name="sessions_pa_user_seen_idx"),
            # (ip, expiry): "guest swarm" counts live sessions per address; a plain ip index
            # loses to the expiry index in the planner and scans every live row.
            models.Index(fields=["ip", "expiry"], name="sessions_pa_ip_expiry_idx"),
            models.Index(fields=["last_seen", "id"], name="sessions_pa_seen_idx"),
            # Kill All keeps the rows issued since its epoch, and only those.
            models.Index(fields=["issued"], name="sessions_pa_issued_idx"),
            # An application's sessions in page order: without it a search for a rare
            # application walks every row (2.2 s at 1,000,000), and counting a common
            # one's scans the expiry index. Costs ~13 µs more per last-seen touch.
            models.Index(
                fields=["application", "last_seen", "id"], name="sessions_pa_app_seen_idx"
            ),
        ]

    def __str__(self) -> str:
        # Never the session key: Django's admin logs and messages use str().
        return self.short_id

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def started_with_user_agent(self) -> str:
        """The user agent the session started with."""
        first = self.initial_user_agent
        return self.user_agent if first is None else first

    @property
    def client_changed(self) -> bool:
        """The IP or browser differs from what the session started with."""
        return (self.ip, self.user_agent) != (self.initial_ip, self.started_with_user_agent)


class IndexCount(models.Model):
    """How many rows the session index holds, kept by triggers on its table (see
    :mod:`sessions_panel.tracking.index_count`): the badge's count without a scan."""

    slot = models.PositiveSmallIntegerField(primary_key=True)
    total = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.slot}: {self.total}"


class SeenAddress(models.Model):
    """Which IPs a user's sessions came from, and when: the history behind "New IP".

    Indexed by its unique (user, ip) alone, which serves every lookup by user too.
    ``prune`` finds old entries by scanning: once a day, where an index on
    ``last_seen`` was rewritten on every change of address (~25 MB at 1,000,000)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    ip = models.GenericIPAddressField(unpack_ipv4=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "ip"], name="sessions_pa_seenaddr_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.ip}"


class SeenBrowser(models.Model):
    """Which browsers (family and system, no version) a user signed in with, and when:
    what "a sign-in from a new browser" compares against. (Its unique (user, browser)
    serves lookups by user: no index of its own on ``user``.)"""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    browser = models.CharField(max_length=100)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    #: When this user was last sent a new sign-in email (on one row per user: the
    #: first), so that a burst of sign-ins sends one.
    notified = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "browser"], name="sessions_pa_seenbrow_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.browser}"


class Revocation(models.Model):
    """What a load must refuse: one killed key, one user's sessions, or all sessions.

    ``kind="key"`` refuses the session whose key digest is ``target`` whatever it does
    (even a request in flight that saves it again). ``kind="user"`` and ``kind="all"``
    are "not before" epochs: a session issued before ``not_before`` (by the database's
    clock, ``SessionRecord.issued``) is refused, which ends sessions the index never
    saw, in constant time.
    """

    KEY = "key"
    USER = "user"
    ALL = "all"
    KIND_CHOICES = [(KEY, "key"), (USER, "user"), (ALL, "all")]

    kind = models.CharField(max_length=4, choices=KIND_CHOICES)
    target = models.CharField(max_length=64, blank=True)
    not_before = models.FloatField()
    # After this, the marker can go: nothing it refuses can still be alive.
    expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["kind", "target"], name="sessions_pa_revocation_uniq")
        ]
        indexes = [models.Index(fields=["expires"], name="sessions_pa_revoc_exp_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.target[:8]}"


class Sweep(models.Model):
    """A Kill All's clean-up under way: the index rows (and stored data) of sessions
    issued before ``epoch`` are still there, refused on load and hidden from every
    list and count (``SessionRecordQuerySet.live``), and deleted in batches after the
    response (:mod:`sessions_panel.termination.sweep`). One row at most."""

    epoch = models.FloatField()
    started = models.DateTimeField(default=timezone.now)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"sweep before {self.epoch}"


class AuditEntry(models.Model):
    """One kill action: who, when, what scope, why, and what came of it."""

    SCOPE_SESSION = "session"
    SCOPE_USER = "user"
    SCOPE_ALL = "all"
    SCOPE_FILTER = "filter"
    #: Not a kill: a wrong password (or an attempt while locked out) at the prompt
    #: before a multi-session kill, kept with ``requested = killed = 0``.
    SCOPE_REAUTH = "reauth"
    #: Ended by a session policy (``IDLE_TIMEOUT``, ``ABSOLUTE_LIFETIME``,
    #: ``MAX_SESSIONS_PER_USER``): the reason says which.
    SCOPE_POLICY = "policy"
    #: A lockdown (:class:`Lockdown`): the site's (Kill All, then sign-in refused) or a
    #: user's (their sessions, then their sign-in refused), and each sign-in it refused.
    SCOPE_LOCKDOWN = "lockdown"
    #: A lockdown lifted: nothing ended (``requested = killed = 0``).
    SCOPE_LIFTED = "lifted"
    SCOPE_CHOICES = [
        (SCOPE_SESSION, _("one session")),
        (SCOPE_USER, _("all sessions of a user")),
        (SCOPE_ALL, _("all sessions")),
        (SCOPE_FILTER, _("sessions matching a filter")),
        (SCOPE_REAUTH, _("re-authentication")),
        (SCOPE_POLICY, _("session policy")),
        (SCOPE_LOCKDOWN, _("lockdown")),
        (SCOPE_LIFTED, _("lockdown lifted")),
    ]

    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    actor_repr = models.CharField(_("by (name)"), max_length=150, blank=True)
    scope = models.CharField(_("scope"), max_length=10, choices=SCOPE_CHOICES)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    requested = models.PositiveIntegerField(_("sessions targeted"), default=0)
    killed = models.PositiveIntegerField(_("sessions ended"), default=0)
    failed = models.PositiveIntegerField(_("sessions not ended"), default=0)
    # Superusers' sessions a lesser admin's Kill All or filter-wide kill left alone
    # (PROTECT_SUPERUSERS): neither targeted nor failed, and the entry says so.
    spared = models.PositiveIntegerField(_("superusers' sessions spared"), default=0)
    user_ids = models.JSONField(_("users"), default=list, blank=True)
    short_ids = models.JSONField(_("session IDs"), default=list, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    # A filter-wide kill's list filters as data ({"q": ..., "status": ...}): the admin
    # writes ``detail`` out from them for each reader, an IP in them masked for those
    # who may not see full addresses, where a text would have to be parsed again.
    filters = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("audit entry")
        # One name wherever the list appears: the index, the sidebar, its title and the
        # Sessions page's link all say "Audit trail".
        verbose_name_plural = _("audit trail")
        default_permissions = ("view",)
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} · {self.created:%Y-%m-%d %H:%M:%S}"


class LockdownQuerySet(models.QuerySet["Lockdown"]):
    def in_force(self) -> LockdownQuerySet:
        """Not lifted, and not run out by the database's clock (``Now()``: the one clock
        the kills read too, compared in the query itself)."""
        return self.filter(lifted__isnull=True).filter(
            models.Q(until__isnull=True) | models.Q(until__gt=Now())
        )


class Lockdown(models.Model):
    """Sign-in refused: for everyone but an allow-list (``scope="site"``), or for one
    user (``scope="user"``), until ``until`` (``None``: until lifted) or lifted.

    Every login is checked against the lockdowns in force (Django's
    ``user_logged_in``: see :mod:`sessions_panel.termination.lockdown`), and the admin
    pages show the site's. A row is kept when it is lifted or runs out: it is the
    history, beside the audit trail's entries.
    """

    SITE = "site"
    USER = "user"
    SCOPE_CHOICES = [(SITE, _("the site")), (USER, _("one user"))]

    scope = models.CharField(_("scope"), max_length=4, choices=SCOPE_CHOICES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    created = models.DateTimeField(_("since"), default=timezone.now)
    #: When it runs out, by the database's clock; ``None``: until lifted.
    until = models.DateTimeField(_("until"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    actor_repr = models.CharField(_("by (name)"), max_length=150, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    #: A user lockdown also made their password unusable.
    password_unusable = models.BooleanField(default=False)
    lifted = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    lifted_by_repr = models.CharField(max_length=150, blank=True)

    objects = LockdownQuerySet.as_manager()

    class Meta:
        verbose_name = _("lockdown")
        verbose_name_plural = _("lockdowns")
        default_permissions = ()
        indexes = [
            # What every login and every admin page asks: the lockdowns not lifted (a
            # handful, whatever the history).
            models.Index(
                fields=["scope", "user"],
                condition=models.Q(lifted__isnull=True),
                name="sessions_pa_lockdown_on_idx",
            )
        ]

    def __str__(self) -> str:
        if self.scope == self.USER:
            return f"lockdown of user {self.user_id}"
        return "site lockdown"


class ReauthThrottle(models.Model):
    """Wrong passwords at the re-authentication prompt, per admin account.

    One row per account, shared by all of its sessions and every app server: kept in
    the database, because a cache may be local to each process, and a limit per
    process is no limit. Times are the database's clock (:mod:`sessions_panel.tracking.clock`),
    so servers whose clocks disagree agree on when a lock-out ends. A right password
    outside a lock-out deletes the row; see :mod:`sessions_panel.termination.reauth`.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
    )
    #: Wrong passwords since ``since``.
    failures = models.PositiveIntegerField(default=0)
    #: When the first failure still counted was made (seconds since the Unix epoch).
    since = models.FloatField()
    #: Until when the prompt refuses every password, when it is locked.
    locked_until = models.FloatField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.failures}"


class UserSearchText(models.Model):
    """What the search box finds a user by: their username, email and names, lower-cased
    in one column, so that one trigram index serves a substring search (see
    :mod:`sessions_panel.query.trigram`) instead of four ``LIKE`` scans of the user table.

    Kept in sync by :mod:`sessions_panel.query.usertext` (signals; ``manage.py reindexusers``
    after bulk writes that send none). On SQLite, triggers on this table mirror it into
    an FTS5 table: a migration that remakes this table must create them again.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,  # deleting a user through the ORM drops the row
        db_constraint=False,
        related_name="+",
    )
    text = models.TextField()

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"user {self.user_id}"
