"""The SCIM wire format, parsed without the database: request bodies into typed attributes, PATCH operations
applied to them, `eq` filters and paging. Everything wrong with a request becomes a ScimError (RFC 7644 3.12)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import ParleyError
from core.text import contains_nul

CONTENT_TYPE = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200  # a provider pages through more; a bigger page would hold one request for long
MAX_PATCH_OPERATIONS = 1000
MAX_START_INDEX = 1_000_000_000  # past every account; a bigger offset would overflow the database's integer
MAX_GROUP_NAME = 150  # ScimGroup.display_name


class ScimError(ParleyError):
    """A refusal in SCIM's terms: an HTTP status and, for 400 and 409, a `scimType` (RFC 7644 table 9)."""

    def __init__(self, message: str, *, status: int = 400, scim_type: str | None = None) -> None:
        super().__init__(message, code=scim_type or "scim_error")
        self.http_status = status
        self.scim_type = scim_type


def not_found(what: str, scim_id: str) -> ScimError:
    return ScimError(f"No {what} with id {scim_id!r}.", status=404)


# ---- attributes --------------------------------------------------------------------------------------------


@dataclass
class UserAttributes:
    """What Parley keeps of a SCIM User. `None` for active means "as it is now" (a PUT may leave it out)."""

    username: str = ""
    display_name: str = ""
    formatted_name: str = ""
    given_name: str = ""
    family_name: str = ""
    job_title: str = ""
    email: str = ""
    phone: str = ""
    department: str = ""
    manager_id: str = ""
    active: bool | None = None

    def name_to_keep(self) -> str:
        """The display name: as given, else the formatted name, else given and family names."""
        return self.display_name or self.formatted_name or " ".join(p for p in (self.given_name, self.family_name) if p)


@dataclass
class GroupAttributes:
    display_name: str = ""
    member_ids: list[str] = field(default_factory=list)


# Attributes of the core and enterprise User schemas that Parley accepts and does not keep (docs/directory.md, SCIM).
# Refusing them would make a provider's default attribute mapping fail; anything outside the schemas is refused.
_USER_IGNORED = {
    "id",
    "meta",
    "schemas",
    "externalid",
    "nickname",
    "profileurl",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "password",
    "addresses",
    "ims",
    "photos",
    "entitlements",
    "roles",
    "x509certificates",
    "groups",
}
_NAME_IGNORED = {"middlename", "honorificprefix", "honorificsuffix"}
_ENTERPRISE_IGNORED = {"employeenumber", "costcenter", "organization", "division"}
_GROUP_IGNORED = {"id", "meta", "schemas", "externalid"}

_PATH = re.compile(r"^(?P<attribute>[A-Za-z$][\w$-]*)(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>[A-Za-z][\w-]*))?$")


@dataclass(frozen=True)
class _Path:
    schema: str  # "core" or "enterprise"
    attribute: str  # case-folded; "" for the whole enterprise extension
    filter: str | None = None
    sub: str | None = None


def _parse_path(path: str, *, error_type: str) -> _Path:
    """A SCIM attribute path ("emails[type eq \\"work\\"].value", "urn:...:enterprise:2.0:User:department")."""
    schema = "core"
    folded = path.casefold()
    for urn, name in ((ENTERPRISE_SCHEMA, "enterprise"), (USER_SCHEMA, "core"), (GROUP_SCHEMA, "core")):
        if folded == urn.casefold():
            return _Path(schema=name, attribute="")
        if folded.startswith(urn.casefold() + ":"):
            schema, path = name, path[len(urn) + 1 :]
            break
    match = _PATH.match(path.strip())
    if match is None:
        raise ScimError(f"{path!r} is not an attribute path.", scim_type=error_type)
    sub = match["sub"].casefold() if match["sub"] else None
    return _Path(schema=schema, attribute=match["attribute"].casefold(), filter=match["filter"], sub=sub)


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ScimError(f"{what} must be a string, not {json.dumps(value)}.", scim_type="invalidValue")
    return value.strip()


def _boolean(value: Any, what: str) -> bool:
    # Entra ID sends "True" and "False" as strings in PATCH operations.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    raise ScimError(f"{what} must be true or false, not {json.dumps(value)}.", scim_type="invalidValue")


