"""Archive search benchmark: keyword + date range + person over 1,000,000 archived messages (issue 16).

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench_archive_search \
        .venv/bin/python bench/archive_search.py --messages 1000000      # builds, then times
    ... bench/archive_search.py --reuse                                    # times what an earlier run built

PostgreSQL only, in a scratch database whose name contains "bench" (it refuses any other: the build fills it).
The build makes ~500 people in ~200 conversations (rooms of 3 to 60 members and direct conversations) and
N messages over one year, in time order, their words drawn from a Zipf-distributed vocabulary of 20,000
made-up words (so a word's frequency is realistic: a few very common words, a long tail of rare ones). Each
message is a Message row (body sealed by its field) and a `message_sent` archive entry built with the services'
own functions (archive.chain canonical_event / entry_hash, a salted, sealed payload with the sender's "people"
snapshot, positions and prev_hash chained per conversation in time order), and its blind-index tokens from
archive.search_index.searchable_text and core.blind_index.text_tokens. Rows go in by bulk_create and the tokens
by COPY, with the token table's two indexes dropped during the load and rebuilt after it (one sort instead of
ten million random inserts). What it skips: room-creation and membership entries (each chain starts at its
first message), edits, deletions, reactions and files, and the audit log.

Then it times, cold (the first call on a fresh connection) and warm (median and p95 of --runs calls):
archive_search for a word of middling frequency + one month + one person (the issue's target: under 300 ms),
a rare word, a common word and a two-word phrase with the same month and person, and messenger's
message_search of one employee. Peak RSS at the end.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import resource
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.tests.factories import UserFactory  # noqa: E402
from archive.chain import canonical_event, entry_hash  # noqa: E402
from archive.models import GENESIS_HASH, ArchiveChain, ArchiveEntry, ArchiveSearchToken, EventType  # noqa: E402
from archive.search_index import searchable_text  # noqa: E402
from archive.selectors import ArchiveSearch, archive_search  # noqa: E402
from core import blind_index  # noqa: E402
from messenger.models import Conversation, Membership, Message  # noqa: E402
from messenger.selectors import message_search  # noqa: E402

BATCH = 5000
VOCABULARY = 20_000
SEED = 16
START = datetime(2025, 11, 1, tzinfo=UTC)
DAYS = 365
# Words by frequency rank in the Zipf vocabulary: what each timed search looks for.
COMMON_RANK, MIDDLING_RANK, RARE_RANK, UNCOMMON_RANK = 3, 300, 12_000, 80
PHRASE_RANKS = (40, 41)  # planted together in 1 message in 200, besides their own frequency
TOKEN_TABLE = ArchiveSearchToken._meta.db_table


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vocabulary() -> tuple[list[str], list[float]]:
    """20,000 distinct pronounceable made-up words, rank 1 first, and Zipf (s = 1.07) cumulative weights."""
    rng = random.Random(SEED)  # noqa: S311 (reproducible made-up data, no secret)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["qua", "tri", "sto", "bre", "ple"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = itertools.accumulate(1 / rank**1.07 for rank in range(1, VOCABULARY + 1))
    return words, list(weights)


def _word(words: list[str], rank: int) -> str:
    return words[rank - 1]


# ---- the build ------------------------------------------------------------------------------------------------


def build(*, messages: int, people_count: int, conversation_count: int) -> None:
    rng = random.Random(SEED)  # noqa: S311 (reproducible made-up data, no secret)
    words, cumulative = vocabulary()
    phrase = f"{_word(words, PHRASE_RANKS[0])} {_word(words, PHRASE_RANKS[1])}"
    people = [
        UserFactory(username=f"person{index}", email=f"person{index}@bench.test") for index in range(people_count)
    ]
    identities = {
        person.pk: {"username": person.username, "display_name": person.display_name, "email": person.email}
        for person in people
    }
    conversations, members = _conversations(rng, people, conversation_count)
    # Some conversations are far busier than others (log-normal weights), as in any company.
    activity = list(itertools.accumulate(rng.lognormvariate(0, 1.2) for _ in conversations))
    heads = {conversation.pk: (0, GENESIS_HASH) for conversation in conversations}
    seqs = dict.fromkeys(heads, 0)
    step = timedelta(days=DAYS) / messages
    created_at = Message._meta.get_field("created_at")
    created_at.auto_now_add = False  # the messages are dated over the year, as their entries are
    started, tokens_written = time.perf_counter(), 0
    indexes = _drop_token_indexes()
    try:
        for first in range(0, messages, BATCH):
            numbers = range(first, min(first + BATCH, messages))
            with transaction.atomic():
                rows = []
                for number in numbers:
                    conversation = conversations[bisect.bisect(activity, rng.random() * activity[-1])]
                    seqs[conversation.pk] += 1
                    body = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(4, 20)))
                    if rng.random() < 0.005:
                        body = f"{body} {phrase}"
                    rows.append(
                        Message(
                            conversation=conversation,
                            sender=rng.choice(members[conversation.pk]),
                            seq=seqs[conversation.pk],
                            client_id=f"bench-{number}",
                            body=body.capitalize(),
                            created_at=START + step * number,
                        )
                    )
                _copy_rows(Message, rows)
                entries = [_entry(message, heads, members, identities) for message in rows]
                _copy_rows(ArchiveEntry, entries)
                tokens_written += _copy_tokens(entries)
            done = numbers[-1] + 1
            if done % 50_000 < BATCH:
                rate = done / (time.perf_counter() - started)
                print(f"  {done:,} messages, {tokens_written:,} tokens ({rate:,.0f} messages/s)", flush=True)
    finally:
        created_at.auto_now_add = True
        started_indexes = time.perf_counter()
        _restore_token_indexes(indexes)
        print(f"  token indexes rebuilt in {time.perf_counter() - started_indexes:.0f} s", flush=True)
    with transaction.atomic():
        for conversation in conversations:
            position, head = heads[conversation.pk]
            ArchiveChain.objects.filter(pk=conversation.pk).update(position=position, head_hash=head)
            Conversation.objects.filter(pk=conversation.pk).update(last_seq=seqs[conversation.pk])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would have by now on a live database


def _conversations(rng: random.Random, people: list[User], count: int) -> tuple[list[Conversation], dict]:
    """Rooms of 3 to 60 members (one in five conversations is a direct one); person0, whose own search is
    timed, is in 8 rooms and 3 direct conversations."""
    conversations, members = [], {}
    directs = count // 5
    for index in range(count):
        if index < directs:
            pair = [people[0], people[index + 1]] if index < 3 else rng.sample(people[1:], 2)
            key = ":".join(str(pk) for pk in sorted(person.pk for person in pair))
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.DIRECT, direct_key=key, created_by=pair[0]
            )
            chosen = pair
        else:
            chosen = rng.sample(people[1:], rng.randint(3, 60))
            if index < directs + 8:
                chosen = [people[0], *chosen]
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.ROOM, name=f"bench-room-{index}", created_by=chosen[0]
            )
        Membership.objects.bulk_create(Membership(conversation=conversation, user=person) for person in chosen)
        ArchiveChain.objects.create(conversation=conversation, position=0, head_hash=GENESIS_HASH)
        conversations.append(conversation)
        members[conversation.pk] = chosen
    return conversations, members


def _entry(message: Message, heads: dict, members: dict, identities: dict) -> ArchiveEntry:
    """The message_sent entry archive_record would write (same canonical event, hash, salt and sealed payload)."""
    position, previous = heads[message.conversation_id]
    position += 1
    content = {
        "body": message.body,
        "seq": message.seq,
        "reply_to": None,
        "people": {str(message.sender_id): identities[message.sender_id]},
    }
    participants = sorted(person.pk for person in members[message.conversation_id])
    salt = secrets.token_hex(16)
    digest = entry_hash(
        canonical_event(
            conversation_id=message.conversation_id,
            position=position,
            prev_hash=previous,
            event_type=EventType.MESSAGE_SENT,
            actor_id=message.sender_id,
            occurred_at=message.created_at,
            participants=participants,
            message_id=message.pk,
            content=content,
            salt=salt,
        )
    )
    heads[message.conversation_id] = (position, digest)
    entry = ArchiveEntry(
        conversation_id=message.conversation_id,
        position=position,
        event_type=EventType.MESSAGE_SENT,
        actor_id=message.sender_id,
        occurred_at=message.created_at,
        participants=participants,
        message_id=message.pk,
        payload=json.dumps({"content": content, "salt": salt}, ensure_ascii=False),
        prev_hash=previous,
        entry_hash=digest,
    )
    entry.bench_content = content
    return entry


def _copy_rows(model: type, instances: list) -> None:
    """COPY unsaved instances (ids drawn from the table's sequence first), each field as save() would write it:
    pre_save (which seals the encrypted ones, bound to the row's uid) and get_db_prep_save. A multi-row INSERT
    through bulk_create took about a millisecond a row here; COPY a tenth of that."""
    fields = [field for field in model._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(instances)],
        )
        for instance, (pk,) in zip(instances, cursor.fetchall(), strict=True):
            instance.pk = pk
        columns = ", ".join(field.column for field in fields)
        with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for instance in instances:
                copy.write_row(
                    [
                        _copy_value(field.get_db_prep_save(field.pre_save(instance, True), connection))
                        for field in fields
                    ]
                )
    for instance in instances:
        instance._state.adding = False


def _copy_value(value: Any) -> Any:
    """psycopg's COPY writes Python values, not the adapter objects (JSON) Django hands to execute()."""
    if hasattr(value, "obj") and hasattr(value, "dumps"):  # psycopg.types.json.Jsonb
        return json.dumps(value.obj)
    return value


def _copy_tokens(entries: list[ArchiveEntry]) -> int:
    """COPY the entries' tokens: the same text and tokens archive.search_index.entry_index would insert."""
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {TOKEN_TABLE} (token, occurred_at, entry_id) FROM STDIN") as copy,
    ):
        for entry in entries:
            text = searchable_text(event_type=entry.event_type, content=entry.bench_content)
            for token in blind_index.text_tokens(text):
                copy.write_row((token, entry.occurred_at, entry.pk))
                written += 1
    return written


def _drop_token_indexes() -> list[str]:
    """Drop the token table's primary key and index for the load; returns the statements that restore them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
            [TOKEN_TABLE],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> ALL(%s)",
            [TOKEN_TABLE, [name for name, _ in constraints]],
        )
        indexes = cursor.fetchall()
        restore = [
            f'ALTER TABLE {TOKEN_TABLE} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints
        ]
        restore += [definition for _, definition in indexes]
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {TOKEN_TABLE} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    return restore


def _restore_token_indexes(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in statements:
            cursor.execute(statement)


# ---- the timings ----------------------------------------------------------------------------------------------


def timed(label: str, call: Callable[[], Any], *, runs: int, count: Callable[[Any], str]) -> dict[str, Any]:
    """Cold (first call, on a fresh connection) and warm (median, p95 of `runs` more calls), in ms."""
    connection.close()  # a fresh connection: no cached plans or catalog lookups
    started = time.perf_counter()
    result = call()
    cold = (time.perf_counter() - started) * 1000
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        warm.append((time.perf_counter() - started) * 1000)
    warm.sort()
    p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
    line = {"search": label, "cold": cold, "median": statistics.median(warm), "p95": p95, "found": count(result)}
    print(f"| {label} | {cold:,.1f} ms | {line['median']:,.1f} ms | {p95:,.1f} ms | {line['found']} |", flush=True)
    return line


def _document_frequency(word: str) -> int:
    return ArchiveSearchToken.objects.filter(token=blind_index.token(word)).count()


def measure(runs: int) -> None:
    words, _ = vocabulary()
    person = User.objects.get(username="person1")
    since = START + timedelta(days=180)
    month = {"since": since, "until": since + timedelta(days=30), "people": (person.pk,)}
    common, middling, rare, uncommon = (
        _word(words, rank) for rank in (COMMON_RANK, MIDDLING_RANK, RARE_RANK, UNCOMMON_RANK)
    )
    phrase = f'"{_word(words, PHRASE_RANKS[0])} {_word(words, PHRASE_RANKS[1])}"'
    messages = ArchiveEntry.objects.filter(event_type=EventType.MESSAGE_SENT).count()
    print(f"database: {messages:,} archived messages, {ArchiveSearchToken.objects.count():,} tokens")
    for label, word in (("common", common), ("middling", middling), ("rare", rare), ("uncommon", uncommon)):
        print(f"  {label} word {word!r} is in {_document_frequency(word):,} entries")
    in_range = ArchiveEntry.objects.filter(occurred_at__gte=month["since"], occurred_at__lte=month["until"])
    print(f"  the month holds {in_range.count():,} entries, {person.username} is in {_involving(in_range, person)}")

    def archive(words: str) -> Callable[[], Any]:
        return lambda: archive_search(search=ArchiveSearch(words=words, **month))

    def hits(result: Any) -> str:
        return f"{len(result.hits)} hits{' (more)' if result.more else ''}"

    print("\n| search (+ one month + one person) | cold | warm median | warm p95 | found |\n|---|---|---|---|---|")
    timed(f"middling word ({middling})", archive(middling), runs=runs, count=hits)
    timed(f"rare word ({rare})", archive(rare), runs=runs, count=hits)
    timed(f"common word ({common})", archive(common), runs=runs, count=hits)
    timed(f"phrase ({phrase})", archive(phrase), runs=runs, count=hits)
    reader = User.objects.get(username="person0")
    rooms = Membership.objects.filter(user=reader).count()
    print(f"\nmessage_search by person0 (a member of {rooms} conversations), first page of 20:\n")
    print("| search | cold | warm median | warm p95 | found |\n|---|---|---|---|---|")
    # "uncommon": a word in ~14,000 messages, where PostgreSQL's own choice of plan was worst
    # (messenger.selectors.SEARCH_INDEX_FIRST_BELOW).
    for label, word in (("middling", middling), ("rare", rare), ("common", common), ("uncommon", uncommon)):
        timed(
            f"{label} word ({word})",
            lambda word=word: message_search(user=reader, words=word),
            runs=runs,
            count=lambda result: (
                f"{len(result['messages'])} (next_before {'set' if result['next_before'] else 'none'})"
            ),
        )
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")


def _involving(entries, person: User) -> str:
    count = entries.filter(participants__contains=[person.pk]).count()
    return f"{count:,} of them (as a participant)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="Time what an earlier run built; build nothing.")
    args = parser.parse_args()
    name = connection.settings_dict["NAME"] or ""
    if connection.vendor != "postgresql" or "bench" not in name:
        sys.exit(f"Refusing {connection.vendor} database {name!r}: a PostgreSQL database whose name holds 'bench'.")
    call_command("migrate", verbosity=0)
    if args.reuse:
        if not Message.objects.exists():
            sys.exit("Nothing to reuse: run once without --reuse to build.")
    else:
        if Message.objects.exists():
            sys.exit("The database has messages already: --reuse them, or drop and recreate the database.")
        started = time.perf_counter()
        build(messages=args.messages, people_count=args.people, conversation_count=args.conversations)
        elapsed = time.perf_counter() - started
        print(f"build: {args.messages:,} messages in {elapsed:.0f} s, peak RSS {peak_rss_mb():.0f} MB")
    measure(args.runs)


if __name__ == "__main__":
    main()
