import pytest

from core.errors import ProtocolError
from messenger import protocol


def test_parse_returns_type_ref_and_payload():
    frame = protocol.parse_client_frame({"type": "ping", "ref": "abc"})

    assert frame == protocol.ClientFrame(type="ping", ref="abc", payload={})


def test_required_field_of_the_wrong_type_is_refused():
    with pytest.raises(ProtocolError) as refused:
        protocol.parse_client_frame({"type": "message.delete", "message_id": True})

    assert refused.value.code == "invalid_field"


def test_missing_required_field_is_refused():
    with pytest.raises(ProtocolError) as refused:
        protocol.parse_client_frame({"type": "message.send", "conversation_id": 1, "body": "hi"})

    assert refused.value.code == "missing_field"
    assert "client_id" in refused.value.message


def test_optional_field_is_passed_only_when_given():
    frame = {"type": "message.send", "conversation_id": 1, "client_id": "c", "body": "hi"}

    assert "reply_to" not in protocol.parse_client_frame(frame).payload
    assert protocol.parse_client_frame({**frame, "reply_to": 9}).payload["reply_to"] == 9


def test_overlong_ref_is_refused_and_not_echoed():
    frame = {"type": "ping", "ref": "x" * 65}

    with pytest.raises(ProtocolError):
        protocol.parse_client_frame(frame)
    assert protocol.safe_ref(frame) is None
