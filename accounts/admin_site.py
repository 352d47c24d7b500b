"""Who opens the admin: staff, as in Django, and also IT Admins and Compliance Officers by their role alone
(accounts.selectors.admin_open_to), so a role that a directory gives works without a superuser ticking staff."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.selectors import admin_open_to
from accounts.sign_in_views import AdminSignInForm


class ParleyAdminSite(admin.AdminSite):
    site_header = "Parley administration"
    site_title = "Parley admin"
    index_title = "People, rooms and the archive"
    site_url = "/"  # "View site" opens the chat
    login_form = AdminSignInForm  # says so when passwords are switched off (accounts.backends)

    def has_permission(self, request: HttpRequest) -> bool:
        if not hasattr(request, "_admin_open"):  # asked several times a page: one query at most
            request._admin_open = admin_open_to(user=request.user)
        return request._admin_open
