"""Announce writes in the order they committed: one turn per key (a conversation), held from before the write
takes its number until its `transaction.on_commit` announcements have gone out.

Why a turn is needed beyond the row lock that numbers the writes (core.counters): that lock is released at
COMMIT, and the announcement runs after it, in the writer's thread. Two senders in one conversation commit
seq 7 then seq 8, and the thread of 8 could reach Redis first whenever the thread of 7 was slower to be
scheduled (one worker's event loop busy, say): every member then saw 8 before 7, then synced for a gap that
was not one. messenger/tests/test_multiworker.py showed it with four senders on two workers.

On PostgreSQL the turn is a session-level advisory lock, so it holds across every worker sharing the
database: taken before the transaction starts (before the row lock, so the two are always taken in the same
order and cannot deadlock), released after the commit's announcements. It costs two queries per write and
makes a conversation's next sender wait for this one's group_send too (a Redis round trip), which is the
price of commit-order delivery. Other conversations never wait. SQLite serves one worker: a process-wide lock
does the same there.

Take the turn outside the outermost transaction: inside one, announcements wait for the outer COMMIT, after
the turn would have ended, so `in_commit_order` does nothing there and the caller holding the outer
transaction takes the turn (messenger.files.file_share does).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

# pg_advisory_lock(int, int): this namespace in the first key keeps our turns apart from any other advisory
# lock; the second is the key folded into int4 (two keys sharing a turn only wait for each other, harmlessly).
ADVISORY_NAMESPACE = 0x5041524C  # "PARL"
_process_turn = threading.Lock()


@contextmanager
def in_commit_order(key: int) -> Iterator[None]:
    """Run the block (one write transaction and its on_commit announcements) in `key`'s turn."""
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor != "postgresql":
        with _process_turn:
            yield
        return
    lock_key = (ADVISORY_NAMESPACE, key % 2**31)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", lock_key)
    try:
        yield
    finally:
        # Also after an error: the pooled connection outlives this write.
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", lock_key)
        except DatabaseError:
            connection.close()  # a broken connection: ending its session ends its locks, never a leaked turn
            raise
