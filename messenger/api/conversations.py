"""/conversations, /messages and /files: a user's conversations, their history, sending, reading, files."""

import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from core import admission
from core.downloads import file_response
from messenger import files, selectors, services
from messenger.api.common import path_id
from messenger.models import MAX_BODY_LENGTH, MAX_CLIENT_ID_LENGTH
from messenger.payloads import message_payload

router = Router()


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
    client_id: str = Field(..., min_length=1, max_length=MAX_CLIENT_ID_LENGTH)
    body: str = Field(..., max_length=MAX_BODY_LENGTH)
    reply_to: int | None = Field(None, ge=1, le=2**62)
    thread_root_id: int | None = Field(None, ge=1, le=2**62)
    also_in_room: bool = False


class ReadIn(Schema):
    seq: int = Field(..., ge=0, le=2**62)


class MuteIn(Schema):
    is_muted: bool


@router.get("/conversations", summary="The user's conversations with unread and unread-mention counts")
def conversations(request: HttpRequest) -> dict:
    return {"conversations": selectors.conversation_list_for(user=request.user)}


@router.post("/conversations/direct", summary="Open (or find again) the direct chat with someone")
def open_direct(request: HttpRequest, data: DirectIn) -> dict:
    conversation = services.direct_open(user=request.user, other_username=data.username)
    return selectors.conversation_for_member(user=request.user, conversation_id=conversation.pk)


@router.get("/conversations/{conversation_id}", summary="One conversation, with its members")
def conversation(request: HttpRequest, conversation_id: int) -> dict:
    return selectors.conversation_for_member(user=request.user, conversation_id=path_id(conversation_id))


@router.get("/conversations/{conversation_id}/messages", summary="History, paged backwards by seq, oldest first")
def history(request: HttpRequest, conversation_id: int, params: Query[HistoryQuery]) -> dict:
    messages = selectors.message_history(
        user=request.user, conversation_id=path_id(conversation_id), before_seq=params.before_seq, limit=params.limit
    )
    return {"messages": messages}


@router.get(
    "/conversations/{conversation_id}/threads/{message_id}",
    summary="A thread: its first message and every reply, oldest first",
)
def thread(request: HttpRequest, conversation_id: int, message_id: int) -> dict:
    return selectors.thread_for_member(
        user=request.user, conversation_id=path_id(conversation_id), root_id=path_id(message_id)
    )


@router.get("/messages/search", summary="Messages in your conversations holding every word, newest first")
def search_messages(request: HttpRequest, params: Query[MessageSearchQuery]) -> dict:
    return selectors.message_search(
        user=request.user,
        words=params.q,
        conversation_id=params.conversation_id,
        before_id=params.before,
        limit=params.limit,
    )


@router.post("/conversations/{conversation_id}/messages", response={201: dict}, summary="Send a message")
def send(request: HttpRequest, conversation_id: int, data: MessageIn) -> Status:
    with admission.sends.admitted():  # 503 `overloaded` with Retry-After past this worker's limit
        message = services.message_send(
            sender=request.user,
            conversation_id=path_id(conversation_id),
            client_id=data.client_id,
            body=data.body,
            reply_to_id=data.reply_to,
            thread_root_id=data.thread_root_id,
            also_in_room=data.also_in_room,
        )
    return Status(201, message_payload(message))


@router.post("/conversations/{conversation_id}/read", summary="Move the read marker forward")
def read(request: HttpRequest, conversation_id: int, data: ReadIn) -> dict:
    return {"seq": services.read_mark(user=request.user, conversation_id=path_id(conversation_id), seq=data.seq)}


@router.post("/conversations/{conversation_id}/mute", summary="Mute or unmute a conversation for yourself")
def mute(request: HttpRequest, conversation_id: int, data: MuteIn) -> dict:
    services.membership_mute(user=request.user, conversation_id=path_id(conversation_id), is_muted=data.is_muted)
    return {"is_muted": data.is_muted}


@router.post(
    "/conversations/{conversation_id}/files",
    response={201: dict},
    summary="Share a file with an optional caption: virus-scanned first, then posted as a message",
)
def share_file(
    request: HttpRequest, conversation_id: int, file: File[UploadedFile], client_id: Form[str], body: Form[str] = ""
) -> Status:
    # A share is a send (scanned, sealed, stored, archived): it counts against the same limit, 503 past it.
    with admission.sends.admitted():
        message = files.file_share(
            sender=request.user,
            conversation_id=path_id(conversation_id),
            client_id=client_id,
            name=file.name or "",
            content_type=file.content_type or "",
            data=files.upload_read(file),
            body=body,
        )
    return Status(201, message_payload(message))


@router.get("/files/{file_id}", response={200: None}, summary="A shared file (members of its conversation only)")
def download_file(request: HttpRequest, file_id: uuid.UUID) -> HttpResponse:
    return file_response(selectors.attachment_for_member(user=request.user, uid=file_id))
