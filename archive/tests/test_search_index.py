"""The blind index: every archived entry's distinct words as keyed tokens, written with the entry, readable by no
one who lacks the key."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import UserFactory
from archive.models import ArchiveEntry, ArchiveSearchToken, EventType
from archive.search_index import content_text, query_tokens, searchable_text
from archive.selectors import ArchiveSearch, _Matching
from core import blind_index
from core.crypto import KeyRing, new_key_entry
from messenger import services
from messenger.tests.factories import room_with, send

pytestmark = pytest.mark.django_db


def tokens_of(entry_id: int) -> set[bytes]:
    rows = ArchiveSearchToken.objects.filter(entry_id=entry_id).values_list("token", flat=True)
    return {bytes(token) for token in rows}


def test_a_sent_message_is_indexed_once_per_distinct_word_with_its_entrys_time():
    alice = UserFactory()
    room = room_with(alice)
    send(alice, room, "Buy buy BUY the Éclair bonds")
    entry = ArchiveEntry.objects.filter(conversation_id=room.pk).latest("position")

    rows = ArchiveSearchToken.objects.filter(entry_id=entry.pk)

    assert tokens_of(entry.pk) == {blind_index.token(word) for word in ("buy", "the", "eclair", "bonds")}
    assert {row.occurred_at for row in rows} == {entry.occurred_at}


def test_an_edit_is_indexed_by_its_old_and_new_words():
    alice = UserFactory()
    room = room_with(alice)
    message = send(alice, room, "sell")
    services.message_edit(editor=alice, message_id=message.pk, body="hold")
    edit = ArchiveEntry.objects.get(conversation_id=room.pk, event_type=EventType.MESSAGE_EDITED)

    assert {blind_index.token("sell"), blind_index.token("hold")} <= tokens_of(edit.pk)


def test_the_raw_database_holds_neither_the_words_nor_the_text():
    alice = UserFactory()
    room = room_with(alice)
    send(alice, room, "quarterly zanzibar forecast")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM archive_archivesearchtoken")
        tokens = cursor.fetchall()
        cursor.execute("SELECT * FROM archive_archiveentry")
        entries = cursor.fetchall()
    raw = repr(tokens + entries).encode() + b"".join(
        bytes(value) for row in tokens + entries for value in row if isinstance(value, bytes | memoryview)
    )

    assert len(tokens) >= 3
    for word in (b"zanzibar", b"quarterly", b"forecast", b"ZANZIBAR"):
        assert word not in raw.lower()


def test_names_hashes_and_purge_records_are_not_searchable_text():
    content = {
        "body": "see the file",
        "people": {"1": {"username": "carol"}},
        "file": {"name": "plan.pdf", "sha256": "ab" * 32, "uid": "u-1", "stored_as": "files/x", "size": 3},
    }

    assert blind_index.words(content_text(content)) == ["see", "the", "file", "plan", "pdf"]
    assert searchable_text(event_type=EventType.PURGE, content={"first_prev_hash": "ab" * 32}) == ""


def test_a_query_word_is_looked_up_under_every_key_of_the_ring():
    old = KeyRing.from_spec(new_key_entry("old"))
    rotated = KeyRing.from_spec(f"{new_key_entry('new')},{new_key_entry('old')}")
    rotated.keys["old"] = old.keys["old"]

    looked_up = query_tokens("Bonds", ring=rotated)

    assert looked_up == [blind_index.token("bonds", ring=rotated), blind_index.token("bonds", ring=old)]


@pytest.mark.postgres
def test_on_postgresql_a_word_in_a_period_is_one_range_scan_of_the_token_index():
    alice = UserFactory()
    send(alice, room_with(alice), "quarterly figures")
    search = ArchiveSearch(words="quarterly", since=timezone.now() - timedelta(days=1))
    rows = _Matching(search)._candidates(people_in_sql=False).values_list("pk")[:50]
    sql, params = rows.query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: make the planner show its index
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())

    assert "archivesearchtoken_pkey" in plan  # (token, occurred_at, entry_id)
    assert re.search(r"Index Cond: \(\(token = .*\) AND \(occurred_at >= ", plan)
