"""`directory_sync`: bring LDAP accounts in step with the directory, run by `manage.py sync_directory` and by the
worker every PARLEY_LDAP_SYNC_MINUTES. It reads everyone a page at a time, writes them in batches through
accounts.ldap (and so accounts.directory), and deactivates the accounts the directory disables or no longer
lists (docs/directory.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import ldap
import ldap.cidict
from ldap.controls import SimplePagedResultsControl

from accounts.directory import DirectoryPerson, directory_accounts_missing, directory_person_of
from accounts.ldap import (
    GROUP_TYPES,
    SOURCE,
    LdapConfig,
    connection_options,
    dn_key,
    ldap_config,
    ldap_people_apply,
    person_from_entry,
)
from accounts.models import User
from accounts.user_import import ImportReport, Outcome, RowResult
from core.errors import ParleyError

logger = logging.getLogger(__name__)

# Entries per page of a search: under Active Directory's MaxPageSize (1000), so AD never truncates a page.
PAGE_SIZE = 500
# People written per transaction: a batch is all or nothing, and holds row locks only for its own people.
BATCH_SIZE = 500


class DirectoryUnavailable(ParleyError):
    """The directory could not be reached or refused the search; nothing was changed."""

    code = "directory_unavailable"


class DirectorySyncRefused(ParleyError):
    """The directory answered with nobody: a wrong base or filter, not a company that left. Nothing changed."""

    code = "directory_sync_refused"


def _connect(config: LdapConfig):
    connection = ldap.initialize(config.server_uri)
    for option, value in connection_options(config).items():
        connection.set_option(option, value)
    if config.start_tls:
        connection.start_tls_s()
    connection.simple_bind_s(config.bind_dn, config.bind_password)
    return connection


def _paged_search(connection, *, base: str, filter_text: str, attributes: list[str]) -> Iterator[tuple[str, dict]]:
    """Every entry under `base` matching `filter_text`, a page at a time (RFC 2696), so a directory's size limit
    (1000 in Active Directory) never cuts the list short and memory holds one page of raw results."""
    control = SimplePagedResultsControl(True, size=PAGE_SIZE, cookie="")
    while True:
        message_id = connection.search_ext(
            base, ldap.SCOPE_SUBTREE, filter_text, attributes or ["1.1"], serverctrls=[control]
        )
        _, entries, _, reply_controls = connection.result3(message_id)
        for dn, attrs in entries:
            if dn is not None:  # a referral (AD), not an entry
                yield dn, attrs
        cookie = next((c.cookie for c in reply_controls if c.controlType == SimplePagedResultsControl.controlType), b"")
        if not cookie:
            return
        control.cookie = cookie


def _role_members(connection, config: LdapConfig) -> dict[str, set[str]]:
    """Person DN key -> the role groups they are a direct member of, read from each mapped group's member list
    (groupOfNames, groupOfUniqueNames); Active Directory's memberOf comes with the person instead."""
    _, _, member_attribute = GROUP_TYPES[config.group_type]
    members: dict[str, set[str]] = {}
    for group_dn in config.role_groups:
        try:
            found = connection.search_s(group_dn, ldap.SCOPE_BASE, "(objectClass=*)", [member_attribute])
        except ldap.NO_SUCH_OBJECT:
            logger.warning("LDAP role group %s does not exist", group_dn)
            continue
        for _, attrs in found:
            for value in ldap.cidict.cidict(attrs).get(member_attribute, []):
                members.setdefault(dn_key(value.decode()), set()).add(group_dn)
    return members


def ldap_people_read(config: LdapConfig) -> list[DirectoryPerson]:
    """Everyone PARLEY_LDAP_SYNC_FILTER finds, those PARLEY_LDAP_DISABLED_FILTER also finds marked inactive,
    with their roles and their manager's DN as the directory spells the manager's entry."""
    try:
        connection = _connect(config)
        try:
            search = {"base": config.user_search_base}
            entries = list(
                _paged_search(connection, filter_text=config.sync_filter, attributes=config.wanted_attributes, **search)
            )
            disabled = set()
            if config.disabled_filter:
                found = _paged_search(
                    connection, filter_text=f"(&{config.sync_filter}{config.disabled_filter})", attributes=[], **search
                )
                disabled = {dn_key(dn) for dn, _ in found}
            by_group = {}
            if config.role_groups and config.group_type != "activeDirectory":
                by_group = _role_members(connection, config)
        finally:
            connection.unbind_s()
    except ldap.SIZELIMIT_EXCEEDED:
        raise DirectoryUnavailable(
            f"The directory at {config.server_uri} stopped the search at its size limit, so not everyone was read "
            "and nothing was changed. Let the bind account page through all people (OpenLDAP: "
            'limits dn.exact="<bind DN>" size.prtotal=unlimited; docs/directory.md).'
        ) from None
    except ldap.LDAPError as error:
        raise DirectoryUnavailable(
            f"The directory at {config.server_uri} refused the search: {_ldap_message(error)}"
        ) from None
    spelled = {dn_key(dn): dn for dn, _ in entries}
    people = []
    for dn, attrs in entries:
        if config.group_type == "activeDirectory":
            groups = [value.decode() for value in ldap.cidict.cidict(attrs).get("memberOf", [])]
        else:
            groups = by_group.get(dn_key(dn), set())
        person = person_from_entry(config, dn=dn, attrs=attrs, group_dns=groups, active=dn_key(dn) not in disabled)
        if person is None:
            logger.info("LDAP entry %s has no %s; skipped", dn, config.username_attribute)
            continue
        if person.manager_directory_id:
            manager = spelled.get(dn_key(person.manager_directory_id), person.manager_directory_id)
            person = replace(person, manager_directory_id=manager)
        people.append(person)
    return people


