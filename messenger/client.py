"""An asyncio client for Parley, for bots, load tests and integration tests. Needs only aiohttp (no Django).

    async with Client("http://127.0.0.1:8000", "alice", "secret") as c:  # signs in over HTTP, opens /ws/
        conv = await c.direct("bob")                  # conversation id
        room = await c.create_room("deals", members=["bob", "carol"])
        ack = await c.send(conv, "hello")             # once the server acknowledged: dict with id, seq
        shared = await c.send_file(conv, "deck.pdf", caption="the deck")  # scanned, stored, announced
        data = await c.download(shared["attachment"]["id"])
        async for event in c.events():                # every server frame, decoded
            ...
        call = (await c.call_invite(conv))["call"]   # calls: signaling here, media between peers (aiortc)

It keeps what it receives by (conversation, seq), so a message that arrives twice (once in a resync, once
live) is kept once; when the socket drops it reconnects with backoff, sends `sync` with its last seq per
conversation, and resends unacknowledged messages with their original client ids (docs/protocol.md). A send
the server refuses as `overloaded` is sent again later, with the same client id, backoff and jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import os
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yarl

RECONNECT_FIRST_DELAY = 0.2
RECONNECT_MAX_DELAY = 10.0
REPLY_TIMEOUT = 15.0
OVERLOAD_FIRST_DELAY = 0.5  # when the server gives no retry_after hint
OVERLOAD_MAX_DELAY = 10.0


class ClientError(Exception):
    """The server refused a frame or a request; `code` is the protocol's error code, `retry_after` the seconds
    it asks us to wait before trying again (with `overloaded`), else None."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retry_after = code, message, retry_after


def overload_delay(retry_after: float | None, refusals: int) -> float:
    """How long to wait after the `refusals`-th `overloaded` in a row: the server's hint doubled per refusal,
    at most OVERLOAD_MAX_DELAY, times a random 0.5 to 1 so refused clients do not all come back at once."""
    delay = min((retry_after or OVERLOAD_FIRST_DELAY) * 2 ** (refusals - 1), OVERLOAD_MAX_DELAY)
    return delay * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not crypto)


