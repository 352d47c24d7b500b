"""The HTTP side of SCIM: authenticate the identity provider's bearer token, parse, call one selector or service,
answer SCIM JSON. Errors become SCIM error responses in one place, `scim_endpoint`.

No session and no CSRF: the only credential is a ScimToken. A person's API token or session cookie is not one
(accounts.middleware.ScimWithoutSessionMiddleware sets aside any session before the audit log and the
second-factor check look at it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.directory import DirectoryConfigError
from accounts.models import ScimToken
from accounts.scim import protocol, resources, selectors, services
from accounts.scim.protocol import ScimError
from accounts.services import scim_token_use

View = Callable[..., HttpResponse]
USER_FILTERS = ("userName", "id")
GROUP_FILTERS = ("displayName", "id", "members")


def _answer(document: Any, *, status: int = 200, location: str = "") -> HttpResponse:
    response = HttpResponse(json.dumps(document), status=status, content_type=protocol.CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def _refusal(error: ScimError) -> HttpResponse:
    response = _answer(resources.error_resource(error), status=error.http_status)
    if error.http_status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="Parley SCIM"'
    return response


def _token_of(request: HttpRequest) -> ScimToken:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    found = scim_token_use(token=token.strip()) if scheme.casefold() == "bearer" else None
    if found is None:
        raise ScimError("A live SCIM token is required: Authorization: Bearer <token issued in admin>.", status=401)
    return found


def scim_endpoint(methods: tuple[str, ...]) -> Callable[[View], View]:
    """Wrap a view of one SCIM path answering the HTTP `methods`: the token first, then errors as SCIM's."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                _token_of(request)
                if request.method not in methods:
                    raise ScimError(f"{request.method} is not supported here.", status=405)
                return view(request, **kwargs)
            except ScimError as error:
                return _refusal(error)
            except DirectoryConfigError as error:  # accounts.scim.checks refuses it at migrate; in case it got past
                return _refusal(ScimError(f"Parley's SCIM settings are wrong: {error.message}", status=503))

        return wrapper

    return decorate


def _locator(request: HttpRequest) -> resources.Locate:
    root = request.build_absolute_uri(reverse("scim:root"))

    def locate(kind: str, scim_id: str) -> str:
        return f"{root}{kind}/{scim_id}" if scim_id else f"{root}{kind}"

    return locate


def _body(request: HttpRequest) -> dict[str, Any]:
    return protocol.body_parse(request.body)


def _created(resource: dict[str, Any]) -> HttpResponse:
    return _answer(resource, status=201, location=resource["meta"]["location"])


def _page(request: HttpRequest, found: QuerySet, render: Callable[[Any], dict[str, Any]]) -> HttpResponse:
    """One page of a list (startIndex, count), with the total: two queries, plus what `found` prefetches."""
    start, count = protocol.paging_parse(request.GET)
    page = list(found[start - 1 : start - 1 + count]) if count else []
    return _answer(resources.list_response(map(render, page), total=found.count(), start=start))


# ---- Users -------------------------------------------------------------------------------------------------


@scim_endpoint(("GET", "POST"))
def users(request: HttpRequest) -> HttpResponse:
    locate = _locator(request)
    if request.method == "POST":
        user = services.scim_user_create(attributes=protocol.user_from_body(_body(request)))
        return _created(resources.user_resource(user, locate=locate))
    people = selectors.scim_users()
    for attribute, value in protocol.filter_parse(request.GET.get("filter", ""), attributes=USER_FILTERS):
        people = selectors.scim_users_matching(people, attribute=attribute, value=value)
    return _page(request, people, lambda user: resources.user_resource(user, locate=locate))


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def user(request: HttpRequest, scim_id: str) -> HttpResponse:
    found = selectors.scim_user(scim_id=scim_id)
    if request.method == "DELETE":
        services.scim_user_delete(user=found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        found = services.scim_user_replace(user=found, attributes=protocol.user_from_body(_body(request)))
    elif request.method == "PATCH":
        found = services.scim_user_patch(user=found, body=_body(request))
    resource = resources.user_resource(found, locate=_locator(request))
    return _answer(resource, location=resource["meta"]["location"])


# ---- Groups ------------------------------------------------------------------------------------------------


def _with_members(request: HttpRequest) -> bool:
    """Entra ID asks for groups without their members (excludedAttributes=members): a big group is not read."""
    excluded = {name.strip().casefold() for name in request.GET.get("excludedAttributes", "").split(",")}
    return "members" not in excluded


@scim_endpoint(("GET", "POST"))
def groups(request: HttpRequest) -> HttpResponse:
    locate = _locator(request)
    if request.method == "POST":
        group = services.scim_group_create(attributes=protocol.group_from_body(_body(request)))
        return _created(resources.group_resource(group, locate=locate))
    with_members = _with_members(request)
    found = selectors.scim_groups(with_members=with_members)
    for attribute, value in protocol.filter_parse(request.GET.get("filter", ""), attributes=GROUP_FILTERS):
        found = selectors.scim_groups_matching(found, attribute=attribute, value=value)
    return _page(request, found, lambda g: resources.group_resource(g, locate=locate, with_members=with_members))


@scim_endpoint(("GET", "PUT", "PATCH", "DELETE"))
def group(request: HttpRequest, scim_id: str) -> HttpResponse:
    found = selectors.scim_group(scim_id=scim_id, with_members=_with_members(request))
    if request.method == "DELETE":
        services.scim_group_delete(group=found)
        return HttpResponse(status=204)
    if request.method == "PUT":
        found = services.scim_group_replace(group=found, attributes=protocol.group_from_body(_body(request)))
    elif request.method == "PATCH":
        found = services.scim_group_patch(group=found, body=_body(request))
    resource = resources.group_resource(found, locate=_locator(request), with_members=_with_members(request))
    return _answer(resource, location=resource["meta"]["location"])


# ---- discovery ---------------------------------------------------------------------------------------------


@scim_endpoint(("GET",))
def service_provider_config(request: HttpRequest) -> HttpResponse:
    return _answer(resources.service_provider_config(locate=_locator(request)))


@scim_endpoint(("GET",))
def resource_types(request: HttpRequest, name: str = "") -> HttpResponse:
    return _one_or_all(resources.resource_types(locate=_locator(request)), name, "ResourceType")


@scim_endpoint(("GET",))
def schemas(request: HttpRequest, name: str = "") -> HttpResponse:
    return _one_or_all(resources.schemas(locate=_locator(request)), name, "Schema")


def _one_or_all(documents: list[dict[str, Any]], name: str, what: str) -> HttpResponse:
    if not name:
        return _answer(resources.list_response(documents, total=len(documents), start=1))
    found = next((document for document in documents if document["id"].casefold() == name.casefold()), None)
    if found is None:
        raise protocol.not_found(what, name)
    return _answer(found)


@scim_endpoint(("GET", "POST", "PUT", "PATCH", "DELETE"))
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """/scim/v2/Bulk, /scim/v2/Me and typos: a SCIM 404 rather than the site's HTML one."""
    raise ScimError(f"Parley serves no SCIM endpoint {rest!r}.", status=404)
