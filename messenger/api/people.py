"""/me, /users and /contacts: the signed-in user, their profile and picture, the directory and the buddy list."""

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from accounts import services as people
from accounts.payloads import avatar_version, profile_payload
from accounts.selectors import active_user, buddy_list, user_directory
from accounts.services import DEFAULT_CONTACT_GROUP, MAX_CONTACT_GROUP_NAME, PROFILE_FIELDS
from messenger.api.common import SearchQuery, path_id

router = Router()


@router.get("/me", summary="The signed-in user, with their profile")
def me(request: HttpRequest) -> dict:
    return profile_payload(request.user)


class ProfileIn(Schema):
    display_name: str | None = Field(None, max_length=PROFILE_FIELDS["display_name"])
    job_title: str | None = Field(None, max_length=PROFILE_FIELDS["job_title"])
    department: str | None = Field(None, max_length=PROFILE_FIELDS["department"])
    phone: str | None = Field(None, max_length=PROFILE_FIELDS["phone"])
    status_message: str | None = Field(None, max_length=PROFILE_FIELDS["status_message"])


@router.patch("/me", summary="Change your own profile")
def update_me(request: HttpRequest, data: ProfileIn) -> dict:
    people.profile_update(user=request.user, **data.model_dump(exclude_none=True))
    return profile_payload(request.user)


@router.post("/me/avatar", summary="Set your picture (any image; stored as a 256 px WebP without metadata)")
def set_avatar(request: HttpRequest, picture: File[UploadedFile]) -> dict:
    people.avatar_set(user=request.user, upload=picture)
    return profile_payload(request.user)


@router.get("/users/{user_id}", summary="Someone's profile card: name, title, department, phone, status message")
def user_profile(request: HttpRequest, user_id: int) -> dict:
    person = active_user(user_id=path_id(user_id))
    if person is None:
        raise Http404
    return profile_payload(person)


@router.get("/users/{user_id}/avatar", summary="Someone's picture (WebP)", response={200: None})
def avatar(request: HttpRequest, user_id: int) -> HttpResponse:
    person = active_user(user_id=path_id(user_id), with_avatar=True)
    if person is None:
        raise Http404
    # The URL names the picture's version (payloads.avatar_version): that one never changes, so keep it.
    current = request.GET.get("v") == avatar_version(person)
    cache = "private, max-age=31536000, immutable" if current else "private, no-cache"
    with person.avatar.open() as picture:
        return HttpResponse(picture.read(), content_type="image/webp", headers={"Cache-Control": cache})


@router.get("/users", summary="The company directory: active people by name, department or title")
def users(request: HttpRequest, params: Query[SearchQuery]) -> dict:
    return {"users": user_directory(search=params.search, limit=params.limit)}


class ContactIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    group: str = Field(DEFAULT_CONTACT_GROUP, min_length=1, max_length=MAX_CONTACT_GROUP_NAME)


@router.get("/contacts", summary="The buddy list: the user's groups in order, each with its people")
def contacts(request: HttpRequest) -> dict:
    return {"groups": buddy_list(user=request.user)}


@router.post("/contacts", summary="Add someone to the buddy list (or move them to another group)")
def add_contact(request: HttpRequest, data: ContactIn) -> dict:
    people.contact_add(owner=request.user, username=data.username, group_name=data.group)
    return {"groups": buddy_list(user=request.user)}


@router.delete("/contacts/{username}", response={204: None}, summary="Take someone off the buddy list")
def remove_contact(request: HttpRequest, username: str) -> Status:
    people.contact_remove(owner=request.user, username=username)
    return Status(204, None)
