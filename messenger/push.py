"""Web Push: a notification on the desktop or phone of someone with no Parley tab open, for a direct message or
a mention (docs/client.md).

Off the send path: `message_send` only hands the message id over after commit (`message_push_after_commit`,
no query), and one background thread per worker process looks up who to tell, asks presence who has a tab
open, and POSTs to the push services. A slow or unreachable push service delays other pushes, never a send.

What a push says is decided here (`push_payload`): who wrote, and the words only when the company allows
previews (PARLEY_NOTIFICATION_PREVIEWS), because the push services (Google, Mozilla, Apple, Microsoft) are
outside the company. The payload is encrypted for the browser (RFC 8291) whatever it says.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from email.utils import parseaddr
from functools import cache
from typing import Any, TypeVar

import requests
from django.conf import settings
from django.db import connections
from django.db.models import Q
from django.templatetags.static import static
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from accounts import presence
from accounts.models import PresenceChoice, PushSubscription
from messenger.models import Conversation, Mention, Message

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A push waits at the push service this long for a browser that is off (a laptop asleep), then is dropped:
# a day-old "new message" is stale, and the digest e-mail covers what was missed.
PUSH_TTL_SECONDS = 24 * 60 * 60
PUSH_TIMEOUT_SECONDS = 10
PREVIEW_LENGTH = 180

# One thread: pushes are few (direct messages and mentions of people who are away) and each is one HTTPS POST;
# a single thread keeps them in order and bounds what a slow push service can hold up to this worker.
_pushes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-push")


def push_enabled() -> bool:
    return bool(settings.PARLEY_VAPID_PRIVATE_KEY)


def message_push_after_commit(message_id: int) -> Future | None:
    """Queue the pushes for a stored message. Called from `transaction.on_commit`; runs no query itself, so the
    send path's pinned query count is untouched."""
    if not push_enabled():
        return None
    return _pushes.submit(_push_in_background, message_id)


def pushes_drain(*, seconds: float = 30) -> None:
    """Wait until every push queued so far has run (one worker: a no-op queued now runs after them). Tests call
    it before the test database is emptied, which a push still reading subscriptions would deadlock with."""
    _pushes.submit(lambda: None).result(timeout=seconds)


def _push_in_background(message_id: int) -> int:
    try:
        return message_push(message_id=message_id)
    except Exception:
        logger.exception("Web Push for message %s failed", message_id)
        return 0
    finally:
        connections.close_all()  # this thread's own connections: back to the pool between jobs


def push_subscriptions_to_notify(message: Message) -> list[PushSubscription]:
    """The browsers to push a message to: those of the other member of a direct chat (unless they muted it)
    and of people it @mentions, who are active and not on "busy" (do not disturb), whose session is still
    signed in there. One query."""
    reached = Q(user__in=Mention.objects.filter(message_id=message.pk).values("user_id"))
    if message.conversation.kind == Conversation.Kind.DIRECT:
        reached |= Q(user__memberships__conversation_id=message.conversation_id, user__memberships__is_muted=False)
    return list(
        PushSubscription.objects.filter(reached, Q(sign_in=None) | Q(sign_in__ended_at=None), user__is_active=True)
        .exclude(user_id=message.sender_id)
        .exclude(user__presence_choice=PresenceChoice.BUSY)
        .distinct()
    )


def message_push(*, message_id: int) -> int:
    """Push a stored message to the browsers of the people it is for who have no Parley tab open. Returns how
    many pushes the push services accepted."""
    message = (
        Message.objects.select_related("sender", "conversation").filter(pk=message_id, deleted_at__isnull=True).first()
    )
    if message is None:
        return 0
    subscriptions = push_subscriptions_to_notify(message)
    if not subscriptions:
        return 0
    # A person with a tab open anywhere is told by that tab (notify.js), not by a push on top.
    connected = _on_this_threads_loop(presence.users_connected(sorted({s.user_id for s in subscriptions})))
    data = json.dumps(push_payload(message), ensure_ascii=False)
    return sum(push_send(subscription, data) for subscription in subscriptions if subscription.user_id not in connected)


def push_payload(message: Message) -> dict[str, Any]:
    """What the service worker shows (static/js/sw.js): who wrote and where to go; the words only with
    previews allowed."""
    sender = message.sender.name_to_show
    conversation = message.conversation
    payload = {
        "title": "Parley",
        "body": f"New message from {sender}",
        "url": f"/#/c/{conversation.pk}",
        "tag": f"parley-conversation-{conversation.pk}",  # a newer push replaces the older one of a chat
        "icon": static("img/parley-192.png"),
    }
    if settings.PARLEY_NOTIFICATION_PREVIEWS:
        is_room = conversation.kind == Conversation.Kind.ROOM
        payload["title"] = f"{sender} in #{conversation.name}" if is_room else sender
        payload["body"] = message_preview(message)
    return payload


def message_preview(message: Message) -> str:
    """The start of a message's text, on one line (a file without a caption says so)."""
    text = " ".join(message.body.split()) or ("Shared a file" if message.attachment_id else "")
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"


def push_send(subscription: PushSubscription, data: str) -> bool:
    """POST one encrypted, VAPID-signed push. A subscription its push service no longer knows (404, 410) is
    deleted; other failures are logged and the push is dropped (the digest e-mail is the fallback)."""
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=data,
            vapid_private_key=_vapid(settings.PARLEY_VAPID_PRIVATE_KEY),
            vapid_claims={"sub": vapid_subject()},  # a fresh dict: webpush adds "aud" and "exp" to it
            ttl=PUSH_TTL_SECONDS,
            timeout=PUSH_TIMEOUT_SECONDS,
            headers={"Urgency": "high"},
        )
    except WebPushException as refusal:
        status = getattr(refusal.response, "status_code", None)
        if status in (404, 410):
            subscription.delete()
        else:
            logger.warning("A push service refused a push (status %s)", status)
        return False
    except requests.RequestException as error:
        logger.warning("A push service could not be reached: %s", type(error).__name__)
        return False
    return True


def vapid_subject() -> str:
    """Who push services contact about our pushes: PARLEY_VAPID_SUBJECT, else the address mails come from."""
    if settings.PARLEY_VAPID_SUBJECT:
        return settings.PARLEY_VAPID_SUBJECT
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return f"mailto:{address}" if address else settings.PARLEY_SITE_URL


_thread_state = threading.local()


def _on_this_threads_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one of presence's reads on an event loop this thread keeps between pushes, so presence's Redis
    client (one per loop) and its connection are reused; async_to_sync would make a loop, and a client, per
    push."""
    loop = getattr(_thread_state, "loop", None)
    if loop is None:
        loop = _thread_state.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)


@cache
def _vapid(private_key: str) -> Vapid02:
    return Vapid02.from_raw(private_key.encode())
