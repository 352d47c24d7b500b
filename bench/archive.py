"""Archive benchmark: build N archived messages, then time verify_archive, an export in every format (its
peak memory by tracemalloc, target under 16 MB however many messages) and apply_retention.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench \
        .venv/bin/python bench/archive.py --messages 1000000 --rooms 1000

It needs a scratch database it may fill (it migrates it and refuses a database that already has messages).
Messages are written by the *bulk path*: Message rows through bulk_create, archive entries through the very
functions the services use (archive.chain.canonical_event / entry_hash, the same sealed payload), chained per
room in position order, in batches. The chains are therefore exactly what message_send would have built, at a
fraction of the cost; the per-message service cost is measured by bench/realtime.py (S1, S2) instead.
Half of the entries are dated past the retention period, so apply_retention has real work.

To export again what a run built (before and after a change, or under py-spy), without verify_archive and
apply_retention (which purges half): `--skip-build --only-export`, and `--formats eml` for one format.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.tests.factories import UserFactory  # noqa: E402
from archive import signing  # noqa: E402
from archive.chain import canonical_event, entry_hash  # noqa: E402
from archive.formats import FORMATS, archive_export_zip, zip_export_problems  # noqa: E402
from archive.models import GENESIS_HASH, ArchiveChain, ArchiveEntry, EventType  # noqa: E402
from archive.retention import apply_retention  # noqa: E402
from archive.verification import archive_verify  # noqa: E402
from messenger.models import Conversation, Membership, Message  # noqa: E402

BATCH = 5000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(messages: int, rooms: int, retention_days: int) -> None:
    people = [UserFactory(username=f"bench{index}") for index in range(10)]
    participants = sorted(person.pk for person in people)
    old, recent = timezone.now() - timedelta(days=retention_days + 30), timezone.now()
    conversations = [_old_room(f"bench-{index}", people, old) for index in range(rooms)]
    per_room = messages // rooms
    done = 0
    started = time.perf_counter()
    for conversation in conversations:
        chain = ArchiveChain.objects.get(pk=conversation.pk)
        position, previous = chain.position, chain.head_hash
        for first in range(1, per_room + 1, BATCH):
            seqs = range(first, min(first + BATCH, per_room + 1))
            with transaction.atomic():
                rows = Message.objects.bulk_create(
                    Message(
                        conversation=conversation,
                        sender=people[seq % len(people)],
                        seq=seq,
                        client_id=f"bench-{conversation.pk}-{seq}",
                        body=f"benchmark message {seq} in {conversation.name}: " + "x" * 120,
                    )
                    for seq in seqs
                )
                entries = []
                for message in rows:
                    position += 1
                    occurred_at = old if message.seq <= per_room // 2 else recent
                    content = {"body": message.body, "seq": message.seq, "reply_to": None}
                    salt = secrets.token_hex(16)
                    digest = entry_hash(
                        canonical_event(
                            conversation_id=conversation.pk,
                            position=position,
                            prev_hash=previous,
                            event_type=EventType.MESSAGE_SENT,
                            actor_id=message.sender_id,
                            occurred_at=occurred_at,
                            participants=participants,
                            message_id=message.pk,
                            content=content,
                            salt=salt,
                        )
                    )
                    entries.append(
                        ArchiveEntry(
                            conversation_id=conversation.pk,
                            position=position,
                            event_type=EventType.MESSAGE_SENT,
                            actor_id=message.sender_id,
                            occurred_at=occurred_at,
                            participants=participants,
                            message_id=message.pk,
                            payload=json.dumps({"content": content, "salt": salt}),
                            prev_hash=previous,
                            entry_hash=digest,
                        )
                    )
                    previous = digest
                ArchiveEntry.objects.bulk_create(entries)
                ArchiveChain.objects.filter(pk=conversation.pk).update(position=position, head_hash=previous)
                Conversation.objects.filter(pk=conversation.pk).update(last_seq=seqs[-1])
            done += len(seqs)
        print(f"  built {done:,} messages ({done / (time.perf_counter() - started):,.0f}/s)", flush=True)


def _old_room(name: str, people: list, created_at) -> Conversation:
    """A room whose creation entry is as old as its oldest messages (time only moves forward in a chain)."""
    with transaction.atomic():
        room = Conversation.objects.create(kind=Conversation.Kind.ROOM, name=name, created_by=people[0])
        Membership.objects.bulk_create(Membership(conversation=room, user=person) for person in people)
        content = {"name": name, "topic": "", "is_public": False, "members": [p.pk for p in people]}
        salt = secrets.token_hex(16)
        fields = {
            "conversation_id": room.pk,
            "position": 1,
            "prev_hash": GENESIS_HASH,
            "event_type": EventType.ROOM_CREATED,
            "actor_id": people[0].pk,
            "occurred_at": created_at,
            "participants": sorted(p.pk for p in people),
            "message_id": None,
        }
        digest = entry_hash(canonical_event(**fields, content=content, salt=salt))
        ArchiveEntry.objects.create(**fields, payload=json.dumps({"content": content, "salt": salt}), entry_hash=digest)
        ArchiveChain.objects.create(conversation=room, position=1, head_hash=digest)
    return room


def export_each_format(messages: int, formats: list[str]) -> None:
    """Export the first rooms holding about `messages` entries in each format twice: once timed, once under
    tracemalloc for the peak of what Python held at once, which must not grow with the number of messages.
    Timed apart because tracemalloc slows every allocation: about five times over for these exports (EML
    20,000 entries, 2026-11-26: 18.0 s traced, 4.6 s not), more where more small objects are made."""
    rooms, entries = [], 0
    for chain in ArchiveChain.objects.order_by("pk").only("pk", "position"):
        if entries >= messages:
            break
        rooms.append(chain.pk)
        entries += chain.position
    with tempfile.TemporaryDirectory() as scratch:
        for export_format in formats:
            path = Path(scratch) / f"export-{export_format}.zip"
            started = time.perf_counter()
            counts = _export(path, export_format, rooms)
            elapsed = time.perf_counter() - started
            started = time.perf_counter()
            tracemalloc.start()
            try:
                _export(path, export_format, rooms)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            traced = time.perf_counter() - started
            problems = zip_export_problems(str(path), signing.public_key_hex())
            # JSON Lines counts entries only (every entry is a line); the other formats count messages too.
            messages = f" ({counts['messages']:,} messages)" if "messages" in counts else ""
            print(
                f"export {export_format}: {counts['entries']:,} entries{messages} in {len(rooms)} rooms, "
                f"{elapsed:.1f} s ({counts['entries'] / elapsed:,.0f} entries/s), peak {peak / 1e6:.1f} MB "
                f"(target < 16 MB; {traced:.1f} s under tracemalloc), {path.stat().st_size / 1e6:.0f} MB written, "
                f"problems found: {len(problems)}",
                flush=True,
            )


def _export(path: Path, export_format: str, rooms: list[int]) -> dict[str, int]:
    with path.open("wb") as out:
        return archive_export_zip(out=out, export_format=export_format, conversation_ids=rooms, requested_by="bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--skip-build", action="store_true", help="Reuse what an earlier run built.")
    parser.add_argument(
        "--export-messages", type=int, default=100_000, help="About how many entries to export per format (0: none)."
    )
    parser.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help=f"Which formats to export, comma-separated (default: {','.join(FORMATS)}).",
    )
    parser.add_argument(
        "--only-export",
        action="store_true",
        help="Export only: no verify_archive and no apply_retention, which purges half the entries, so a database "
        "built once can be exported again and again (before and after a change, under a profiler).",
    )
    args = parser.parse_args()
    formats = [name for name in args.formats.split(",") if name]
    if unknown := set(formats) - set(FORMATS):
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    from django.conf import settings

    call_command("migrate", verbosity=0)
    if not args.skip_build:
        if Message.objects.exists():
            sys.exit("The database has messages already: point DATABASE_URL at a scratch database.")
        started = time.perf_counter()
        build(args.messages, args.rooms, settings.PARLEY_RETENTION_DEFAULT_DAYS)
        print(f"build: {time.perf_counter() - started:.1f} s")
    entries = ArchiveEntry.objects.count()
    print(f"database: {connection.vendor}, {entries:,} archive entries")
    if args.only_export:
        export_each_format(args.export_messages, formats)
        return

    started, rss_before = time.perf_counter(), peak_rss_mb()
    report = archive_verify()
    elapsed = time.perf_counter() - started
    print(
        f"verify_archive: {elapsed:.1f} s, {report.entries_checked / elapsed:,.0f} entries/s, "
        f"intact={report.is_intact}, peak RSS {peak_rss_mb():.0f} MB (before: {rss_before:.0f} MB)"
    )

    if args.export_messages:
        export_each_format(args.export_messages, formats)

    started = time.perf_counter()
    retention = apply_retention()
    elapsed = time.perf_counter() - started
    print(
        f"apply_retention: {elapsed:.1f} s, purged {retention.purged_entries:,} entries "
        f"({retention.purged_entries / max(elapsed, 1e-9):,.0f}/s), peak RSS {peak_rss_mb():.0f} MB"
    )
    started = time.perf_counter()
    report = archive_verify()
    print(f"verify_archive after purge: {time.perf_counter() - started:.1f} s, intact={report.is_intact}")


if __name__ == "__main__":
    main()
