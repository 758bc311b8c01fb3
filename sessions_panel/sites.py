"""The Sessions page and the audit trail on any admin site: :func:`register`.

``sessions_panel.admin`` registers both on ``admin.site`` when the admin autodiscovers
it; that covers the stock site and a site set through ``AdminConfig.default_site``
(``admin.site`` *is* that site then). An extra ``AdminSite`` instance gets them with one
line where it is defined::

    from sessions_panel.sites import register

    backoffice = AdminSite(name="backoffice")
    register(backoffice)

Extra sites are not joined automatically: an extra site is often a deliberately narrow
one (support staff, a tenant), and a Kill All button is not something to add to it
behind its owner's back. Check ``sessions_panel.W001`` points out a site that lists
users but not the Sessions page.

This module registers nothing when imported, and never touches ``admin.site``: a host
module that defines its ``default_site`` class can import it without an import cycle
(``admin.site`` would import that very module to build itself).

The Sessions page is a ``ModelAdmin`` whose changelist is the page. Registering the
index model puts "Sessions" on the site's index and in its nav sidebar, with the admin's
own permissions: ``view`` to see, ``delete`` to kill. Only the page's URLs exist: no
add, change, history or delete views (the stock delete view would drop an index row and
leave the session alive). Every URL is wrapped with ``admin_site.admin_view`` of the
site it is registered on and reversed in that site's namespace, so each site keeps its
own login, chrome and links.

:class:`AuditEntryAdmin` shows the audit trail read-only: entries are written by the
kill service alone, and an audit that admins could edit or delete would prove nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import update_wrapper
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet, Value
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.page import changelist, kill_many, kill_one, lockdown, mount
from sessions_panel.query import privacy
from sessions_panel.query.liststate import parse_user_id

View = Callable[..., HttpResponse]

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[SessionRecord]
    _AuditAdmin = admin.ModelAdmin[AuditEntry]
else:  # ModelAdmin is generic only in the type stubs
    _ModelAdmin = _AuditAdmin = admin.ModelAdmin


class SessionRecordAdmin(_ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SessionRecord | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [
            path("", self._wrap(self.changelist_view), name=self._name("changelist")),
            path("kill/", self._wrap(self.kill_view), name=self._name("kill")),
            path("kill-user/", self._wrap(self.kill_user_view), name=self._name("kill_user")),
            path("kill-all/", self._wrap(self.kill_all_view), name=self._name("kill_all")),
            path(
                "kill-matching/",
                self._wrap(self.kill_matching_view),
                name=self._name("kill_matching"),
            ),
            path("lockdown/", self._wrap(self.lockdown_view), name=self._name("lockdown")),
            path(
                "lift-lockdown/",
                self._wrap(self.lift_lockdown_view),
                name=self._name("lift_lockdown"),
            ),
        ]

    def _name(self, name: str) -> str:
        return mount.url_name(self, name)

    def _wrap(self, view: View) -> View:
        """Django's own ``get_urls`` idiom, plus a clean answer to a stale htmx page.

        An htmx request that ``admin_view`` would redirect to the login form (the
        admin's session ended meanwhile) gets ``HX-Redirect`` instead, so the login page
        replaces the whole page rather than being swapped into the table.
        """

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.current_app = self.admin_site.name
            if mount.wants_fragment(request) and not self.admin_site.has_permission(request):
                return self._login_redirect(request)
            return self.admin_site.admin_view(view)(request, *args, **kwargs)

        wrapper.model_admin = self  # type: ignore[attr-defined]
        return update_wrapper(wrapper, view)

    def _login_redirect(self, request: HttpRequest) -> HttpResponse:
        site = self.admin_site.name
        login = reverse(f"{site}:login", current_app=site)
        page = mount.panel_urls(self)["changelist"]
        response = HttpResponseClientRedirect(f"{login}?{urlencode({'next': page})}")
        add_never_cache_headers(response)
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return changelist.session_list(request, self)

    def kill_view(self, request: HttpRequest) -> HttpResponse:
        return kill_one.kill(request, self)

    def kill_user_view(self, request: HttpRequest) -> HttpResponse:
        return kill_one.kill_user(request, self)

    def kill_all_view(self, request: HttpRequest) -> HttpResponse:
        return kill_many.kill_all(request, self)

    def kill_matching_view(self, request: HttpRequest) -> HttpResponse:
        return kill_many.kill_matching(request, self)

    def lockdown_view(self, request: HttpRequest) -> HttpResponse:
        return lockdown.lock_down(request, self)

    def lift_lockdown_view(self, request: HttpRequest) -> HttpResponse:
        return lockdown.lift(request, self)


class AuditEntryAdmin(_AuditAdmin):
    """Who ended which sessions, when and why: read-only, for the ``view`` permission."""

    list_display = ("created", "by", "scope", "killed", "failed", "reason_shown")
    list_filter = ("scope", "created")
    search_fields = ("actor_repr", "reason", "short_ids")
    fields = (
        "created",
        "by",
        "scope",
        "reason_shown",
        "requested",
        "killed",
        "failed",
        "spared",
        "users",
        "session_ids",
        "detail_shown",
    )
    readonly_fields = fields
    actions = None
    list_per_page = 50
    show_full_result_count = False  # no count(*) over a long trail on every page

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # "Audit trail", as the index, the sidebar and the Sessions page call it, rather
        # than Django's "Select audit entry to view".
        title = capfirst(str(self.opts.verbose_name_plural))
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    @admin.display(description=_("by"), ordering="actor_repr")
    def by(self, entry: AuditEntry) -> str:
        return entry.actor_repr or str(_("the system"))

    @admin.display(description=_("users"))
    def users(self, entry: AuditEntry) -> str:
        """Usernames as they are now (one query), with the ids the entry recorded; "User
        #N" alone (no query) where the reader may not see the name."""
        ids = [str(i) for i in entry.user_ids]
        if not ids:
            return "—"
        if not names_shown(entry, reader_of(entry)):
            return ", ".join(privacy.user_label(i) for i in ids)
        user_model = get_user_model()
        valid = [pk for pk, error in map(parse_user_id, ids) if pk and not error]
        names = {
            str(pk): name
            for pk, name in user_model._default_manager.filter(pk__in=valid).values_list(
                "pk", user_model.USERNAME_FIELD
            )
        }
        deleted = str(_("deleted user"))
        return ", ".join(f"{names.get(i, deleted)} (#{i})" for i in ids)

    @admin.display(description=_("session IDs"))
    def session_ids(self, entry: AuditEntry) -> str:
        return ", ".join(str(s) for s in entry.short_ids) or "—"

    # -- what each reader may see ----------------------------------------------------
    #
    # The trail shows no more than its reader may see on the Sessions page: an address
    # masked without ``reveal_ip``, and no name of an account that had no session to
    # end without the ``view`` permission on users. The display methods get the entry
    # alone, so the reader's rights travel on it (:meth:`get_object`); an entry
    # without them is shown as to a reader who has neither.

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> AuditEntry | None:
        entry = super().get_object(request, object_id, from_field)
        if entry is not None:
            reader = Reader(privacy.can_reveal_ip(request), privacy.can_view_users(request))
            setattr(entry, READER, reader)
        return entry

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        """The list's entries carry their reader's rights too (as annotations): the
        list's display methods get the entry alone."""
        return (
            super()
            .get_queryset(request)
            .annotate(
                **{
                    READER_REVEAL_IP: Value(privacy.can_reveal_ip(request)),
                    READER_VIEW_USERS: Value(privacy.can_view_users(request)),
                }
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEntry], search_term: str
    ) -> tuple[QuerySet[AuditEntry], bool]:
        # A reason is free text: a search for part of an address in it would tell a
        # reader without reveal_ip what the mask hides, by what it finds.
        setattr(
            request,
            REASON_SEARCHABLE,
            privacy.can_reveal_ip(request) or not _ADDRESS_LIKE.search(search_term),
        )
        return super().get_search_results(request, queryset, search_term)

    def get_search_fields(self, request: HttpRequest) -> list[str] | tuple[str, ...]:
        fields = tuple(super().get_search_fields(request))
        if getattr(request, REASON_SEARCHABLE, False):
            return fields
        return tuple(f for f in fields if f != "reason")

    @admin.display(description=_("reason"), ordering="reason")
    def reason_shown(self, entry: AuditEntry) -> str:
        """The reason as typed, addresses in it masked for a reader without reveal_ip."""
        if reader_of(entry).reveal_ip:
            return entry.reason
        return privacy.mask_ips_in_text(entry.reason)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """No ``?detail__contains=192.0.2`` on the list: a filter by what a reader sees
        masked would tell them the hidden part by what it finds."""
        if lookup.split(LOOKUP_SEP)[0] in UNFILTERABLE:
            return False
        return bool(super().lookup_allowed(lookup, value, request))

    @admin.display(description=_("detail"))
    def detail_shown(self, entry: AuditEntry) -> str:
        """The entry's detail as far as its reader may see it.

        A filter-wide kill is written out from its filters (entries from before they
        were kept as data: from the ``filter q=…`` text); any other detail is free
        text, whatever parses as an address in it masked.
        """
        reader = reader_of(entry)
        filters = entry.filters if isinstance(entry.filters, dict) else {}
        if not filters and entry.scope == AuditEntry.SCOPE_FILTER:
            filters = _filters_in(entry.detail)
        if filters:
            return f"filter {filter_text(filters, reveal_ip=reader.reveal_ip)}"
        if not names_shown(entry, reader) and entry.user_ids:
            return privacy.user_label(entry.user_ids[0])
        text = entry.detail if reader.reveal_ip else privacy.mask_ips_in_text(entry.detail)
        return text or "—"


#: Where :meth:`AuditEntryAdmin.get_object` leaves the reader's rights on an entry.
READER = "_sessions_panel_reader"
#: The same rights, as the list's annotations (see ``get_queryset``).
READER_REVEAL_IP = "sp_reader_reveal_ip"
READER_VIEW_USERS = "sp_reader_view_users"
#: Where ``get_search_results`` notes whether the reason may be searched for this term.
REASON_SEARCHABLE = "_sessions_panel_reason_searchable"
#: A search term that could match part of an address: a digit, a colon, or a word of
#: hex digits alone (an IPv6 group).
_ADDRESS_LIKE = re.compile(r"[0-9:]|(?<![\w])[a-fA-F]{1,4}(?![\w])")
#: Fields the audit list cannot be filtered by (see ``lookup_allowed``).
UNFILTERABLE = frozenset({"detail", "filters"})
#: The order a filter-wide kill's filters are written in (the page's query string's).
FILTER_ORDER = ("q", "status", "flag", "user")
_QUOTED_HIDDEN = quote_plus(privacy.HIDDEN)


@dataclass(frozen=True)
class Reader:
    """What the admin reading an audit entry may see. The default sees the least."""

    reveal_ip: bool = False
    view_users: bool = False


def reader_of(entry: AuditEntry) -> Reader:
    reader = getattr(entry, READER, None)
    if isinstance(reader, Reader):
        return reader
    # On the list: the annotations of AuditEntryAdmin.get_queryset.
    return Reader(
        getattr(entry, READER_REVEAL_IP, False) is True,
        getattr(entry, READER_VIEW_USERS, False) is True,
    )


def names_shown(entry: AuditEntry, reader: Reader) -> bool:
    """Whether ``reader`` may see the names of the entry's users.

    The users whose sessions a kill ended were on the Sessions page, by name, for
    everyone who could list them. A kill-user entry that found no session names an
    account that was on no list: only a reader who may see users learns who it is,
    as on the page (``?user=N``).
    """
    if reader.view_users:
        return True
    # So is a lockdown's or a lift's of one user that ended none (the user may have had
    # none: a lockdown needs none to refuse their sign-in).
    one_user = (AuditEntry.SCOPE_USER, AuditEntry.SCOPE_LOCKDOWN, AuditEntry.SCOPE_LIFTED)
    return not (entry.scope in one_user and entry.requested == 0)


def _filters_in(detail: str) -> dict[str, str]:
    """The filters in the ``filter q=…&status=…`` text of an entry written before they
    were kept as data (empty for any other text)."""
    if not detail.startswith("filter "):
        return {}
    return dict(parse_qsl(detail.removeprefix("filter ")))


def filter_text(filters: Mapping[str, Any], *, reveal_ip: bool) -> str:
    """Filters as the page's query string writes them (``q=shop&status=guest``), each
    value masked by :func:`privacy.mask_search` for a reader without ``reveal_ip``.

    In a fixed order (PostgreSQL's ``jsonb`` keeps keys in an order of its own), and
    readable: colons and the mask's dots are not percent-encoded.
    """
    keys = [key for key in FILTER_ORDER if key in filters]
    keys += sorted(str(key) for key in filters if key not in FILTER_ORDER)
    parts = []
    for key in keys:
        value = str(filters[key])
        if not reveal_ip:
            value = privacy.mask_search(value)
        parts.append(f"{quote_plus(key)}={quote_plus(value, safe=':')}")
    return "&".join(parts).replace(_QUOTED_HIDDEN, privacy.HIDDEN)


#: What :func:`register` puts on a site, in this order.
PANEL_ADMINS: tuple[tuple[type[Model], type[admin.ModelAdmin[Any]]], ...] = (
    (SessionRecord, SessionRecordAdmin),
    (AuditEntry, AuditEntryAdmin),
)


def register(site: admin.AdminSite) -> None:
    """Put the Sessions page and the audit trail on ``site``.

    Models already registered there are left alone, so calling it twice is harmless and
    a host's own subclass of :class:`SessionRecordAdmin` registered first is kept.
    """
    for model, model_admin in PANEL_ADMINS:
        if not site.is_registered(model):
            site.register(model, model_admin)


def missing_from(site: admin.AdminSite) -> list[type[Model]]:
    """The panel's models that ``site`` does not show (for check ``W001``)."""
    return [model for model, _admin in PANEL_ADMINS if not site.is_registered(model)]
