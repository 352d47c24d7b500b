"""Supervision benchmark: what lexicons cost the sender (nothing, they are checked off the send path) and how
fast the worker checks what was archived.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench_supervision \
        .venv/bin/python bench/supervision.py --messages 4000

Needs a scratch PostgreSQL database whose name contains "bench": it drops and recreates it (bench.realtime's
recreate_database), then migrates it. Messages go through the real send service (`message_send`: stored,
archived, indexed) from 20 people in 10 rooms, half before any lexicon exists and half with three active
lexicons (120 words, 30 phrases, 2 patterns), timed per send: the two halves should cost the same. Then
`supervision_step` (the worker's step) is timed until it has checked every entry; one message in 50 holds a
lexicon word, so the queue fills as it would.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.realtime import recreate_database

if __name__ == "__main__":  # before Django opens the database
    recreate_database(os.environ.get("DATABASE_URL", ""))

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.tests.factories import UserFactory  # noqa: E402
from archive.supervision import supervision_step  # noqa: E402
from archive.supervision_models import Lexicon, SupervisionItem  # noqa: E402
from messenger import services  # noqa: E402

FILLER = ("status", "update", "on", "the", "quarterly", "numbers", "for", "desk", "meeting", "tomorrow", "please")


def lexicons_create() -> list[str]:
    """Three lexicons; returns the words that flag."""
    flagged = [f"risky{index}" for index in range(120)]
    Lexicon.objects.create(name="words", words="\n".join(flagged[:60]), risk="high")
    Lexicon.objects.create(
        name="phrases",
        words="\n".join(flagged[60:]),
        phrases="\n".join(f"off the record {index}" for index in range(30)),
        risk="medium",
    )
    Lexicon.objects.create(name="patterns", patterns="\\bguarantee[ds]?\\b\n\\b\\d{3}-\\d{2}-\\d{4}\\b", risk="low")
    return flagged


def send_timed(people, rooms, count: int, flagged: list[str], rng: random.Random) -> list[float]:
    times = []
    for number in range(count):
        words = rng.choices(FILLER, k=rng.randint(4, 16))
        if flagged and number % 50 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(flagged))
        room = rooms[number % len(rooms)]
        sender = people[room["members"][number % len(room["members"])]]
        started = time.perf_counter()
        services.message_send(
            sender=sender, conversation_id=room["id"], client_id=uuid.uuid4().hex, body=" ".join(words)
        )
        times.append(time.perf_counter() - started)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms over {len(ordered):,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = random.Random(17)  # noqa: S311 (made-up chatter, not secrets)
    people = [UserFactory(username=f"sup{index}") for index in range(20)]
    rooms = []
    for index in range(10):
        members = sorted(rng.sample(range(20), 8))
        owner, *others = (people[i] for i in members)
        room = services.room_create(
            creator=owner, name=f"desk-{index}", is_public=False, member_usernames=[p.username for p in others]
        )
        rooms.append({"id": room.pk, "members": members})
    supervision_step()  # the rooms' own entries, so the timed steps check only messages

    half = args.messages // 2
    without = send_timed(people, rooms, half, [], rng)
    flagged = lexicons_create()
    with_lexicons = send_timed(people, rooms, half, flagged, rng)
    print(f"send, no lexicon:          {summary(without)}")
    print(f"send, three lexicons:      {summary(with_lexicons)}")

    started, checked, steps = time.perf_counter(), 0, 0
    while True:
        report = supervision_step()
        steps += 1
        checked += report.checked
        if not report.checked:
            break
    elapsed = time.perf_counter() - started
    items = SupervisionItem.objects.count()
    print(
        f"supervision: {checked:,} entries checked in {elapsed:.2f} s ({checked / elapsed:,.0f} entries/s, "
        f"{steps} steps), {items:,} queue items"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
