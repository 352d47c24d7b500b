"""The HTTP JSON API, /api/v1/ (docs/api.md), built with django-ninja: typed inputs, an OpenAPI schema at
/api/v1/openapi.json. Thin like the consumer: parse, call one service or selector, return its payload.

Authentication: the browser's session (CSRF enforced on unsafe methods) or `Authorization: Bearer <token>`
with a per-user API token. Errors are JSON `{"code", "message"}`, mapped in one place below.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, Form, NinjaAPI, Query, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer, django_auth

from accounts import services as people
from accounts.models import User
from accounts.selectors import buddy_list, user_directory, user_for_api_token
from core.errors import ParleyError
from messenger import files, selectors, services
from messenger.payloads import avatar_version, message_payload, profile_payload, user_payload


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_api_token(token=token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Parley API",
    version="1",
    description="Conversations, messages and rooms of the signed-in user. Live traffic: the WebSocket at /ws/.",
    urls_namespace="api-v1",
    auth=[ApiTokenAuth(), django_auth],
    # The interactive docs and the schema are for people who may use the API: signed in, or sent to sign in.
    docs_decorator=login_required,
)


# ---- errors: the one place they become HTTP responses ------------------------------------------------------


def _error(request: HttpRequest, status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(ParleyError)
def parley_error(request: HttpRequest, error: ParleyError) -> HttpResponse:
    return _error(request, error.http_status, error.code, error.message)


@api.exception_handler(DataError)
def unstorable(request: HttpRequest, error: DataError) -> HttpResponse:
    """A value the database refused (the checks at the door should have caught it): the request changed
    nothing (its transaction rolled back) and is told so, never a 500."""
    return _error(request, 400, "invalid_request", "A value in the request cannot be stored.")


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return _error(request, 422, "invalid_request", "The request is not valid.", detail=error.errors)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "Sign in, or send a valid API token.")


@api.exception_handler(Http404)
def not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "No such resource.")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return _error(request, error.status_code, "http_error", str(error))


# ---- inputs ------------------------------------------------------------------------------------------------

Id = Field(..., ge=1, le=2**62)


class SearchQuery(Schema):
    search: str = Field("", max_length=100)
    limit: int = Field(50, ge=1, le=200)


class HistoryQuery(Schema):
    before_seq: int | None = Field(None, ge=1, le=2**62)
    limit: int = Field(50, ge=1, le=200)


class MessageSearchQuery(Schema):
    q: str = Field(..., max_length=200, pattern=r"\S")  # at least one word
    conversation_id: int | None = Field(None, ge=1, le=2**62)
    before: int | None = Field(None, ge=1, le=2**62)
    limit: int = Field(20, ge=1, le=selectors.SEARCH_PAGE_MAX)


class DirectIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)


class MessageIn(Schema):
    client_id: str = Field(..., min_length=1, max_length=64)
    body: str = Field(..., max_length=10_000)
    reply_to: int | None = Field(None, ge=1, le=2**62)


class ReadIn(Schema):
    seq: int = Field(..., ge=0, le=2**62)


class MuteIn(Schema):
    is_muted: bool


class RoomIn(Schema):
    name: str = Field(..., min_length=1, max_length=80)
    topic: str = Field("", max_length=250)
    is_public: bool = False
    members: list[str] = Field(default_factory=list, max_length=1000)


class RoomUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=80)
    topic: str | None = Field(None, max_length=250)


class MemberRoleIn(Schema):
    role: str = Field(..., pattern="^(moderator|member)$")


class InviteIn(Schema):
    usernames: list[str] = Field(..., min_length=1, max_length=1000)


def _id(value: int) -> int:
    if not 1 <= value <= 2**62:
        raise Http404
    return value


# ---- people ------------------------------------------------------------------------------------------------


@api.get("/me", summary="The signed-in user, with their profile")
def me(request: HttpRequest) -> dict:
    return profile_payload(request.user)


class ProfileIn(Schema):
    display_name: str | None = Field(None, max_length=150)
    job_title: str | None = Field(None, max_length=100)
    department: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    status_message: str | None = Field(None, max_length=140)


@api.patch("/me", summary="Change your own profile")
def update_me(request: HttpRequest, data: ProfileIn) -> dict:
    people.profile_update(user=request.user, **data.model_dump(exclude_none=True))
    return profile_payload(request.user)


@api.post("/me/avatar", summary="Set your picture (any image; stored as a 256 px WebP without metadata)")
def set_avatar(request: HttpRequest, picture: File[UploadedFile]) -> dict:
    people.avatar_set(user=request.user, upload=picture)
    return profile_payload(request.user)


@api.get("/users/{user_id}", summary="Someone's profile card: name, title, department, phone, status message")
def user_profile(request: HttpRequest, user_id: int) -> dict:
    person = User.objects.filter(pk=_id(user_id), is_active=True).first()
    if person is None:
        raise Http404
    return profile_payload(person)


@api.get("/users/{user_id}/avatar", summary="Someone's picture (WebP)", response={200: None})
def avatar(request: HttpRequest, user_id: int) -> HttpResponse:
    person = User.objects.filter(pk=_id(user_id), is_active=True).exclude(avatar="").first()
    if person is None:
        raise Http404
    # The URL names the picture's version (payloads.avatar_version): that one never changes, so keep it.
    current = request.GET.get("v") == avatar_version(person)
    cache = "private, max-age=31536000, immutable" if current else "private, no-cache"
    with person.avatar.open() as picture:
        return HttpResponse(picture.read(), content_type="image/webp", headers={"Cache-Control": cache})


@api.get("/users", summary="The company directory: active people by name, department or title")
def users(request: HttpRequest, params: Query[SearchQuery]) -> dict:
    return {"users": user_directory(search=params.search, limit=params.limit)}


class ContactIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    group: str = Field("Contacts", min_length=1, max_length=60)


@api.get("/contacts", summary="The buddy list: the user's groups in order, each with its people")
def contacts(request: HttpRequest) -> dict:
    return {"groups": buddy_list(user=request.user)}


@api.post("/contacts", summary="Add someone to the buddy list (or move them to another group)")
def add_contact(request: HttpRequest, data: ContactIn) -> dict:
    people.contact_add(owner=request.user, username=data.username, group_name=data.group)
    return {"groups": buddy_list(user=request.user)}


@api.delete("/contacts/{username}", response={204: None}, summary="Take someone off the buddy list")
def remove_contact(request: HttpRequest, username: str) -> Status:
    people.contact_remove(owner=request.user, username=username)
    return Status(204, None)


# ---- conversations and messages ------------------------------------------------------------------------------


@api.get("/conversations", summary="The user's conversations with unread and unread-mention counts")
def conversations(request: HttpRequest) -> dict:
    return {"conversations": selectors.conversation_list_for(user=request.user)}


@api.post("/conversations/direct", summary="Open (or find again) the direct chat with someone")
def open_direct(request: HttpRequest, data: DirectIn) -> dict:
    conversation = services.direct_open(user=request.user, other_username=data.username)
    return selectors.conversation_for_member(user=request.user, conversation_id=conversation.pk)


@api.get("/conversations/{conversation_id}", summary="One conversation, with its members")
def conversation(request: HttpRequest, conversation_id: int) -> dict:
    return selectors.conversation_for_member(user=request.user, conversation_id=_id(conversation_id))


@api.get("/conversations/{conversation_id}/messages", summary="History, paged backwards by seq, oldest first")
def history(request: HttpRequest, conversation_id: int, params: Query[HistoryQuery]) -> dict:
    messages = selectors.message_history(
        user=request.user, conversation_id=_id(conversation_id), before_seq=params.before_seq, limit=params.limit
    )
    return {"messages": messages}


@api.get("/messages/search", summary="Messages in your conversations holding every word, newest first")
def search_messages(request: HttpRequest, params: Query[MessageSearchQuery]) -> dict:
    return selectors.message_search(
        user=request.user,
        words=params.q,
        conversation_id=params.conversation_id,
        before_id=params.before,
        limit=params.limit,
    )


@api.post("/conversations/{conversation_id}/messages", response={201: dict}, summary="Send a message")
def send(request: HttpRequest, conversation_id: int, data: MessageIn) -> Status:
    message = services.message_send(
        sender=request.user,
        conversation_id=_id(conversation_id),
        client_id=data.client_id,
        body=data.body,
        reply_to_id=data.reply_to,
    )
    return Status(201, message_payload(message))


@api.post("/conversations/{conversation_id}/read", summary="Move the read marker forward")
def read(request: HttpRequest, conversation_id: int, data: ReadIn) -> dict:
    return {"seq": services.read_mark(user=request.user, conversation_id=_id(conversation_id), seq=data.seq)}


@api.post("/conversations/{conversation_id}/mute", summary="Mute or unmute a conversation for yourself")
def mute(request: HttpRequest, conversation_id: int, data: MuteIn) -> dict:
    services.membership_mute(user=request.user, conversation_id=_id(conversation_id), is_muted=data.is_muted)
    return {"is_muted": data.is_muted}


# ---- files -------------------------------------------------------------------------------------------------


@api.post(
    "/conversations/{conversation_id}/files",
    response={201: dict},
    summary="Share a file with an optional caption: virus-scanned first, then posted as a message",
)
def share_file(
    request: HttpRequest, conversation_id: int, file: File[UploadedFile], client_id: Form[str], body: Form[str] = ""
) -> Status:
    message = files.file_share(
        sender=request.user,
        conversation_id=_id(conversation_id),
        client_id=client_id,
        name=file.name or "",
        content_type=file.content_type or "",
        data=files.upload_read(file),
        body=body,
    )
    return Status(201, message_payload(message))


@api.get("/files/{file_id}", response={200: None}, summary="A shared file (members of its conversation only)")
def download_file(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    return files.file_response(selectors.attachment_for_member(user=request.user, uid=file_id))


# ---- rooms -------------------------------------------------------------------------------------------------


@api.get("/rooms", summary="The room directory: public rooms and the private ones the user is in")
def rooms(request: HttpRequest, params: Query[SearchQuery]) -> dict:
    return {"rooms": selectors.room_directory(user=request.user, search=params.search)}


@api.post("/rooms", response={201: dict}, summary="Create a room")
def create_room(request: HttpRequest, data: RoomIn) -> Status:
    room = services.room_create(
        creator=request.user, name=data.name, topic=data.topic, is_public=data.is_public, member_usernames=data.members
    )
    return Status(201, selectors.conversation_for_member(user=request.user, conversation_id=room.pk))


@api.patch("/rooms/{room_id}", summary="Rename a room or change its topic (owner, moderators)")
def update_room(request: HttpRequest, room_id: int, data: RoomUpdateIn) -> dict:
    room = services.room_update(user=request.user, conversation_id=_id(room_id), name=data.name, topic=data.topic)
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@api.post("/rooms/{room_id}/archive", summary="Make a room read-only for good (owner)")
def archive_room(request: HttpRequest, room_id: int) -> dict:
    room = services.room_archive(user=request.user, conversation_id=_id(room_id))
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@api.delete(
    "/rooms/{room_id}/members/{username}",
    response={204: None},
    summary="Take someone out of a room (owner: anyone else; moderator: plain members)",
)
def remove_member(request: HttpRequest, room_id: int, username: str) -> Status:
    services.room_member_remove(user=request.user, conversation_id=_id(room_id), username=username)
    return Status(204, None)


@api.patch("/rooms/{room_id}/members/{username}", summary="Make a member a moderator or a plain member (owner)")
def set_member_role(request: HttpRequest, room_id: int, username: str, data: MemberRoleIn) -> dict:
    services.room_member_role_set(user=request.user, conversation_id=_id(room_id), username=username, role=data.role)
    return selectors.conversation_for_member(user=request.user, conversation_id=_id(room_id))


@api.post("/rooms/{room_id}/join", summary="Join a public room")
def join_room(request: HttpRequest, room_id: int) -> dict:
    room = services.room_join(user=request.user, conversation_id=_id(room_id))
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@api.post("/rooms/{room_id}/invite", summary="Add people to a room you are in")
def invite(request: HttpRequest, room_id: int, data: InviteIn) -> dict:
    added = services.room_invite(inviter=request.user, conversation_id=_id(room_id), usernames=data.usernames)
    return {"added": [user_payload(person) for person in added]}


@api.post("/rooms/{room_id}/leave", response={204: None}, summary="Leave a room")
def leave(request: HttpRequest, room_id: int) -> Status:
    services.conversation_leave(user=request.user, conversation_id=_id(room_id))
    return Status(204, None)
