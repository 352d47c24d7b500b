from django.contrib import admin
from django.urls import include, path

from accounts.sign_in_views import AdminSignInForm
from core.views import healthz, metrics
from messenger.api import api
from messenger.views import app_shell, emoji_catalog, service_worker, web_manifest

# The admin is Parley's too: its name in the header and the tab, and the app's icon (templates/admin/base_site.html).
admin.site.site_header = "Parley administration"
admin.site.site_title = "Parley admin"
admin.site.index_title = "People, rooms and the archive"
admin.site.site_url = "/"  # "View site" opens the chat
admin.site.login_form = AdminSignInForm  # says so when passwords are switched off (accounts.backends)

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
