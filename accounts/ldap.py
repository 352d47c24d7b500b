"""LDAP / Active Directory: sign in with the directory's password (ParleyLDAPBackend, django-auth-ldap) and keep
accounts in step with the directory (`directory_sync`, run by `manage.py sync_directory` and the worker).

Both describe each person as a `DirectoryPerson` and write through accounts.directory, the one door every
directory uses, so a sign-in and a sync agree on what an account looks like. Roles come from membership of the
groups PARLEY_LDAP_ROLE_GROUPS names; a person the directory disables (PARLEY_LDAP_DISABLED_FILTER) cannot sign
in, and the next sync deactivates their account, which signs them out everywhere at once (accounts/signals.py).
Configuration is PARLEY_LDAP_* in settings (docs/directory.md). This module needs django-auth-ldap and
python-ldap (requirements-ldap.txt); nothing imports it unless PARLEY_LDAP_SERVER_URI is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

import ldap
import ldap.cidict
import ldap.dn
from django.conf import settings
from django.db import transaction
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    LDAPSettings,
)
from ldap.controls import SimplePagedResultsControl

from accounts import roles
from accounts.directory import (
    DirectoryConfigError,
    DirectoryPerson,
    directory_accounts_missing,
    directory_people_apply,
    role_mapping_parse,
    roles_for,
)
from accounts.models import DirectorySource, User
from accounts.user_import import Change, ImportReport, Outcome, RowResult
from core.errors import ParleyError

logger = logging.getLogger(__name__)

SOURCE = DirectorySource.LDAP
# Entries per page of a search: under Active Directory's MaxPageSize (1000), so AD never truncates a page.
PAGE_SIZE = 500
# People written per transaction: a batch is all or nothing, and holds row locks only for its own people.
BATCH_SIZE = 500
NETWORK_TIMEOUT_SECONDS = 10
OPERATION_TIMEOUT_SECONDS = 30
PHONE_LENGTH = User._meta.get_field("phone").max_length

# PARLEY_LDAP_GROUP_TYPE -> django-auth-ldap's group type (sign-in), the groups' objectClass, and where the sync
# reads membership: Active Directory keeps it on the person (memberOf; a big group's `member` comes back in
# ranges), OpenLDAP's groupOfNames/groupOfUniqueNames on the group. Direct membership only, in both.
GROUP_TYPES = {
    "activeDirectory": (ActiveDirectoryGroupType, "group", "memberOf"),
    "groupOfNames": (GroupOfNamesType, "groupOfNames", "member"),
    "groupOfUniqueNames": (GroupOfUniqueNamesType, "groupOfUniqueNames", "uniqueMember"),
}


class DirectoryUnavailable(ParleyError):
    """The directory could not be reached or refused the search; nothing was changed."""

    code = "directory_unavailable"


class DirectorySyncRefused(ParleyError):
    """The directory answered with nobody: a wrong base or filter, not a company that left. Nothing changed."""

    code = "directory_sync_refused"


@dataclass(frozen=True)
class LdapConfig:
    """PARLEY_LDAP_* settings, checked, in the shapes the backend and the sync use."""

    server_uri: str
    bind_dn: str
    bind_password: str
    start_tls: bool
    ca_file: str
    user_search_base: str
    user_filter: str
    sync_filter: str
    disabled_filter: str
    username_attribute: str
    attributes: Mapping[str, str]  # DirectoryPerson field -> LDAP attribute
    group_search_base: str
    group_type: str
    role_groups: Mapping[str, str]  # group DN (case-folded) -> role

    @property
    def wanted_attributes(self) -> list[str]:
        names = [self.username_attribute, *self.attributes.values()]
        if self.role_groups and self.group_type == "activeDirectory":
            names.append("memberOf")
        return [name for name in dict.fromkeys(names) if name]


def ldap_config() -> LdapConfig:
    """The LDAP configuration from settings; DirectoryConfigError says what is wrong with it."""
    if settings.PARLEY_LDAP_GROUP_TYPE not in GROUP_TYPES:
        raise DirectoryConfigError(
            f"PARLEY_LDAP_GROUP_TYPE is one of {', '.join(GROUP_TYPES)}; got {settings.PARLEY_LDAP_GROUP_TYPE!r}."
        )
    if not settings.PARLEY_LDAP_USER_SEARCH_BASE:
        raise DirectoryConfigError("PARLEY_LDAP_USER_SEARCH_BASE is empty: say where the people are.")
    if "%(user)s" not in settings.PARLEY_LDAP_USER_FILTER:
        raise DirectoryConfigError("PARLEY_LDAP_USER_FILTER must contain %(user)s, the name typed at sign-in.")
    return LdapConfig(
        server_uri=settings.PARLEY_LDAP_SERVER_URI,
        bind_dn=settings.PARLEY_LDAP_BIND_DN,
        bind_password=settings.PARLEY_LDAP_BIND_PASSWORD,
        start_tls=settings.PARLEY_LDAP_START_TLS,
        ca_file=settings.PARLEY_LDAP_CA_FILE,
        user_search_base=settings.PARLEY_LDAP_USER_SEARCH_BASE,
        user_filter=settings.PARLEY_LDAP_USER_FILTER,
        sync_filter=settings.PARLEY_LDAP_SYNC_FILTER,
        disabled_filter=settings.PARLEY_LDAP_DISABLED_FILTER,
        username_attribute=settings.PARLEY_LDAP_ATTR_USERNAME,
        attributes={
            "email": settings.PARLEY_LDAP_ATTR_EMAIL,
            "display_name": settings.PARLEY_LDAP_ATTR_NAME,
            "department": settings.PARLEY_LDAP_ATTR_DEPARTMENT,
            "job_title": settings.PARLEY_LDAP_ATTR_TITLE,
            "phone": settings.PARLEY_LDAP_ATTR_PHONE,
            "manager_directory_id": settings.PARLEY_LDAP_ATTR_MANAGER,
        },
        group_search_base=settings.PARLEY_LDAP_GROUP_SEARCH_BASE or settings.PARLEY_LDAP_USER_SEARCH_BASE,
        group_type=settings.PARLEY_LDAP_GROUP_TYPE,
        role_groups=role_mapping_parse(settings.PARLEY_LDAP_ROLE_GROUPS),
    )


def _connection_options(config: LdapConfig) -> dict[int, object]:
    options: dict[int, object] = {
        # Active Directory answers a search at the domain's root with referrals to other partitions; following
        # them would bind anonymously elsewhere and fail, so they are ignored (as every AD client does).
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_NETWORK_TIMEOUT: NETWORK_TIMEOUT_SECONDS,
        # A directory that accepts the connection and then hangs must not hold a sign-in or the worker forever.
        ldap.OPT_TIMEOUT: OPERATION_TIMEOUT_SECONDS,
    }
    if config.ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = config.ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above to this connection
    return options


def _enabled(filter_text: str, disabled_filter: str) -> str:
    """`filter_text` limited to people `disabled_filter` does not match."""
    return f"(&{filter_text}(!{disabled_filter}))" if disabled_filter else filter_text


# ---- one person ---------------------------------------------------------------------------------------------


def _first(attrs: Mapping[str, list], name: str) -> str:
    values = attrs.get(name) or [] if name else []
    if not values:
        return ""
    value = values[0]
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def dn_key(dn: str) -> str:
    """A DN in one spelling (spaces, case), to compare a `member` or `manager` value with an entry's DN."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).casefold()
    except ldap.DECODING_ERROR:
        return dn.strip().casefold()


