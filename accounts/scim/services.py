"""Writes for SCIM, each one transaction. Accounts change only through accounts.directory (the CSV import's
checks, all or nothing; a deactivation closes the person's sockets after commit); SCIM groups are SCIM's own
record, and the roles of their members follow from PARLEY_SCIM_ROLE_GROUPS.

Concurrency: the import locks the accounts it changes (select_for_update), and a group's changes lock the
group's row first, so two PATCHes of one group apply one after the other and neither loses the other's members.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.directory import (
    DirectoryPerson,
    directory_people_apply,
    directory_unlink,
    role_mapping_parse,
    roles_for,
)
from accounts.models import DirectorySource, ScimGroup, User
from accounts.scim import protocol, selectors
from accounts.scim.protocol import GroupAttributes, ScimError, UserAttributes
from accounts.user_import import ImportConflict

SCIM = DirectorySource.SCIM


def user_attributes_of(user: User) -> UserAttributes:
    """What a SCIM account holds now, as the attributes a PATCH starts from."""
    return UserAttributes(
        username=user.username,
        display_name=user.display_name,
        job_title=user.job_title,
        email=user.email,
        phone=user.phone,
        department=user.department,
        manager_id=user.manager.directory_id if user.manager else "",
        active=user.is_active,
    )


def scim_user_create(*, attributes: UserAttributes) -> User:
    """A new account for the provider's user. An existing local account with the same username is taken over
    (accounts made before provisioning began, or one the provider deleted earlier); any other namesake is a
    409: another SCIM account, another directory's, one differing only in case, or a superuser (the break-glass
    administrator stays local)."""
    namesake = User.objects.filter(username__iexact=attributes.username).first()
    if namesake is not None and (
        namesake.directory_source or namesake.is_superuser or namesake.username != attributes.username
    ):
        raise ScimError(f"A user named {namesake.username!r} exists already.", status=409, scim_type="uniqueness")
    scim_id = str(uuid.uuid4())
    _apply([_person(attributes, scim_id=scim_id, roles_from=[], active=True)])
    return selectors.scim_user(scim_id=scim_id)


def scim_user_replace(*, user: User, attributes: UserAttributes) -> User:
    """Make the account what `attributes` say (PUT). A new userName renames the account; its roles stay what its
    SCIM groups give."""
    return _user_change(user, lambda _: attributes)


def scim_user_patch(*, user: User, body: dict[str, Any]) -> User:
    """Apply a PATCH request's operations to the account as it is once locked: two PATCHes of one person at
    once (the provider sends them in parallel) apply one after the other, neither undoing the other."""
    return _user_change(user, lambda locked: protocol.user_patch(user_attributes_of(locked), body))


def _user_change(user: User, attributes_for: Callable[[User], UserAttributes]) -> User:
    with transaction.atomic():
        locked = User.objects.select_for_update(of=("self",)).select_related("manager").get(pk=user.pk)
        attributes = attributes_for(locked)
        if attributes.username != locked.username:
            _rename(locked, attributes.username)
        groups = locked.scim_groups.values_list("display_name", flat=True)
        active = locked.is_active if attributes.active is None else attributes.active
        _apply([_person(attributes, scim_id=locked.directory_id, roles_from=groups, active=active)])
    return selectors.scim_user(scim_id=user.directory_id)


def scim_user_delete(*, user: User) -> None:
    """The provider deleted the user: the account is deactivated (its sockets close, its messages stay, as for
    every leaver; never a hard delete), leaves its SCIM groups and becomes a local account SCIM no longer sees."""
    with transaction.atomic():
        attributes = user_attributes_of(user)
        _apply([_person(attributes, scim_id=user.directory_id, roles_from=[], active=False)])
        user.scim_groups.clear()
        directory_unlink(users=[user])


def scim_group_create(*, attributes: GroupAttributes) -> ScimGroup:
    """A group and its members; its members get the role its name maps to, if any."""
    with transaction.atomic():
        if ScimGroup.objects.filter(display_name__iexact=attributes.display_name).exists():
            raise _group_name_taken(attributes.display_name)
        members = _members(attributes.member_ids)
        try:
            with transaction.atomic():
                group = ScimGroup.objects.create(display_name=attributes.display_name)
        except IntegrityError:  # created by a concurrent request since the check
            raise _group_name_taken(attributes.display_name) from None
        group.members.set(members)
        _roles_follow(members)
    return selectors.scim_group(scim_id=str(group.scim_id))


def scim_group_replace(*, group: ScimGroup, attributes: GroupAttributes) -> ScimGroup:
    """Rename a group and set its members (PUT); the roles of everyone who joined or left follow, and of every
    member when the name changed."""
    return _group_change(group, lambda _: attributes)


def scim_group_patch(*, group: ScimGroup, body: dict[str, Any]) -> ScimGroup:
    """Apply a PATCH request's operations to the group's name and members as they are once the group is locked:
    Entra ID adds members in parallel requests, and each must see the others' additions."""

    def patched(locked: ScimGroup) -> GroupAttributes:
        now = GroupAttributes(
            display_name=locked.display_name, member_ids=selectors.scim_group_member_ids(group=locked)
        )
        return protocol.group_patch(now, body)

    return _group_change(group, patched)


