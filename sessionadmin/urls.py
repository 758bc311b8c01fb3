from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    # "Your sessions": every signed-in user's own sessions, outside the admin.
    path("account/sessions/", include("sessions_panel.urls")),
]
