"""Readiness checks behind /healthz: each answers whether one dependency works right now."""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def database_is_up() -> bool:
    # Plain sync_to_async: this runs inside a Django HTTP request, whose request_finished signal closes the
    # connection. (Consumers use channels' database_sync_to_async, which has no request around it.)
    try:
        await asyncio.wait_for(sync_to_async(_database_answers)(), CHECK_TIMEOUT_SECONDS)
    except Exception:
        logger.exception("health check: database is down")
        return False
    return True


@dataclass
class _Probe:
    """One channel per worker (per event loop and layer) that health checks send to and read back, one check at
    a time. A fresh channel per check would stay subscribed on the pub/sub layer: Channels has no way to give a
    channel back but cancelling its reader."""

    layer: Any
    channel: str
    turn: asyncio.Lock


_probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Probe] = weakref.WeakKeyDictionary()


async def _probe() -> _Probe:
    layer = get_channel_layer()
    loop = asyncio.get_running_loop()
    probe = _probes.get(loop)
    if probe is None or probe.layer is not layer:  # the first check, or settings changed the layer (tests)
        probe = _probes[loop] = _Probe(layer, await layer.new_channel(prefix="healthz"), asyncio.Lock())
    return probe


async def channel_layer_is_up() -> bool:
    """Send a message to this worker's probe channel and read it back: proves the layer both carries and
    delivers."""
    try:
        probe = await asyncio.wait_for(_probe(), CHECK_TIMEOUT_SECONDS)
        token = uuid.uuid4().hex
        async with probe.turn:
            await asyncio.wait_for(
                probe.layer.send(probe.channel, {"type": "healthz.ping", "token": token}), CHECK_TIMEOUT_SECONDS
            )
            reply = await asyncio.wait_for(probe.layer.receive(probe.channel), CHECK_TIMEOUT_SECONDS)
            while reply.get("token") != token:  # a reply to an earlier check that timed out
                reply = await asyncio.wait_for(probe.layer.receive(probe.channel), CHECK_TIMEOUT_SECONDS)
    except Exception:
        logger.exception("health check: channel layer is down")
        # A read that timed out was cancelled, which unsubscribes the channel on the pub/sub layer: the next
        # check starts with a fresh, subscribed one.
        _probes.pop(asyncio.get_running_loop(), None)
        return False
    return True


async def virus_scanner_state() -> str:
    """ "ok", "down", or "off" (development without clamd)."""
    from core.antivirus import scanner_ping, scanning_enabled

    if not scanning_enabled():
        return "off"
    try:
        is_up = await asyncio.wait_for(sync_to_async(scanner_ping)(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        is_up = False
    return "ok" if is_up else "down"


# Without these nothing works; without the virus scanner only file sharing stops (it fails closed), so it is
# reported but does not take a worker out of the load balancer.
REQUIRED_CHECKS = ("database", "channel_layer")


async def health_report() -> dict[str, str]:
    """Run every check; the report names each dependency as "ok" or "down" (the scanner may be "off")."""
    database, channel_layer, scanner = await asyncio.gather(
        database_is_up(), channel_layer_is_up(), virus_scanner_state()
    )
    return {
        "database": "ok" if database else "down",
        "channel_layer": "ok" if channel_layer else "down",
        "virus_scanner": scanner,
    }
