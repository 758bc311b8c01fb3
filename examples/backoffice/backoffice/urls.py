"""One admin site, at ``/backoffice/``; the site root sends visitors there.

There is no ``/admin/``: the stock ``admin.site`` still exists (Django's admin app creates
it, and the panel puts its pages on it when the admin autodiscovers), but nothing serves
it. Everything lives on :data:`accounts.admin.backoffice_site`.
"""

from __future__ import annotations

from accounts.admin import backoffice_site
from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/backoffice/", permanent=False)),
    path("backoffice/", backoffice_site.urls),
]
