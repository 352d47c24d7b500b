"""Serving a stored file over HTTP so that it can never run anything: shared files in the chat (messenger's API)
and in the archive (its admin) alike."""

from __future__ import annotations

from typing import Protocol

from django.db.models.fields.files import FieldFile
from django.http import HttpResponse
from django.utils.http import content_disposition_header


class StoredFile(Protocol):
    """What a response needs of a stored file (messenger.models.Attachment is one)."""

    file: FieldFile
    name: str
    content_type: str


OCTET_STREAM = "application/octet-stream"
# Served inline (shown in the chat); anything else is downloaded as application/octet-stream.
INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/aac",
    "audio/flac",
    "audio/mp4",
}


def file_response(attachment: StoredFile, *, allow_inline: bool = True) -> HttpResponse:
    """The file as an HTTP response: pictures and sound inline (when allowed), anything else as a download
    of application/octet-stream, and never able to run anything if opened on its own."""
    inline = allow_inline and attachment.content_type in INLINE_TYPES
    with attachment.file.open() as stored:
        response = HttpResponse(stored.read(), content_type=attachment.content_type if inline else OCTET_STREAM)
    response["Content-Disposition"] = content_disposition_header(not inline, attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
