"""Message search benchmark: how long a search takes when it must open many messages.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench_search \
        .venv/bin/python bench/search.py --messages 200000 --rooms 20

Needs a scratch database (it migrates it and refuses one that already has messages). One user is in every
room; messages are written by bulk_create (the search reads only messages, so no archive is built). Three
searches: a word in the newest messages (a page is found at once), a word only in the oldest message (the
scan goes to its limit, messenger.selectors.SEARCH_MAX_SCANNED, and hands back where to go on), and the same
word continued until found, which is what a person clicking "More results" does.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.tests.factories import UserFactory  # noqa: E402
from messenger.models import Conversation, Membership, Message  # noqa: E402
from messenger.selectors import SEARCH_MAX_SCANNED, message_search  # noqa: E402

BATCH = 5000


def build(messages: int, rooms: int):
    reader, writer = UserFactory(username="reader"), UserFactory(username="writer")
    conversations = []
    for index in range(rooms):
        room = Conversation.objects.create(kind=Conversation.Kind.ROOM, name=f"bench-{index}", created_by=reader)
        Membership.objects.bulk_create(
            [Membership(conversation=room, user=reader), Membership(conversation=room, user=writer)]
        )
        conversations.append(room)
    seqs = dict.fromkeys((room.pk for room in conversations), 0)
    for first in range(0, messages, BATCH):
        batch = []
        for number in range(first, min(first + BATCH, messages)):
            room = conversations[number % rooms]
            seqs[room.pk] += 1
            body = (
                "the needle in the oldest message" if number == 0 else f"status update {number}: all quiet " + "x" * 80
            )
            batch.append(
                Message(conversation=room, sender=writer, seq=seqs[room.pk], client_id=f"b{number}", body=body)
            )
        Message.objects.bulk_create(batch)
    return reader


def timed(label: str, **search) -> dict:
    started = time.perf_counter()
    result = message_search(**search)
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed * 1000:,.0f} ms, {len(result['messages'])} hits, next_before={result['next_before']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rooms", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if Message.objects.exists():
        sys.exit("The database has messages already: point DATABASE_URL at a scratch database.")
    started = time.perf_counter()
    reader = build(args.messages, args.rooms)
    print(f"build: {args.messages:,} messages in {time.perf_counter() - started:.1f} s ({connection.vendor})")
    if connection.vendor == "postgresql":  # fresh statistics, as autovacuum keeps them on a live database
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    timed("common word, newest page", user=reader, words="quiet")
    first = timed(f"rare word, first call (scan limit {SEARCH_MAX_SCANNED:,})", user=reader, words="needle")
    before, calls, started = first["next_before"], 1, time.perf_counter()
    while before is not None and not first["messages"]:
        first = message_search(user=reader, words="needle", before_id=before)
        before, calls = first["next_before"], calls + 1
    rest = time.perf_counter() - started
    print(f"rare word, continued to the oldest message: {calls} calls in total, the rest {rest:.1f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
