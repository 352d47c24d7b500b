"""Presence across real daphne workers sharing Redis: changes cross workers, tabs aggregate, crashes expire.

The workers run with a short presence TTL so the crash test stays quick. The documented bound on how long a
crashed worker's users still show online (TTL + SWEEP, docs/presence.md) is proved with explicit time in
test_presence.py; here the test checks that it happens at all, across processes.
"""

import asyncio

import pytest

from accounts import services
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from core.testing import SignedInSocket, start_daphne_worker

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

TTL, HEARTBEAT, SWEEP = 3.0, 1.0, 0.5
FAST_PRESENCE = {
    "PARLEY_PRESENCE_TTL_SECONDS": str(TTL),
    "PARLEY_PRESENCE_HEARTBEAT_SECONDS": str(HEARTBEAT),
    "PARLEY_PRESENCE_SWEEP_SECONDS": str(SWEEP),
}


@pytest.fixture
def workers(tmp_path):
    started = [start_daphne_worker(tmp_path, FAST_PRESENCE) for _ in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def alice_and_bob():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    services.contact_add(owner=alice, username="bob")
    return alice, bob


def presence_of(user_id: int, state: str):
    return lambda frame: frame["type"] == "presence" and frame["user_id"] == user_id and frame["state"] == state


def test_presence_crosses_workers_aggregates_tabs_and_follows_idle(workers, alice_and_bob):
    _, bob = alice_and_bob

    async def scenario():
        watcher = await SignedInSocket.open(workers[0].http_url, "alice", TEST_PASSWORD)
        first_tab = await SignedInSocket.open(workers[1].http_url, "bob", TEST_PASSWORD)
        await watcher.wait_for(presence_of(bob.pk, "available"))
        second_tab = await SignedInSocket.open(workers[0].http_url, "bob", TEST_PASSWORD)

        await first_tab.send({"type": "presence.tab", "state": "idle"})
        await second_tab.send({"type": "presence.tab", "state": "idle"})
        await watcher.wait_for(presence_of(bob.pk, "away"))  # only once both tabs are idle
        await second_tab.close()
        await first_tab.send({"type": "presence.tab", "state": "active"})
        await watcher.wait_for(presence_of(bob.pk, "available"))
        await first_tab.close()
        offline = await watcher.wait_for(presence_of(bob.pk, "offline"))
        await watcher.close()
        return offline

    offline = asyncio.run(scenario())

    assert offline["last_seen"] is not None


def test_a_crashed_workers_users_go_offline_on_the_other_worker(workers, alice_and_bob):
    """Nothing of the dead worker's is cleaned up by it: the live worker's sweep must find the expired connection.
    How soon (TTL + SWEEP) is proved with the store's clock moved explicitly in test_presence.py, not measured
    here on a busy machine."""
    _, bob = alice_and_bob

    async def scenario() -> dict:
        watcher = await SignedInSocket.open(workers[0].http_url, "alice", TEST_PASSWORD)
        doomed = await SignedInSocket.open(workers[1].http_url, "bob", TEST_PASSWORD)
        await watcher.wait_for(presence_of(bob.pk, "available"))

        workers[1].kill()  # SIGKILL: no socket is closed, no presence is cleaned up by the dying worker
        offline = await watcher.wait_for(presence_of(bob.pk, "offline"), seconds=TTL + SWEEP + 30)
        await watcher.close()
        await doomed.session.close()
        return offline

    offline = asyncio.run(scenario())

    assert offline["last_seen"] is not None


def test_deactivation_closes_the_users_sockets_on_both_workers_and_they_go_offline(workers, alice_and_bob):
    _, bob = alice_and_bob

    async def scenario():
        watcher = await SignedInSocket.open(workers[0].http_url, "alice", TEST_PASSWORD)
        tabs = [await SignedInSocket.open(worker.http_url, "bob", TEST_PASSWORD) for worker in workers]
        await watcher.wait_for(presence_of(bob.pk, "available"))

        await asyncio.to_thread(services.user_deactivate, user=bob)  # commits, then closes sockets everywhere
        signed_out = [await tab.wait_for(lambda frame: frame["type"] == "signed_out") for tab in tabs]
        ended = [await tab.socket.receive() for tab in tabs]
        offline = await watcher.wait_for(presence_of(bob.pk, "offline"))
        for tab in (*tabs, watcher):
            await tab.close()
        return signed_out, ended, offline

    signed_out, ended, offline = asyncio.run(scenario())

    assert [frame["reason"] for frame in signed_out] == ["deactivated", "deactivated"]
    assert all(message.type.name in {"CLOSE", "CLOSED"} for message in ended)
    assert offline["state"] == "offline"
