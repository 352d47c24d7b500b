"""Request checks that apply to every view."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.text import NUL_REFUSED, contains_nul


class RejectNulCharactersMiddleware:
    """Answer 400 to a request whose path, query, form fields or JSON body hold U+0000 (core.text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._holds_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "invalid_request", "message": NUL_REFUSED}, status=400)
            return HttpResponse(NUL_REFUSED, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _holds_nul(request: HttpRequest) -> bool:
        if contains_nul(request.path) or contains_nul(dict(request.GET.lists())):
            return True
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return False
        if request.content_type == "application/json":
            try:
                return contains_nul(json.loads(request.body or b"null"))
            except ValueError:
                return False  # not JSON after all: the view says so
        return contains_nul(dict(request.POST.lists()))
