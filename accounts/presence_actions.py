"""What happens when a socket opens, reports idle or closes: the presence store, the database (last seen,
choice) and announcements to watchers, in that order. Called by the messenger consumer. Also each worker's two
presence tasks: the heartbeat that keeps its open sockets' connections alive, and the sweep."""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from accounts import errors, frames, presence, selectors, services
from accounts.models import User
from core import fanout, metrics

logger = logging.getLogger(__name__)


async def announce(change: presence.Change | None, *, status_message: str | None = None) -> None:
    if change is None:
        return
    metrics.presence_updated()
    last_seen = None
    if change.state == presence.OFFLINE:
        last_seen = await database_sync_to_async(services.user_last_seen_mark)(user_id=change.user_id)
    frame = frames.presence_frame(
        user_id=change.user_id,
        state=change.state,
        version=change.version,
        last_seen=last_seen,
        status_message=status_message,
    )
    await fanout.to_presence_watchers(change.user_id, frame)


async def presence_connect(*, user: User, connection_id: str) -> tuple[list[int], dict[str, Any]]:
    """Register the socket; return the user ids whose presence it must watch and the snapshot frame for them."""
    watchlist = await database_sync_to_async(selectors.presence_watchlist)(user=user)
    change = await presence.connection_opened(user_id=user.pk, connection_id=connection_id, choice=user.presence_choice)
    await announce(change, status_message=user.status_message)
    me = {"id": user.pk, "status_message": user.status_message, "last_seen_at": user.last_seen_at}
    snapshot = await _snapshot_frame([me, *watchlist])
    _ensure_sweeper()
    return [person["id"] for person in (me, *watchlist)], snapshot


async def presence_snapshot(*, user_ids: list[int]) -> dict[str, Any]:
    """The presence.snapshot frame for some users (a contact just added, say)."""
    people = await database_sync_to_async(selectors.presence_people)(user_ids=user_ids)
    return await _snapshot_frame(people)


async def _snapshot_frame(people: list[dict[str, Any]]) -> dict[str, Any]:
    states = await presence.shown_states([person["id"] for person in people])
    return frames.presence_snapshot_frame(people=people, states=states)


def presence_heartbeat_add(*, user_id: int, connection_id: str) -> None:
    """The socket is open: from now on this worker's heartbeat keeps its connection alive."""
    heartbeat = _heartbeat()
    heartbeat.connections[connection_id] = user_id
    if heartbeat.task is None or heartbeat.task.done():  # started lazily, like the sweeper
        heartbeat.task = asyncio.get_running_loop().create_task(_beat_forever(heartbeat))


def presence_heartbeat_remove(*, connection_id: str) -> None:
    """The socket is closing: stop keeping its connection alive (it then expires, if nothing closes it first).
    Synchronous, so nothing can fail before it; a connection refreshed for ever would be a ghost."""
    _heartbeat().connections.pop(connection_id, None)


async def presence_tab_state(*, user_id: int, connection_id: str, tab_state: str) -> None:
    """A tab reports the person active again or idle (no input for a while: auto-away)."""
    if tab_state not in (presence.ACTIVE, presence.IDLE):
        raise errors.PresenceInvalid(f"A tab is {presence.ACTIVE!r} or {presence.IDLE!r}.")
    change = await presence.connection_refreshed(user_id=user_id, connection_id=connection_id, tab_state=tab_state)
    await announce(change)


async def presence_disconnect(*, user_id: int, connection_id: str) -> None:
    """The socket closed, or its connect failed half way. Out of the heartbeat before connection_closed, so a
    heartbeat round running meanwhile cannot write the connection back (_heartbeat_round)."""
    presence_heartbeat_remove(connection_id=connection_id)
    await announce(await presence.connection_closed(user_id=user_id, connection_id=connection_id))


async def presence_choose(*, user: User, choice: str, status_message: str | None = None) -> None:
    """The user picked a state (busy, invisible, …) or a status message: store it, then tell watchers."""
    await database_sync_to_async(services.presence_choose)(user=user, choice=choice, status_message=status_message)
    change = await presence.choice_changed(user_id=user.pk, choice=choice)
    if change is None and status_message is not None:
        # Same state, new status message: announce it under the current version so clients update the text.
        states = await presence.shown_states([user.pk])
        state, version = states.get(user.pk, (presence.OFFLINE, 0))
        change = presence.Change(user_id=user.pk, state=state, version=version)
    await announce(change, status_message=status_message)


# ---- the sweep: one task per worker process (per event loop) ----------------------------------------------

_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()


def _ensure_sweeper() -> None:
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(_sweep_forever())


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(settings.PARLEY_PRESENCE_SWEEP_SECONDS)
        try:
            for change in await presence.sweep_expired():
                await announce(change)
        except Exception:  # a Redis hiccup must not end the sweeping for the life of the worker
            logger.exception("presence sweep failed; retrying")
            metrics.presence_error()


# ---- the heartbeat: one task per worker process (per event loop) for all of its sockets -------------------
#
# A task per socket cost a Redis transaction per socket every beat: 5,000 idle sockets made 1,000 transactions a
# second and two thirds of a core of work (docs/benchmarks.md, S4). One task refreshes every connection of the
# worker in a few script calls instead (presence.connections_refreshed).


@dataclass
class _Heartbeat:
    connections: dict[str, int] = field(default_factory=dict)  # this loop's open sockets: connection id -> user id
    task: asyncio.Task | None = None


_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Heartbeat] = weakref.WeakKeyDictionary()


def _heartbeat() -> _Heartbeat:
    """This event loop's heartbeat (a worker has one loop; each test has its own)."""
    return _heartbeats.setdefault(asyncio.get_running_loop(), _Heartbeat())


async def _beat_forever(heartbeat: _Heartbeat) -> None:
    while True:
        await asyncio.sleep(settings.PARLEY_PRESENCE_HEARTBEAT_SECONDS)
        try:
            await _heartbeat_round(heartbeat)
        except Exception:  # Redis away for a moment: the connections live on until their TTL; beat again next time
            logger.exception("presence heartbeat failed; retrying")
            metrics.presence_error()


async def _heartbeat_round(heartbeat: _Heartbeat) -> None:
    """Refresh every open socket's connection once. One whose record is gone (swept after a stall, or Redis
    restarted empty) takes the full path, which re-adds it and announces the user online again.

    A socket closing meanwhile is safe: presence_disconnect takes it out before connection_closed, and the full
    path asks `is_open` inside its atomic update, so a connection just closed is never written back."""
    connections = heartbeat.connections
    gone = await presence.connections_refreshed([(user_id, cid) for cid, user_id in list(connections.items())])
    for user_id, connection_id in gone:
        if connections.get(connection_id) != user_id:
            continue  # closed since the round began
        change = await presence.connection_refreshed(
            user_id=user_id,
            connection_id=connection_id,
            is_open=lambda connection_id=connection_id, user_id=user_id: connections.get(connection_id) == user_id,
        )
        await announce(change)
