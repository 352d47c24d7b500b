import pytest

from core.errors import ProtocolError
from messenger import protocol


def test_parse_returns_type_ref_and_payload():
    frame = protocol.parse_client_frame({"type": "ping", "ref": "abc"})

    assert frame == protocol.ClientFrame(type="ping", ref="abc", payload={})


def test_required_field_of_the_wrong_type_is_refused(monkeypatch):
    monkeypatch.setitem(protocol.CLIENT_FRAMES, "probe", {"count": int})

    with pytest.raises(ProtocolError) as refused:
        protocol.parse_client_frame({"type": "probe", "count": True})

    assert refused.value.code == "missing_field"


def test_overlong_ref_is_refused_and_not_echoed():
    frame = {"type": "ping", "ref": "x" * 65}

    with pytest.raises(ProtocolError):
        protocol.parse_client_frame(frame)
    assert protocol.safe_ref(frame) is None
