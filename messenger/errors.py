"""Refusals of the messenger services, each with a stable code (docs/protocol.md lists them)."""

from core.errors import ParleyError


class NotAMember(ParleyError):
    """Also raised for conversations and messages that do not exist, so ids reveal nothing."""

    code = "not_a_member"
    http_status = 404


class BodyInvalid(ParleyError):
    code = "body_invalid"


class NotAllowed(ParleyError):
    code = "not_allowed"
    http_status = 403


class RoomArchived(NotAllowed):
    """An archived room is read-only for good: no message, edit, delete, reaction, new member, rename or topic.
    Members may still read it, mark it read, mute it and leave it."""

    code = "room_archived"


class RateLimited(ParleyError):
    code = "rate_limited"
    http_status = 429


class RoomInvalid(ParleyError):
    code = "room_invalid"


class UserNotFound(ParleyError):
    code = "user_not_found"
    http_status = 404


class SearchInvalid(ParleyError):
    code = "search_invalid"


class FileInvalid(ParleyError):
    code = "file_invalid"


class FileTooLarge(ParleyError):
    code = "file_too_large"
    http_status = 413


class FileInfected(ParleyError):
    """The virus scanner found something: the file was not shared, and the attempt is in the archive."""

    code = "file_infected"
    http_status = 422
