"""Errors every transport maps in one place: a WebSocket error frame or an HTTP status."""

from __future__ import annotations


class ParleyError(Exception):
    """A refusal the client should see: a stable machine `code` and a sentence for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ProtocolError(ParleyError):
    """The frame itself is wrong: not JSON, not an object, an unknown type, a missing or mistyped field."""

    code = "bad_frame"


class Overloaded(ParleyError):
    """This worker is at its limit: nothing was done; send the same request again after `retry_after` seconds
    (with the same client_id, a resend is harmless)."""

    code = "overloaded"
    http_status = 503

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
