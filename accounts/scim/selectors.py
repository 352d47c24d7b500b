"""Reads for SCIM: the accounts and groups the identity provider keeps, in a constant number of queries."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from accounts.models import DirectorySource, ScimGroup, User
from accounts.scim.protocol import not_found


def scim_users() -> QuerySet[User]:
    """Accounts provisioned over SCIM, with what their resource shows (manager, groups): three queries for any
    number. Local accounts and other directories' are not SCIM's to see or change."""
    return (
        User.objects.filter(directory_source=DirectorySource.SCIM)
        .exclude(directory_id="")
        .select_related("manager")
        .prefetch_related(Prefetch("scim_groups", queryset=ScimGroup.objects.only("scim_id", "display_name")))
        .order_by("pk")
    )


def scim_user(*, scim_id: str) -> User:
    """The SCIM account with this id, or a 404 ScimError."""
    user = scim_users().filter(directory_id=scim_id).first()
    if user is None:
        raise not_found("User", scim_id)
    return user


def scim_users_matching(users: QuerySet[User], *, attribute: str, value: str) -> QuerySet[User]:
    """`users` narrowed by one filter clause (protocol.filter_parse): userName in any case, or id."""
    if attribute == "userName":
        return users.filter(username__iexact=value)
    return users.filter(directory_id=value)


def scim_groups_matching(groups: QuerySet[ScimGroup], *, attribute: str, value: str) -> QuerySet[ScimGroup]:
    """`groups` narrowed by one filter clause: displayName in any case, id, or a member's id."""
    if attribute == "displayName":
        return groups.filter(display_name__iexact=value)
    if attribute == "id":
        return groups.filter(scim_id=_uuid_or_none(value))
    return groups.filter(members__directory_id=value)


def scim_groups(*, with_members: bool = True) -> QuerySet[ScimGroup]:
    groups = ScimGroup.objects.order_by("pk")
    if with_members:
        groups = groups.prefetch_related(
            Prefetch("members", queryset=User.objects.only("directory_id", "username").order_by("pk"))
        )
    return groups


def scim_group(*, scim_id: str, with_members: bool = True) -> ScimGroup:
    """The SCIM group with this id, or a 404 ScimError."""
    group = scim_groups(with_members=with_members).filter(scim_id=_uuid_or_none(scim_id)).first()
    if group is None:
        raise not_found("Group", scim_id)
    return group


def scim_group_member_ids(*, group: ScimGroup) -> list[str]:
    """The SCIM ids of a group's members now, as the member list a PATCH starts from."""
    return list(group.members.order_by("pk").values_list("directory_id", flat=True))


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