def _one_of_many(value: Any, what: str) -> str:
    """The value of a multi-valued attribute (emails, phoneNumbers) Parley keeps one of: the primary, else the
    work one, else the first."""
    if value is None or value == []:
        return ""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ScimError(f"{what} must be a list of objects with a 'value'.", scim_type="invalidValue")
    chosen = (
        next((item for item in value if item.get("primary") is True), None)
        or next((item for item in value if str(item.get("type", "")).casefold() == "work"), None)
        or value[0]
    )
    return _text(chosen.get("value"), f"{what}.value")


def _set_user(attributes: UserAttributes, path: _Path, value: Any, *, error_type: str, raw: str) -> None:
    """Set (or, with value None, clear) what `path` names. Unknown attributes are refused."""
    if path.schema == "enterprise":
        if not path.attribute:
            _set_each(attributes, value, schema="enterprise", error_type=error_type)
        elif path.attribute == "department" and not path.sub:
            attributes.department = _text(value, "department")
        elif path.attribute == "manager" and path.sub in (None, "value"):
            # Entra ID sends the manager's id bare; the schema says {"value": id}.
            manager = value.get("value") if isinstance(value, dict) and path.sub is None else value
            attributes.manager_id = _text(manager, "manager.value")
        elif path.attribute not in _ENTERPRISE_IGNORED and not (path.attribute == "manager" and path.sub):
            raise ScimError(f"Unknown attribute {raw!r}.", scim_type=error_type)
        return
    name, sub = path.attribute, path.sub
    if not name:
        _set_each(attributes, value, schema="core", error_type=error_type)
    elif name in ("username", "displayname", "title") and not sub:
        target = {"username": "username", "displayname": "display_name", "title": "job_title"}[name]
        setattr(attributes, target, _text(value, raw))
    elif name == "active" and not sub:
        if value is None:
            raise ScimError("active cannot be removed; set it to false.", scim_type="mutability")
        attributes.active = _boolean(value, "active")
    elif name == "name":
        parts = {"formatted": "formatted_name", "givenname": "given_name", "familyname": "family_name"}
        if sub is None:
            if value is None:
                attributes.formatted_name = attributes.given_name = attributes.family_name = ""
                return
            if not isinstance(value, dict):
                raise ScimError("name must be an object.", scim_type="invalidValue")
            for key, item in value.items():
                _set_user(attributes, replace(path, sub=key.casefold()), item, error_type=error_type, raw=f"name.{key}")
        elif sub in parts:
            setattr(attributes, parts[sub], _text(value, raw))
        elif sub not in _NAME_IGNORED:
            raise ScimError(f"Unknown attribute {raw!r}.", scim_type=error_type)
    elif name in ("emails", "phonenumbers"):
        target = "email" if name == "emails" else "phone"
        if path.filter is None and sub is None:
            setattr(attributes, target, _one_of_many(value, raw))
        elif sub in (None, "value"):
            # emails[type eq "work"].value, or emails[type eq "work"] with {"value": ...}: the one Parley keeps.
            item = value.get("value") if isinstance(value, dict) and sub is None else value
            setattr(attributes, target, _text(item, raw))
        # emails[...].type, .primary, .display: nothing Parley keeps
    elif name not in _USER_IGNORED:
        raise ScimError(f"Unknown attribute {raw!r}.", scim_type=error_type)


def _set_each(attributes: UserAttributes, value: Any, *, schema: str, error_type: str) -> None:
    if not isinstance(value, dict):
        raise ScimError("The value must be an object of attributes.", scim_type="invalidValue")
    for key, item in value.items():
        if not isinstance(key, str):
            raise ScimError("Attribute names are strings.", scim_type="invalidSyntax")
        path = _parse_path(key, error_type=error_type)
        if schema == "enterprise" and path.schema == "core":
            path = replace(path, schema="enterprise")
        _set_user(attributes, path, item, error_type=error_type, raw=key)


def user_from_body(body: dict[str, Any]) -> UserAttributes:
    """The attributes of a User resource sent whole (POST, PUT). userName is required."""
    attributes = UserAttributes()
    _set_each(attributes, body, schema="core", error_type="invalidSyntax")
    if not attributes.username:
        raise ScimError("userName is required.", scim_type="invalidValue")
    return attributes


