"""WebSocket transport: one socket per browser tab carries all of a user's traffic (docs/protocol.md).

The consumer only translates: frames in become service calls (messenger.handlers), replies and channel-layer
events become frames out. Rules live in the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Iterable
from typing import Any

from autobahn.exception import Disconnected as SocketClosed  # daphne's, when sending on a closed socket
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DataError
from django.utils import timezone
from redis.exceptions import RedisError

from accounts import presence_actions
from accounts.frames import signed_out_frame
from accounts.selectors import presence_linked, session_second_factor_owed, session_valid_until
from calls import handlers as call_handlers  # registers the call frames with messenger.handlers
from core import admission, fanout, metrics
from core.errors import ParleyError, ProtocolError
from games import handlers as _game_handlers  # noqa: F401 (registers the game.* frames with messenger.handlers)
from messenger import frames, handlers, protocol, selectors

# Close codes in the 4000-4999 range are ours; the browser client reads them to decide whether to retry.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SIGNED_OUT = 4403
# The channel layer or presence store could not take this socket now (Redis away, or out of connections): the
# handshake is refused, never answered with a server error, and the client reconnects with backoff.
CLOSE_TRY_AGAIN_LATER = 1013
PRESENCE_FRAMES = {"presence.tab", "presence.set"}
# Frames counted against the worker's admission limit (PARLEY_MAX_SENDS_IN_FLIGHT): the writes that carry load.
ADMITTED_FRAMES = {"message.send"}
# Channel-layer groups joined or left concurrently: each in flight holds one pooled Redis connection.
GROUPS_AT_ONCE = 50
# Past a session's expiry before it is re-read, so the store (expire_date > now) already counts it expired.
EXPIRY_MARGIN_SECONDS = 0.2

logger = logging.getLogger(__name__)


class ParleyConsumer(AsyncWebsocketConsumer):
    handshake_answered = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The pub/sub channel layer subscribes the socket's own channel before `connect` runs (Channels'
        `new_channel`): a Redis that cannot take it then is also a refusal with try-again-later, never a
        server error."""
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError):
            if self.handshake_answered:
                raise
            logger.warning("Socket refused: the channel layer could not take it", exc_info=True)
            metrics.channel_layer_error()
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.handshake_answered = True
        await super().accept(subprotocol, headers)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        self.handshake_answered = True
        await super().close(code, reason)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)  # before accept: the handshake is refused
            return
        if await database_sync_to_async(session_second_factor_owed)(user=user, session=self.scope.get("session")):
            await self.close(code=CLOSE_UNAUTHENTICATED)  # signed in with a password only: the page asks for a code
            return
        self.user = user
        self.groups_joined: set[str] = set()
        session_key = self.scope["session"].session_key
        try:
            snapshot = await self._subscribe(user, session_key)
        except (RedisError, OSError):
            logger.warning("Socket of user %s refused: the channel layer could not take it", user.pk, exc_info=True)
            metrics.channel_layer_error()
            # Each undone on its own: a failed group_discard must not leave the connection online until its TTL.
            with contextlib.suppress(RedisError, OSError):
                await presence_actions.presence_disconnect(user_id=user.pk, connection_id=self.channel_name)
            with contextlib.suppress(RedisError, OSError):
                await self._leave_all()
            del self.user  # nothing for disconnect() to undo any more
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()
        # Only once accepted: from here on disconnect() runs when the socket closes, and takes it out again.
        presence_actions.presence_heartbeat_add(user_id=user.pk, connection_id=self.channel_name)
        metrics.socket_opened()
        self.is_counted = True
        await self.send_frame(frames.hello_frame(user_id=user.pk, username=user.get_username()))
        await self.send_frame(snapshot)
        if session_key:
            self.session_key = session_key
            self.session_watch = asyncio.create_task(self._watch_session())

    async def _subscribe(self, user: Any, session_key: str | None) -> dict[str, Any]:
        """Join the user's, session's, conversations' and watched people's groups; the presence snapshot."""
        # The user's own group first: a conversation joined from now on arrives there, one joined before is
        # in the list read next.
        await self._join_all(
            [fanout.user_group(user.pk), *([fanout.session_group(session_key)] if session_key else [])]
        )
        conversation_ids = await database_sync_to_async(selectors.conversation_ids_for)(user=user)
        await self._join_all(fanout.conversation_group(conversation_id) for conversation_id in conversation_ids)
        watched, snapshot = await presence_actions.presence_connect(user=user, connection_id=self.channel_name)
        await self._join_all(fanout.presence_group(user_id) for user_id in watched)
        return snapshot

    async def _leave_all(self) -> None:
        groups = list(self.groups_joined)
        for start in range(0, len(groups), GROUPS_AT_ONCE):
            batch = groups[start : start + GROUPS_AT_ONCE]
            await asyncio.gather(*(self.channel_layer.group_discard(group, self.channel_name) for group in batch))
        self.groups_joined.clear()

    async def disconnect(self, code: int) -> None:
        presence_actions.presence_heartbeat_remove(connection_id=self.channel_name)  # first: nothing can skip it
        if task := getattr(self, "session_watch", None):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if getattr(self, "is_counted", False):
            metrics.socket_closed()
        if call_id := getattr(self, "call_id", None):
            try:
                await database_sync_to_async(call_handlers.hang_up_on_close)(user=self.user, call_id=call_id)
            except Exception:  # the database is away: the call's others see it end when they hang up
                logger.exception("Hanging up call %s of user %s on close failed", call_id, self.user.pk)
        if hasattr(self, "user"):
            await presence_actions.presence_disconnect(user_id=self.user.pk, connection_id=self.channel_name)
        if hasattr(self, "groups_joined"):
            await self._leave_all()

    async def _watch_session(self) -> None:
        """Close this socket when its session ends with nobody announcing it: it expired (SESSION_COOKIE_AGE),
        was deleted from the store, or predates a password change made where no signal ran. The session is
        re-read at its expiry and at least every PARLEY_SESSION_CHECK_SECONDS (two queries per socket; the
        closes that matter most, sign-outs and new passwords, are announced and do not wait for this)."""
        # First look when the session may expire at the latest: connect has just checked it.
        left = self.scope["session"].get_expiry_age()
        while True:
            # Jittered: after a restart every socket reconnects at once, and their checks should not stay in step.
            every = settings.PARLEY_SESSION_CHECK_SECONDS * random.uniform(0.75, 1.0)  # noqa: S311 (not a secret)
            await asyncio.sleep(min(left + EXPIRY_MARGIN_SECONDS, every))
            try:
                valid_until = await database_sync_to_async(session_valid_until)(
                    session_key=self.session_key, user_id=self.user.pk
                )
            except Exception:  # the database is away for a moment: the socket stays, the next check decides
                logger.exception("Session check of user %s failed", self.user.pk)
                left = settings.PARLEY_SESSION_CHECK_SECONDS
                continue
            if valid_until is None:
                await self.socket_close({"reason": "session_expired"})
                return
            left = (valid_until - timezone.now()).total_seconds()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: Any = None
        try:
            frame = protocol.decode_client_frame(text_data)
            command = protocol.parse_client_frame(frame)
            if command.type in PRESENCE_FRAMES:
                reply = await self._presence(command)
            else:
                # A send is admitted (or refused with `overloaded`) here, before it joins the executor's queue,
                # which has no bound; the place is held until the reply, and given back on error or cancellation.
                gate = admission.sends.admitted() if command.type in ADMITTED_FRAMES else contextlib.nullcontext()
                with gate:
                    # Not thread-sensitive: each frame's transaction runs in the executor's pool of threads (each
                    # with a pooled connection), so one socket's slow write does not queue every other socket's.
                    reply = await database_sync_to_async(handlers.dispatch, thread_sensitive=False)(self.user, command)
        except ParleyError as error:  # the one place a refusal becomes an error frame; the socket stays open
            await self.send_frame(frames.error_frame(error, ref=protocol.safe_ref(frame)))
            return
        except DataError:  # a value the database refused (rolled back); protocol's checks should catch it first
            refusal = ProtocolError("A value in the frame cannot be stored.")
            await self.send_frame(frames.error_frame(refusal, ref=protocol.safe_ref(frame)))
            return
        except Exception:  # a bug of ours: one strange frame must not cost the user their socket (1011)
            logger.exception("Frame of user %s failed", self.user.pk)
            refusal = ParleyError("The server could not handle this frame.", code="internal_error")
            await self.send_frame(frames.error_frame(refusal, ref=protocol.safe_ref(frame)))
            return
        self._follow_call(command.type, reply)
        await self.send_frame(protocol.with_ref(reply, command.ref))

    def _follow_call(self, frame_type: str, reply: dict[str, Any]) -> None:
        """Remember the call this socket is in: closing the socket hangs it up (see disconnect)."""
        if frame_type in call_handlers.JOINING_FRAMES:
            self.call_id = reply["call"]["id"]
        elif frame_type in call_handlers.LEAVING_FRAMES and reply.get("call_id") == getattr(self, "call_id", None):
            self.call_id = None

    async def _presence(self, command: protocol.ClientFrame) -> dict[str, Any]:
        """Presence frames go to the async presence actions: they are about this very connection."""
        if command.type == "presence.tab":
            await presence_actions.presence_tab_state(
                user_id=self.user.pk, connection_id=self.channel_name, tab_state=command.payload["state"]
            )
        else:
            await presence_actions.presence_choose(
                user=self.user, choice=command.payload["choice"], status_message=command.payload.get("status_message")
            )
        return frames.ack_frame()

    # Channel-layer events (core.fanout): frames arrive encoded once for every receiver.

    async def deliver_frame(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])

    async def conversation_join(self, event: dict[str, Any]) -> None:
        await self._join(fanout.conversation_group(event["conversation_id"]))
        await self.send(text_data=event["text"])
        await self._follow_presence(event["member_ids"])

    async def conversation_leave(self, event: dict[str, Any]) -> None:
        group = fanout.conversation_group(event["conversation_id"])
        await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined.discard(group)
        await self.send(text_data=event["text"])
        await self._unfollow_presence_unless_linked(event["member_ids"])

    async def presence_watch(self, event: dict[str, Any]) -> None:
        """A new contact, or people now sharing a conversation: follow them, starting with their state."""
        await self._follow_presence(event["user_ids"])

    async def presence_recheck(self, event: dict[str, Any]) -> None:
        """A contact removed, or someone left a conversation: stop following them unless still linked."""
        await self._unfollow_presence_unless_linked(event["user_ids"])

    async def _follow_presence(self, user_ids: list[int]) -> None:
        """Join the presence groups of those not followed yet and send their current state (one snapshot)."""
        new = [
            user_id
            for user_id in user_ids
            if user_id != self.user.pk and fanout.presence_group(user_id) not in self.groups_joined
        ]
        if not new:
            return
        await self._join_all(fanout.presence_group(user_id) for user_id in new)
        await self.send_frame(await presence_actions.presence_snapshot(user_ids=new))

    async def _unfollow_presence_unless_linked(self, user_ids: list[int]) -> None:
        """Leave the presence groups of those this user neither shares a conversation with nor has as a contact.
        One query, only when someone left or was removed (rare), never on the send path."""
        followed = [
            user_id
            for user_id in user_ids
            if user_id != self.user.pk and fanout.presence_group(user_id) in self.groups_joined
        ]
        if not followed:
            return
        linked = await database_sync_to_async(presence_linked)(user=self.user, user_ids=followed)
        for user_id in set(followed) - linked:
            group = fanout.presence_group(user_id)
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)

    async def socket_close(self, event: dict[str, Any]) -> None:
        """The user was deactivated or this session signed out: tell the client why, then close."""
        await self.send_frame(signed_out_frame(reason=event["reason"]))
        await self.close(code=CLOSE_SIGNED_OUT)

    async def session_rekey(self, event: dict[str, Any]) -> None:
        """This socket's session got a new key: follow it (see fanout.session_rekeyed)."""
        old_groups = [group for group in self.groups_joined if group.startswith(fanout.session_group(""))]
        await self._join(event["group"])
        self.session_key = event["session_key"]  # the one _watch_session re-reads from now on
        for group in old_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.add(group)

    async def _join_all(self, groups: Iterable[str]) -> None:
        """Join many groups concurrently, a batch at a time: a user with 500 contacts watches 500 presence
        groups, and one Redis round trip after another made signing in take 0.2 ms per contact."""
        groups = list(groups)
        for start in range(0, len(groups), GROUPS_AT_ONCE):
            batch = groups[start : start + GROUPS_AT_ONCE]
            self.groups_joined.update(batch)  # before: a partly failed batch is still discarded at disconnect
            await asyncio.gather(*(self.channel_layer.group_add(group, self.channel_name) for group in batch))

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        """A frame for a socket the browser has just closed (dispatched before the disconnect queued behind it)
        is dropped. Raised, it ended the consumer before `disconnect` ran, so the user stayed online until the
        presence TTL ran out and stayed in their groups (daphne raises it; django/channels#1820)."""
        with contextlib.suppress(SocketClosed):
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
