"""The presence store: shown state from tabs and choice, atomic per user, expiry and sweep, growing versions.

Each test runs against the in-memory store and, when Redis is configured, against Redis.
"""

import asyncio

import pytest

from accounts import presence


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store_kind(request, settings):
    if request.param == "memory":
        settings.REDIS_HOST = None
    return request.param


@pytest.fixture
def short_ttl(settings):
    settings.PARLEY_PRESENCE_TTL_SECONDS = 0.3


USER = 1001


async def test_first_tab_makes_the_user_available_and_says_so_once(store_kind):
    first = await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    second = await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    assert (first.user_id, first.state) == (USER, "available")
    assert second is None  # a second tab changes nothing anyone sees
    await presence.connection_closed(user_id=USER, connection_id="tab-1")
    await presence.connection_closed(user_id=USER, connection_id="tab-2")


async def test_user_stays_online_while_any_tab_is_connected(store_kind):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    assert await presence.connection_closed(user_id=USER, connection_id="tab-1") is None
    last = await presence.connection_closed(user_id=USER, connection_id="tab-2")

    assert last.state == "offline"
    assert await presence.shown_states([USER]) == {}


async def test_away_only_when_every_tab_is_idle(store_kind):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="auto")

    one_idle = await presence.connection_refreshed(user_id=USER, connection_id="tab-1", tab_state="idle")
    both_idle = await presence.connection_refreshed(user_id=USER, connection_id="tab-2", tab_state="idle")
    back = await presence.connection_refreshed(user_id=USER, connection_id="tab-1", tab_state="active")

    assert one_idle is None
    assert both_idle.state == "away"
    assert back.state == "available"
    assert back.version > both_idle.version
    for tab in ("tab-1", "tab-2"):
        await presence.connection_closed(user_id=USER, connection_id=tab)


@pytest.mark.parametrize(("choice", "shown"), [("busy", "busy"), ("away", "away"), ("invisible", "offline")])
async def test_an_explicit_choice_wins_over_the_tabs(store_kind, choice, shown):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")

    await presence.choice_changed(user_id=USER, choice=choice)

    assert (await presence.shown_states([USER]))[USER][0] == shown
    await presence.connection_closed(user_id=USER, connection_id="tab-1")


async def test_invisible_user_connecting_is_not_announced(store_kind):
    assert await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="invisible") is None
    await presence.connection_closed(user_id=USER, connection_id="tab-1")


async def swept_for(user_id: int) -> list[tuple[int, str]]:
    """What a sweep announces about one user (other tests' leftovers in the shared store are not ours)."""
    return [(change.user_id, change.state) for change in await presence.sweep_expired() if change.user_id == user_id]


async def test_a_connection_nobody_refreshes_expires_and_the_sweep_announces_offline(store_kind, short_ttl):
    await presence.connection_opened(user_id=USER, connection_id="dead-worker-tab", choice="auto")
    assert await swept_for(USER) == []  # still fresh

    await asyncio.sleep(0.4)

    assert await swept_for(USER) == [(USER, "offline")]
    assert await swept_for(USER) == []  # announced once, by whichever worker swept first


async def test_heartbeats_keep_a_connection_alive(store_kind, short_ttl):
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    for _ in range(3):
        await asyncio.sleep(0.15)
        await presence.connection_refreshed(user_id=USER, connection_id="tab-1")

    assert await swept_for(USER) == []
    assert (await presence.shown_states([USER]))[USER][0] == "available"
    await presence.connection_closed(user_id=USER, connection_id="tab-1")


async def test_concurrent_tabs_on_many_workers_leave_the_right_state(store_kind):
    tabs = [f"tab-{index}" for index in range(20)]
    await asyncio.gather(*(presence.connection_opened(user_id=USER, connection_id=tab, choice="auto") for tab in tabs))
    await asyncio.gather(*(presence.connection_closed(user_id=USER, connection_id=tab) for tab in tabs[1:]))

    assert (await presence.shown_states([USER]))[USER][0] == "available"
    assert (await presence.connection_closed(user_id=USER, connection_id=tabs[0])).state == "offline"


def test_redis_keys_live_under_the_channel_prefix(settings):
    store = presence.RedisPresenceStore({"address": "redis://unused"}, settings.PARLEY_CHANNEL_PREFIX)

    assert store._user_key(7).startswith(f"{settings.PARLEY_CHANNEL_PREFIX}:presence:")
    assert settings.PARLEY_PRESENCE_TTL_SECONDS > settings.PARLEY_PRESENCE_HEARTBEAT_SECONDS


async def test_online_count_counts_people_with_a_live_connection_not_tabs(store_kind, settings, short_ttl):
    settings.PARLEY_CHANNEL_PREFIX = f"{settings.PARLEY_CHANNEL_PREFIX}-count-{store_kind}"
    await presence.connection_opened(user_id=USER, connection_id="tab-1", choice="auto")
    await presence.connection_opened(user_id=USER, connection_id="tab-2", choice="busy")
    await presence.connection_opened(user_id=USER + 1, connection_id="tab-1", choice="invisible")
    both = await presence.online_count()
    await presence.connection_closed(user_id=USER + 1, connection_id="tab-1")
    one = await presence.online_count()
    await asyncio.sleep(0.4)  # past the TTL, before any sweep: expired connections are not online

    assert (both, one, await presence.online_count()) == (2, 1, 0)
