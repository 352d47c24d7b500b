"""Every write about people, one function each: presence choices, contacts, profiles, accounts."""

from __future__ import annotations

import hashlib
import secrets
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiToken, Contact, ContactGroup, PresenceChoice, User
from core.errors import ParleyError
from messenger import fanout

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
    return contact


def contact_remove(*, owner: User, username: str) -> None:
    """Take someone off the buddy list. Their presence may still show where you share a conversation."""
    Contact.objects.filter(owner=owner, person__username=username).delete()


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
    return group


def contact_group_delete(*, owner: User, name: str) -> None:
    """Delete an empty group; a group with people in it must be emptied first, so nobody is dropped by accident."""
    group = ContactGroup.objects.filter(owner=owner, name=name).first()
    if group is None:
        raise ContactInvalid(f"You have no group named {name!r}.")
    if group.contacts.exists():
        raise ContactInvalid("Move or remove the people in this group first.")
    group.delete()


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


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for bots and scripts. The clear token is returned once and never stored."""
    token = f"pat_{secrets.token_urlsafe(32)}"
    return ApiToken.objects.create(user=user, name=name, token_hash=api_token_hash(token)), token


def api_token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


# ---- profiles ---------------------------------------------------------------------------------------------

AVATAR_SIZE = 256
MAX_AVATAR_UPLOAD_BYTES = 5 * 1024 * 1024
PROFILE_FIELDS = {"display_name": 150, "job_title": 100, "department": 100, "phone": 40, "status_message": 140}


class ProfileInvalid(ParleyError):
    code = "profile_invalid"


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
    return user


def avatar_set(*, user: User, upload: bytes) -> User:
    """Store a square 256 px WebP made from the upload: resized, and re-encoded so no metadata (EXIF, GPS)
    survives. Anything Pillow cannot read as an image is refused."""
    import io

    from django.core.files.base import ContentFile
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(upload) > MAX_AVATAR_UPLOAD_BYTES:
        raise ProfileInvalid("A picture is at most 5 MB.")
    try:
        with Image.open(io.BytesIO(upload)) as image:
            image = ImageOps.exif_transpose(image)  # keep the orientation the EXIF asked for, then drop it
            image = ImageOps.fit(image.convert("RGB"), (AVATAR_SIZE, AVATAR_SIZE))
            out = io.BytesIO()
            image.save(out, format="WEBP", quality=85)  # a fresh encode: no EXIF, XMP or ICC from the upload
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ProfileInvalid("That file is not a picture Parley can read.") from None
    old = user.avatar.name if user.avatar else None
    user.avatar.save(f"{user.pk}.webp", ContentFile(out.getvalue()), save=False)
    user.save(update_fields=["avatar"])
    if old and old != user.avatar.name:
        user.avatar.storage.delete(old)
    return user


# ---- deactivation ------------------------------------------------------------------------------------------


def user_deactivate(*, user: User) -> User:
    """Switch an account off. Its sessions end and its live sockets close on every worker (see
    `signed_out_everywhere`, run for any save that turns is_active off); its messages stay, archived."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    return user


def user_reactivate(*, user: User) -> User:
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def signed_out_everywhere(*, user_id: int, reason: str) -> int:
    """End every session of a user and close their sockets on every worker. Returns the sessions ended.

    Django's database sessions are not indexed by user, so this reads the live ones in batches: fine for a
    company's few thousand sessions; a sign-in record keyed by session would make it one query.
    """
    from django.contrib.sessions.models import Session

    ended = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).only("session_key", "session_data")
    for session in live.iterator(chunk_size=500):
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    fanout.close_user_sockets(user_id, reason=reason)
    return len(ended)
