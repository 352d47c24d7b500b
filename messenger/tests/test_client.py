"""The client's bookkeeping: each message once, the newest version kept, and a sync point before any gap."""

import asyncio

import pytest

from messenger.client import OVERLOAD_MAX_DELAY, Client, ClientError, overload_delay


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


def test_in_a_conversation_it_learned_of_a_missing_first_message_is_a_gap_and_the_sync_starts_before_it():
    client = Client("http://127.0.0.1:1", "alice", "x")
    asyncio.run(client._handle({"type": "conversation", "conversation": {"id": 7, "last_seq": 10}}))
    for seq in (12, 13):  # 11, its first live message, was dropped on the way
        client._keep(message(seq))
    client._keep(message(30, conversation=8))  # one it did not learn of: older history is not its to hold

    assert client._has_gap(7)
    assert client.sync_point() == {"7": 10, "8": 30}
    assert not client._has_gap(8)
    client._keep(message(11))
    assert not client._has_gap(7)
    assert client.sync_point()["7"] == 13


def test_overload_backoff_follows_the_hint_doubles_per_refusal_is_capped_and_jittered():
    waits = {refusals: [overload_delay(0.5, refusals) for _ in range(200)] for refusals in (1, 2, 3, 10)}

    assert all(0.25 <= wait <= 0.5 for wait in waits[1])
    assert all(0.5 <= wait <= 1.0 for wait in waits[2])
    assert all(1.0 <= wait <= 2.0 for wait in waits[3])
    assert all(OVERLOAD_MAX_DELAY / 2 <= wait <= OVERLOAD_MAX_DELAY for wait in waits[10])
    assert len(set(waits[1])) > 100  # jittered: refused clients do not come back in step
    assert 0.25 <= overload_delay(None, 1) <= 0.5  # no hint: the client's own first delay


# ---- files, against a real daphne and a real clamd ---------------------------------------------------------


@pytest.mark.redis
@pytest.mark.clamd
@pytest.mark.django_db(transaction=True)
def test_a_bot_shares_a_file_streamed_from_disk_downloads_it_and_gets_the_scanners_refusal(tmp_path):
    from accounts.tests.factories import TEST_PASSWORD, UserFactory
    from core.testing import start_daphne_worker
    from messenger.tests.test_files import EICAR

    for name in ("alice", "bob"):
        UserFactory(username=name)
    report = tmp_path / "q3 report.pdf"
    report.write_bytes(b"%PDF-1.4 quarterly numbers " * 4000)  # 108 kB: several chunks on the way
    infected = tmp_path / "invoice.pdf"
    infected.write_bytes(EICAR)
    worker = start_daphne_worker(tmp_path)

    async def scenario():
        async with (
            Client(worker.http_url, "alice", TEST_PASSWORD) as alice,
            Client(worker.http_url, "bob", TEST_PASSWORD) as bob,
        ):
            conversation = await alice.direct("bob")
            shared = await alice.send_file(conversation, report, caption="for Friday")
            downloaded = await bob.download(shared["attachment"]["id"])
            with pytest.raises(ClientError) as refused:
                await alice.send_file(conversation, infected)
            with pytest.raises(ClientError) as missing:
                await bob.download("00000000-0000-4000-8000-000000000000")
            return shared, downloaded, refused.value, missing.value

    try:
        shared, downloaded, refused, missing = asyncio.run(scenario())
    finally:
        worker.stop()

    assert (shared["body"], shared["attachment"]["name"]) == ("for Friday", "q3 report.pdf")
    assert downloaded == report.read_bytes()
    assert refused.code == "file_infected" and "eicar" in refused.message.lower()  # the scanner's finding
    assert missing.code == "not_a_member"  # as for a file of a conversation bob is not in: nothing is disclosed


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_bot_replies_in_a_thread_and_reads_the_thread_back(tmp_path):
    from accounts.tests.factories import TEST_PASSWORD, UserFactory
    from core.testing import start_daphne_worker

    for name in ("alice", "bob"):
        UserFactory(username=name)
    worker = start_daphne_worker(tmp_path)

    async def scenario():
        async with (
            Client(worker.http_url, "alice", TEST_PASSWORD) as alice,
            Client(worker.http_url, "bob", TEST_PASSWORD) as bob,
        ):
            room = await alice.create_room("desk", members=["bob"])
            root = await alice.send(room, "approve the trade?")
            await bob.send(room, "looking", thread=root["id"])
            done = await bob.send(room, "approved", thread=root["id"], also_in_room=True)
            return root, done, await alice.thread(room, root["id"])

    try:
        root, done, thread = asyncio.run(scenario())
    finally:
        worker.stop()

    assert (done["thread_root_id"], done["also_in_room"]) == (root["id"], True)
    assert thread["root"]["thread"]["reply_count"] == 2
    assert [reply["body"] for reply in thread["replies"]] == ["looking", "approved"]
