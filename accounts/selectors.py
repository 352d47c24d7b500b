"""Reads about people: who someone watches for presence, the directory, buddy lists, how they must sign in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts import roles
from accounts.models import ApiToken, AuthenticatorDevice, BackupCodeDevice, Contact, ContactGroup, SignIn, User
from accounts.payloads import profile_payload

PRESENCE_FIELDS = ("id", "status_message", "last_seen_at")


def presence_watchlist(*, user: User) -> list[dict[str, Any]]:
    """Everyone whose presence `user` sees: their contacts and everyone they share a conversation with.

    One query however many people that is (presence is a hot path: no query per contact).
    """
    people = (
        User.objects.filter(
            Q(contact_of__owner=user) | Q(memberships__conversation__memberships__user=user), is_active=True
        )
        .exclude(pk=user.pk)
        .distinct()
        .values(*PRESENCE_FIELDS)
    )
    return list(people)


def presence_linked(*, user: User, user_ids: list[int]) -> set[int]:
    """Those of `user_ids` whose presence `user` still sees (presence_watchlist's rule), in one query."""
    linked = User.objects.filter(
        Q(contact_of__owner=user) | Q(memberships__conversation__memberships__user=user), pk__in=user_ids
    )
    return set(linked.values_list("pk", flat=True).distinct())


def presence_people(*, user_ids: list[int]) -> list[dict[str, Any]]:
    return list(User.objects.filter(pk__in=user_ids, is_active=True).values(*PRESENCE_FIELDS))


def buddy_list(*, user: User) -> list[dict[str, Any]]:
    """The user's contact groups in order, each with its people (sorted by name), in two queries."""
    groups = ContactGroup.objects.filter(owner=user).prefetch_related(
        Prefetch("contacts", queryset=Contact.objects.select_related("person").order_by("person__username"))
    )
    return [
        {
            "name": group.name,
            "position": group.position,
            "contacts": [
                profile_payload(contact.person) for contact in group.contacts.all() if contact.person.is_active
            ],
        }
        for group in groups
    ]


# ---- privileged accounts -------------------------------------------------------------------------------------


def _privileged() -> Q:
    """The condition on User that makes an account privileged: it can change every account (superuser, staff
    in admin, IT Admins) or read what was said (Compliance Officers). The one definition; see is_privileged."""
    in_privileged_role = Exists(Group.objects.filter(user=OuterRef("pk"), name__in=roles.PRIVILEGED_ROLES))
    return Q(is_superuser=True) | Q(is_staff=True) | Q(in_privileged_role)


def privileged_users() -> QuerySet[User]:
    """Every privileged account (a superuser, staff, or a member of IT Admins or Compliance Officers)."""
    return User.objects.filter(_privileged())


def is_privileged(*, user: User) -> bool:
    """Is this account privileged now? Only a superuser resets its password or second factor, and it gets no
    API token (docs/security.md). At most one query."""
    if user.is_superuser or user.is_staff:
        return True
    return user.pk is not None and user.groups.filter(name__in=roles.PRIVILEGED_ROLES).exists()


def admin_open_to(*, user: User) -> bool:
    """May this account open the admin? Active, and staff or in a role whose work is there (IT Admins,
    Compliance Officers): a role given by a directory needs no staff tick as well. Each model page still asks
    the role's permissions. At most one query."""
    if not user.is_active:
        return False
    if user.is_staff:
        return True
    return user.pk is not None and user.groups.filter(name__in=roles.PRIVILEGED_ROLES).exists()


def privileged_group_names() -> set[str]:
    """Groups only a superuser grants or takes away: the privileged roles, and any group that carries a
    permission (IT cannot make one, but a superuser can, and it opens doors the same way). One query."""
    carrying = Group.objects.filter(permissions__isnull=False).values_list("name", flat=True).distinct()
    return {*roles.PRIVILEGED_ROLES, *carrying}


def api_token_live(*, token: str) -> ApiToken | None:
    """The live token of an active, unprivileged user matching a clear token (with its user), or None.

    A privileged account's token is ignored even when it was made before the promotion: a token skips the
    second factor. One query: the privilege test is a subquery of the token lookup (this runs on every API call).
    """
    return (
        ApiToken.objects.select_related("user")
        .filter(token_hash=ApiToken.hash_of(token), revoked_at__isnull=True, user__is_active=True)
        .exclude(user__in=privileged_users())
        .first()
    )


def active_user(*, user_id: int, with_avatar: bool = False) -> User | None:
    """An active person by id (with a picture, when `with_avatar`), or None: whose profile card others may see."""
    people = User.objects.filter(pk=user_id, is_active=True)
    return (people.exclude(avatar="") if with_avatar else people).first()


def user_directory(*, search: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """Active people matching a search over names, username, department and title, by name."""
    people = User.objects.filter(is_active=True)
    for word in search.split():
        people = people.filter(
            Q(username__icontains=word)
            | Q(display_name__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(department__icontains=word)
            | Q(job_title__icontains=word)
        )
    return [
        profile_payload(person) for person in people.order_by("display_name", "username")[: max(1, min(limit, 200))]
    ]


# ---- sign-in -----------------------------------------------------------------------------------------------

# Roles whose members must always use two factors: they can change every account, or read what was said.
TWO_FACTOR_ROLES = (roles.IT_ADMINS, roles.COMPLIANCE_OFFICERS)


def _groups_requiring_two_factors() -> Q:
    return Q(name__in=TWO_FACTOR_ROLES) | Q(sign_in_policy__two_factor_required=True)


def two_factor_required(*, user: User) -> bool:
    """Must this person sign in with a second factor? (One query at most.)"""
    if user.two_factor_required or user.is_superuser:
        return True
    return Group.objects.filter(_groups_requiring_two_factors(), user=user).exists()


def second_factor_device(*, user: User, session: Any) -> Any | None:
    """The confirmed device this session proved with its second factor, or None.

    The same check as django-otp's middleware, for transports that have a session but no request (sockets).
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return None
    device = Device.from_persistent_id(persistent_id)
    if device is None or device.user_id != user.pk or not device.confirmed:
        return None
    return device


def two_factor_enrolled(*, user: User) -> bool:
    """Has this person a confirmed second factor (an authenticator, or backup codes)? Replacing it then needs
    it first."""
    return (
        AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()
        or BackupCodeDevice.objects.filter(user=user, confirmed=True).exists()
    )


def second_factor_owed(*, user: User, verified: bool) -> str | None:
    """What a signed-in session must still do before it may be used: "verify", "enrol", or None.

    "verify": the person has an authenticator and has not used it in this session. "enrol": they must use two
    factors and have none yet. Anyone may enrol; once enrolled, every sign-in asks for the code. Asked on every
    request of a session without a second factor, so it is one query.
    """
    if verified or not user.is_authenticated:
        return None
    enrolled = Exists(AuthenticatorDevice.objects.filter(user=OuterRef("pk"), confirmed=True)) | Exists(
        BackupCodeDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    )
    required_by_group = Exists(Group.objects.filter(_groups_requiring_two_factors(), user=OuterRef("pk")))
    state = User.objects.filter(pk=user.pk).values(enrolled=enrolled, required_by_group=required_by_group).first()
    if state is None:
        return None
    if state["enrolled"]:
        return "verify"
    if state["required_by_group"] or user.two_factor_required or user.is_superuser:
        return "enrol"
    return None


def session_second_factor_owed(*, user: User, session: Any) -> str | None:
    """second_factor_owed for a bare session (a socket's): "verify", "enrol" or None."""
    return second_factor_owed(user=user, verified=second_factor_device(user=user, session=session) is not None)


def sessions_active(*, user: User) -> list[SignIn]:
    """The user's sign-ins whose session is still alive, newest first (one query)."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    live_keys = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return list(SignIn.objects.filter(user=user, ended_at__isnull=True, session_key__in=live_keys))


def sign_in_history(*, user: User, limit: int = 20) -> list[SignIn]:
    return list(SignIn.objects.filter(user=user)[:limit])


def session_valid_until(*, session_key: str, user_id: int) -> datetime | None:
    """When a socket's session stops being valid, or None if it is not valid now: gone from the store,
    expired, another user's, its user deactivated, or made before the password last changed (Django's own
    rule, as in django.contrib.auth.get_user). Open sockets re-check it (messenger.consumers)."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import constant_time_compare

    row = Session.objects.filter(session_key=session_key, expire_date__gt=timezone.now()).first()
    if row is None:
        return None
    data = row.get_decoded()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or data.get(SESSION_KEY) != str(user_id):
        return None
    stored_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(stored_hash, current) for current in hashes):
        return None
    return row.expire_date
