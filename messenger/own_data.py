"""A person's own data, for them to take away (GDPR art. 15 and 20): profile, sign-ins, the messages they sent and
the files they shared, as a ZIP of JSON plus the files. Only ever the requester's own; retention is untouched."""

from __future__ import annotations

import json
import shutil
import zipfile
from typing import IO, Any

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import SignIn, User
from messenger.models import Attachment, Message, MessageVersion

README = """Your data from Parley, as of {when}.

profile.json     your account: names, contact details, settings, roles
sign_ins.json    every sign-in Parley keeps for you: when, from where, with what
messages.json    every message you sent, with the text it had before each edit or deletion
files.json       the files you shared; the files themselves are in files/
avatar.webp      your profile picture, if you have one

Nothing here was erased by downloading it. Your messages and files are also kept in the company's compliance
archive for the period the law and the company's retention policy require (for example SEC 17a-4 / FINRA 4511):
that archive keeps its records for their whole retention period, and nothing is erased early, also not on
request. Ask your compliance officer what it holds about you.
"""


def _at(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def own_profile(*, user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "department": user.department,
        "job_title": user.job_title,
        "phone": user.phone,
        "status_message": user.status_message,
        "date_joined": _at(user.date_joined),
        "last_login": _at(user.last_login),
        "email_digest": user.email_digest,
        "two_factor_required": user.two_factor_required,
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def own_sign_ins(*, user: User) -> list[dict[str, Any]]:
    return [
        {
            "signed_in_at": _at(sign_in.signed_in_at),
            "ip_address": sign_in.ip_address,
            "user_agent": sign_in.user_agent,
            "second_factor_at": _at(sign_in.second_factor_at),
            "ended_at": _at(sign_in.ended_at),
            "end_reason": sign_in.end_reason,
        }
        for sign_in in SignIn.objects.filter(user=user).order_by("signed_in_at", "pk").iterator()
    ]


def own_messages(*, user: User) -> list[dict[str, Any]]:
    """The messages `user` sent, oldest first, with every earlier text (an edit's or a deletion's)."""
    versions = Prefetch("versions", queryset=MessageVersion.objects.order_by("replaced_at", "pk"))
    rows = (
        Message.objects.filter(sender=user)
        .select_related("conversation", "attachment")
        .prefetch_related(versions)
        .order_by("created_at", "pk")
    )
    return [
        {
            "id": message.pk,
            "conversation": message.conversation_id,
            "room": message.conversation.name or None,
            "sent_at": _at(message.created_at),
            "body": message.body,
            "edited_at": _at(message.edited_at),
            "deleted_at": _at(message.deleted_at),
            "earlier_versions": [
                {"body": version.body, "replaced_at": _at(version.replaced_at)} for version in message.versions.all()
            ],
            "reply_to": message.reply_to_id,
            "thread_root": message.thread_root_id,
            "file": str(message.attachment.uid) if message.attachment else None,
        }
        for message in rows
    ]


def own_data_write(*, user: User, out: IO[bytes]) -> dict[str, int]:
    """Write `user`'s own data as a ZIP to `out`; returns what it holds, for the audit log."""
    messages = own_messages(user=user)
    sign_ins = own_sign_ins(user=user)
    files = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(when=timezone.now().isoformat(timespec="seconds")))
        archive.writestr("profile.json", _json(own_profile(user=user)))
        archive.writestr("sign_ins.json", _json(sign_ins))
        archive.writestr("messages.json", _json(messages))
        for attachment in Attachment.objects.filter(uploader=user).order_by("created_at", "pk").iterator():
            stored_as = f"files/{attachment.uid}/{_safe_name(attachment.name)}"
            record = {
                "uid": str(attachment.uid),
                "name": attachment.name,
                "content_type": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
                "shared_at": _at(attachment.created_at),
                "conversation": attachment.conversation_id,
                "path": stored_as,
            }
            try:
                with attachment.file.open() as stored, archive.open(stored_as, "w") as copy:
                    shutil.copyfileobj(stored, copy)  # a chunk at a time: files are up to the upload limit
            except (FileNotFoundError, ValueError):  # expired from storage by retention: listed, not included
                record["path"] = None
            files.append(record)
        archive.writestr("files.json", _json(files))
        if user.avatar:
            try:
                with user.avatar.open() as picture:
                    archive.writestr("avatar.webp", picture.read())
            except (FileNotFoundError, ValueError):
                pass  # gone from storage: left out
    return {"messages": len(messages), "sign_ins": len(sign_ins), "files": len(files)}


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _safe_name(name: str) -> str:
    """A file name that stays inside its folder when unzipped."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip(". ") or "file"
    return cleaned[:200]


def own_data_download_record(*, user: User, counts: dict[str, int]) -> None:
    """Put the download in the audit log, against the account: that someone's data left is a record too."""
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        user,
        force_log=True,
        action=LogEntry.Action.ACCESS,
        actor=user,
        changes={},
        serialized_data=None,
        additional_data={"own_data_download": counts},
    )
