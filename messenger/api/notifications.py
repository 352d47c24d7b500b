"""/me/push-subscriptions and /me/email-digest: how the signed-in user is reached with no tab open."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from accounts import services as people
from core.webpush import application_server_key

router = Router()


class PushKeys(Schema):
    p256dh: str = Field(..., max_length=100)
    auth: str = Field(..., max_length=50)


class PushSubscriptionIn(Schema):
    """What the browser's PushSubscription.toJSON() gives; other fields it has (expirationTime) are ignored."""

    endpoint: str = Field(..., min_length=1, max_length=1000)
    keys: PushKeys


class PushSubscriptionRef(Schema):
    endpoint: str = Field(..., min_length=1, max_length=1000)


@router.get("/push", summary="Whether Web Push is on, and the key browsers subscribe with")
def push_settings(request: HttpRequest) -> dict:
    key = settings.PARLEY_VAPID_PRIVATE_KEY
    return {"enabled": bool(key), "application_server_key": application_server_key(key) if key else None}


@router.post(
    "/me/push-subscriptions", response={201: None}, summary="Get push notifications in this browser with no tab open"
)
def push_subscribe(request: HttpRequest, data: PushSubscriptionIn) -> Status:
    people.push_subscription_save(
        user=request.user,
        endpoint=data.endpoint,
        p256dh=data.keys.p256dh,
        auth=data.keys.auth,
        session_key=request.session.session_key if hasattr(request, "session") else None,
    )
    return Status(201, None)


@router.delete("/me/push-subscriptions", response={204: None}, summary="Stop push notifications to one browser")
def push_unsubscribe(request: HttpRequest, params: Query[PushSubscriptionRef]) -> Status:
    people.push_subscription_delete(user=request.user, endpoint=params.endpoint)
    return Status(204, None)


class EmailDigestIn(Schema):
    enabled: bool


@router.put("/me/email-digest", summary="Opt in to or out of the e-mail digest of missed messages")
def email_digest(request: HttpRequest, data: EmailDigestIn) -> dict:
    people.email_digest_set(user=request.user, enabled=data.enabled)
    return {"enabled": request.user.email_digest}
