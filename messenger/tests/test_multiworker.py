"""Two real daphne workers sharing Redis and the database, driven by messenger/client.py.

Delivery crosses workers, a resend is idempotent, a client whose socket is killed mid-stream ends with
every message exactly once, in seq order, and concurrent senders' messages are delivered live in commit order.
"""

import asyncio
import time

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import start_daphne_worker
from messenger.client import Client
from messenger.models import Message

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path):
    started = [start_daphne_worker(tmp_path) for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def people():
    return [UserFactory(username=name) for name in ("alice", "bob", "carol")]


async def eventually(condition, *, seconds: float = 15.0, describe=lambda: "") -> None:
    """Wait until `condition()` holds; `describe()` says what was held instead, should it never."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time {describe()}".rstrip())
        await asyncio.sleep(0.05)


def test_delivery_crosses_workers_to_every_tab_and_resends_are_idempotent(workers, people):
    first, second = (worker.http_url for worker in workers)

    async def scenario():
        async with (
            Client(first, "alice", TEST_PASSWORD) as alice,
            Client(second, "bob", TEST_PASSWORD) as bob,
            Client(second, "alice", TEST_PASSWORD) as alice_other_tab,
        ):
            room = await alice.create_room("desk", members=["bob"])
            sent = await alice.send(room, "hello from worker one")
            again = await alice.send(room, "hello from worker one", client_id=sent["client_id"])
            # Anything the resend fanned out reaches every tab before this marker: once it is held, all is in.
            await alice.send(room, "marker")
            await eventually(lambda: len(bob.messages(room)) == 2 and len(alice_other_tab.messages(room)) == 2)
            return room, sent, again, bob.messages(room), alice_other_tab.messages(room)

    room, sent, again, seen_by_bob, seen_by_other_tab = asyncio.run(scenario())

    assert (again["id"], again["seq"]) == (sent["id"], sent["seq"])
    assert (
        [m["body"] for m in seen_by_bob]
        == [m["body"] for m in seen_by_other_tab]
        == ["hello from worker one", "marker"]
    )
    assert Message.objects.filter(conversation_id=room).count() == 2


def test_a_socket_killed_mid_stream_resyncs_and_ends_with_every_message_once_in_order(workers, people):
    first, second = (worker.http_url for worker in workers)
    stream = 40

    async def scenario():
        async with (
            Client(first, "alice", TEST_PASSWORD) as alice,
            Client(second, "bob", TEST_PASSWORD) as bob,
            Client(first, "carol", TEST_PASSWORD) as carol,
        ):
            room = await alice.create_room("stream", members=["bob", "carol"])

            async def talk(client, name):
                for index in range(stream // 2):
                    await client.send(room, f"{name} {index}")

            async def drop_bob_midway():
                await eventually(lambda: len(bob.messages(room)) >= 5)
                await bob.kill_socket()

            await asyncio.gather(talk(alice, "alice"), talk(carol, "carol"), drop_bob_midway())
            for client in (alice, bob, carol):
                await eventually(lambda client=client: len(client.messages(room)) == stream)
            return bob.reconnects, [client.messages(room) for client in (alice, bob, carol)]

    reconnects, views = asyncio.run(scenario())

    assert reconnects >= 1
    for messages in views:
        assert [m["seq"] for m in messages] == list(range(1, stream + 1))  # every one, once, in order
        assert len({m["id"] for m in messages}) == stream


async def live_messages(client, conversation_id: int, into: list[int]) -> None:
    """Record the seq of every live `message` frame of a conversation, in the order the socket delivered it."""
    async for frame in client.events():
        if frame["type"] == "message" and frame["message"]["conversation_id"] == conversation_id:
            into.append(frame["message"]["seq"])


def test_concurrent_senders_on_two_workers_are_delivered_live_in_commit_order_everywhere(workers):
    """Four senders (two per worker), each with all its messages in flight at once, into one room; every
    member on either worker receives the live frames in seq order, no gap, no duplicate. Before
    core.commit_order this failed on most runs: a later commit's fan-out overtook an earlier one's."""
    first, second = (worker.http_url for worker in workers)
    names = ["ann", "ben", "cat", "dan", "eve", "fay"]
    for name in names:
        UserFactory(username=name)
    each = 15
    total = 4 * each

    async def scenario():
        clients = {
            name: Client(first if index % 2 == 0 else second, name, TEST_PASSWORD) for index, name in enumerate(names)
        }
        for client in clients.values():
            await client.connect()
        try:
            room = await clients["ann"].create_room("busy", members=names[1:])
            seen = {name: [] for name in names}
            watchers = [asyncio.create_task(live_messages(clients[name], room, seen[name])) for name in names]

            async def talk(name):
                await asyncio.gather(*(clients[name].send(room, f"{name} {index}") for index in range(each)))

            await asyncio.gather(*(talk(name) for name in names[:4]))
            # Sent after every other message was acknowledged (and fanned out): a duplicate or a late frame
            # would reach each member before it, so the marker's seq arriving means the record is complete.
            marker_seq = (await clients["ann"].send(room, "marker"))["seq"]
            await eventually(lambda: all(marker_seq in seqs for seqs in seen.values()))
            for watcher in watchers:
                watcher.cancel()
            return seen
        finally:
            for client in clients.values():
                await client.close()

    seen = asyncio.run(scenario())

    for name, seqs in seen.items():
        assert seqs == list(range(1, total + 2)), f"{name} received live frames out of commit order: {seqs}"


def test_a_worker_past_its_admission_limit_refuses_a_burst_and_the_retries_lose_nothing(tmp_path):
    """A worker admitting one send at a time, five people sending at once: it answers `overloaded`, their
    clients retry, and every message is stored and arrives exactly once, each sender's in the order sent, on
    the busy worker and on another."""
    busy = start_daphne_worker(tmp_path, {"PARLEY_MAX_SENDS_IN_FLIGHT": "1"})
    other = start_daphne_worker(tmp_path)
    names = ["ann", "ben", "cat", "dan", "eve", "fay"]
    for name in names:
        UserFactory(username=name)
    senders, each = names[:5], 8
    total = len(senders) * each

    async def scenario():
        clients = {
            name: Client(busy.http_url if name in senders else other.http_url, name, TEST_PASSWORD) for name in names
        }
        for client in clients.values():
            await client.connect()
        try:
            room = await clients["ann"].create_room("rush", members=names[1:])

            async def talk(name):
                for index in range(each):
                    await clients[name].send(room, f"{name} {index}")

            await asyncio.gather(*(talk(name) for name in senders))
            refusals = sum(clients[name].overloaded_refusals for name in senders)
            # Sent after every message was acknowledged: anything still in flight reaches each member first.
            await clients["fay"].send(room, "marker")
            for name, client in clients.items():
                await eventually(
                    lambda client=client: len(client.messages(room)) == total + 1,
                    describe=lambda name=name, client=client: (
                        f"({name} holds {[m['seq'] for m in client.messages(room)]})"
                    ),
                )
            return room, refusals, {name: client.messages(room)[:-1] for name, client in clients.items()}
        finally:
            for client in clients.values():
                await client.close()

    try:
        room, refusals, views = asyncio.run(scenario())
    finally:
        busy.stop()
        other.stop()

    assert refusals > 0  # the burst did meet the limit
    *stored, marker = [(m.seq, m.body) for m in Message.objects.filter(conversation_id=room).order_by("seq")]
    assert marker == (total + 1, "marker")
    assert [seq for seq, _ in stored] == list(range(1, total + 1))
    assert sorted(body for _, body in stored) == sorted(f"{name} {index}" for name in senders for index in range(each))
    for name in senders:  # each sender's own messages in the order they were sent
        assert [body for _, body in stored if body.startswith(f"{name} ")] == [f"{name} {i}" for i in range(each)]
    for messages in views.values():  # every member, both workers: each message once, in seq order
        assert [(m["seq"], m["body"]) for m in messages] == stored
