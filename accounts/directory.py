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
from dataclasses import dataclass, field, replace

from django.db import transaction

from accounts import roles
from accounts.models import DirectorySource, User
from accounts.user_import import (
    GROUP_SEPARATOR,
    Change,
    ImportReport,
    ImportRow,
    Outcome,
    RowResult,
    users_import_rows,
)
from core.errors import ParleyError

PHONE_LENGTH = User._meta.get_field("phone").max_length


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


def directory_person_of(user: User) -> DirectoryPerson:
    """An account as the directory would describe it now (its roles and manager kept): where a change starts
    from, such as switching off someone the directory no longer lists."""
    return DirectoryPerson(
        username=user.username,
        directory_id=user.directory_id,
        email=user.email,
        display_name=user.display_name,
        department=user.department,
        job_title=user.job_title,
        phone=user.phone,
        manager_directory_id=user.manager.directory_id if user.manager else "",
        roles=frozenset(group.name for group in user.groups.all() if group.name in roles.ALL_ROLES),
        active=user.is_active,
    )


def directory_people_apply(
    *,
    people: list[DirectoryPerson],
    source: DirectorySource,
    dry_run: bool = False,
    retire_local_passwords: bool = False,
) -> ImportReport:
    """Create and update the accounts `people` describe, all or nothing, and return what changed (or would).

    The system acts (no privilege checks: the operator configured the directory). An account is matched by its
    username; an existing local account with that username is taken over by the directory (its directory
    source and id are set), which is how accounts made before the directory was connected join it.
    Beyond the import's columns it writes the phone number, and with `retire_local_passwords` (a directory that
    checks passwords itself: LDAP) it makes a local password unusable, which would otherwise outlive the
    person's disabling in the directory; a new hash ends the account's local sessions (accounts/signals.py).
    """
    by_username = {
        user.username: user
        for user in User.objects.filter(username__in=[p.username for p in people]).prefetch_related("groups")
    }
    rows = [_row(line, person, by_username.get(person.username)) for line, person in enumerate(people, start=1)]
    with transaction.atomic():
        report = users_import_rows(rows=rows, dry_run=dry_run, actor=None)
        if report.has_errors:
            return report
        results = tuple(
            _beyond_the_import(person, row, by_username.get(person.username), report.written, retire_local_passwords)
            for person, row in zip(people, report.rows, strict=True)
        )
        if report.written:
            _link(people, source)
    return replace(report, rows=results)


def _beyond_the_import(
    person: DirectoryPerson, row: RowResult, user: User | None, write: bool, retire_local_passwords: bool
) -> RowResult:
    """The phone and the retired local password, which the CSV import has no column for, added to `row`."""
    if user is None:  # created by the import: its password is unusable already
        if write and person.phone:
            User.objects.filter(username=person.username).update(phone=person.phone[:PHONE_LENGTH])
        return row
    changes, fields = [], []
    phone = person.phone[:PHONE_LENGTH]  # a phone field is no place to refuse a person over
    if user.phone != phone:
        changes.append(Change("phone", user.phone, phone))
        fields.append("phone")
    if retire_local_passwords and user.has_usable_password():
        changes.append(Change("password", "local", "the directory's"))
        fields.append("password")
    if fields and write:
        user.refresh_from_db(fields=["password", "is_active"])  # the import may have saved the account
        user.phone = phone
        if "password" in fields:
            user.set_unusable_password()
        user.save(update_fields=fields)
    if not changes:
        return row
    return replace(row, outcome=Outcome.UPDATED, changes=row.changes + tuple(changes))


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


def directory_unlink(*, users: list[User]) -> None:
    """Make accounts local again: the directory deleted their entry (a SCIM DELETE), so a later entry with the
    same username (a re-hire) takes the account over instead of meeting a conflict. Deactivate them first
    (directory_people_apply with active False): an unlinked account is never deactivated by a directory."""
    User.objects.filter(pk__in=[user.pk for user in users]).update(directory_source="", directory_id="")
