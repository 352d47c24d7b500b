"""Two-factor enforcement for HTTP: a session that owes its second factor reaches only the page that settles it
(the code page, or the set-up page for a first enrolment), sign-in and sign-out, health and static files."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.selectors import second_factor_owed

OWED_VIEWS = {"verify": "two_factor_verify", "enrol": "two_factor_setup"}
ALWAYS_OPEN_VIEWS = ("login", "oidc_sign_in", "oidc_callback", "logout", "healthz", "service_worker", "web_manifest")


class SecondFactorMiddleware:
    """Sends a signed-in person who owes a second factor to the code page (or the set-up page if they must
    enrol), and answers API calls made with such a session with 403. Sockets check the same rule on connect.

    The set-up page is open only to a session that owes "enrol" (no second factor yet, and one is required);
    one that owes "verify" is sent to the code page from there too, or the password alone would replace the
    owner's authenticator. The views and services check the same rule again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not self._is_always_open(request.path):
            owed = second_factor_owed(user=user, verified=user.is_verified())
            if owed and request.path != reverse(OWED_VIEWS[owed]):
                return self._refusal(request, owed)
        return self.get_response(request)

    def _is_always_open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = {reverse(name) for name in ALWAYS_OPEN_VIEWS}
        return path in self._open_paths or path.startswith("/" + settings.STATIC_URL.lstrip("/"))

    @staticmethod
    def _refusal(request: HttpRequest, owed: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"code": "two_factor_required", "message": "Finish signing in with your second factor first."},
                status=403,
            )
        return redirect(f"{reverse(OWED_VIEWS[owed])}?{urlencode({'next': request.get_full_path()})}")


SCIM_PATH_PREFIX = "/scim/"


class ScimWithoutSessionMiddleware:
    """/scim/v2/ is the identity provider's door, opened by its SCIM token alone (accounts.scim.views): whatever
    session cookie comes along is not looked at. Placed right after AuthenticationMiddleware, so the second-factor
    check does not redirect a provider's request and the audit log never names a person for what SCIM wrote."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(SCIM_PATH_PREFIX):
            request.user = AnonymousUser()
        return self.get_response(request)
