"""What happens when a socket opens, beats, reports idle or closes: the presence store, the database
(last seen, choice) and announcements to watchers, in that order. Called by the messenger consumer."""

from __future__ import annotations

import asyncio
import logging
import weakref
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


async def presence_heartbeat(*, user_id: int, connection_id: str) -> None:
    await announce(await presence.connection_refreshed(user_id=user_id, connection_id=connection_id))


async def presence_tab_state(*, user_id: int, connection_id: str, tab_state: str) -> None:
    """A tab reports the person active again or idle (no input for a while: auto-away)."""
    if tab_state not in (presence.ACTIVE, presence.IDLE):
        raise errors.PresenceInvalid(f"A tab is {presence.ACTIVE!r} or {presence.IDLE!r}.")
    change = await presence.connection_refreshed(user_id=user_id, connection_id=connection_id, tab_state=tab_state)
    await announce(change)


async def presence_disconnect(*, user_id: int, connection_id: str) -> None:
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