def person_from_entry(
    config: LdapConfig, *, dn: str, attrs: Mapping[str, list], group_dns: Iterable[str], active: bool = True
) -> DirectoryPerson | None:
    """The DirectoryPerson an LDAP entry describes (attribute names matched in any case), or None when it has no
    username. Usernames are lower case: the directory compares them so, and an account must not split in two
    when HR retypes "JSmith" as "jsmith"."""
    attrs = ldap.cidict.cidict(dict(attrs))
    username = _first(attrs, config.username_attribute).strip().lower()
    if not username:
        return None
    fields = {name: _first(attrs, attribute).strip() for name, attribute in config.attributes.items()}
    return DirectoryPerson(
        username=username,
        directory_id=dn,
        roles=roles_for(group_dns, config.role_groups),
        active=active,
        **fields,
    )


# ---- writing: accounts.directory, plus the phone and local passwords ---------------------------------------


def _people_apply(people: list[DirectoryPerson], *, dry_run: bool) -> list[RowResult]:
    """Write `people` through accounts.directory, all or nothing, and also what the CSV import has no column for:
    the phone number, and retiring a local password, since a directory account signs in with the directory's
    (a leftover local password would outlive the person's disabling there). Returns a row per person."""
    with transaction.atomic():
        report = directory_people_apply(people=people, source=SOURCE, dry_run=dry_run)
        users = {user.username: user for user in User.objects.filter(username__in=[p.username for p in people])}
        rows = []
        for person, row in zip(people, report.rows, strict=True):
            user = users.get(person.username)
            if row.outcome == Outcome.ERROR or user is None:
                rows.append(row)
                continue
            extra, fields = [], []
            phone = person.phone[:PHONE_LENGTH]  # a phone field is no place to refuse a person over
            if user.phone != phone:
                extra.append(Change("phone", user.phone, phone))
                fields.append("phone")
            if user.has_usable_password():
                extra.append(Change("password", "local", "the directory's"))
                fields.append("password")
            if fields and report.written:
                user.phone = phone
                if "password" in fields:
                    # A new hash ends the account's other sessions (accounts/signals.py): the local ones.
                    user.set_unusable_password()
                user.save(update_fields=fields)
            if extra and row.outcome != Outcome.CREATED:
                row = replace(row, outcome=Outcome.UPDATED, changes=row.changes + tuple(extra))
            rows.append(row)
    return rows