def _ldap_message(error: ldap.LDAPError) -> str:
    detail = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return " ".join(str(detail.get(key, "")) for key in ("desc", "info")).strip() or str(error)


def _managers_first(people: list[DirectoryPerson]) -> list[DirectoryPerson]:
    """People ordered so a manager comes before whoever reports to them: a batch links managers it or an earlier
    batch wrote (accounts.directory links within one call only)."""
    by_id = {person.directory_id: person for person in people}
    depth: dict[str, int] = {}

    def depth_of(person: DirectoryPerson) -> int:
        chain, current = [], person
        while current is not None and current.directory_id not in depth and current not in chain:
            chain.append(current)
            current = by_id.get(current.manager_directory_id)
        base = depth.get(current.directory_id, 0) if current is not None else -1
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member.directory_id] = base + offset
        return depth[person.directory_id]

    return sorted(people, key=depth_of)


def _leaver(user: User) -> DirectoryPerson:
    """An account the directory no longer lists, as it is now but switched off (its roles and manager kept)."""
    return replace(directory_person_of(user), active=False)


@dataclass(frozen=True)
class SyncReport:
    """What a sync did (or, dry, would do): a row per person written or refused, and who was deactivated."""

    rows: tuple[RowResult, ...]
    deactivated: tuple[str, ...]
    dry_run: bool

    @property
    def errors(self) -> tuple[RowResult, ...]:
        return tuple(row for row in self.rows if row.outcome == Outcome.ERROR)

    def summary(self) -> str:
        """The import's summary of the people written, then the deactivations and the refused rows."""
        written = ImportReport(rows=tuple(r for r in self.rows if r.outcome != Outcome.ERROR), dry_run=self.dry_run)
        verb = "would be" if self.dry_run else "were"
        text = (
            f"{written.summary()} {len(self.deactivated)} {verb} deactivated (disabled in or gone from the directory)."
        )
        if self.errors:
            text += f" {len(self.errors)} skipped with errors."
        return text


def directory_sync(
    *, dry_run: bool = False, batch_size: int = BATCH_SIZE, progress: Callable[[int, int], None] | None = None
) -> SyncReport:
    """Bring LDAP accounts in step with the directory: create and update everyone it lists, deactivate the
    accounts it disables or no longer lists. Batches of `batch_size` are each all or nothing; a person the
    import refuses (say, no email) is reported and skipped, the rest of their batch is written. `progress`
    hears after each batch how many people it held and how many there are in all."""
    config = ldap_config()
    people = _managers_first(ldap_people_read(config))
    if not people:
        raise DirectorySyncRefused(
            f"The directory listed nobody under {config.user_search_base} for {config.sync_filter}; "
            "nothing was changed (check PARLEY_LDAP_USER_SEARCH_BASE and PARLEY_LDAP_SYNC_FILTER)."
        )
    known = set(User.objects.filter(username__in=[p.username for p in people]).values_list("username", flat=True))
    # A disabled person with no account stays without one.
    people = [person for person in people if person.active or person.username in known]
    listed = {person.username for person in people}
    missing = [
        user.pk
        for user in directory_accounts_missing(source=SOURCE, present=[p.directory_id for p in people])
        if user.username not in listed  # a move in the tree changes the DN, not the person
    ]
    leavers = [
        _leaver(user)
        for user in User.objects.filter(pk__in=missing).select_related("manager").prefetch_related("groups")
    ]
    rows: list[RowResult] = []
    everyone = people + leavers
    for batch_people in _batches(everyone, batch_size):
        batch = ldap_people_apply(batch_people, dry_run=dry_run)
        refused = {row.username for row in batch if row.outcome == Outcome.ERROR}
        if refused and not dry_run:
            # Nothing of this batch was written; write the others and keep the refusals for the report.
            kept = ldap_people_apply([p for p in batch_people if p.username not in refused], dry_run=False)
            batch = [row for row in batch if row.outcome == Outcome.ERROR] + kept
        rows += batch
        if progress:
            progress(len(batch_people), len(everyone))
    deactivated = tuple(
        row.username for row in rows if any(change.column == "active" and change.new == "no" for change in row.changes)
    )
    return SyncReport(rows=tuple(rows), deactivated=deactivated, dry_run=dry_run)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
