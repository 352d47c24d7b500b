"""Profiles and pictures."""

from __future__ import annotations

import hashlib
from functools import partial

from django.core.files import File

from accounts.errors import PictureTooLarge, ProfileInvalid
from accounts.frames import user_updated_frame
from accounts.models import User
from accounts.payloads import profile_payload
from accounts.services.presence import MAX_STATUS_MESSAGE_LENGTH
from core import fanout

AVATAR_SIZE = 256
MAX_AVATAR_UPLOAD_BYTES = 5 * 1024 * 1024
PROFILE_FIELDS = {
    "display_name": 150,
    "job_title": 100,
    "department": 100,
    "phone": 40,
    "status_message": MAX_STATUS_MESSAGE_LENGTH,
}


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
    fanout.after_commit(
        partial(fanout.to_user_and_watchers, user.pk, user_updated_frame(profile=profile_payload(user)))
    )


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
    # Named by its content, so a new picture always gets a new name and URL (accounts.payloads.avatar_version),
    # even when an earlier one's name has been freed.
    digest = hashlib.sha256(picture).hexdigest()[:16]
    user.avatar.save(f"{user.pk}-{digest}.webp", ContentFile(picture), save=False)
    user.save(update_fields=["avatar"])
    if old and old != user.avatar.name:
        user.avatar.storage.delete(old)
    _announce_profile(user)
    return user
