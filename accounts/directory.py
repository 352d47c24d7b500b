"""Accounts kept by the company directory: LDAP / Active Directory, OpenID Connect sign-in and SCIM provisioning
all describe people the same way (a `DirectoryPerson`) and go through one door, `directory_people_apply`, which
writes them with the CSV import's checks and writes (accounts.user_import), so a directory, an HR file and the
admin agree on what an account change is and the audit log records each the same way (docs/directory.md).

Roles come from the directory by configuration: a mapping from a role to the directory's value for it (an LDAP
group DN, a claim value, a SCIM group name), parsed by `role_mapping_parse`. Everyone a directory keeps is an
Employee; a mapping adds IT Admins or Compliance Officers. Groups that are not roles (made by IT in the admin) are
left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from accounts import roles
from accounts.models import DirectorySource, User
from accounts.user_import import GROUP_SEPARATOR, ImportReport, ImportRow, users_import_rows
from core.errors import ParleyError


class DirectoryConfigError(ParleyError):
    code = "directory_config_invalid"


def role_mapping_parse(spec: str) -> dict[str, str]:
    """Parse "IT Admins=cn=it,ou=groups,dc=example,dc=com;Compliance Officers=..." into directory value (case-
    folded) -> role. The role is before the first "=" (a DN holds more), entries are separated by ";"."""
    mapping: dict[str, str] = {}
    for entry in (part.strip() for part in spec.split(";")):
        if not entry:
            continue
        role, separator, value = (piece.strip() for piece in entry.partition("="))
        if not separator or not value:
            raise DirectoryConfigError(f"A role mapping looks like 'IT Admins=<directory value>'; got {entry!r}.")
        if role not in roles.ALL_ROLES:
            raise DirectoryConfigError(f"{role!r} is not a Parley role (one of {', '.join(roles.ALL_ROLES)}).")
        mapping[value.casefold()] = role
    return mapping


def roles_for(values: Iterable[str], mapping: dict[str, str]) -> frozenset[str]:
    """The roles a person's directory values (group DNs, claim values) give: always Employees, plus what maps."""
    return frozenset({roles.EMPLOYEES, *(mapping[v.casefold()] for v in values if v.casefold() in mapping)})


@dataclass(frozen=True)
class DirectoryPerson:
    """One person as a directory describes them."""

    username: str
    directory_id: str  # stable in the directory: a DN or GUID, an OIDC `sub`, a SCIM id
    email: str
    display_name: str = ""
    department: str = ""
    job_title: str = ""
    phone: str = ""
    # The manager's directory_id when the directory names one; None when this directory never says (OIDC claims),
    # which leaves the account's manager as it is.
    manager_directory_id: str | None = ""
    roles: frozenset[str] = field(default_factory=lambda: frozenset({roles.EMPLOYEES}))
    active: bool = True


def directory_people_apply(
    *, people: list[DirectoryPerson], source: DirectorySource, dry_run: bool = False
) -> ImportReport:
    """Create and update the accounts `people` describe, all or nothing, and return what changed (or would).

    The system acts (no privilege checks: the operator configured the directory). An account is matched by its
    username; an existing local account with that username is taken over by the directory (its directory
    source and id are set), which is how accounts made before the directory was connected join it.
    """
    by_username = {
        user.username: user
        for user in User.objects.filter(username__in=[p.username for p in people]).prefetch_related("groups")
    }
    rows = [_row(line, person, by_username.get(person.username)) for line, person in enumerate(people, start=1)]
    with transaction.atomic():
        report = users_import_rows(rows=rows, dry_run=dry_run, actor=None)
        if report.written:
            _link(people, source)
    return report


def _row(line: int, person: DirectoryPerson, user: User | None) -> ImportRow:
    kept = {group.name for group in user.groups.all()} - set(roles.ALL_ROLES) if user else set()
    cells = {
        "username": person.username,
        "email": person.email,
        "name": person.display_name,
        "department": person.department,
        "title": person.job_title,
        "groups": GROUP_SEPARATOR.join(sorted(kept | person.roles)),
        "active": "yes" if person.active else "no",
    }
    return ImportRow(line=line, cells=cells)


def _link(people: list[DirectoryPerson], source: DirectorySource) -> None:
    """Stamp each account with its directory entry, and point it at its manager (one query per person changed)."""
    users = {user.username: user for user in User.objects.filter(username__in=[p.username for p in people])}
    by_directory_id = {person.directory_id: users.get(person.username) for person in people}
    managers = {
        user.directory_id: user
        for user in User.objects.filter(
            directory_source=source, directory_id__in=[p.manager_directory_id for p in people if p.manager_directory_id]
        )
    }
    for person in people:
        user = users[person.username]
        manager = by_directory_id.get(person.manager_directory_id) or managers.get(person.manager_directory_id)
        wanted = {"directory_source": source, "directory_id": person.directory_id}
        if person.manager_directory_id is not None:
            wanted["manager"] = manager
        changed = [name for name, value in wanted.items() if getattr(user, name) != value]
        if changed:
            for name in changed:
                setattr(user, name, wanted[name])
            user.save(update_fields=changed)


def directory_accounts_missing(*, source: DirectorySource, present: Iterable[str]) -> list[User]:
    """Active accounts of `source` whose directory id is not among `present`: gone from the directory."""
    return list(User.objects.filter(directory_source=source, is_active=True).exclude(directory_id__in=list(present)))
