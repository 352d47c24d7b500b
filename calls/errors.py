"""Refusals of the call services, each with a stable code (docs/protocol.md lists them)."""

from core.errors import ParleyError


class CallNotFound(ParleyError):
    """Also for a call of a conversation the user is not a member of, so ids reveal nothing."""

    code = "call_not_found"
    http_status = 404


class CallBusy(ParleyError):
    """The caller, or the one person called, is already in a call."""

    code = "call_busy"
    http_status = 409


class CallFull(ParleyError):
    code = "call_full"
    http_status = 409


class SignalInvalid(ParleyError):
    """An offer, answer or ICE candidate of the wrong shape or size, or for someone not in the call."""

    code = "signal_invalid"
