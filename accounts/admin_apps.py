"""The admin as an app whose site is Parley's (accounts.admin_site); INSTALLED_APPS names this instead of
django.contrib.admin. Kept apart from the site itself: an app's config module is imported before models are."""

from django.contrib.admin.apps import AdminConfig


class ParleyAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.ParleyAdminSite"
