"""Presence sign-in cost: a user with N contacts, all online, opens a socket.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/presence.py --contacts 500

Measured through the whole ASGI application in this process (session auth, conversation groups, the
watchlist query, one presence group per contact, the snapshot pipeline): from the WebSocket handshake to the
`presence.snapshot` frame. Each contact is made online through the presence store first. Needs a scratch
database (it is migrated and filled with users).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts import presence  # noqa: E402
from accounts.models import Contact, ContactGroup, User  # noqa: E402
from core.testing import session_cookie_for, socket_to_app  # noqa: E402


def seed(contacts: int) -> tuple[User, list[int]]:
    User.objects.filter(username__startswith="presence-bench").delete()
    owner = User.objects.create_user(username="presence-bench-owner", password="x" * 20)
    people = User.objects.bulk_create(User(username=f"presence-bench-{index}") for index in range(contacts))
    group = ContactGroup.objects.create(owner=owner, name="Everyone")
    Contact.objects.bulk_create(Contact(owner=owner, group=group, person=person) for person in people)
    return owner, [person.pk for person in people]


async def sign_in_once(cookie: str) -> float:
    socket = socket_to_app(cookie=cookie)
    started = time.perf_counter()
    connected, _ = await socket.connect(timeout=30)
    assert connected
    assert (await socket.receive_json_from(timeout=30))["type"] == "hello"
    snapshot = await socket.receive_json_from(timeout=30)
    elapsed = time.perf_counter() - started
    assert snapshot["type"] == "presence.snapshot"
    await socket.disconnect(timeout=5)
    return elapsed


async def run(contacts: int, rounds: int) -> list[float]:
    owner, contact_ids = await database_sync_to_async(seed)(contacts)
    for user_id in contact_ids:
        await presence.connection_opened(user_id=user_id, connection_id=f"bench-{user_id}", choice="auto")
    cookie = await database_sync_to_async(session_cookie_for)(owner)
    await sign_in_once(cookie)  # warm-up: imports, connections
    timings = [await sign_in_once(cookie) for _ in range(rounds)]
    for user_id in contact_ids:
        await presence.connection_closed(user_id=user_id, connection_id=f"bench-{user_id}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    timings = asyncio.run(run(args.contacts, args.rounds))
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(
        f"sign-in with {args.contacts} contacts online ({connection.vendor}, {layer}): "
        f"median {statistics.median(timings) * 1000:.1f} ms, "
        f"p95 {sorted(timings)[int(len(timings) * 0.95) - 1] * 1000:.1f} ms, "
        f"min {min(timings) * 1000:.1f} ms over {len(timings)} sign-ins"
    )


if __name__ == "__main__":
    main()
