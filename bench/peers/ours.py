"""Ours, measured through the real Sessions page: the admin's URLs, htmx headers, CSRF.

Seeded by the project's own seeder (``bench/seed.py``: the store, the index, the IP
history, the user search index and, on Redis, the cache entries); the peers copy their
data from this database afterwards, so all three hold the same sessions.
"""

from __future__ import annotations

import re
import time
from importlib import import_module
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from bench.peers import rows
from bench.peers.system import ADMIN_USERNAME, DEEP_PAGE, System

PAGE = "/admin/sessions_panel/sessionrecord/"
LOAD_MORE = re.compile(r'hx-get="([^"]*[?&](?:amp;)?after=[^"]*)"')


class Ours(System):
    label = "ours"
    session_table_prefixes = ("django_session", "sessions_panel_")

    def seed(self) -> dict[str, Any]:
        from bench import seed

        return seed.seed(self.n, log=self.log)

    def page_url(self, query: str = "") -> str:
        return f"{PAGE}?{query}" if query else PAGE

    def rows_in(self, body: bytes) -> int:
        return rows.count(body)

    def session_model(self) -> Any:
        return import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()

    def open_reauth_window(self, session_key: str) -> None:
        """As right after the admin's login: Kill All does not ask for the password
        again (the prompt's PBKDF2 check would otherwise be most of the request)."""
        from sessions_panel.models import SessionRecord

        SessionRecord.objects.filter(session_key=session_key).update(verified=time.time())

    def prepare(self) -> None:
        from sessions_panel.models import SessionRecord
        from sessions_panel.tracking import index_writer

        key = self.login()
        self.admin_key = key
        self.open_reauth_window(key)
        self.web = browser = self.browser(key)
        page1 = browser.get(PAGE)
        if page1.status != 200 or not self.rows_in(page1.body):
            raise RuntimeError(f"ours: page 1 answered {page1.status} without rows")

        full = self.get_ok(browser, PAGE)

        def page1_uncached() -> None:
            index_writer.forget_live_count()  # the badge's count is part of page 1's cost
            full()

        self.calls["page1"] = page1_uncached
        self.calls["deep"] = self.get_ok(browser, self.deep_url(page1.body), htmx=True)
        for scenario, term in self.searches().items():
            self.calls[scenario] = self.get_ok(browser, self.page_url(urlencode({"q": term})))

        keys = self.victim_keys()
        handles = dict(
            SessionRecord.objects.filter(session_key__in=keys).values_list("session_key", "handle")
        )
        victims = iter([handles[k] for k in keys if k in handles])
        kill_url = reverse("admin:sessions_panel_sessionrecord_kill")
        by_handle = {h: k for k, h in handles.items()}

        def kill_one() -> None:
            handle = next(victims)
            response = browser.post(
                kill_url,
                {"handle": handle},
                htmx=True,
                headers={"X-CSRFToken": browser.csrf_token},
            )
            if response.status != 200:
                raise RuntimeError(f"ours: kill answered {response.status}")
            self.killed.append(by_handle[handle])

        self.calls["kill_one"] = kill_one

    def data_shares(self) -> dict[str, Any]:
        from django.contrib.auth import get_user_model

        from sessions_panel.models import SessionRecord

        User = get_user_model()
        sessions = SessionRecord.objects.exclude(session_key__in=self.own_keys)
        users = User.objects.exclude(username=ADMIN_USERNAME)
        terms = self.searches()
        return {
            "sessions": sessions.count(),
            "authenticated": sessions.filter(user__isnull=False).count(),
            "users": users.count(),
            "search_user": users.filter(username__icontains=terms["search_user"]).count(),
            "rare_term": terms["search_user_rare"],
            "search_user_rare": users.filter(username__icontains=terms["search_user_rare"]).count(),
            "search_ip": sessions.filter(ip__startswith=terms["search_ip"]).count(),
            "search_ip_wide": sessions.filter(ip__startswith=terms["search_ip_wide"]).count(),
        }

    def deep_url(self, body: bytes) -> str:
        """The 20th page: what the browser asks for after 19 "Load more" clicks."""
        found = LOAD_MORE.findall(body.decode())
        if not found:
            raise RuntimeError("ours: page 1 has no load-more link")
        url = found[0].replace("&amp;", "&")
        for _ in range(DEEP_PAGE - 2):  # page 2's link is on page 1
            response = self.web.get(url, htmx=True)
            found = LOAD_MORE.findall(response.body.decode())
            if response.status != 200 or not found:
                raise RuntimeError(f"ours: load more stopped ({response.status})")
            url = found[0].replace("&amp;", "&")
        return url

    def killed_refused(self) -> tuple[int, int]:
        """How many sessions the kill scenario ended are refused now (store load empty)."""
        store = import_module(settings.SESSION_ENGINE).SessionStore
        refused = sum(1 for key in self.killed if store(key).load() == {})
        return refused, len(self.killed)

    def kill_all(self, mode: str = "admin") -> dict[str, Any]:
        """The whole Kill All request, as the dialog posts it (htmx, CSRF, a reason)."""
        from sessions_panel.models import SessionRecord

        store = import_module(settings.SESSION_ENGINE).SessionStore
        model = self.session_model()
        sample_keys = self.victim_keys(60)[-10:]
        before = self.live_sessions()
        self.open_reauth_window(self.admin_key)
        url = reverse("admin:sessions_panel_sessionrecord_kill_all")
        response = self.web.post(
            url, {"reason": "bench"}, htmx=True, headers={"X-CSRFToken": self.web.csrf_token}
        )
        if response.status != 200:
            raise RuntimeError(f"ours: Kill All answered {response.status}")
        refused = sum(1 for key in sample_keys if store(key).load() == {})
        store_left = model.objects.exclude(session_key__in=self.own_keys).count()
        index_left = SessionRecord.objects.exclude(session_key__in=self.own_keys).count()
        after = response.closed - response.answered
        return {
            "ms": response.answered * 1000,
            "after_ms": after * 1000,
            "note": (
                f"ours: the POST to the page's kill-all endpoint (htmx), timed to its answer "
                f"(the refreshed list); {before:,} live sessions; {refused}/{len(sample_keys)} "
                f"sampled sessions refused right after; the admin's own kept; the clean-up "
                f"that runs after the answer, in the same process, took {after:,.1f} s more "
                f"and left {store_left:,} store rows and {index_left:,} index rows to the "
                "next clean-up (prune / the next page)"
            ),
        }
