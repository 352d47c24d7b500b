"""Sign-in lockout (django-axes) with two limits: a username from one address, and one address for everyone.

axes locks by the combination (username, address) we configure in AXES_LOCKOUT_PARAMETERS, so wrong passwords
typed somewhere else cannot lock the compliance officer out where she works. That alone would let one address
try a few passwords against every username (spraying), so this handler adds a second, higher limit on the
failures from one address across all usernames, PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT.

axes itself cannot express two limits: it compares the largest count of all its lockout parameters with one
AXES_FAILURE_LIMIT (a callable limit gets the request, not the parameter being counted), so listing
"ip_address" as a second parameter would lock the address at the username's limit.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.db.models import Sum
from django.http import HttpRequest


def address_failures(request: HttpRequest) -> int:
    """Wrong passwords from this request's address (any username) within the cool-off."""
    address = getattr(request, "axes_ip_address", None)
    if not address:
        return 0  # no address known: the username limit still holds
    attempts = AccessAttempt.objects.filter(ip_address=address)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def is_address_locked(request: HttpRequest) -> bool:
    limit = settings.PARLEY_LOGIN_ADDRESS_FAILURE_LIMIT
    return settings.AXES_LOCK_OUT_AT_FAILURE and bool(limit) and address_failures(request) >= limit


class ParleyAxesHandler(AxesDatabaseHandler):
    """axes' database handler, plus the per-address limit (see the module docstring)."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        # Checked by AxesStandaloneBackend before any password is looked at.
        return super().is_locked(request, credentials) or is_address_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False) or self.is_whitelisted(request, credentials):
            return
        if is_address_locked(request):
            # The failure that reaches the limit is answered with the lockout page, as axes does for its own.
            request.axes_locked_out = True
            request.axes_credentials = credentials
            username = get_client_username(request, credentials)
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)
