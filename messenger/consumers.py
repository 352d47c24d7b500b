"""WebSocket transport: one socket per browser tab carries all of a user's traffic (docs/protocol.md)."""

from __future__ import annotations

import json
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from core.errors import ParleyError
from messenger import protocol

# Close codes in the 4000-4999 range are ours; the browser client reads them to decide whether to retry.
CLOSE_UNAUTHENTICATED = 4401


class ParleyConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)  # before accept: the handshake is refused
            return
        await self.accept()
        await self.send_frame(protocol.hello_frame(user_id=user.pk, username=user.get_username()))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame: Any = None
        try:
            frame = protocol.decode_client_frame(text_data)
            command = protocol.parse_client_frame(frame)
            reply = await self.dispatch_command(command)
        except ParleyError as error:  # the one place a refusal becomes an error frame; the socket stays open
            await self.send_frame(protocol.error_frame(error, ref=protocol.safe_ref(frame)))
            return
        await self.send_frame(protocol.with_ref(reply, command.ref))

    async def dispatch_command(self, command: protocol.ClientFrame) -> dict[str, Any]:
        if command.type == "ping":
            return {"type": "pong"}
        raise AssertionError(f"frame type {command.type!r} is parsed but has no handler")

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))