# ---- sign-in ----------------------------------------------------------------------------------------------


def _backend_settings(config: LdapConfig) -> LDAPSettings:
    group_type, object_class, _ = GROUP_TYPES[config.group_type]
    # LDAPSearch fills in %(user)s with Python's % operator: a % in the disabled filter must be doubled.
    user_filter = _enabled(config.user_filter, config.disabled_filter.replace("%", "%%"))
    return LDAPSettings(
        defaults={
            "SERVER_URI": config.server_uri,
            "BIND_DN": config.bind_dn,
            "BIND_PASSWORD": config.bind_password,
            "START_TLS": config.start_tls,
            "CONNECTION_OPTIONS": _connection_options(config),
            # A disabled person is not found, so their password is never even tried.
            "USER_SEARCH": LDAPSearch(
                config.user_search_base, ldap.SCOPE_SUBTREE, user_filter, config.wanted_attributes
            ),
            "GROUP_SEARCH": LDAPSearch(config.group_search_base, ldap.SCOPE_SUBTREE, f"(objectClass={object_class})"),
            "GROUP_TYPE": group_type(),
            # The account is written by get_or_build_user through accounts.directory, never by the library.
            "ALWAYS_UPDATE_USER": False,
            "USER_ATTR_MAP": {},
            "MIRROR_GROUPS": None,
        }
    )


class ParleyLDAPBackend(LDAPBackend):
    """django-auth-ldap's backend, configured from PARLEY_LDAP_*, writing the account through accounts.directory.

    It sits after axes' backend and goes through django's authenticate()/login(): a wrong password counts
    toward the lockout (user_login_failed) and a sign-in is recorded like a local one (user_logged_in)."""

    @property
    def settings(self) -> LDAPSettings:
        if self._settings is None:
            self._settings = _backend_settings(ldap_config())
        return self._settings

    @settings.setter
    def settings(self, value: LDAPSettings) -> None:
        self._settings = value

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.PARLEY_LDAP_SERVER_URI:
            return None
        try:
            ldap_config()
        except DirectoryConfigError as error:
            # A sign-in page that answers 500 helps nobody: local accounts still sign in, the log says why.
            logger.error("LDAP sign-in is misconfigured: %s", error.message)
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    # Permissions come from Django's groups through ModelBackend: the directory's groups set roles when people
    # sign in or sync, never per check. Django asks every backend on every permission check (a fresh instance
    # each time), so answering here would rebuild the configuration per check and let a misconfigured directory
    # break pages that never talk to it.
    def get_all_permissions(self, user, obj=None) -> set[str]:
        return set()

    def get_group_permissions(self, user, obj=None) -> set[str]:
        return set()

    def has_perm(self, user, perm, obj=None) -> bool:
        return False

    def has_module_perms(self, user, app_label) -> bool:
        return False

    def get_or_build_user(self, username: str, ldap_user) -> tuple[User, bool]:
        """Write the person as the directory describes them now (roles from their groups), then sign them in."""
        config = ldap_config()
        group_dns = ldap_user.group_dns if config.role_groups else ()
        person = person_from_entry(config, dn=ldap_user.dn, attrs=ldap_user.attrs, group_dns=group_dns)
        if person is None:
            raise ldap_user.AuthenticationFailed(f"{ldap_user.dn} has no {config.username_attribute}")
        rows = _people_apply([person], dry_run=False)
        if rows[0].outcome == Outcome.ERROR:
            logger.warning("LDAP sign-in of %s refused: %s", person.username, rows[0].describe())
            raise ldap_user.AuthenticationFailed(rows[0].describe())
        return User.objects.get(username=person.username), False


# ---- sync ---------------------------------------------------------------------------------------------------


def _connect(config: LdapConfig):
    connection = ldap.initialize(config.server_uri)
    for option, value in _connection_options(config).items():
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
        active=False,
    )


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
        batch = _people_apply(batch_people, dry_run=dry_run)
        refused = {row.username for row in batch if row.outcome == Outcome.ERROR}
        if refused and not dry_run:
            # Nothing of this batch was written; write the others and keep the refusals for the report.
            kept = _people_apply([p for p in batch_people if p.username not in refused], dry_run=False)
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
