"""core/commit_order.py: a conversation's turn is held for the block only, released after errors too."""

import pytest
from django.db import connection, transaction

from core.commit_order import ADVISORY_NAMESPACE, in_commit_order
from core.testing import run_in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def turns_held() -> list[int]:
    """The turns this connection holds (other test runs share the server, and may hold their own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND pid = pg_backend_pid()",
            [ADVISORY_NAMESPACE],
        )
        return sorted(row[0] for row in cursor.fetchall())


def test_the_turn_is_held_once_taken_until_the_block_ends_even_on_error():
    with in_commit_order(7) as turn:
        before = turns_held()
        turn.take()
        taken = turns_held()
    with pytest.raises(RuntimeError), in_commit_order(8) as turn, transaction.atomic():
        turn.take()
        raise RuntimeError("the write failed")  # rolled back: a session-level lock outlives it, the block must not

    assert (before, taken) == ([], [7])
    assert turns_held() == []


def test_inside_a_transaction_no_turn_is_taken_since_announcements_wait_for_the_outer_commit():
    with transaction.atomic(), in_commit_order(7) as turn:
        turn.take()
        inside = turns_held()

    assert inside == []


def test_writers_of_one_key_take_turns_and_run_their_blocks_one_at_a_time():
    active, overlaps = [], []

    def write(_index):
        with in_commit_order(9) as turn:
            turn.take()
            active.append(1)
            if len(active) > 1:
                overlaps.append(len(active))
            turns_held()  # a query while holding the turn: room for another writer to slip in, if it could
            active.pop()

    failures = run_in_threads(write, list(range(6)))

    assert failures == []
    assert overlaps == []
