"""How many sends one worker should admit at once (PARLEY_MAX_SENDS_IN_FLIGHT): offer one daphne worker ever
more sends in flight and see where acknowledged sends a second stop growing while the wait for an ack keeps
growing. Past that knee extra sends in flight only queue; the admission limit belongs near it.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_sizing REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/admission_sizing.py --in-flight 4 8 16 24 48 96 --seconds 10

It migrates and seeds the scratch database (24 people in 4 rooms of 6), starts one worker with the limit out
of the way and the per-person send limit lifted, and for each level keeps that many sends in flight (spread
over the 24 clients, each send waiting for its ack before the next) for `--seconds`, after a 2 s warm-up.
The load generator runs in this process, on the same machine: a rough figure, meant for sizing only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# A fresh channel-layer prefix per run: a run's groups must not hold the channels of an earlier run's worker.
os.environ["PARLEY_CHANNEL_PREFIX"] = f"parley-sizing-{uuid.uuid4().hex[:8]}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.tests.factories import TEST_PASSWORD, UserFactory  # noqa: E402
from config.server import daphne_process  # noqa: E402
from core.testing import free_port  # noqa: E402
from messenger import services  # noqa: E402
from messenger.client import Client  # noqa: E402

PEOPLE, ROOM_SIZE = 24, 6


def seed() -> dict[str, int]:
    """People size0..size23 in rooms of six; returns username -> their room's id."""
    if User.objects.filter(username__startswith="size").exists():
        sys.exit("The database has sizing users already: point DATABASE_URL at a fresh scratch database.")
    names = [f"size{index}" for index in range(PEOPLE)]
    for name in names:
        UserFactory(username=name)
    room_of = {}
    for start in range(0, PEOPLE, ROOM_SIZE):
        members = names[start : start + ROOM_SIZE]
        room = services.room_create(
            creator=User.objects.get(username=members[0]), name=f"size-{start}", member_usernames=members[1:]
        )
        room_of.update(dict.fromkeys(members, room.pk))
    return room_of


def start_worker() -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {
        **os.environ,
        "PARLEY_SEND_RATE_PER_SECOND": "100000",
        "PARLEY_SEND_BURST": "100000",
        "PARLEY_MAX_SENDS_IN_FLIGHT": "100000",
        "DEBUG": "false",
    }
    process = daphne_process(port=port, env=environment, log=subprocess.DEVNULL, cwd=BASE_DIR)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 (loopback)
                return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    sys.exit("the worker did not start")


async def level(clients: dict[str, Client], room_of: dict[str, int], in_flight: int, seconds: float) -> dict:
    """Keep `in_flight` sends outstanding for 2 s of warm-up then `seconds`; acks a second and ack waits."""
    names = list(clients)
    waits: list[float] = []
    measuring = asyncio.Event()
    stop_at = time.monotonic() + 2.0 + seconds

    async def sender(slot: int) -> None:
        name = names[slot % len(names)]
        while time.monotonic() < stop_at:
            started = time.monotonic()
            await clients[name].send(room_of[name], f"{name} sizing")
            if measuring.is_set():
                waits.append(time.monotonic() - started)

    tasks = [asyncio.create_task(sender(slot)) for slot in range(in_flight)]
    await asyncio.sleep(2.0)
    measuring.set()
    await asyncio.gather(*tasks)
    waits.sort()
    return {
        "in_flight": in_flight,
        "acks_per_second": len(waits) / seconds,
        "p50_ms": 1000 * statistics.median(waits),
        "p99_ms": 1000 * waits[int(len(waits) * 0.99) - 1],
    }


async def run(urls: str, room_of: dict[str, int], levels: list[int], seconds: float) -> list[dict]:
    clients = {name: Client(urls, name, TEST_PASSWORD) for name in room_of}
    for client in clients.values():
        await client.connect()
    try:
        return [await level(clients, room_of, in_flight, seconds) for in_flight in levels]
    finally:
        for client in clients.values():
            await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, nargs="+", default=[4, 8, 16, 24, 48, 96])
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    room_of = seed()
    process, url = start_worker()
    try:
        results = asyncio.run(run(url, room_of, options.in_flight, options.seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"{'in flight':>9} {'acks/s':>8} {'ack p50 ms':>11} {'ack p99 ms':>11}")
    for row in results:
        print(f"{row['in_flight']:>9} {row['acks_per_second']:>8.1f} {row['p50_ms']:>11.1f} {row['p99_ms']:>11.1f}")


if __name__ == "__main__":
    main()
