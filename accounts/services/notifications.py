"""How a person is reached with no tab open: their browsers' Web Push subscriptions and the e-mail digest."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

from accounts.errors import PushSubscriptionInvalid, UnsubscribeLinkInvalid
from accounts.models import PushSubscription, SignIn, User
from core.webpush import b64url_decode

UNSUBSCRIBE_SALT = "parley.digest.unsubscribe"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _checked_endpoint(endpoint: str) -> str:
    """The server will POST to this URL, so it must be a known push service (no internal address), over HTTPS
    (plain HTTP only to a loopback host that was allowed on purpose: tests and local push servers)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    allowed = [entry.lower().lstrip(".") for entry in settings.PARLEY_PUSH_SERVICE_HOSTS]
    if not any(host == entry or host.endswith("." + entry) for entry in allowed):
        raise PushSubscriptionInvalid("That endpoint is not at a known push service.")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise PushSubscriptionInvalid("A push endpoint must use HTTPS.")
    return endpoint


def _checked_key(value: str, *, name: str, length: int) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raw = b""
    if len(raw) != length:
        raise PushSubscriptionInvalid(f"keys.{name} must be base64url of {length} bytes.")
    return value


def push_subscription_save(
    *, user: User, endpoint: str, p256dh: str, auth: str, session_key: str | None = None
) -> PushSubscription:
    """Remember a browser's subscription for `user`, for as long as the session it came from lasts (none: an
    API token's, until deleted). The endpoint identifies the browser: subscribing again updates its keys and
    session, and a browser now used by someone else stops notifying the previous person."""
    _checked_endpoint(endpoint)
    _checked_key(p256dh, name="p256dh", length=65)
    _checked_key(auth, name="auth", length=16)
    sign_in = (
        SignIn.objects.filter(user=user, session_key=session_key, ended_at__isnull=True).first()
        if session_key
        else None
    )
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth, "sign_in": sign_in}
    )
    return subscription


def push_subscription_delete(*, user: User, endpoint: str) -> bool:
    """Forget one of the user's browsers (they turned notifications off, or signed out there)."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def email_digest_set(*, user: User, enabled: bool) -> User:
    """Opt in to or out of the e-mail digest of missed messages."""
    if user.email_digest != enabled:
        user.email_digest = enabled
        user.save(update_fields=["email_digest"])
    return user


def digest_unsubscribe_token(*, user: User) -> str:
    """What the unsubscribe link in a digest carries: signed, so it works without signing in, for this user
    only. It does not expire: an old digest's link must still work."""
    return signing.dumps(user.pk, salt=UNSUBSCRIBE_SALT)


def email_digest_unsubscribe(*, token: str) -> User:
    """Turn the digest off for whoever the link was made for."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise UnsubscribeLinkInvalid("That unsubscribe link is not valid.") from None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise UnsubscribeLinkInvalid("That unsubscribe link is not valid.")
    return email_digest_set(user=user, enabled=False)
