"""Sharing files in a conversation: size check, virus scan, sealed storage, then a message that carries it.

The scan happens before anything is stored or shown, outside any transaction (clamd may take a while on a
large file). An infected file is refused and the attempt is archived as "file quarantined" (with its name,
size, SHA-256 and what clamd found); its bytes are not kept. A clean one is saved sealed (the default storage,
core.storage) and shared as a message whose archive entry is "file shared", in one transaction.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction

from accounts.models import User
from archive.models import EventType
from archive.services import archive_record
from core.antivirus import scan_bytes
from core.commit_order import in_commit_order
from messenger.errors import FileInfected, FileInvalid, FileTooLarge
from messenger.models import Attachment, Message
from messenger.selectors import conversation_member_ids, conversation_writable, membership_for, message_resent
from messenger.services import message_send

MAX_NAME_LENGTH = 255


def file_share(
    *,
    sender: User,
    conversation_id: int,
    client_id: str,
    name: str,
    content_type: str,
    data: bytes,
    body: str = "",
) -> Message:
    """Scan, store and share one file (with an optional caption). Idempotent per (sender, client_id)."""
    # The checks before scanning (a member, a resend, a room still open); message_send makes the full ones,
    # with the members as they are when the message is stored.
    membership = membership_for(user=sender, conversation_id=conversation_id)
    existing = message_resent(sender=sender, client_id=client_id)
    if existing is not None:
        return existing
    conversation_writable(membership.conversation)  # before scanning a file nobody may see
    name = _clean_name(name)
    limit = settings.PARLEY_MAX_UPLOAD_MB * 1024 * 1024
    if not data:
        raise FileInvalid("The file is empty.")
    if len(data) > limit:
        raise FileTooLarge(f"Files are at most {settings.PARLEY_MAX_UPLOAD_MB} MB.")
    content_type = (content_type or "application/octet-stream")[:100]
    digest = hashlib.sha256(data).hexdigest()

    verdict = scan_bytes(data)
    if not verdict.clean:
        with transaction.atomic():
            archive_record(
                event_type=EventType.FILE_QUARANTINED,
                conversation_id=conversation_id,
                actor_id=sender.pk,
                participants=conversation_member_ids(conversation_id=conversation_id),
                content={
                    "file": {"name": name, "content_type": content_type, "size": len(data), "sha256": digest},
                    "signature": verdict.signature,
                },
            )
        raise FileInfected(f"{name} was not shared: the virus scanner found {verdict.signature}.")

    attachment = Attachment(
        conversation_id=conversation_id,
        uploader=sender,
        name=name,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        scanned=verdict.scanned,
    )
    attachment.file.save(_storage_name(name), ContentFile(data), save=False)
    try:
        # The message is announced at this transaction's COMMIT, so its turn in the conversation's commit order
        # is taken here (core.commit_order): message_send, inside it, cannot.
        with in_commit_order(conversation_id) as turn, transaction.atomic():
            attachment.save()
            message = message_send(
                sender=sender, conversation_id=conversation_id, client_id=client_id, body=body, attachment=attachment
            )
            if message.attachment_id != attachment.pk:  # the same client_id won a race on another socket
                raise _AlreadyShared(message)
            turn.take()
    except _AlreadyShared as race:
        attachment.file.delete(save=False)
        return race.message
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return message


def upload_read(upload: File) -> bytes:
    """The bytes of an uploaded file, refused by its size before any is read when over PARLEY_MAX_UPLOAD_MB
    (file_share checks the bytes again, for callers that hand it bytes from elsewhere)."""
    limit = settings.PARLEY_MAX_UPLOAD_MB * 1024 * 1024
    if upload.size is None or upload.size > limit:
        raise FileTooLarge(f"Files are at most {settings.PARLEY_MAX_UPLOAD_MB} MB.")
    return upload.read(limit + 1)  # never more, whatever the size claimed; file_share refuses limit + 1


class _AlreadyShared(Exception):
    def __init__(self, message: Message) -> None:
        self.message = message


def _clean_name(name: str) -> str:
    """The name people see: no path, no control characters, at most 255 characters."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise FileInvalid("A file needs a name.")
    return name[-MAX_NAME_LENGTH:]


def _storage_name(name: str) -> str:
    # The stored name is not the shown one: a random prefix and only safe characters, keeping the extension.
    _, extension = os.path.splitext(name)
    safe_extension = "".join(ch for ch in extension.lower() if ch.isalnum() or ch == ".")[:10]
    return f"{os.urandom(16).hex()}{safe_extension}"
