"""Password sign-in against the passwords Parley keeps, which IT can switch off for everyone but a break-glass
account once people sign in through the company's identity provider (PARLEY_LOCAL_PASSWORDS, docs/security.md).

The refusal is here, in the backend every password sign-in goes through (the login page, the admin's, any code
calling authenticate), not in a form: a path added later cannot forget it. It refuses before looking at the
password, and like a wrong password it is a failed sign-in that django-axes counts, so guessing while passwords
are off still locks out. Other password backends (a directory's, LDAP) are not affected: their passwords are the
company's, not Parley's.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


def local_passwords_on() -> bool:
    return settings.PARLEY_LOCAL_PASSWORDS == "on"


def is_break_glass(username: str) -> bool:
    """Is this one of the accounts that may still sign in with a password when passwords are off?"""
    return bool(username) and username in settings.PARLEY_BREAK_GLASS_USERNAMES


def local_password_allowed(username: str) -> bool:
    """May this username sign in with a password Parley keeps?"""
    return local_passwords_on() or is_break_glass(username)


class LocalPasswordBackend(ModelBackend):
    """Django's ModelBackend (passwords, and every permission check), refusing passwords that are switched off."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        if username is not None and not local_password_allowed(str(username)):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    @staticmethod
    def _username_field() -> str:
        from accounts.models import User

        return User.USERNAME_FIELD
