"""Live presence: which users have an open socket, and what state their contacts should see.

Each open socket is a *connection* with a state ("active" or "idle", reported by the tab) and an expiry that
its worker's heartbeat keeps pushing forward. A user's shown state is derived from their live connections and
their choice (docs/presence.md):

    no live connection, or choice "invisible" -> offline
    choice "busy" or "away"                   -> that
    choice "auto"                             -> available if any tab is active, else away

Each worker refreshes all of its open sockets' connections at once, every PARLEY_PRESENCE_HEARTBEAT_SECONDS
(`connections_refreshed`: one Redis script call per few hundred connections, not a transaction per socket).
When a worker dies without closing its sockets, their connections simply stop being refreshed; a sweep on every
worker finds users whose newest connection has expired and announces them offline. So a ghost lasts at most
PARLEY_PRESENCE_TTL_SECONDS + PARLEY_PRESENCE_SWEEP_SECONDS.

Records live in Redis when REDIS_URL or PARLEY_REDIS_SENTINELS is set (shared by every worker), in process
memory otherwise. Every change goes through `_mutate`, which is atomic per user (Redis WATCH/MULTI, or a lock),
so two tabs connecting on two workers at once cannot leave a wrong state behind; each shown state carries a
version that only grows, so a client can drop a late, stale announcement.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

ACTIVE, IDLE = "active", "idle"
AVAILABLE, AWAY, BUSY, OFFLINE = "available", "away", "busy", "offline"
# Connections refreshed per Redis call by the heartbeat: enough that 5,000 sockets take 20 calls, few enough that
# one call (three commands per connection inside a script) holds Redis for under a millisecond (0.7 ms measured
# on the busy 2-core development machine; Redis runs nothing else meanwhile).
HEARTBEAT_BATCH = 250


@dataclass
class PresenceRecord:
    """Everything stored for one user: live connections (id -> (tab state, expiry)), choice, shown state."""

    connections: dict[str, tuple[str, float]] = field(default_factory=dict)
    choice: str = "auto"
    shown: str = OFFLINE
    version: int = 0

    def drop_expired(self, now: float) -> None:
        self.connections = {cid: (state, expiry) for cid, (state, expiry) in self.connections.items() if expiry > now}

    def derived_state(self) -> str:
        if not self.connections or self.choice == "invisible":
            return OFFLINE
        if self.choice in (BUSY, AWAY):
            return self.choice
        return AVAILABLE if any(state == ACTIVE for state, _ in self.connections.values()) else AWAY

    def newest_expiry(self) -> float:
        return max((expiry for _, expiry in self.connections.values()), default=0.0)


@dataclass(frozen=True)
class Change:
    """A shown state that changed and must be announced to the user's watchers."""

    user_id: int
    state: str
    version: int


# What "now" is for expiries, sweeps and versions. Time is read here only, so a test can move it forward instead
# of sleeping past a TTL (accounts/tests/test_presence.py).
clock: Callable[[], float] = time.time


def ttl() -> float:
    return float(settings.PARLEY_PRESENCE_TTL_SECONDS)


# ---- the operations, each one atomic per user -------------------------------------------------------------


async def connection_opened(*, user_id: int, connection_id: str, choice: str) -> Change | None:
    def apply(record: PresenceRecord, now: float) -> None:
        record.choice = choice
        record.connections[connection_id] = (ACTIVE, now + ttl())

    return await _mutate(user_id, apply)


async def connection_refreshed(
    *,
    user_id: int,
    connection_id: str,
    tab_state: str | None = None,
    is_open: Callable[[], bool] | None = None,
) -> Change | None:
    """The tab reporting active/idle, or (tab_state None) a heartbeat that found its connection gone: re-adds a
    connection a sweep dropped. `is_open` is asked inside the atomic update, on every retry, so a socket that
    closes meanwhile is not brought back after its connection_closed."""

    def apply(record: PresenceRecord, now: float) -> None:
        if is_open is not None and not is_open():
            return
        state = tab_state or record.connections.get(connection_id, (ACTIVE, 0.0))[0]
        record.connections[connection_id] = (state, now + ttl())

    return await _mutate(user_id, apply)


