from django.contrib import admin
from django.urls import include, path

from core.views import healthz, metrics
from messenger.api import api
from messenger.views import app_shell

urlpatterns = [
    path("", app_shell, name="app"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
