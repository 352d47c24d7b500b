"""LDAP / Active Directory: the configuration, one entry as a DirectoryPerson, and sign-in with the directory's
password (ParleyLDAPBackend, django-auth-ldap); accounts.ldap_sync keeps accounts in step with the directory.

Both describe each person as a `DirectoryPerson` and write through accounts.directory, the one door every
directory uses, so a sign-in and a sync agree on what an account looks like. Roles come from membership of the
groups PARLEY_LDAP_ROLE_GROUPS names; a person the directory disables (PARLEY_LDAP_DISABLED_FILTER) cannot sign
in, and the next sync deactivates their account, which signs them out everywhere at once (accounts/signals.py).
Configuration is PARLEY_LDAP_* in settings (docs/directory.md). This module needs django-auth-ldap and
python-ldap (requirements-ldap.txt); nothing imports it unless PARLEY_LDAP_SERVER_URI is set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import ldap
import ldap.cidict
import ldap.dn
from django.conf import settings
from django_auth_ldap.backend import LDAPBackend, ldap_error
from django_auth_ldap.config import (
    ActiveDirectoryGroupType,
    GroupOfNamesType,
    GroupOfUniqueNamesType,
    LDAPSearch,
    LDAPSettings,
)

from accounts.directory import (
    DirectoryConfigError,
    DirectoryPerson,
    directory_people_apply,
    role_mapping_parse,
    roles_for,
)
from accounts.models import DirectorySource, User
from accounts.user_import import Outcome, RowResult

logger = logging.getLogger(__name__)

SOURCE = DirectorySource.LDAP
NETWORK_TIMEOUT_SECONDS = 10
OPERATION_TIMEOUT_SECONDS = 30
# The LDAP backend is asked before local passwords, so a directory that does not answer would cost every sign-in
# (the break-glass administrator's too) up to the timeouts above. After failing to reach it, this process leaves
# it alone for this long: directory accounts cannot sign in meanwhile (they could not anyway), local ones at once.
DIRECTORY_DOWN_SECONDS = 30
UNREACHABLE = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR)
clock: Callable[[], float] = time.monotonic  # moved by tests (core.testing.MovableClock)
_unreachable_until = 0.0

# PARLEY_LDAP_GROUP_TYPE -> django-auth-ldap's group type (sign-in), the groups' objectClass, and where the sync
# reads membership: Active Directory keeps it on the person (memberOf; a big group's `member` comes back in
# ranges), OpenLDAP's groupOfNames/groupOfUniqueNames on the group. Direct membership only, in both.
GROUP_TYPES = {
    "activeDirectory": (ActiveDirectoryGroupType, "group", "memberOf"),
    "groupOfNames": (GroupOfNamesType, "groupOfNames", "member"),
    "groupOfUniqueNames": (GroupOfUniqueNamesType, "groupOfUniqueNames", "uniqueMember"),
}


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


def connection_options(config: LdapConfig) -> dict[int, object]:
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


# ---- writing: accounts.directory ----------------------------------------------------------------------------


def ldap_people_apply(people: list[DirectoryPerson], *, dry_run: bool) -> list[RowResult]:
    """Write `people` through accounts.directory, all or nothing, retiring local passwords: a directory account
    signs in with the directory's. Returns a row per person."""
    report = directory_people_apply(people=people, source=SOURCE, dry_run=dry_run, retire_local_passwords=True)
    return list(report.rows)


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
            "CONNECTION_OPTIONS": connection_options(config),
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
        if not settings.PARLEY_LDAP_SERVER_URI or directory_unreachable():
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
        rows = ldap_people_apply([person], dry_run=False)
        if rows[0].outcome == Outcome.ERROR:
            logger.warning("LDAP sign-in of %s refused: %s", person.username, rows[0].describe())
            raise ldap_user.AuthenticationFailed(rows[0].describe())
        return User.objects.get(username=person.username), False


def directory_unreachable() -> bool:
    """Did this process fail to reach the directory less than DIRECTORY_DOWN_SECONDS ago?"""
    return clock() < _unreachable_until


def _note_unreachable(sender, exception: Exception, **kwargs) -> None:
    global _unreachable_until
    error = exception
    if isinstance(error, UNREACHABLE):
        _unreachable_until = clock() + DIRECTORY_DOWN_SECONDS
        logger.error(
            "The LDAP directory did not answer; sign-ins skip it for %s s: %r", DIRECTORY_DOWN_SECONDS, exception
        )


ldap_error.connect(_note_unreachable, sender=ParleyLDAPBackend, dispatch_uid="parley-ldap-unreachable")
