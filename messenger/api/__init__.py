"""The HTTP JSON API, /api/v1/ (docs/api.md), built with django-ninja: typed inputs, an OpenAPI schema at
/api/v1/openapi.json. Thin like the consumer: parse, call one service or selector, return its payload.
The routes live in one router per subject (people, conversations, rooms); this module assembles them.

Authentication: the browser's session (CSRF enforced on unsafe methods) or `Authorization: Bearer <token>`
with a per-user API token. Errors are JSON `{"code", "message"}`, mapped in one place below.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation
from ninja.security import HttpBearer, django_auth

from accounts.services import api_token_use
from calls import api as calls_api
from core.errors import ParleyError
from messenger.api import conversations, notifications, people, rooms


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_use(token=token)
        if user is not None:
            request.user = user
        return user


class ParleyApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        """messenger_api_<view>, whichever router module holds the view: the ids generated clients were built
        with before the API was split by subject."""
        return f"messenger_api_{operation.view_func.__name__}"


api = ParleyApi(
    title="Parley API",
    version="1",
    description="Conversations, messages and rooms of the signed-in user. Live traffic: the WebSocket at /ws/.",
    urls_namespace="api-v1",
    auth=[ApiTokenAuth(), django_auth],
    # The interactive docs and the schema are for people who may use the API: signed in, or sent to sign in.
    docs_decorator=login_required,
)


# ---- errors: the one place they become HTTP responses ------------------------------------------------------


def _error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(ParleyError)
def parley_error(request: HttpRequest, error: ParleyError) -> HttpResponse:
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None:
        return _error(request, error.http_status, error.code, error.message)
    # `overloaded`: the header counts whole seconds (RFC 9110); the body keeps the finer hint.
    response = _error(request, error.http_status, error.code, error.message, retry_after=retry_after)
    response["Retry-After"] = str(math.ceil(retry_after))
    return response


@api.exception_handler(DataError)
def unstorable(request: HttpRequest, error: DataError) -> HttpResponse:
    """A value the database refused (the checks at the door should have caught it): the request changed
    nothing (its transaction rolled back) and is told so, never a 500."""
    return _error(request, 400, "invalid_request", "A value in the request cannot be stored.")


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return _error(request, 422, "invalid_request", "The request is not valid.", detail=error.errors)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "Sign in, or send a valid API token.")


@api.exception_handler(Http404)
def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "No such resource.")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return _error(request, error.status_code, "http_error", str(error))


# ---- routes, by subject: added in this order so the schema lists them as before --------------------------

api.add_router("", people.router)
api.add_router("", conversations.router)
api.add_router("", rooms.router)
api.add_router("", notifications.router)
api.add_router("", calls_api.router)
