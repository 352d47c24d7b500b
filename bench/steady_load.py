"""Steady load: U users in R rooms, each sending one message a second for D seconds, through real daphne
workers, measured by the receiving clients (messenger/client.py).

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/steady_load.py --users 100 --rooms 10 --seconds 60 --workers 2

It migrates and seeds the scratch database, starts the daphne workers itself (same environment), spreads
the clients over them, and reports delivery latency (send to receipt by every other member, from a send
timestamp carried in the body; one machine, one clock), p50/p99, and lost and duplicated messages.
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.tests.factories import TEST_PASSWORD, UserFactory  # noqa: E402
from core.testing import free_port  # noqa: E402
from messenger import services  # noqa: E402
from messenger.client import Client  # noqa: E402


def seed(users: int, rooms: int) -> dict[int, list[str]]:
    """Users load0..loadN-1, in rooms of users/rooms people each. Returns room id -> usernames."""
    if User.objects.filter(username__startswith="load").exists():
        sys.exit("The database has load users already: point DATABASE_URL at a fresh scratch database.")
    names = [f"load{index}" for index in range(users)]
    for name in names:
        UserFactory(username=name)
    per_room = users // rooms
    layout = {}
    for index in range(rooms):
        members = names[index * per_room : (index + 1) * per_room]
        room = services.room_create(
            creator=User.objects.get(username=members[0]), name=f"load-{index}", member_usernames=members[1:]
        )
        layout[room.pk] = members
    return layout


def start_workers(count: int) -> list[tuple[subprocess.Popen, str]]:
    workers = []
    for _ in range(count):
        port = free_port()
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=BASE_DIR,
            env={
                **os.environ,
                "PARLEY_SEND_RATE_PER_SECOND": "1000",
                "PARLEY_SEND_BURST": "1000",
                "LOG_LEVEL": "WARNING",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 (loopback)
                    break
            except OSError:
                time.sleep(0.1)
        workers.append((process, url))
    return workers


async def run(layout: dict[int, list[str]], urls: list[str], seconds: float) -> dict:
    clients: dict[str, Client] = {}
    room_of: dict[str, int] = {}
    for index, (room_id, members) in enumerate(layout.items()):
        for offset, name in enumerate(members):
            clients[name] = Client(urls[(index + offset) % len(urls)], name, TEST_PASSWORD)
            room_of[name] = room_id
    # Sign in ten at a time: a steady load, not a thundering herd (each sign-in hashes a password, and a burst
    # of 100 TCP connects in one instant overflows daphne's listen backlog).
    gate = asyncio.Semaphore(10)

    async def connect(client: Client) -> None:
        async with gate:
            await client.connect()

    await asyncio.gather(*(connect(client) for client in clients.values()))
    latencies: list[float] = []
    frames_seen: dict[str, dict[tuple[int, int], int]] = {name: {} for name in clients}

    async def listen(name: str, client: Client) -> None:
        async for frame in client.events():
            if frame["type"] != "message":
                continue
            message = frame["message"]
            key = (message["conversation_id"], message["seq"])
            frames_seen[name][key] = frames_seen[name].get(key, 0) + 1
            if message["sender"]["username"] != name:
                sent_at = float(message["body"].split("@", 1)[1])
                latencies.append(time.time() - sent_at)

    async def speak(name: str, client: Client) -> int:
        sent = 0
        await asyncio.sleep(hash(name) % 1000 / 1000)  # spread the senders over the second
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await client.send(room_of[name], f"{name} says hi @{time.time():.6f}")
            sent += 1
            await asyncio.sleep(1.0)
        return sent

    listeners = [asyncio.create_task(listen(name, client)) for name, client in clients.items()]
    sent_counts = await asyncio.gather(*(speak(name, client) for name, client in clients.items()))
    await asyncio.sleep(2.0)  # let the last deliveries land
    for task in listeners:
        task.cancel()
    sent = dict(zip(clients, sent_counts, strict=True))
    expected_by_room = {room: sum(sent[name] for name in members) for room, members in layout.items()}
    lost = duplicated = late = 0
    for name, seen in frames_seen.items():
        room = room_of[name]
        held = clients[name].messages(room)  # live frames plus what a resync filled in, each once
        lost += expected_by_room[room] - len(held)
        late += len(held) - len({key for key in seen if key[0] == room})
        duplicated += sum(count - 1 for count in seen.values())
    await asyncio.gather(*(client.close() for client in clients.values()))
    return {
        "sent": sum(sent_counts),
        "latencies": latencies,
        "lost": lost,
        "late": late,
        "duplicated": duplicated,
        "reconnects": sum(client.reconnects for client in clients.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.workers > 1 and not settings.REDIS_URL:
        sys.exit("Several workers need REDIS_URL (the shared channel layer).")
    call_command("migrate", verbosity=0)
    layout = seed(args.users, args.rooms)
    workers = start_workers(args.workers)
    try:
        result = asyncio.run(run(layout, [url for _, url in workers], args.seconds))
    finally:
        for process, _ in workers:
            process.terminate()
            process.wait(timeout=10)
    latencies = sorted(result["latencies"])
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"{args.users} users, {args.rooms} rooms, {args.seconds:.0f} s, {args.workers} workers: "
        f"sent {result['sent']}, deliveries {len(latencies)}, "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms, lost {result['lost']}, duplicated frames {result['duplicated']}, "
        f"filled in by resync {result['late']}, reconnects {result['reconnects']}"
    )


if __name__ == "__main__":
    main()