async def connections_refreshed(pairs: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The worker's heartbeat: push the expiry of many (user id, connection id) forward, keeping each tab state.

    Returns the pairs whose connection is gone (swept, or Redis restarted empty) or already expired; those need
    `connection_refreshed`, which re-adds them and may change what watchers see. The others change nothing anyone
    sees, so they skip the per-user transaction: a few hundred go in one Redis call."""
    store = _store()
    gone = []
    for start in range(0, len(pairs), HEARTBEAT_BATCH):
        now = clock()
        gone += await store.refresh_many(pairs[start : start + HEARTBEAT_BATCH], now=now, expiry=now + ttl())
    return gone


async def connection_closed(*, user_id: int, connection_id: str) -> Change | None:
    def apply(record: PresenceRecord, now: float) -> None:
        record.connections.pop(connection_id, None)

    return await _mutate(user_id, apply)


async def choice_changed(*, user_id: int, choice: str) -> Change | None:
    def apply(record: PresenceRecord, now: float) -> None:
        record.choice = choice

    return await _mutate(user_id, apply)


async def sweep_expired() -> list[Change]:
    """Drop connections whose worker stopped refreshing them; the users left without any go offline."""
    store = _store()
    changes = []
    for user_id in await store.users_expiring_before(clock()):
        change = await _mutate(user_id, lambda record, now: None)
        if change is not None:
            changes.append(change)
    return changes


async def shown_states(user_ids: list[int]) -> dict[int, tuple[str, int]]:
    """user id -> (shown state, version) for many users in one round trip; absent users are offline."""
    if not user_ids:
        return {}
    now = clock()
    records = await _store().read_many(user_ids)
    states = {}
    for user_id, record in records.items():
        record.drop_expired(now)
        states[user_id] = (record.derived_state(), record.version)
    return states


async def online_among(user_ids: list[int]) -> set[int]:
    """Which of these users are online now: shown in any state but offline (an invisible user counts as offline,
    as everyone sees them). What `@here` in a room reaches."""
    states = await shown_states(user_ids)
    return {user_id for user_id, (state, _) in states.items() if state != OFFLINE}


async def users_connected(user_ids: list[int]) -> set[int]:
    """Which of these users have a live connection (a Parley tab open anywhere, whatever they show, invisible
    included), in one round trip: Web Push goes to the others."""
    if not user_ids:
        return set()
    now = clock()
    records = await _store().read_many(user_ids)
    return {user_id for user_id, record in records.items() if record.newest_expiry() > now}


async def online_count() -> int:
    """How many people have at least one live connection now (any shown state, invisible included): a number
    for IT's daily page, never who."""
    return await _store().count_online(clock())


async def _mutate(user_id: int, apply: Callable[[PresenceRecord, float], None]) -> Change | None:
    now = clock()

    def transition(record: PresenceRecord) -> Change | None:
        record.drop_expired(now)
        apply(record, now)
        record.drop_expired(now)
        state = record.derived_state()
        if state == record.shown:
            return None
        # Versions only grow, across workers and after the record was deleted: milliseconds, or one more.
        record.shown, record.version = state, max(record.version + 1, int(now * 1000))
        return Change(user_id=user_id, state=state, version=record.version)

    return await _store().mutate(user_id, transition)


# ---- storage ----------------------------------------------------------------------------------------------


class MemoryPresenceStore:
    """One process (development, the in-memory channel layer): a dict behind a lock."""

    def __init__(self) -> None:
        self._records: dict[int, PresenceRecord] = {}
        self._lock = threading.Lock()

    async def mutate(self, user_id: int, transition: Callable[[PresenceRecord], Change | None]) -> Change | None:
        with self._lock:
            record = self._records.get(user_id) or PresenceRecord()
            change = transition(record)
            if record.connections:
                self._records[user_id] = record
            else:
                self._records.pop(user_id, None)
            return change

    async def refresh_many(self, pairs: list[tuple[int, str]], *, now: float, expiry: float) -> list[tuple[int, str]]:
        gone = []
        with self._lock:
            for user_id, connection_id in pairs:
                record = self._records.get(user_id)
                state, old_expiry = record.connections.get(connection_id, (ACTIVE, 0.0)) if record else (ACTIVE, 0.0)
                if old_expiry > now:
                    record.connections[connection_id] = (state, expiry)
                else:
                    gone.append((user_id, connection_id))
        return gone

    async def read_many(self, user_ids: list[int]) -> dict[int, PresenceRecord]:
        with self._lock:
            return {
                uid: PresenceRecord(dict(r.connections), r.choice, r.shown, r.version)
                for uid in user_ids
                if (r := self._records.get(uid))
            }

    async def users_expiring_before(self, moment: float) -> list[int]:
        with self._lock:
            return [uid for uid, record in self._records.items() if record.newest_expiry() <= moment]

    async def count_online(self, moment: float) -> int:
        with self._lock:
            return sum(1 for record in self._records.values() if record.newest_expiry() > moment)


class RedisPresenceStore:
    """Every worker shares one hash per user ("<prefix>:presence:user:<id>") and a sorted set of online users
    scored by their newest connection's expiry, which the sweep reads."""

    def __init__(self, host: dict, prefix: str) -> None:
        self.host = host
        self.prefix = prefix
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _client(self):
        loop = asyncio.get_running_loop()  # a client belongs to one event loop
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _redis_client(self.host)
        return client

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}:presence:user:{user_id}"

    @property
    def _online_key(self) -> str:
        return f"{self.prefix}:presence:online"

    @staticmethod
    def _decode(raw: dict[str, str]) -> PresenceRecord:
        record = PresenceRecord(choice=raw.get("choice", "auto"), shown=raw.get("shown", OFFLINE))
        record.version = int(raw.get("version", 0))
        for name, value in raw.items():
            if name.startswith("c:"):
                state, _, expiry = value.partition("|")
                record.connections[name[2:]] = (state, float(expiry))
        return record

    @staticmethod
    def _encode(record: PresenceRecord) -> dict[str, str]:
        encoded = {"choice": record.choice, "shown": record.shown, "version": str(record.version)}
        for connection_id, (state, expiry) in record.connections.items():
            encoded[f"c:{connection_id}"] = f"{state}|{expiry}"
        return encoded

    async def mutate(self, user_id: int, transition: Callable[[PresenceRecord], Change | None]) -> Change | None:
        from redis.exceptions import WatchError

        key = self._user_key(user_id)
        async with self._client().pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    record = self._decode(await pipe.hgetall(key))
                    change = transition(record)
                    pipe.multi()
                    pipe.delete(key)
                    if record.connections:
                        pipe.hset(key, mapping=self._encode(record))
                        pipe.zadd(self._online_key, {str(user_id): record.newest_expiry()})
                    else:
                        pipe.zrem(self._online_key, str(user_id))
                    await pipe.execute()
                    return change
                except WatchError:  # another worker changed this user meanwhile: read again
                    continue

    async def refresh_many(self, pairs: list[tuple[int, str]], *, now: float, expiry: float) -> list[tuple[int, str]]:
        # One script call, atomic like every other update: a worker's WATCH on a user it changes meanwhile fails and
        # it reads again. Keys are passed as KEYS (the online set first), the rest as ARGV.
        keys = [self._online_key, *(self._user_key(user_id) for user_id, _ in pairs)]
        args: list[str | float] = [now, repr(expiry)]
        for user_id, connection_id in pairs:
            args += [str(user_id), f"c:{connection_id}"]
        gone = await self._refresh_script()(keys=keys, args=args)
        return [pairs[index - 1] for index in gone]

    def _refresh_script(self):
        loop = asyncio.get_running_loop()  # registered on this loop's client (redis-py loads it on first use)
        script = self._scripts.get(loop)
        if script is None:
            script = self._scripts[loop] = self._client().register_script(_REFRESH_SCRIPT)
        return script

    async def read_many(self, user_ids: list[int]) -> dict[int, PresenceRecord]:
        async with self._client().pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.hgetall(self._user_key(user_id))
            rows = await pipe.execute()
        return {user_id: self._decode(raw) for user_id, raw in zip(user_ids, rows, strict=True) if raw}

    async def users_expiring_before(self, moment: float) -> list[int]:
        return [int(uid) for uid in await self._client().zrangebyscore(self._online_key, "-inf", moment)]

    async def count_online(self, moment: float) -> int:
        # The sorted set's score is the newest connection's expiry: past it, the sweep has yet to drop them.
        return await self._client().zcount(self._online_key, f"({moment}", "+inf")


