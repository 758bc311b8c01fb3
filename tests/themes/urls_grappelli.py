"""The demo host's URLs plus grappelli's own (its autocomplete and related lookups)."""

from __future__ import annotations

from django.urls import include, path

from sessionadmin.urls import urlpatterns as host_urlpatterns

urlpatterns = [path("grappelli/", include("grappelli.urls")), *host_urlpatterns]
