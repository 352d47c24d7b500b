"""SCIM resources as JSON: Users, Groups, list responses, errors and the discovery documents (RFC 7643 5-7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from accounts.models import ScimGroup, User
from accounts.scim.protocol import (
    ENTERPRISE_SCHEMA,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    MAX_PAGE_SIZE,
    USER_SCHEMA,
    ScimError,
)

Locate = Callable[[str, str], str]  # (resource type, id) -> absolute URL


def user_resource(user: User, *, locate: Locate) -> dict[str, Any]:
    """A User as the provider reads it back. `user` comes from selectors.scim_users (manager, groups fetched)."""
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": user.directory_id,
        "userName": user.username,
        "displayName": user.display_name,
        "name": {"formatted": user.display_name},
        "title": user.job_title,
        "active": user.is_active,
        "emails": [{"value": user.email, "type": "work", "primary": True}] if user.email else [],
        "phoneNumbers": [{"value": user.phone, "type": "work"}] if user.phone else [],
        ENTERPRISE_SCHEMA: {"department": user.department},
        "groups": [
            {"value": str(group.scim_id), "display": group.display_name, "$ref": locate("Groups", str(group.scim_id))}
            for group in user.scim_groups.all()
        ],
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "location": locate("Users", user.directory_id),
        },
    }
    if user.manager is not None and user.manager.directory_id:
        resource[ENTERPRISE_SCHEMA]["manager"] = {
            "value": user.manager.directory_id,
            "$ref": locate("Users", user.manager.directory_id),
        }
    return resource


def group_resource(group: ScimGroup, *, locate: Locate, with_members: bool = True) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.scim_id),
        "displayName": group.display_name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at.isoformat(),
            "lastModified": group.updated_at.isoformat(),
            "location": locate("Groups", str(group.scim_id)),
        },
    }
    if with_members:
        resource["members"] = [
            {"value": member.directory_id, "display": member.username, "$ref": locate("Users", member.directory_id)}
            for member in group.members.all()
        ]
    return resource


def list_response(resources: Iterable[dict[str, Any]], *, total: int, start: int) -> dict[str, Any]:
    items = list(resources)
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def error_resource(error: ScimError) -> dict[str, Any]:
    resource = {"schemas": [ERROR_SCHEMA], "status": str(error.http_status), "detail": error.message}
    if error.scim_type:
        resource["scimType"] = error.scim_type
    return resource


# ---- discovery (RFC 7643 5-7) ------------------------------------------------------------------------------


def service_provider_config(*, locate: Locate) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_PAGE_SIZE},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A SCIM token IT issues in Parley's admin (SCIM tokens), sent as Authorization: Bearer.",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": locate("ServiceProviderConfig", "")},
    }


def resource_types(*, locate: Locate) -> list[dict[str, Any]]:
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A Parley account",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": locate("ResourceTypes", "User")},
        },
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A group of the identity provider; PARLEY_SCIM_ROLE_GROUPS maps some to Parley roles",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": locate("ResourceTypes", "Group")},
        },
    ]


def _attribute(name: str, *, kind: str = "string", required: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": required,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


def _multi(name: str, sub_attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return _attribute(name, kind="complex", multiValued=True, subAttributes=sub_attributes, **extra)


def schemas(*, locate: Locate) -> list[dict[str, Any]]:
    """The attributes Parley keeps of each schema (others of the core schemas are accepted and ignored)."""
    value = _attribute("value")
    kind = _attribute("type")
    reference = _attribute("$ref", kind="reference", mutability="readOnly")
    user_attributes = [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute("displayName"),
        _attribute(
            "name",
            kind="complex",
            subAttributes=[_attribute("formatted"), _attribute("givenName"), _attribute("familyName")],
        ),
        _attribute("title"),
        _attribute("active", kind="boolean"),
        _multi("emails", [value, kind, _attribute("primary", kind="boolean")]),
        _multi("phoneNumbers", [value, kind]),
        _multi("groups", [value, _attribute("display"), reference], mutability="readOnly"),
    ]
    enterprise_attributes = [
        _attribute("department"),
        _attribute("manager", kind="complex", subAttributes=[value, reference]),
    ]
    group_attributes = [
        _attribute("displayName", required=True, uniqueness="server"),
        _multi("members", [value, _attribute("display"), reference]),
    ]
    documents = [
        (USER_SCHEMA, "User", user_attributes),
        (ENTERPRISE_SCHEMA, "EnterpriseUser", enterprise_attributes),
        (GROUP_SCHEMA, "Group", group_attributes),
    ]
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": urn,
            "name": name,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": locate("Schemas", urn)},
        }
        for urn, name, attributes in documents
    ]
