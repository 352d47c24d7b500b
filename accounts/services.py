"""Every write about people, one function each: presence choices, contacts, profiles, accounts."""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import partial
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import devices_for_user, verify_token
from django_otp import login as otp_login
from django_otp.models import Device

from accounts import roles
from accounts.models import (
    ApiToken,
    AuthenticatorDevice,
    BackupCodeDevice,
    Contact,
    ContactGroup,
    PresenceChoice,
    SignIn,
    User,
)
from accounts.selectors import (
    buddy_list,
    is_privileged,
    privileged_group_names,
    two_factor_enrolled,
    two_factor_required,
)
from core.audit import audit_record
from core.errors import ParleyError
from core.net import client_ip
from messenger import fanout
from messenger.payloads import profile_payload

MAX_STATUS_MESSAGE_LENGTH = 140


class PresenceInvalid(ParleyError):
    code = "presence_invalid"


def presence_choose(*, user: User, choice: str, status_message: str | None = None) -> User:
    """Store what the user chose to show (and optionally their status message)."""
    if choice not in PresenceChoice.values:
        raise PresenceInvalid(f"Presence is one of {', '.join(PresenceChoice.values)}.")
    fields = {"presence_choice": choice}
    if status_message is not None:
        if len(status_message) > MAX_STATUS_MESSAGE_LENGTH:
            raise PresenceInvalid(f"A status message is at most {MAX_STATUS_MESSAGE_LENGTH} characters.")
        fields["status_message"] = status_message
    User.objects.filter(pk=user.pk).update(**fields)
    for name, value in fields.items():
        setattr(user, name, value)
    return user


def user_last_seen_mark(*, user_id: int) -> str:
    """Record that a user just went offline; returns the time as ISO 8601 for the announcement."""
    now = timezone.now()
    User.objects.filter(pk=user_id).update(last_seen_at=now)
    return now.isoformat()


# ---- the buddy list ---------------------------------------------------------------------------------------

DEFAULT_CONTACT_GROUP = "Contacts"
MAX_CONTACT_GROUP_NAME = 60


class ContactInvalid(ParleyError):
    code = "contact_invalid"


def contact_add(*, owner: User, username: str, group_name: str = DEFAULT_CONTACT_GROUP) -> Contact:
    """Put someone on the owner's buddy list (in `group_name`, created if new), or move them there."""
    person = User.objects.filter(username=username, is_active=True).first()
    if person is None:
        raise ContactInvalid(f"No active user named {username!r}.", code="user_not_found")
    if person == owner:
        raise ContactInvalid("You cannot add yourself to your buddy list.")
    with transaction.atomic():
        group = _contact_group(owner, group_name)
        contact, created = Contact.objects.update_or_create(owner=owner, person=person, defaults={"group": group})
        if created:
            transaction.on_commit(partial(fanout.watch_presence, owner.pk, person.pk))
        _announce_buddy_list(owner)
    return contact


def contact_remove(*, owner: User, username: str) -> None:
    """Take someone off the buddy list. Their presence may still show where you share a conversation."""
    removed, _ = Contact.objects.filter(owner=owner, person__username=username).delete()
    if removed:
        _announce_buddy_list(owner)


def contact_group_rename(*, owner: User, old_name: str, new_name: str) -> ContactGroup:
    with transaction.atomic():
        group = ContactGroup.objects.select_for_update().filter(owner=owner, name=old_name).first()
        if group is None:
            raise ContactInvalid(f"You have no group named {old_name!r}.")
        group.name = _checked_group_name(new_name)
        try:
            with transaction.atomic():
                group.save(update_fields=["name"])
        except IntegrityError:
            raise ContactInvalid(f"You have a group named {new_name!r} already.") from None
        _announce_buddy_list(owner)
    return group


def contact_group_delete(*, owner: User, name: str) -> None:
    """Delete an empty group; a group with people in it must be emptied first, so nobody is dropped by accident."""
    group = ContactGroup.objects.filter(owner=owner, name=name).first()
    if group is None:
        raise ContactInvalid(f"You have no group named {name!r}.")
    if group.contacts.exists():
        raise ContactInvalid("Move or remove the people in this group first.")
    group.delete()
    _announce_buddy_list(owner)


