"""Where an idle socket's memory goes, on the application's side (S4 of issue 13 asks for under 32 KiB).

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench_mem REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/socket_memory.py --sockets 1000

Opens N signed-in sockets (rooms of 10, as in S4) through the whole ASGI application in this process, with
tracemalloc on, and prints what the sockets added, grouped by the file that allocated it. In-process sockets
skip daphne's and autobahn's per-connection objects, so the total here is the application's part of S4's
"memory per socket"; the rest of S4's figure is the server's. Needs a scratch database (migrated, filled).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from core.testing import session_cookie_for, socket_to_app  # noqa: E402
from messenger import services  # noqa: E402

ROOM_SIZE = 10


def seed(count: int) -> list[str]:
    """`count` people in rooms of ten (through the services, as the bench's S4), and a session cookie each."""
    User.objects.filter(username__startswith="mem-bench").delete()
    people = User.objects.bulk_create(User(username=f"mem-bench-{n}") for n in range(count))
    for start in range(0, count, ROOM_SIZE):
        members = people[start : start + ROOM_SIZE]
        services.room_create(
            creator=members[0], name=f"mem-bench-room-{start}", member_usernames=[p.username for p in members[1:]]
        )
    return [session_cookie_for(person) for person in people]


async def open_all(cookies: list[str]) -> list:
    sockets = []
    for cookie in cookies:
        socket = socket_to_app(cookie=cookie)
        connected, _ = await socket.connect()
        assert connected
        await socket.receive_json_from()  # hello
        await socket.receive_json_from()  # presence.snapshot
        sockets.append(socket)
    return sockets


async def measure(cookies: list[str], top: int) -> None:
    warm = await open_all(cookies[:20])  # imports, caches and pools are not the sockets' cost
    gc.collect()
    before = tracemalloc.take_snapshot()
    sockets = await open_all(cookies[20:])
    await asyncio.sleep(1)
    gc.collect()
    after = tracemalloc.take_snapshot()
    count = len(sockets)
    stats = after.compare_to(before, "filename")
    total = sum(stat.size_diff for stat in stats)
    print(f"{count} sockets: {total / count / 1024:.1f} KiB each on the application's side (tracemalloc)")
    for stat in stats[:top]:
        name = stat.traceback[0].filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        print(f"  {stat.size_diff / count:8.0f} B/socket  {stat.count_diff / count:6.1f} blocks/socket  {name}")
    for socket in warm + sockets:
        await socket.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25, help="files to list")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    cookies = seed(args.sockets + 20)
    tracemalloc.start(1)
    asyncio.run(measure(cookies, args.top))


if __name__ == "__main__":
    main()
