"""The client's bookkeeping: each message once, the newest version kept, and a sync point before any gap."""

from messenger.client import Client


def message(seq: int, body: str = "x", edited_at: str | None = None, conversation: int = 7) -> dict:
    return {"conversation_id": conversation, "seq": seq, "body": body, "edited_at": edited_at}


def test_a_message_received_twice_is_kept_once_and_the_newest_version_wins():
    client = Client("http://127.0.0.1:1", "alice", "x")

    client._keep(message(1, "draft"))
    client._keep(message(1, "final", edited_at="2026-11-25T10:00:00"))
    client._keep(message(1, "draft"))  # a late, older copy

    assert [m["body"] for m in client.messages(7)] == ["final"]


def test_the_sync_point_stops_before_the_first_gap_and_the_gap_is_noticed():
    client = Client("http://127.0.0.1:1", "alice", "x")
    for seq in (1, 2, 4, 5):
        client._keep(message(seq))
    client._keep(message(3, conversation=8))

    assert client.sync_point() == {"7": 2, "8": 3}
    assert client._has_gap(7)
    assert not client._has_gap(8)
    client._keep(message(3))
    assert not client._has_gap(7)
    assert client.sync_point()["7"] == 5
