"""Two-factor enforcement for HTTP: a session that owes its second factor reaches only the sign-in pages."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.selectors import second_factor_owed

OWED_VIEWS = {"verify": "two_factor_verify", "enrol": "two_factor_setup"}


class SecondFactorMiddleware:
    """Sends a signed-in person who owes a second factor to the code page (or the set-up page if they must
    enrol), and answers API calls made with such a session with 403. Sockets check the same rule on connect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: set[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not self._is_open(request.path):
            owed = second_factor_owed(user=user, verified=user.is_verified())
            if owed:
                return self._refusal(request, owed)
        return self.get_response(request)

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            names = ("login", "logout", "two_factor_verify", "two_factor_setup", "healthz")
            self._open_paths = {reverse(name) for name in names}
        return path in self._open_paths or path.startswith("/" + settings.STATIC_URL.lstrip("/"))

    @staticmethod
    def _refusal(request: HttpRequest, owed: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"code": "two_factor_required", "message": "Finish signing in with your second factor first."},
                status=403,
            )
        return redirect(f"{reverse(OWED_VIEWS[owed])}?{urlencode({'next': request.get_full_path()})}")