def user_patch(attributes: UserAttributes, body: dict[str, Any]) -> UserAttributes:
    """`attributes` with the PATCH operations of `body` applied in order (RFC 7644 3.5.2)."""
    changed = replace(attributes)
    for operation, path, value in _operations(body):
        if operation == "remove":
            if path is None:
                raise ScimError("A remove operation needs a path.", scim_type="noTarget")
            _set_user(changed, _parse_path(path, error_type="invalidPath"), None, error_type="invalidPath", raw=path)
        elif path is None:
            _set_each(changed, value, schema="core", error_type="invalidPath")
        else:
            parsed = _parse_path(path, error_type="invalidPath")
            _set_user(changed, parsed, value, error_type="invalidPath", raw=path)
    if not changed.username:
        raise ScimError("userName cannot be removed.", scim_type="mutability")
    return changed


def _operations(body: dict[str, Any]) -> list[tuple[str, str | None, Any]]:
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise ScimError("A PATCH request has a non-empty 'Operations' list.", scim_type="invalidSyntax")
    if len(operations) > MAX_PATCH_OPERATIONS:
        raise ScimError(f"At most {MAX_PATCH_OPERATIONS} operations per request.", scim_type="tooMany")
    parsed = []
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError("Each operation is an object with 'op', 'path' and 'value'.", scim_type="invalidSyntax")
        op = operation.get("op")
        if not isinstance(op, str) or op.casefold() not in ("add", "replace", "remove"):
            raise ScimError(f"op is add, replace or remove, not {json.dumps(op)}.", scim_type="invalidSyntax")
        path = operation.get("path")
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ScimError("path must be a non-empty string.", scim_type="invalidPath")
        if op.casefold() != "remove" and "value" not in operation:
            raise ScimError(f"An {op} operation needs a value.", scim_type="invalidValue")
        parsed.append((op.casefold(), path, operation.get("value")))
    return parsed


# ---- groups ------------------------------------------------------------------------------------------------


def _member_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, dict) and isinstance(m.get("value"), str) for m in value):
        raise ScimError("members is a list of objects with a 'value' (a user's id).", scim_type="invalidValue")
    return [member["value"] for member in value]


def group_from_body(body: dict[str, Any]) -> GroupAttributes:
    """The attributes of a Group resource sent whole (POST, PUT). displayName is required."""
    attributes = GroupAttributes()
    for key, value in body.items():
        folded = key.casefold() if isinstance(key, str) else key
        if folded == "displayname":
            attributes.display_name = _text(value, "displayName")
        elif folded == "members":
            attributes.member_ids = _member_ids(value)
        elif folded not in _GROUP_IGNORED:
            raise ScimError(f"Unknown attribute {key!r}.", scim_type="invalidSyntax")
    if not attributes.display_name:
        raise ScimError("displayName is required.", scim_type="invalidValue")
    _check_group_name(attributes.display_name)
    return attributes


def _check_group_name(name: str) -> None:
    if len(name) > MAX_GROUP_NAME:
        raise ScimError(f"displayName is longer than {MAX_GROUP_NAME} characters.", scim_type="invalidValue")


_MEMBER_FILTER = re.compile(r'^\s*value\s+eq\s+"(?P<id>[^"]*)"\s*$', re.IGNORECASE)


def group_patch(attributes: GroupAttributes, body: dict[str, Any]) -> GroupAttributes:
    """`attributes` with the PATCH operations of `body` applied: members added, removed or replaced, the name
    replaced. Members are kept in order, each once."""
    name, members = attributes.display_name, list(attributes.member_ids)
    for operation, path, value in _operations(body):
        parsed = _parse_path(path, error_type="invalidPath") if path is not None else None
        if parsed is None:
            if operation == "remove" or not isinstance(value, dict):
                raise ScimError("Without a path, the value is an object of attributes.", scim_type="noTarget")
            changes = group_from_body({"displayName": name, **value})
            name = changes.display_name
            if any(key.casefold() == "members" for key in value):
                members = changes.member_ids if operation == "replace" else members + changes.member_ids
        elif parsed.attribute == "displayname" and not parsed.sub:
            if operation == "remove":
                raise ScimError("displayName cannot be removed.", scim_type="mutability")
            name = _text(value, "displayName")
        elif parsed.attribute == "members" and parsed.sub in (None, "value"):
            if operation == "remove":
                if parsed.filter is not None:
                    match = _MEMBER_FILTER.match(parsed.filter)
                    if match is None:
                        raise ScimError('Remove members with members[value eq "<id>"].', scim_type="invalidFilter")
                    gone = {match["id"]}
                elif value is None:
                    gone = set(members)
                else:
                    gone = set(_member_ids(value))
                members = [member for member in members if member not in gone]
            elif operation == "replace":
                members = _member_ids(value)
            else:
                members += _member_ids(value)
        elif parsed.attribute not in _GROUP_IGNORED:
            raise ScimError(f"Unknown attribute {path!r}.", scim_type="invalidPath")
    if not name:
        raise ScimError("displayName cannot be empty.", scim_type="invalidValue")
    _check_group_name(name)
    return GroupAttributes(display_name=name, member_ids=list(dict.fromkeys(members)))