# The heartbeat of many connections (RedisPresenceStore.refresh_many). For each (user, connection) pair: a live
# field "c:<connection>" ("<tab state>|<expiry>") gets the new expiry and the user's score in the online set rises
# to it (GT: never lowers another connection's later expiry); a missing or expired one is left alone and its
# 1-based index returned, for the full per-user path (re-adding it may change the shown state).
_REFRESH_SCRIPT = """
local now, expiry = tonumber(ARGV[1]), ARGV[2]
local gone = {}
for index = 1, #KEYS - 1 do
    local key, user, field = KEYS[index + 1], ARGV[1 + 2 * index], ARGV[2 + 2 * index]
    local value = redis.call('HGET', key, field)
    local state, old_expiry = nil, nil
    if value then
        state, old_expiry = string.match(value, '^([^|]*)|(.*)$')
    end
    if state and tonumber(old_expiry) and tonumber(old_expiry) > now then
        redis.call('HSET', key, field, state .. '|' .. expiry)
        redis.call('ZADD', KEYS[1], 'GT', expiry, user)
    else
        gone[#gone + 1] = index
    end
end
return gone
"""

_HOST_ROUTING = {"address", "sentinels", "master_name", "sentinel_kwargs"}  # the rest are connection options


def _redis_client(host: dict):
    """A client for settings.REDIS_HOST, the entry the channel layer uses: one Redis, or the primary that the
    sentinels name (redis-py asks them again and reconnects when they promote a replica)."""
    import redis.asyncio as redis
    from redis.asyncio.sentinel import Sentinel

    options = {name: value for name, value in host.items() if name not in _HOST_ROUTING}
    if "address" in host:
        return redis.Redis.from_url(host["address"], decode_responses=True, **options)
    sentinel = Sentinel(host["sentinels"], sentinel_kwargs=host.get("sentinel_kwargs"))
    return sentinel.master_for(host["master_name"], decode_responses=True, **options)


_stores: dict[tuple[str, str], MemoryPresenceStore | RedisPresenceStore] = {}


def _store() -> MemoryPresenceStore | RedisPresenceStore:
    """The store for the current settings (tests change the Redis prefix per process)."""
    host = settings.REDIS_HOST
    key = (repr(host), settings.PARLEY_CHANNEL_PREFIX)
    if key not in _stores:
        _stores[key] = RedisPresenceStore(host, settings.PARLEY_CHANNEL_PREFIX) if host else MemoryPresenceStore()
    return _stores[key]