class Client:
    def __init__(self, base_url: str, username: str, password: str, *, reconnect: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.reconnect = reconnect
        self.user_id: int | None = None
        self._http: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._refs = (f"r{n}" for n in itertools.count(1))
        self._waiting: dict[str, asyncio.Future] = {}
        self._unacknowledged: dict[str, dict[str, Any]] = {}  # client_id -> the message.send frame
        self._messages: dict[int, dict[int, dict[str, Any]]] = {}  # conversation -> seq -> message
        # conversation -> its last seq when this client learned of it (made it, or was added): every later message
        # is this client's to hold, so a missing first one is a gap too, not history it never had.
        self._known_from: dict[int, int] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._connected = asyncio.Event()
        self._closing = False
        self.reconnects = 0
        self.overloaded_refusals = 0  # sends the server refused as `overloaded` and this client sent again

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        await self._sign_in()
        await self._open_socket()
        self._reader = asyncio.create_task(self._read_forever())
        await asyncio.wait_for(self._connected.wait(), REPLY_TIMEOUT)

    async def close(self) -> None:
        self._closing = True
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._socket is not None:
            await self._socket.close()
        if self._http is not None:
            await self._http.close()

    async def kill_socket(self) -> None:
        """Drop the TCP connection without a close handshake, as a network failure would."""
        if self._socket is not None:
            transport = self._socket._response.connection.transport  # aiohttp keeps it here
            if transport is not None:
                transport.abort()

    async def _sign_in(self) -> None:
        login = f"{self.base_url}/accounts/login/"
        async with self._http.get(login) as response:
            await response.read()
        form = {"username": self.username, "password": self.password, "csrfmiddlewaretoken": self._csrf()}
        async with self._http.post(login, data=form, allow_redirects=False) as response:
            if response.status != 302:
                raise ClientError("sign_in_failed", f"sign-in answered HTTP {response.status}")

    def _csrf(self) -> str:
        cookie = self._http.cookie_jar.filter_cookies(yarl.URL(self.base_url)).get("csrftoken")
        return cookie.value if cookie else ""

    async def _open_socket(self) -> None:
        self._connected.clear()
        url = self.base_url.replace("http", "ws", 1) + "/ws/"
        self._socket = await self._http.ws_connect(url, origin=self.base_url, heartbeat=20)

    # ---- the socket ---------------------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        delay = RECONNECT_FIRST_DELAY
        while True:
            try:
                async for message in self._socket:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await self._handle(json.loads(message.data))
            except (aiohttp.ClientError, ConnectionError):
                pass
            if self._closing or not self.reconnect:
                return
            self._fail_waiting(ConnectionError("socket dropped"))
            while not self._closing:  # reconnect with exponential backoff and jitter
                await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 (jitter, not crypto)
                try:
                    await self._open_socket()
                    self.reconnects += 1
                    delay = RECONNECT_FIRST_DELAY
                    break
                except (aiohttp.ClientError, OSError):
                    delay = min(delay * 2, RECONNECT_MAX_DELAY)

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "hello":
            self.user_id = frame["user"]["id"]
            if self.reconnects == 0:
                self._connected.set()  # a fresh client has nothing to catch up on
            else:
                asyncio.create_task(self._after_connect())  # noqa: RUF006 (its replies come through this reader)
        elif kind in ("message", "message.updated"):
            self._keep(frame["message"])
            if kind == "message" and self._has_gap(frame["message"]["conversation_id"]):
                self._schedule_gap_sync()
        elif kind == "conversation":
            self._known_from.setdefault(frame["conversation"]["id"], frame["conversation"]["last_seq"])
        elif kind == "sync.result":
            for conversation in frame["conversations"]:
                for message in conversation["messages"]:
                    self._keep(message)
        ref = frame.get("ref")
        if ref is not None and ref in self._waiting:
            future = self._waiting.pop(ref)
            if not future.done():
                if kind == "error":
                    future.set_exception(ClientError(frame["code"], frame["message"], frame.get("retry_after")))
                else:
                    future.set_result(frame)
            return
        await self._events.put(frame)

    async def _after_connect(self) -> None:
        """Catch up on what was missed, resend what was never acknowledged, then let callers go on."""
        try:
            while True:
                result = await self.request({"type": "sync", "since": self.sync_point()}, wait_connected=False)
                if not any(conversation["has_more"] for conversation in result["conversations"]):
                    break
            for frame in list(self._unacknowledged.values()):
                ack = await self._send_until_admitted(frame, wait_connected=False)
                self._acknowledged(frame["client_id"], ack)
        except (TimeoutError, ClientError, ConnectionError):
            return  # the reader reconnects and tries again
        self._connected.set()

    def _keep(self, message: dict[str, Any]) -> None:
        held = self._messages.setdefault(message["conversation_id"], {})
        existing = held.get(message["seq"])
        if existing is None or (message.get("edited_at") or "") >= (existing.get("edited_at") or ""):
            held[message["seq"]] = message

    def _has_gap(self, conversation_id: int) -> bool:
        held = self._messages.get(conversation_id, {})
        if not held:
            return False
        first = self._known_from[conversation_id] + 1 if conversation_id in self._known_from else min(held)
        return max(held) - first + 1 != len([seq for seq in held if seq >= first])

    def _schedule_gap_sync(self) -> None:
        """A live frame skipped a seq (dropped, or still on its way): sync shortly, once, to fill the gap."""
        if getattr(self, "_gap_sync", None) is None or self._gap_sync.done():
            self._gap_sync = asyncio.create_task(self._fill_gaps())

    async def _fill_gaps(self) -> None:
        await asyncio.sleep(0.5)  # most gaps close by themselves: concurrent senders' frames cross
        with contextlib.suppress(ClientError, ConnectionError, TimeoutError):
            while any(self._has_gap(conversation) for conversation in self._messages):
                result = await self.request({"type": "sync", "since": self.sync_point()}, wait_connected=False)
                if not any(conversation["has_more"] for conversation in result["conversations"]):
                    break

    def _fail_waiting(self, error: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        self._waiting.clear()

    def sync_point(self) -> dict[str, int]:
        """Per conversation, the last seq before the first gap: live frames of concurrent senders can arrive
        out of seq order, so "the highest seq held" could skip one that was still on its way."""
        point = {}
        for conversation, held in self._messages.items():
            if not held:
                continue
            seqs = sorted(held)
            if conversation in self._known_from:  # from where this client came in, even if the first is missing
                last = self._known_from[conversation]
            else:
                last, seqs = seqs[0], seqs[1:]
            for seq in seqs:
                if seq <= last:
                    continue
                if seq != last + 1:
                    break
                last = seq
            point[str(conversation)] = last
        return point

    async def request(self, frame: dict[str, Any], *, wait_connected: bool = True) -> dict[str, Any]:
        """Send a frame and return the reply carrying its ref; an error frame raises ClientError."""
        if wait_connected:
            await asyncio.wait_for(self._connected.wait(), REPLY_TIMEOUT)
        ref = next(self._refs)
        future = asyncio.get_running_loop().create_future()
        self._waiting[ref] = future
        await self._socket.send_str(json.dumps({**frame, "ref": ref}))
        return await asyncio.wait_for(future, REPLY_TIMEOUT)

    # ---- what a caller does ---------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: int,
        body: str,
        *,
        client_id: str | None = None,
        reply_to: int | None = None,
        thread: int | None = None,
        also_in_room: bool = False,
    ) -> dict[str, Any]:
        """Send and wait for the acknowledgement; after a drop it is resent with the same client id. `thread` (a
        message id) makes it a reply in that message's thread, shown in the conversation too with `also_in_room`."""
        frame: dict[str, Any] = {
            "type": "message.send",
            "conversation_id": conversation_id,
            "client_id": client_id or uuid.uuid4().hex,
            "body": body,
        }
        if reply_to is not None:
            frame["reply_to"] = reply_to
        if thread is not None:
            frame |= {"thread_root_id": thread, "also_in_room": also_in_room}
        self._unacknowledged[frame["client_id"]] = frame
        while True:
            try:
                ack = await self._send_until_admitted(frame)
            except ConnectionError:
                continue  # dropped before the ack: the reconnect resends it; wait for that
            return self._acknowledged(frame["client_id"], ack)

    async def _send_until_admitted(self, frame: dict[str, Any], *, wait_connected: bool = True) -> dict[str, Any]:
        """Send a message.send frame; while the server answers `overloaded` (nothing stored), wait and send the
        very same frame again: its client_id makes the retry the first and only copy."""
        refusals = 0
        while True:
            try:
                return await self.request(frame, wait_connected=wait_connected)
            except ClientError as error:
                if error.code != "overloaded":
                    raise
                refusals += 1
                self.overloaded_refusals += 1
                await asyncio.sleep(overload_delay(error.retry_after, refusals))

    def _acknowledged(self, client_id: str, ack: dict[str, Any]) -> dict[str, Any]:
        self._unacknowledged.pop(client_id, None)
        self._keep(ack["message"])
        return ack["message"]

    async def edit(self, message_id: int, body: str) -> None:
        await self.request({"type": "message.edit", "message_id": message_id, "body": body})

    async def delete(self, message_id: int) -> None:
        await self.request({"type": "message.delete", "message_id": message_id})

    async def react(self, message_id: int, emoji: str, *, add: bool = True) -> list[dict[str, Any]]:
        reply = await self.request(
            {"type": "reaction.add" if add else "reaction.remove", "message_id": message_id, "emoji": emoji}
        )
        return reply["reactions"]

    async def read(self, conversation_id: int, seq: int) -> None:
        await self.request({"type": "read", "conversation_id": conversation_id, "seq": seq})

    async def typing(self, conversation_id: int) -> None:
        await self.request({"type": "typing", "conversation_id": conversation_id})

    # ---- calls: the signaling only; media goes between the peers (aiortc, a browser; docs/calls.md) -------

    async def call_invite(self, conversation_id: int) -> dict[str, Any]:
        """Start a call and ring the others; the reply holds `call` and the `ice_servers` to use."""
        return await self.request({"type": "call.invite", "conversation_id": conversation_id})

    async def call_accept(self, call_id: int) -> dict[str, Any]:
        """Answer a ringing call (or join a room's running one); then send an offer to each one already in it."""
        return await self.request({"type": "call.accept", "call_id": call_id})

    async def call_decline(self, call_id: int) -> None:
        await self.request({"type": "call.decline", "call_id": call_id})

    async def call_hangup(self, call_id: int) -> None:
        await self.request({"type": "call.hangup", "call_id": call_id})

    async def call_mute(self, call_id: int, *, muted: bool) -> None:
        await self.request({"type": "call.mute", "call_id": call_id, "muted": muted})

    async def call_screen(self, call_id: int, *, sharing: bool) -> None:
        await self.request({"type": "call.screen", "call_id": call_id, "sharing": sharing})

    async def call_signal(self, call_id: int, to_user_id: int, kind: str, payload: dict[str, Any]) -> None:
        """Send an SDP offer or answer (`{"sdp": ...}`) or an ICE candidate to another participant."""
        await self.request(
            {"type": "call.signal", "call_id": call_id, "to_user_id": to_user_id, "kind": kind, "payload": payload}
        )

    async def next_event(self, frame_type: str, *, seconds: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """The next server frame of `frame_type` (a `call.ringing`, a `call.signal`), skipping the others."""
        async with asyncio.timeout(seconds):
            while (frame := await self._events.get())["type"] != frame_type:
                pass
        return frame

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every server frame that is not a reply to one of ours, in arrival order."""
        while True:
            yield await self._events.get()

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        """What the client holds of a conversation, in seq order, each message once."""
        held = self._messages.get(conversation_id, {})
        return [held[seq] for seq in sorted(held)]

    # ---- the HTTP API -------------------------------------------------------------------------------------

    async def _api(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, form: aiohttp.FormData | None = None
    ) -> Any:
        headers = {"X-CSRFToken": self._csrf()} if method != "GET" else {}
        url = f"{self.base_url}/api/v1{path}"
        async with self._http.request(method, url, json=body, data=form, headers=headers) as response:
            if response.status >= 400:
                raise await self._refusal(response)
            return await response.json() if response.status != 204 else None

    @staticmethod
    async def _refusal(response: aiohttp.ClientResponse) -> ClientError:
        """The API's error body (`code`, `message`, and `retry_after` with 503) as a ClientError."""
        try:
            data = await response.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            data = {}
        data = data if isinstance(data, dict) else {}
        return ClientError(
            data.get("code", "http_error"), data.get("message", f"HTTP {response.status}"), data.get("retry_after")
        )

    async def send_file(
        self,
        conversation_id: int,
        path: str | os.PathLike[str],
        caption: str | None = None,
        *,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """Share a file, streamed from disk; returns the message (with its `attachment`) once the server has
        scanned and stored it. A refusal (infected, too large, not a member) raises ClientError with the
        server's code and message; `overloaded` is retried with the same client id, backoff and jitter."""
        path = Path(path)
        client_id = client_id or uuid.uuid4().hex
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        refusals = 0
        while True:
            # Opened off the loop; aiohttp then reads it in chunks as it sends (in its executor), never whole.
            stream = await asyncio.to_thread(path.open, "rb")
            form = aiohttp.FormData(quote_fields=False)  # as browsers send it: "q3 report.pdf", not "q3%20report.pdf"
            form.add_field("client_id", client_id)
            if caption:
                form.add_field("body", caption)
            form.add_field("file", stream, filename=path.name, content_type=content_type)
            try:
                return await self._api("POST", f"/conversations/{conversation_id}/files", form=form)
            except ClientError as error:
                if error.code != "overloaded":
                    raise
                retry_after = error.retry_after
            finally:
                stream.close()
            refusals += 1
            self.overloaded_refusals += 1
            await asyncio.sleep(overload_delay(retry_after, refusals))

    async def download(self, file_id: str) -> bytes:
        """A shared file's bytes (`file_id`: its attachment's `id`), as a member of its conversation gets them."""
        async with self._http.get(f"{self.base_url}/api/v1/files/{file_id}") as response:
            if response.status >= 400:
                raise await self._refusal(response)
            return await response.read()

    async def direct(self, username: str) -> int:
        return (await self._api("POST", "/conversations/direct", {"username": username}))["id"]

    async def create_room(self, name: str, *, members: list[str] = (), topic: str = "", is_public: bool = False) -> int:
        room = await self._api(
            "POST", "/rooms", {"name": name, "members": list(members), "topic": topic, "is_public": is_public}
        )
        self._known_from.setdefault(room["id"], room["last_seq"])
        return room["id"]

    async def thread(self, conversation_id: int, message_id: int) -> dict[str, Any]:
        """A thread: `{"root": message, "replies": [...]}`, oldest first."""
        return await self._api("GET", f"/conversations/{conversation_id}/threads/{message_id}")

    async def history(self, conversation_id: int, *, before_seq: int | None = None, limit: int = 50) -> list[dict]:
        query = f"?limit={limit}" + (f"&before_seq={before_seq}" if before_seq else "")
        return (await self._api("GET", f"/conversations/{conversation_id}/messages{query}"))["messages"]