# ---- request bodies, filters, paging -----------------------------------------------------------------------


def body_parse(raw: bytes) -> dict[str, Any]:
    """The JSON object a request carries, or a ScimError saying what is wrong with it."""
    try:
        body = json.loads(raw.decode("utf-8"))
        holds_nul = contains_nul(body)
    except (UnicodeDecodeError, ValueError):
        raise ScimError("The body is not JSON.", scim_type="invalidSyntax") from None
    except RecursionError:  # arrays in arrays a thousand deep: no SCIM resource looks like that
        raise ScimError("The body is nested too deeply.", scim_type="invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError("The body is a JSON object.", scim_type="invalidSyntax")
    if holds_nul:
        raise ScimError("Text may not contain NUL characters (U+0000).", scim_type="invalidValue")
    return body


_STRING = r'"(?:[^"\\]|\\.)*"'
_CLAUSE = re.compile(
    rf"\s*(?P<attribute>[A-Za-z][\w.:-]*)"
    rf"(?:\[\s*value\s+eq\s+(?P<inner>{_STRING})\s*\]|\s+eq\s+(?P<value>{_STRING}))\s*",
    re.IGNORECASE,
)
_AND = re.compile(r"and\s+", re.IGNORECASE)


def filter_parse(text: str, *, attributes: tuple[str, ...]) -> list[tuple[str, str]]:
    """The clauses of a filter, each (attribute as named in `attributes`, value): `attribute eq "value"` joined by
    `and`, and for groups `members[value eq "id"]` (named "members"), which Entra ID sends to check a membership.
    No filter is no clause. Other filters are refused: ServiceProviderConfig says filtering is this subset."""
    clauses: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        if clauses:
            joined = _AND.match(text, position)
            if joined is None:
                raise _unsupported_filter(attributes)
            position = joined.end()
        match = _CLAUSE.match(text, position)
        if match is None:
            raise _unsupported_filter(attributes)
        position = match.end()
        wanted = match["attribute"].casefold().rsplit(":", 1)[-1]
        attribute = next((known for known in attributes if known.casefold() == wanted), None)
        if attribute is None or (attribute == "members") != (match["inner"] is not None):
            raise ScimError(f"Filtering is by {' or '.join(attributes)} only.", scim_type="invalidFilter")
        try:
            clauses.append((attribute, json.loads(match["inner"] or match["value"])))
        except ValueError:
            raise ScimError("The filter's value is not a valid string.", scim_type="invalidFilter") from None
    return clauses


def _unsupported_filter(attributes: tuple[str, ...]) -> ScimError:
    return ScimError(
        f'Only filters of the form {attributes[0]} eq "value", joined by "and", are supported.',
        scim_type="invalidFilter",
    )


def paging_parse(query: dict[str, str]) -> tuple[int, int]:
    """(startIndex, count) from the query string: 1-based, with a page of at most MAX_PAGE_SIZE. Values below
    the minimum are taken as the minimum (RFC 7644 3.4.2.4)."""
    try:
        start = int(query.get("startIndex") or 1)
        count = int(query.get("count") or DEFAULT_PAGE_SIZE)
    except ValueError:
        raise ScimError("startIndex and count are whole numbers.", scim_type="invalidValue") from None
    return min(max(start, 1), MAX_START_INDEX), min(max(count, 0), MAX_PAGE_SIZE)
