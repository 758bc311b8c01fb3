"""URLs of “Your sessions”, every signed-in user's page of their own sessions.

Include them where the host keeps account pages, e.g.
``path("account/sessions/", include("sessions_panel.urls"))``; names are in the
``sessions_panel_account`` namespace (``sessions_panel_account:sessions``).
"""

from __future__ import annotations

from django.urls import path

from sessions_panel.account import views

app_name = views.URL_NAMESPACE

urlpatterns = [
    path("", views.sessions, name="sessions"),
    path("end/", views.end, name="end"),
    path("end-others/", views.end_others, name="end_others"),
]