def _group_change(group: ScimGroup, attributes_for: Callable[[ScimGroup], GroupAttributes]) -> ScimGroup:
    with transaction.atomic():
        locked = ScimGroup.objects.select_for_update().get(pk=group.pk)
        attributes = attributes_for(locked)
        if attributes.display_name != locked.display_name:
            clash = ScimGroup.objects.filter(display_name__iexact=attributes.display_name).exclude(pk=locked.pk)
            if clash.exists():
                raise _group_name_taken(attributes.display_name)
        before = set(locked.members.all())
        after = _members(attributes.member_ids)
        renamed = attributes.display_name != locked.display_name
        if renamed or set(after) != before:
            locked.display_name = attributes.display_name
            locked.save(update_fields=["display_name", "updated_at"])  # auto_now: lastModified moves
            locked.members.set(after)
        _roles_follow(before | set(after) if renamed else before ^ set(after))
    return selectors.scim_group(scim_id=str(group.scim_id))


def scim_group_delete(*, group: ScimGroup) -> None:
    """Delete the group (SCIM's own record, not an account); its members lose the role it gave."""
    with transaction.atomic():
        locked = ScimGroup.objects.select_for_update().get(pk=group.pk)
        members = list(locked.members.all())
        locked.delete()
        _roles_follow(members)


# ---- helpers -----------------------------------------------------------------------------------------------


def role_mapping() -> dict[str, str]:
    """PARLEY_SCIM_ROLE_GROUPS parsed: group name (case-folded) -> role. Checked by accounts.scim.checks."""
    return role_mapping_parse(settings.PARLEY_SCIM_ROLE_GROUPS)


def _person(attributes: UserAttributes, *, scim_id: str, roles_from: Iterable[str], active: bool) -> DirectoryPerson:
    return DirectoryPerson(
        username=attributes.username,
        directory_id=scim_id,
        email=attributes.email,
        display_name=attributes.name_to_keep(),
        department=attributes.department,
        job_title=attributes.job_title,
        phone=attributes.phone,
        manager_directory_id=attributes.manager_id,
        roles=roles_for(roles_from, role_mapping()),
        active=active,
    )


def _apply(people: list[DirectoryPerson]) -> None:
    """Write through the directory's door; a row it refuses is a 400 saying why, a race a 409."""
    try:
        report = directory_people_apply(people=people, source=SCIM)
    except ImportConflict as conflict:
        raise ScimError(conflict.message, status=409, scim_type="uniqueness") from None
    problems = [f"{row.username}: {'; '.join(row.errors)}" for row in report.rows if row.errors]
    if problems:
        raise ScimError(" / ".join(problems), scim_type="invalidValue")


def _rename(user: User, username: str) -> None:
    """The provider changed someone's userName (a new UPN after a change of name): the account follows."""
    errors: list[str] = []
    try:
        User.username_validator(username)
    except ValidationError as error:
        errors = error.messages
    if errors or len(username) > User._meta.get_field("username").max_length:
        raise ScimError(
            f"userName {username!r} is not valid: {' '.join(errors) or 'too long'}.", scim_type="invalidValue"
        )
    if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
        raise ScimError(f"A user named {username!r} exists already.", status=409, scim_type="uniqueness")
    user.username = username
    user.save(update_fields=["username"])


def _group_name_taken(name: str) -> ScimError:
    return ScimError(f"A group named {name!r} exists already.", status=409, scim_type="uniqueness")


def _members(scim_ids: list[str]) -> list[User]:
    """The SCIM accounts named, in one query; an id that names none is refused."""
    found = {user.directory_id: user for user in User.objects.filter(directory_source=SCIM, directory_id__in=scim_ids)}
    unknown = [scim_id for scim_id in scim_ids if scim_id not in found]
    if unknown:
        raise ScimError(f"No user with id {unknown[0]!r} to make a member.", scim_type="invalidValue")
    return [found[scim_id] for scim_id in dict.fromkeys(scim_ids)]


def _roles_follow(users: Iterable[User]) -> None:
    """Give each of `users` the roles its SCIM groups map to now (and take away the others), in one import."""
    pks = [user.pk for user in users]
    if not pks:
        return
    people = []
    for user in selectors.scim_users().filter(pk__in=pks):
        groups = [group.display_name for group in user.scim_groups.all()]
        people.append(
            _person(user_attributes_of(user), scim_id=user.directory_id, roles_from=groups, active=user.is_active)
        )
    _apply(people)
