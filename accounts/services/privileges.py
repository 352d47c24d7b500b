"""Privileged accounts: what only a superuser changes."""

from __future__ import annotations

from typing import Any

from accounts import roles
from accounts.errors import SuperuserOnly
from accounts.models import User
from accounts.selectors import is_privileged, privileged_group_names


def privilege_changes(
    *,
    user: User | None,
    groups: set[str] | None = None,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    email: str | None = None,
    privileged_groups: set[str] | None = None,
) -> list[str]:
    """What in a change to `user` (None: a new account) only a superuser may do, as phrases for people
    ("grant or take away the IT Admins group, staff status"; "change the email of a privileged account").

    Groups, staff and superuser status are compared with what the account has now (None: unchanged); groups
    prefetched on `user` are used as they are. `privileged_groups` (privileged_group_names, read once by a
    caller checking many rows) saves a query. A privileged account's email is where its password reset goes.
    """
    granted = []
    if groups is not None:
        current = {group.name for group in user.groups.all()} if user is not None and user.pk else set()
        moved = groups ^ current
        if moved:
            strong = privileged_groups if privileged_groups is not None else privileged_group_names()
            granted += [f"the {name} group" for name in sorted(moved & strong)]
    if is_staff is not None and is_staff != bool(user and user.is_staff):
        granted.append("staff status")
    if is_superuser is not None and is_superuser != bool(user and user.is_superuser):
        granted.append("superuser status")
    found = [f"grant or take away {', '.join(granted)}"] if granted else []
    if email is not None and user is not None and user.pk and email != user.email and is_privileged(user=user):
        found.append("change the email of a privileged account")
    return found


def privileges_change_check(*, actor: User | None, user: User | None, **change: Any) -> None:
    """Refuse (SuperuserOnly) a change by a non-superuser that would grant or take away a privilege (see
    privilege_changes). Every door that changes accounts calls this: the user admin, the CSV import."""
    if actor is None or actor.is_superuser:
        return
    if user is not None and user.pk == actor.pk:
        change.pop("email", None)  # their own address; their own groups and flags are read-only to them
    found = privilege_changes(user=user, **change)
    if found:
        raise SuperuserOnly(f"Only a superuser may {' or '.join(found)}.")


def account_reset_check(*, actor: User | None, user: User, what: str) -> None:
    """Refuse (SuperuserOnly) a non-superuser resetting the password or second factor of someone else's
    privileged account: with both, IT could sign in as a Compliance Officer and read the archive."""
    if actor is None or actor.is_superuser or actor.pk == user.pk:
        return
    if is_privileged(user=user):
        raise SuperuserOnly(
            f"Only a superuser may reset the {what} of {user.get_username()}: it is a privileged account "
            "(superuser, staff, IT Admin or Compliance Officer)."
        )


def admin_membership_check(*, actor: User | None, person: User) -> None:
    """Refuse (SuperuserOnly) a non-superuser making themselves or any IT Admin a member of a room from admin.

    IT manages rooms but never reads them: a membership would open the room's whole history. In the app,
    colleagues may still invite an IT Admin (they are employees too); this is for admin-originated changes.
    """
    if actor is None or actor.is_superuser:
        return
    if person.pk == actor.pk:
        raise SuperuserOnly(
            "You cannot make yourself a member of a room from admin: IT manages rooms, it does not read them."
        )
    if person.groups.filter(name=roles.IT_ADMINS).exists():
        raise SuperuserOnly(
            f"{person.get_username()} is an IT Admin: only a superuser makes an IT Admin a member of a room from admin."
        )
