"""/metrics: each worker's Prometheus numbers, readable only from the configured addresses; the counters move
with the traffic they count; the Grafana dashboard queries only metrics that exist."""

import json
import re
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.tests.factories import UserFactory
from core import fanout
from core.metrics import METRIC_NAMES, may_read_metrics
from core.testing import free_port, session_cookie_for, socket_to_app
from messenger.tests.factories import room_with

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"


def samples(text: str) -> dict[str, float]:
    """Sample name -> value, for the samples without labels (all of Parley's, and a histogram's _count/_sum)."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def test_metrics_from_loopback_lists_every_parley_metric_as_plain_text(client):
    response = client.get("/metrics")  # the test client comes from 127.0.0.1

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    exposed = {family.name for family in text_string_to_metric_families(response.content.decode())}
    exposed |= set(samples(response.content.decode()))
    assert set(METRIC_NAMES) <= exposed
    assert samples(response.content.decode())["parley_refused_overloaded_total"] >= 0


def test_metrics_is_404_for_an_address_not_allowed(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 404
    assert b"parley_" not in response.content


def test_metrics_answers_a_configured_network_and_only_it(client, settings):
    settings.PARLEY_METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8", "2001:db8::/32"]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.20.30.40").status_code == 200  # dual-stack socket
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404  # loopback was not named
    assert client.get("/metrics", REMOTE_ADDR="11.0.0.1").status_code == 404


def test_behind_a_trusted_proxy_the_forwarded_address_decides(client, settings):
    settings.PARLEY_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.PARLEY_METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]

    # The load balancer connects from an allowed address; what counts is the client it forwards.
    outsider = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    prometheus = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.9.8.7")

    assert outsider.status_code == 404
    assert prometheus.status_code == 200


def test_metrics_only_answers_get(client):
    assert client.post("/metrics").status_code == 405


def test_a_malformed_allowed_address_is_a_clear_configuration_error(settings):
    settings.PARLEY_METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8", "prometheus.internal"]

    with pytest.raises(ImproperlyConfigured, match=r"'prometheus\.internal' is not an address or network"):
        may_read_metrics("10.0.0.1")


async def scrape() -> dict[str, float]:
    response = await AsyncClient().get("/metrics")
    assert response.status_code == 200
    return samples(response.content.decode())


@pytest.mark.django_db(transaction=True)
async def test_a_socket_and_a_message_move_the_counters():
    alice = await database_sync_to_async(UserFactory)()
    bob = await database_sync_to_async(UserFactory)()
    room = await database_sync_to_async(room_with)(alice, bob)
    before = await scrape()

    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(alice))
    connected, _ = await socket.connect()
    assert connected
    while (await socket.receive_json_from(timeout=3))["type"] != "presence.snapshot":
        pass
    while_open = await scrape()
    await socket.send_json_to(
        {"type": "message.send", "ref": "m1", "conversation_id": room.pk, "client_id": uuid.uuid4().hex, "body": "hi"}
    )
    while (await socket.receive_json_from(timeout=3)).get("ref") != "m1":
        pass
    after_send = await scrape()
    await socket.disconnect()
    after_close = await scrape()

    assert while_open["parley_sockets_open"] == before["parley_sockets_open"] + 1
    assert while_open["parley_presence_updates_total"] > before["parley_presence_updates_total"]  # alice is online
    assert after_send["parley_messages_accepted_total"] == before["parley_messages_accepted_total"] + 1
    assert after_send["parley_fanout_seconds_count"] > while_open["parley_fanout_seconds_count"]
    assert after_close["parley_sockets_open"] == before["parley_sockets_open"]


@pytest.mark.django_db(transaction=True)
async def test_a_resent_message_is_not_counted_again():
    alice = await database_sync_to_async(UserFactory)()
    room = await database_sync_to_async(room_with)(alice)
    socket = socket_to_app(cookie=await database_sync_to_async(session_cookie_for)(alice))
    assert (await socket.connect())[0]
    frame = {"type": "message.send", "conversation_id": room.pk, "client_id": "once", "body": "hi"}
    await socket.send_json_to({**frame, "ref": "first"})
    while (await socket.receive_json_from(timeout=3)).get("ref") != "first":
        pass
    before = await scrape()

    await socket.send_json_to({**frame, "ref": "again"})
    while (await socket.receive_json_from(timeout=3)).get("ref") != "again":
        pass
    await socket.disconnect()

    assert (await scrape())["parley_messages_accepted_total"] == before["parley_messages_accepted_total"]


def test_the_grafana_dashboard_has_a_panel_per_metric_and_queries_only_existing_ones(client):
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    queried = {name for query in queries for name in re.findall(r"\bparley_[a-z_]+", query)}
    exposed = client.get("/metrics").content.decode()
    exposed_names = {sample.name for family in text_string_to_metric_families(exposed) for sample in family.samples}

    assert queried, "the dashboard queries nothing"
    assert queried <= exposed_names, f"queried but not exposed: {sorted(queried - exposed_names)}"
    for name in METRIC_NAMES:
        assert any(re.search(rf"\b{name}", query) for query in queries), f"no panel shows {name}"


def test_a_group_send_the_channel_layer_refuses_is_counted_and_still_raised(client, settings):
    before = samples(client.get("/metrics").content.decode())
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},  # nothing listens there
        }
    }

    with pytest.raises(RedisConnectionError):
        fanout.to_user(1, {"type": "ping"})

    after = samples(client.get("/metrics").content.decode())
    assert after["parley_channel_layer_errors_total"] == before["parley_channel_layer_errors_total"] + 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_each_daphne_worker_serves_its_own_numbers(tmp_path):
    import asyncio
    import urllib.request

    from accounts.tests.factories import TEST_PASSWORD
    from core.testing import start_daphne_worker
    from messenger.client import Client

    UserFactory(username="alice")
    UserFactory(username="bob")
    workers = [start_daphne_worker(tmp_path) for _ in range(2)]

    def scrape_worker(worker) -> dict[str, float]:
        with urllib.request.urlopen(f"{worker.http_url}/metrics", timeout=5) as response:  # noqa: S310 (loopback)
            return samples(response.read().decode())

    async def scenario():
        async with Client(workers[0].http_url, "alice", TEST_PASSWORD) as alice:
            room = await alice.create_room("desk", members=["bob"])
            await alice.send(room, "one")
            await alice.send(room, "two")
            return [scrape_worker(worker) for worker in workers]

    try:
        first, second = asyncio.run(scenario())
    finally:
        for worker in workers:
            worker.stop()

    assert (first["parley_sockets_open"], first["parley_messages_accepted_total"]) == (1, 2)
    assert (second["parley_sockets_open"], second["parley_messages_accepted_total"]) == (0, 0)
