"""/rooms: the room directory, creating and managing rooms, joining, inviting and leaving."""

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from accounts.payloads import user_payload
from messenger import selectors, services
from messenger.api.common import SearchQuery, path_id
from messenger.models import MAX_ROOM_NAME_LENGTH, MAX_TOPIC_LENGTH

router = Router()


class RoomIn(Schema):
    name: str = Field(..., min_length=1, max_length=MAX_ROOM_NAME_LENGTH)
    topic: str = Field("", max_length=MAX_TOPIC_LENGTH)
    is_public: bool = False
    members: list[str] = Field(default_factory=list, max_length=1000)


class RoomUpdateIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=MAX_ROOM_NAME_LENGTH)
    topic: str | None = Field(None, max_length=MAX_TOPIC_LENGTH)


class MemberRoleIn(Schema):
    role: str = Field(..., pattern="^(moderator|member)$")


class InviteIn(Schema):
    usernames: list[str] = Field(..., min_length=1, max_length=1000)


@router.get("/rooms", summary="The room directory: public rooms and the private ones the user is in")
def rooms(request: HttpRequest, params: Query[SearchQuery]) -> dict:
    return {"rooms": selectors.room_directory(user=request.user, search=params.search)}


@router.post("/rooms", response={201: dict}, summary="Create a room")
def create_room(request: HttpRequest, data: RoomIn) -> Status:
    room = services.room_create(
        creator=request.user, name=data.name, topic=data.topic, is_public=data.is_public, member_usernames=data.members
    )
    return Status(201, selectors.conversation_for_member(user=request.user, conversation_id=room.pk))


@router.patch("/rooms/{room_id}", summary="Rename a room or change its topic (owner, moderators)")
def update_room(request: HttpRequest, room_id: int, data: RoomUpdateIn) -> dict:
    room = services.room_update(user=request.user, conversation_id=path_id(room_id), name=data.name, topic=data.topic)
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@router.post("/rooms/{room_id}/archive", summary="Make a room read-only for good (owner)")
def archive_room(request: HttpRequest, room_id: int) -> dict:
    room = services.room_archive(user=request.user, conversation_id=path_id(room_id))
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@router.delete(
    "/rooms/{room_id}/members/{username}",
    response={204: None},
    summary="Take someone out of a room (owner: anyone else; moderator: plain members)",
)
def remove_member(request: HttpRequest, room_id: int, username: str) -> Status:
    services.room_member_remove(user=request.user, conversation_id=path_id(room_id), username=username)
    return Status(204, None)


@router.patch("/rooms/{room_id}/members/{username}", summary="Make a member a moderator or a plain member (owner)")
def set_member_role(request: HttpRequest, room_id: int, username: str, data: MemberRoleIn) -> dict:
    services.room_member_role_set(
        user=request.user, conversation_id=path_id(room_id), username=username, role=data.role
    )
    return selectors.conversation_for_member(user=request.user, conversation_id=path_id(room_id))


@router.post("/rooms/{room_id}/join", summary="Join a public room")
def join_room(request: HttpRequest, room_id: int) -> dict:
    room = services.room_join(user=request.user, conversation_id=path_id(room_id))
    return selectors.conversation_for_member(user=request.user, conversation_id=room.pk)


@router.post("/rooms/{room_id}/invite", summary="Add people to a room you are in")
def invite(request: HttpRequest, room_id: int, data: InviteIn) -> dict:
    added = services.room_invite(inviter=request.user, conversation_id=path_id(room_id), usernames=data.usernames)
    return {"added": [user_payload(person) for person in added]}


@router.post("/rooms/{room_id}/leave", response={204: None}, summary="Leave a room")
def leave(request: HttpRequest, room_id: int) -> Status:
    services.conversation_leave(user=request.user, conversation_id=path_id(room_id))
    return Status(204, None)