def _announce_buddy_list(owner: User) -> None:
    """The owner's other tabs and devices redraw the buddy list (read after commit, so it is the final one)."""
    transaction.on_commit(lambda: fanout.to_user(owner.pk, {"type": "contacts", "groups": buddy_list(user=owner)}))


def _checked_group_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_CONTACT_GROUP_NAME:
        raise ContactInvalid(f"A group name is 1 to {MAX_CONTACT_GROUP_NAME} characters.")
    return name


def _contact_group(owner: User, name: str) -> ContactGroup:
    name = _checked_group_name(name)
    group, _ = ContactGroup.objects.get_or_create(
        owner=owner, name=name, defaults={"position": ContactGroup.objects.filter(owner=owner).count()}
    )
    return group


# ---- API tokens -------------------------------------------------------------------------------------------


def api_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenRefused(ParleyError):
    code = "api_token_refused"


def api_token_create(*, user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """A new token for bots and scripts, audit-logged with `actor` (None: an operator at the shell). The clear
    token is returned once and never stored.

    Refused for privileged accounts: a token skips the second factor, so it would turn an IT Admin's or a
    Compliance Officer's password-and-code into a bare secret (docs/security.md).
    """
    if is_privileged(user=user):
        raise ApiTokenRefused(
            f"{user.get_username()} is a privileged account (superuser, staff, IT Admin or Compliance Officer): "
            "API tokens skip the second factor, so they are not given to such accounts."
        )
    token = f"pat_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        record = ApiToken.objects.create(user=user, name=name, token_hash=api_token_hash(token))
        audit_record(
            actor=actor,
            target=record,
            action="api_token_created",
            changes={"user": [None, user.get_username()], "name": [None, name]},
            creates=True,
        )
    return record, token


def api_token_revoke(*, token: ApiToken, actor: User | None = None, reason: str = "revoked") -> bool:
    """Stop a token for good, audit-logged with `actor`. Returns False when it was revoked already."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            token.revoked_at = now
            changes = {"revoked_at": [None, now.isoformat()]}
            audit_record(
                actor=actor, target=token, action="api_token_revoked", changes=changes, details={"reason": reason}
            )
    return bool(revoked)


def api_tokens_revoke_all(*, user: User, actor: User | None, reason: str) -> int:
    """Revoke every live token of a user (they were deactivated): reactivating them later revives none."""
    live = list(ApiToken.objects.filter(user=user, revoked_at__isnull=True))
    return sum(api_token_revoke(token=token, actor=actor, reason=reason) for token in live)


# ---- profiles ---------------------------------------------------------------------------------------------

AVATAR_SIZE = 256
MAX_AVATAR_UPLOAD_BYTES = 5 * 1024 * 1024
PROFILE_FIELDS = {"display_name": 150, "job_title": 100, "department": 100, "phone": 40, "status_message": 140}


class ProfileInvalid(ParleyError):
    code = "profile_invalid"


class PictureTooLarge(ParleyError):
    code = "file_too_large"
    http_status = 413


def profile_update(*, user: User, **fields: str) -> User:
    """Change the user's own profile fields (display name, title, department, phone, status message)."""
    changes = {}
    for name, value in fields.items():
        if name not in PROFILE_FIELDS:
            raise ProfileInvalid(f"{name!r} is not a profile field.")
        value = value.strip()
        if len(value) > PROFILE_FIELDS[name]:
            raise ProfileInvalid(f"{name} is at most {PROFILE_FIELDS[name]} characters.")
        changes[name] = value
    for name, value in changes.items():
        setattr(user, name, value)
    if changes:
        user.save(update_fields=list(changes))
        _announce_profile(user)
    return user


def _announce_profile(user: User) -> None:
    transaction.on_commit(partial(fanout.profile_changed, user.pk, profile_payload(user)))


def avatar_set(*, user: User, upload: File) -> User:
    """Store a square 256 px WebP made from the upload: resized, and re-encoded so no metadata (EXIF, GPS)
    survives. Anything Pillow cannot read as an image is refused; so is one over 5 MB, by its size, before a
    byte of it is read."""
    import io

    from django.core.files.base import ContentFile
    from PIL import Image, ImageOps, UnidentifiedImageError

    if upload.size is None or upload.size > MAX_AVATAR_UPLOAD_BYTES:
        raise PictureTooLarge("A picture is at most 5 MB.")
    data = upload.read(MAX_AVATAR_UPLOAD_BYTES + 1)  # never more, whatever the size claimed
    if len(data) > MAX_AVATAR_UPLOAD_BYTES:
        raise PictureTooLarge("A picture is at most 5 MB.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF asked for, then drop it
            image = ImageOps.fit(image.convert("RGB"), (AVATAR_SIZE, AVATAR_SIZE))
            out = io.BytesIO()
            image.save(out, format="WEBP", quality=85)  # a fresh encode: no EXIF, XMP or ICC from the upload
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ProfileInvalid("That file is not a picture Parley can read.") from None
    old = user.avatar.name if user.avatar else None
    picture = out.getvalue()
    # Named by its content, so a new picture always gets a new name and URL (messenger.payloads.avatar_version),
    # even when an earlier one's name has been freed.
    digest = hashlib.sha256(picture).hexdigest()[:16]
    user.avatar.save(f"{user.pk}-{digest}.webp", ContentFile(picture), save=False)
    user.save(update_fields=["avatar"])
    if old and old != user.avatar.name:
        user.avatar.storage.delete(old)
    _announce_profile(user)
    return user


# ---- deactivation ------------------------------------------------------------------------------------------


def user_deactivate(*, user: User) -> User:
    """Switch an account off. Its sessions end and its live sockets close on every worker (see
    `signed_out_everywhere`, run for any save that turns is_active off), and its API tokens are revoked for good
    (accounts/signals.py); its messages stay, archived."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def user_reactivate(*, user: User) -> User:
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def user_sign_out_everywhere(*, user: User, actor: User | None) -> int:
    """IT signs someone out of every session and window (a lost laptop): audit-logged with `actor`."""
    audit_record(actor=actor, target=user, action="signed_out_everywhere")
    return signed_out_everywhere(user_id=user.pk, reason="signed_out_by_it")


def signed_out_everywhere(*, user_id: int, reason: str) -> int:
    """End every session of a user and close their sockets on every worker. Returns the sessions ended.

    Sessions are found through their sign-in records, so this is a few queries however many sessions exist.
    """
    from django.contrib.sessions.models import Session

    open_sign_ins = SignIn.objects.filter(user_id=user_id, ended_at__isnull=True)
    session_keys = list(open_sign_ins.values_list("session_key", flat=True))
    ended, _ = Session.objects.filter(session_key__in=session_keys).delete()
    open_sign_ins.update(ended_at=timezone.now(), end_reason=reason)
    transaction.on_commit(partial(fanout.close_user_sockets, user_id, reason=reason))  # at once outside a transaction
    return ended


# ---- sign-in records and sessions ---------------------------------------------------------------------------

MAX_USER_AGENT_LENGTH = 300


class SessionInvalid(ParleyError):
    code = "session_not_found"
    http_status = 404


def sign_in_record(*, user: User, request: HttpRequest) -> SignIn:
    """Note a sign-in (called as Django signs someone in): time, address, browser, and the session it opened."""
    return SignIn.objects.create(
        user=user,
        session_key=request.session.session_key or "",
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT_LENGTH],
    )


def sign_in_ended(*, session_key: str, reason: str) -> None:
    """A session ended by signing out: close the record and the sockets that session opened."""
    if not session_key:
        return
    SignIn.objects.filter(session_key=session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    transaction.on_commit(partial(fanout.close_session_sockets, session_key, reason=reason))


def session_end(*, user: User, sign_in_id: int, reason: str = "ended_by_user") -> SignIn:
    """Sign one of the user's own sessions out (from their sessions page): its cookie stops working and its
    sockets close on every worker."""
    from django.contrib.sessions.models import Session

    sign_in = SignIn.objects.filter(pk=sign_in_id, user=user, ended_at__isnull=True).first()
    if sign_in is None:
        raise SessionInvalid("That session is not one of your active sessions.")
    Session.objects.filter(session_key=sign_in.session_key).delete()
    sign_in_ended(session_key=sign_in.session_key, reason=reason)
    sign_in.refresh_from_db()
    return sign_in


def sessions_end_others(*, user: User, keep_session_key: str, reason: str = "ended_by_user") -> int:
    """Sign out every session of the user but the one they are using. Returns how many ended."""
    from django.contrib.sessions.models import Session

    other_sign_ins = SignIn.objects.filter(user=user, ended_at__isnull=True).exclude(session_key=keep_session_key)
    others = list(other_sign_ins.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=others).delete()
    other_sign_ins.update(ended_at=timezone.now(), end_reason=reason)
    for session_key in others:
        transaction.on_commit(partial(fanout.close_session_sockets, session_key, reason=reason))
    return len(others)


def password_change_from_session(*, user: User, session_key: str | None) -> None:
    """Before saving `user` with a new password: the session changing it, kept when the new password ends the
    user's other sessions (accounts.signals). Without it every session ends: a reset link, IT, a command."""
    user._password_changed_from_session = session_key


def sessions_end_for_new_password(*, user: User, keep_session_key: str | None = None) -> int:
    """The user's password hash changed: end their sessions and close their sockets, all but those of
    `keep_session_key` (the session that changed it, if any). Returns how many ended."""
    if not keep_session_key:
        return signed_out_everywhere(user_id=user.pk, reason="password_changed")
    return sessions_end_others(user=user, keep_session_key=keep_session_key, reason="password_changed")


def session_key_changed(*, old_key: str, new_key: str) -> None:
    """Django gave the session a new key (a password change does): keep its sign-in record and its open
    sockets pointing at it."""
    if old_key and new_key and old_key != new_key:
        SignIn.objects.filter(session_key=old_key, ended_at__isnull=True).update(session_key=new_key)
        transaction.on_commit(partial(fanout.session_rekeyed, old_key, new_key))


def sign_in_unlock(*, username: str, actor: User | None = None) -> int:
    """Lift a lockout after too many failed passwords (IT, in admin), audit-logged with `actor` against the
    account. Returns the failure records cleared."""
    from axes.utils import reset

    cleared = reset(username=username)
    user = User.objects.filter(username=username).first()
    if user is not None:
        audit_record(actor=actor, target=user, action="sign_in_unlocked", details={"records_cleared": cleared})
    return cleared


# ---- two-factor sign-in -------------------------------------------------------------------------------------

BACKUP_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"


class TwoFactorInvalid(ParleyError):
    code = "two_factor_invalid"


class SecondFactorOwed(ParleyError):
    """The session has not entered the person's current second factor, and the step needs it."""

    code = "two_factor_required"
    http_status = 403


def two_factor_enrol_start(*, user: User, verified: bool, pending_device_id: int | None = None) -> AuthenticatorDevice:
    """An authenticator secret for the user to scan; it counts only once a code from it is confirmed.

    Someone who already has a second factor starts a replacement only from a session that entered it: the
    password alone must never lead to a new device. The pending one is reused, so reloading the set-up page
    does not change a secret already scanned.
    """
    if not verified and two_factor_enrolled(user=user):
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    pending = AuthenticatorDevice.objects.filter(user=user, confirmed=False)
    device = pending.filter(pk=pending_device_id).first() if pending_device_id else None
    if device is None:
        pending.delete()
        device = AuthenticatorDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def two_factor_enrol_confirm(*, request: HttpRequest, device_id: int, token: str, current_token: str = "") -> list[str]:
    """Confirm the scanned authenticator with a code from it, replace any older one, verify this session, and
    return fresh backup codes (shown once).

    A first enrolment needs only the new code. A replacement needs a verified session and, in `current_token`,
    a code from the current authenticator or a backup code: a session left open, or stolen, cannot move the
    account to a phone of its own. Every code is checked by django-otp's verify_token, in a transaction of its
    own, so a wrong guess counts against the device's throttle even though the enrolment is refused.
    """
    user = request.user
    replacing = two_factor_enrolled(user=user)
    if replacing and not user.is_verified():
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    device = AuthenticatorDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        raise TwoFactorInvalid("That set-up has expired. Scan the new code and try again.")
    if not verify_token(user, device.persistent_id, _normalized_token(token)):
        raise TwoFactorInvalid("That code is not right. Check the time on your phone and enter a fresh one.")
    if replacing and not _current_second_factor_proven(user, current_token):
        raise TwoFactorInvalid(
            "Enter a code from your current authenticator, or a backup code, to replace it.",
            code="current_code_required",
        )
    with transaction.atomic():
        # One enrolment at a time per person (the user row's lock): one that was not a replacement when checked
        # above must not have become one meanwhile, or the password alone would replace a device after all.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if not replacing and two_factor_enrolled(user=user):
            raise SecondFactorOwed("Two-factor sign-in was set up meanwhile: enter a code from it first.")
        device = AuthenticatorDevice.objects.filter(pk=device.pk, confirmed=False).first()
        if device is None:
            raise TwoFactorInvalid("That set-up has expired. Scan the new code and try again.")
        AuthenticatorDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _backup_codes_issue(user)
    _second_factor_passed(request, device)
    return codes


def two_factor_verify(*, request: HttpRequest, token: str) -> Device:
    """Accept a code from the user's authenticator (or one of their backup codes) for this session.

    Each device throttles wrong codes itself (django-otp doubles the wait after each failure).
    """
    token = _normalized_token(token)
    for device in devices_for_user(request.user):
        if verify_token(request.user, device.persistent_id, token):
            _second_factor_passed(request, device)
            return device
    raise TwoFactorInvalid("That code is not right, or too many wrong codes were tried: wait a little and retry.")


def backup_codes_renew(*, user: User, verified: bool) -> list[str]:
    """Ten new single-use codes for signing in without the phone; the old ones stop working. Only from a
    session that entered its second factor."""
    if not verified:
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    return _backup_codes_issue(user)


def two_factor_remove(*, user: User, verified: bool) -> None:
    """The user turns two-factor sign-in off, from a session that entered it; refused when their role or IT
    requires it."""
    if not verified:
        raise SecondFactorOwed("Enter a code from your authenticator first.")
    if two_factor_required(user=user):
        raise TwoFactorInvalid("Your account must use two-factor sign-in; ask IT if you lost your phone.")
    two_factor_reset(user=user, actor=user)


def two_factor_reset(*, user: User, actor: User | None) -> None:
    """Forget the user's authenticator and backup codes (IT, for a lost phone): they enrol again at their next
    request if they must use two factors. Audit-logged with `actor` (None: an operator at the shell).

    Only a superuser resets a privileged account's second factor (account_reset_check): with it and the
    password, IT could sign in as a Compliance Officer.
    """
    account_reset_check(actor=actor, user=user, what="two-factor sign-in")
    with transaction.atomic():
        AuthenticatorDevice.objects.filter(user=user).delete()
        BackupCodeDevice.objects.filter(user=user).delete()
        audit_record(actor=actor, target=user, action="two_factor_reset")


def new_backup_code() -> str:
    """Eight base32 characters (40 random bits), lower case, as django-otp's StaticToken.random_token."""
    return base64.b32encode(secrets.token_bytes(5)).decode().lower()


def _backup_codes_issue(user: User) -> list[str]:
    codes = [new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    with transaction.atomic():
        # The user row's lock orders two renewals (one set per person, a constraint): the later one wins whole.
        User.objects.select_for_update().filter(pk=user.pk).first()
        BackupCodeDevice.objects.update_or_create(
            user=user, defaults={"name": BACKUP_CODES_NAME, "confirmed": True, "codes": " ".join(codes)}
        )
    return codes


def _current_second_factor_proven(user: User, token: str) -> bool:
    token = _normalized_token(token)
    return bool(token) and any(verify_token(user, device.persistent_id, token) for device in devices_for_user(user))


def _normalized_token(token: str) -> str:
    return "".join(token.split()).lower()


def _second_factor_passed(request: HttpRequest, device: Device) -> None:
    otp_login(request, device)
    SignIn.objects.filter(session_key=request.session.session_key, ended_at__isnull=True).update(
        second_factor_at=timezone.now()
    )


# ---- privileged accounts: what only a superuser changes ----------------------------------------------------


class SuperuserOnly(ParleyError):
    code = "superuser_only"
    http_status = 403


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
