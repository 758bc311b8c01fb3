"""The Sessions page in the admin, mounted by ``SessionRecordAdmin`` (:mod:`sessions_panel.sites`).

- :mod:`.mount`: the page's URL names and addresses, the list state a request asks for;
- :mod:`.changelist`: the list view (the page, its results fragment, "Load more");
- :mod:`.actions`: what the kill views share; :mod:`.kill_one` (a session, a user's)
  and :mod:`.kill_many` (Kill All, the search's matches);
- :mod:`.row_markup`: the rows' HTML; :mod:`.freshness`: the live refresh's 304;
  :mod:`.health`: the banner when kills cannot hold or the store is down.

Every view runs behind ``admin_site.admin_view`` (active staff, ``never_cache``, CSRF)
and checks the model permissions itself: ``view`` to see and search, ``view`` and
``delete`` to kill, ``reveal_ip`` to see full IP addresses. The ``HX-Request`` header
only picks the template (the whole page or the results fragment), never the
authorisation. Sessions are ended through :mod:`sessions_panel.termination` and nowhere
else (never a store directly); every multi-session kill asks for the admin's password
again when :func:`sessions_panel.termination.reauth.needs_password` says so, and a
lesser admin's kills leave superusers' sessions alone
(:mod:`sessions_panel.termination.protection`).
"""
