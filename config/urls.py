from django.contrib import admin
from django.urls import include, path

from core.views import healthz, metrics
from messenger.api import api
from messenger.views import app_shell, emoji_catalog, service_worker, web_manifest

# The admin is Parley's too (accounts.admin_site): its name in the header and the tab, its sign-in form, and the
# app's icon (templates/admin/base_site.html).
urlpatterns = [
    path("", app_shell, name="app"),
    path("emoji.json", emoji_catalog, name="emoji-catalog"),
    path("sw.js", service_worker, name="service_worker"),
    path("manifest.webmanifest", web_manifest, name="web_manifest"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("api/v1/", api.urls),
    path("scim/v2/", include("accounts.scim.urls")),  # the identity provider's door (docs/directory.md, SCIM)
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
